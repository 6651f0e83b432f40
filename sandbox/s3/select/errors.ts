import { S3Error } from "../errors.ts";

/**
 * SelectObjectContent's own error codes, from the "List of SELECT Object Content Error Codes"
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#SelectObjectContentErrorCodeList). Every one
 * is 400 there. The messages are that list's descriptions; where a message adds what was wrong, it comes after.
 */

const e = (code: string, message: string) => new S3Error(code, 400, message);

export const selectErrors = {
  emptyRequestBody: () => e("EmptyRequestBody", "Request body cannot be empty."),
  missingRequiredParameter: (what: string) =>
    e(
      "MissingRequiredParameter",
      `The SelectRequest entity is missing a required parameter. Check the service documentation and try again. (${what})`,
    ),
  invalidExpressionType: () =>
    e("InvalidExpressionType", "The ExpressionType is invalid. Only SQL expressions are supported at this time."),
  expressionTooLong: () =>
    e("ExpressionTooLong", "The SQL expression is too long: The maximum byte-length for the SQL expression is 256 KB."),
  invalidCompressionFormat: () =>
    e(
      "InvalidCompressionFormat",
      "The file is not in a supported compression format. Only GZIP and BZIP2 are supported.",
    ),
  invalidFileHeaderInfo: () =>
    e("InvalidFileHeaderInfo", "The FileHeaderInfo is invalid. Only NONE, USE, and IGNORE are supported."),
  invalidJsonType: () =>
    e("InvalidJsonType", "The JsonType is invalid. Only DOCUMENT and LINES are supported at this time."),
  invalidQuoteFields: () =>
    e("InvalidQuoteFields", "The QuoteFields is invalid. Only ALWAYS and ASNEEDED are supported."),
  invalidRequestParameter: (detail: string) =>
    e(
      "InvalidRequestParameter",
      `The value of a parameter in SelectRequest element is invalid. Check the service API documentation and try again. ${detail}`,
    ),
  objectSerializationConflict: () =>
    e(
      "ObjectSerializationConflict",
      "The SelectRequest entity can only contain one of CSV or JSON. Check the service documentation and try again.",
    ),
  invalidScanRange: () =>
    e("InvalidRequestParameter", "The value of a parameter in SelectRequest element is invalid. (ScanRange)"),
  unsupportedScanRangeInput: () =>
    e("UnsupportedScanRangeInput", "Scan range queries are not supported on this type of object."),
  csvParsingError: (detail: string) =>
    e("CSVParsingError", `Encountered an error parsing the CSV file. Check the file and try again. ${detail}`),
  jsonParsingError: (detail: string) =>
    e("JSONParsingError", `Encountered an error parsing the JSON file. Check the file and try again. ${detail}`),
  castFailed: (detail: string) =>
    e(
      "CastFailed",
      `Attempt to convert from one data type to another using CAST failed in the SQL expression. ${detail}`,
    ),
  invalidTextEncoding: () =>
    e("InvalidTextEncoding", "Invalid encoding type. Only UTF-8 encoding is supported at this time."),
  /** Parse errors name the offending token and its position, as S3 adds them after the description. */
  parse: (code: string, description: string, at: { token: string; position: number } | undefined) =>
    e(code, at ? `${description} Token: ${at.token}, Position: ${at.position}.` : description),
  unsupportedFunction: (name: string) => e("UnsupportedFunction", `Encountered an unsupported SQL function. (${name})`),
  unsupportedSqlStructure: (detail: string) =>
    e("UnsupportedSqlStructure", `Encountered an unsupported SQL structure. Check the SQL Reference. ${detail}`),
  unsupportedSyntax: (detail: string) => e("UnsupportedSyntax", `Encountered invalid syntax. ${detail}`),
  invalidColumnIndex: (index: string) =>
    e(
      "InvalidColumnIndex",
      `The column index is invalid. Please check the service documentation and try again. (${index})`,
    ),
  missingHeaderName: (name: string) =>
    e(
      "MissingHeaderName",
      `Some headers in the query are missing from the file. Check the file and try again. (${name})`,
    ),
  ambiguousFieldName: (name: string) =>
    e(
      "AmbiguousFieldName",
      `Field name matches to multiple fields in the file. Check the SQL expression and the file, and try again. (${name})`,
    ),
  invalidTableAlias: (alias: string) =>
    e("InvalidTableAlias", `The SQL expression contains an invalid table alias. (${alias})`),
  /** What S3 Select evaluates and the sandbox does not (sandbox/S3.md, "SelectObjectContent"). */
  notServed: (what: string) => new S3Error("NotImplemented", 501, `The sandbox's S3 Select does not evaluate ${what}.`),
  /** The account may not use S3 Select (behaviour switch `s3Select`, sandbox/ASSUMPTIONS.md). */
  notAvailable: () =>
    new S3Error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.", {
      Method: "POST",
      ResourceType: "OBJECT",
    }),
};
