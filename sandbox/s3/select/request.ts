import { XMLParser, XMLValidator } from "fast-xml-parser";
import { isTrue } from "../../wire-values.ts";
import { malformedXml } from "../xml.ts";
import { selectErrors } from "./errors.ts";

/**
 * The SelectObjectContentRequest body (https://docs.aws.amazon.com/AmazonS3/latest/API/API_SelectObjectContent.html),
 * read into what the engine needs, with defaults filled in. What the sandbox does not evaluate (Parquet input,
 * BZIP2, record delimiters other than line ends) is refused with NotImplemented naming it.
 */

export type FileHeaderInfo = "NONE" | "USE" | "IGNORE";

export interface CsvInput {
  kind: "CSV";
  fileHeaderInfo: FileHeaderInfo;
  fieldDelimiter: string;
  quoteCharacter: string;
  quoteEscapeCharacter: string;
  /** Lines starting with it are skipped; undefined: none. */
  comments: string | undefined;
  allowQuotedRecordDelimiter: boolean;
}

export interface CsvOutput {
  kind: "CSV";
  quoteFields: "ALWAYS" | "ASNEEDED";
  fieldDelimiter: string;
  recordDelimiter: string;
  quoteCharacter: string;
  quoteEscapeCharacter: string;
}

export interface JsonOutput {
  kind: "JSON";
  recordDelimiter: string;
}

export interface SelectRequest {
  expression: string;
  compression: "NONE" | "GZIP";
  input: CsvInput;
  output: CsvOutput | JsonOutput;
  requestProgress: boolean;
  scanRange: { start: number | undefined; end: number | undefined } | undefined;
}

/** 256 KB, "The maximum length of a SQL expression" (selecting-content-from-objects). */
export const MAX_EXPRESSION_BYTES = 256 * 1024;

// Delimiters are single characters such as "\n" or " ": whitespace must survive parsing, and the SDK writes line
// ends as character references (`&#x0A;`), which only htmlEntities decodes.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  removeNSPrefix: true,
  htmlEntities: true,
});

export function parseSelectRequest(body: Buffer): SelectRequest {
  const text = body.toString("utf8");
  if (text.trim() === "") throw selectErrors.emptyRequestBody();
  if (XMLValidator.validate(text) !== true) throw malformedXml();
  const doc = node(parser.parse(text), "SelectObjectContentRequest");
  if (!doc) throw malformedXml();

  const expression = leaf(doc, "Expression");
  const expressionType = leaf(doc, "ExpressionType");
  const inputNode = node(doc, "InputSerialization");
  const outputNode = node(doc, "OutputSerialization");
  if (expression === undefined || expression.trim() === "") throw selectErrors.missingRequiredParameter("Expression");
  if (expressionType === undefined) throw selectErrors.missingRequiredParameter("ExpressionType");
  if (!inputNode) throw selectErrors.missingRequiredParameter("InputSerialization");
  if (!outputNode) throw selectErrors.missingRequiredParameter("OutputSerialization");
  if (expressionType.trim() !== "SQL") throw selectErrors.invalidExpressionType();
  if (Buffer.byteLength(expression, "utf8") > MAX_EXPRESSION_BYTES) throw selectErrors.expressionTooLong();

  const progress = node(doc, "RequestProgress");
  const enabled = progress ? leaf(progress, "Enabled") : undefined;
  return {
    expression,
    compression: compressionOf(inputNode),
    input: inputOf(inputNode),
    output: outputOf(outputNode),
    requestProgress: enabled !== undefined && isTrue(enabled.trim()),
    scanRange: scanRangeOf(node(doc, "ScanRange")),
  };
}

function compressionOf(input: Record<string, unknown>): "NONE" | "GZIP" {
  const v = leaf(input, "CompressionType")?.trim() ?? "NONE";
  if (v === "NONE" || v === "GZIP") return v;
  if (v === "BZIP2") throw selectErrors.notServed("BZIP2 input (CompressionType BZIP2)");
  throw selectErrors.invalidCompressionFormat();
}

function inputOf(input: Record<string, unknown>): CsvInput {
  const csv = node(input, "CSV");
  const json = node(input, "JSON");
  const parquet = node(input, "Parquet");
  if ([csv, json, parquet].filter(Boolean).length > 1) throw selectErrors.objectSerializationConflict();
  if (parquet) throw selectErrors.notServed("Parquet input");
  if (json) {
    const type = leaf(json, "Type")?.trim() ?? "DOCUMENT";
    if (type !== "DOCUMENT" && type !== "LINES") throw selectErrors.invalidJsonType();
    throw selectErrors.notServed("JSON input");
  }
  if (!csv) throw selectErrors.missingRequiredParameter("InputSerialization/CSV, JSON or Parquet");
  const header = leaf(csv, "FileHeaderInfo")?.trim() ?? "NONE";
  if (header !== "NONE" && header !== "USE" && header !== "IGNORE") throw selectErrors.invalidFileHeaderInfo();
  const recordDelimiter = leaf(csv, "RecordDelimiter") ?? "\n";
  if (recordDelimiter !== "\n" && recordDelimiter !== "\r\n") {
    throw selectErrors.notServed(
      `CSV input with RecordDelimiter ${JSON.stringify(recordDelimiter)} (only "\\n" and "\\r\\n")`,
    );
  }
  const comments = leaf(csv, "Comments");
  return {
    kind: "CSV",
    fileHeaderInfo: header,
    fieldDelimiter: oneChar(csv, "FieldDelimiter", ","),
    quoteCharacter: oneChar(csv, "QuoteCharacter", '"'),
    quoteEscapeCharacter: oneChar(csv, "QuoteEscapeCharacter", '"'),
    comments: comments === undefined || comments === "" ? undefined : comments,
    allowQuotedRecordDelimiter: isTrue((leaf(csv, "AllowQuotedRecordDelimiter") ?? "false").trim()),
  };
}

function outputOf(output: Record<string, unknown>): CsvOutput | JsonOutput {
  const csv = node(output, "CSV");
  const json = node(output, "JSON");
  if (csv && json) throw selectErrors.objectSerializationConflict();
  if (json) return { kind: "JSON", recordDelimiter: leaf(json, "RecordDelimiter") ?? "\n" };
  if (!csv) throw selectErrors.missingRequiredParameter("OutputSerialization/CSV or JSON");
  const quoteFields = leaf(csv, "QuoteFields")?.trim() ?? "ASNEEDED";
  if (quoteFields !== "ALWAYS" && quoteFields !== "ASNEEDED") throw selectErrors.invalidQuoteFields();
  return {
    kind: "CSV",
    quoteFields,
    fieldDelimiter: leaf(csv, "FieldDelimiter") ?? ",",
    recordDelimiter: leaf(csv, "RecordDelimiter") ?? "\n",
    quoteCharacter: leaf(csv, "QuoteCharacter") ?? '"',
    quoteEscapeCharacter: leaf(csv, "QuoteEscapeCharacter") ?? '"',
  };
}

function scanRangeOf(range: Record<string, unknown> | undefined): SelectRequest["scanRange"] {
  if (!range) return undefined;
  const num = (name: string) => {
    const v = leaf(range, name)?.trim();
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw selectErrors.invalidScanRange();
    return Number(v);
  };
  const start = num("Start");
  const end = num("End");
  if (start !== undefined && end !== undefined && end < start) throw selectErrors.invalidScanRange();
  return { start, end };
}

function oneChar(n: Record<string, unknown>, name: string, dflt: string): string {
  const v = leaf(n, name);
  if (v === undefined || v === "") return dflt;
  if ([...v].length !== 1) throw selectErrors.invalidRequestParameter(`${name} must be a single character.`);
  return v;
}

function node(parent: unknown, name: string): Record<string, unknown> | undefined {
  if (typeof parent !== "object" || parent === null) return undefined;
  const v = (parent as Record<string, unknown>)[name];
  if (typeof v === "string") return v.trim() === "" ? {} : undefined;
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** A text element exactly as sent (whitespace kept); an empty element is "". */
function leaf(parent: Record<string, unknown>, name: string): string | undefined {
  const v = parent[name];
  if (v === undefined) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "object" && v !== null && Object.keys(v).length === 0) return "";
  return undefined;
}
