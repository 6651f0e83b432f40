import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { MapStateDefinition } from "./distributed-map.ts";
import { passEvaluator } from "./engine.ts";
import { stateError } from "./tasks.ts";

/**
 * A Distributed Map state's ItemReader (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html):
 * `arn:aws:states:::s3:getObject` of a JSON array, a JSON Lines file or a CSV file in the sandbox's S3, read through
 * the S3 API as Step Functions reads it. A failure to read or parse is `States.ItemReaderFailed`.
 */

const GET_OBJECT = /^arn:aws[a-z-]*:states:::s3:getObject$/;
/** Step Functions' ceiling on MaxItems. */
const MAX_ITEMS_LIMIT = 100_000_000;

export const ITEM_READER_FAILED = "States.ItemReaderFailed";

type Context = Record<string, unknown>;

/** The items the Map Run iterates over: read by the ItemReader, else selected from the input by ItemsPath. */
export async function readItems(params: {
  state: MapStateDefinition;
  stateName: string;
  input: unknown;
  context: Context;
  s3: () => S3Client;
}): Promise<unknown[]> {
  const { state, input, context } = params;
  const reader = state.ItemReader;
  let items: unknown;
  if (reader) {
    items = await read(reader, input, context, params.s3);
    // ItemsPath then applies to what the reader read (a JSON object holding the array).
    if (state.ItemsPath !== undefined) items = await select(state.ItemsPath, items, context, ITEM_READER_FAILED);
  } else {
    items = await select(state.ItemsPath ?? "$", input, context, "States.Runtime");
  }
  if (!Array.isArray(items)) {
    throw stateError(reader ? ITEM_READER_FAILED : "States.Runtime", "Attempting to map over non-iterable node.");
  }
  const maxItems = reader ? await maxItemsOf(reader.ReaderConfig, input, context) : 0;
  return maxItems > 0 ? items.slice(0, maxItems) : items;
}

async function select(path: string, value: unknown, context: Context, error: string): Promise<unknown> {
  try {
    return await passEvaluator({ InputPath: path })(value, context);
  } catch (err) {
    throw stateError(error, (err as Error).message);
  }
}

async function maxItemsOf(
  config: NonNullable<MapStateDefinition["ItemReader"]>["ReaderConfig"],
  input: unknown,
  context: Context,
): Promise<number> {
  let value: unknown = config?.MaxItems;
  if (config?.MaxItemsPath !== undefined) value = await select(config.MaxItemsPath, input, context, "States.Runtime");
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_ITEMS_LIMIT) {
    throw stateError(
      ITEM_READER_FAILED,
      `MaxItems must be an integer from 0 to ${MAX_ITEMS_LIMIT}; got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

async function read(
  reader: NonNullable<MapStateDefinition["ItemReader"]>,
  input: unknown,
  context: Context,
  s3: () => S3Client,
): Promise<unknown> {
  if (!GET_OBJECT.test(reader.Resource)) {
    throw stateError(
      "States.Runtime",
      `The sandbox does not emulate the ItemReader resource '${reader.Resource}'; it reads with arn:aws:states:::s3:getObject only.`,
      true,
    );
  }
  const inputType = reader.ReaderConfig?.InputType ?? "JSON";
  let parameters: { Bucket?: unknown; Key?: unknown; VersionId?: unknown };
  try {
    parameters = (await passEvaluator({ Parameters: reader.Parameters ?? {} })(input, context)) as typeof parameters;
  } catch (err) {
    throw stateError("States.Runtime", (err as Error).message, true);
  }
  if (typeof parameters.Bucket !== "string" || typeof parameters.Key !== "string") {
    throw stateError(ITEM_READER_FAILED, "The ItemReader's Parameters must give a Bucket and a Key string.");
  }
  let body: string;
  try {
    const object = await s3().send(
      new GetObjectCommand({
        Bucket: parameters.Bucket,
        Key: parameters.Key,
        ...(typeof parameters.VersionId === "string" ? { VersionId: parameters.VersionId } : {}),
      }),
    );
    body = (await object.Body?.transformToString("utf8")) ?? "";
  } catch (err) {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    throw stateError(
      ITEM_READER_FAILED,
      `${e.message ?? String(err)} (Service: S3, Status Code: ${status ?? "unknown"}, Error Code: ${e.name ?? "unknown"})`,
    );
  }
  return parse(inputType, body, reader.ReaderConfig);
}

function parse(
  inputType: string,
  body: string,
  config: NonNullable<MapStateDefinition["ItemReader"]>["ReaderConfig"],
): unknown {
  try {
    switch (inputType) {
      case "JSON":
        return JSON.parse(body);
      case "JSONL":
        return body
          .split(/\r?\n/)
          .filter((line) => line.trim() !== "")
          .map((line) => JSON.parse(line));
      case "CSV":
        return csvItems(body, config);
      default:
        throw new Error(`The sandbox does not read ItemReader InputType '${inputType}'.`);
    }
  } catch (err) {
    throw stateError(ITEM_READER_FAILED, (err as Error).message);
  }
}

/** CSV rows as objects keyed by the header (the first row, or the CSVHeaders given); every value is a string. */
function csvItems(body: string, config: NonNullable<MapStateDefinition["ItemReader"]>["ReaderConfig"]): unknown[] {
  if (config?.CSVDelimiter !== undefined && config.CSVDelimiter !== "COMMA") {
    throw new Error(`The sandbox reads comma-delimited CSV only, not CSVDelimiter '${config.CSVDelimiter}'.`);
  }
  const rows = csvRows(body);
  const location = config?.CSVHeaderLocation ?? "FIRST_ROW";
  let headers: string[];
  if (location === "GIVEN") {
    if (!Array.isArray(config?.CSVHeaders) || config.CSVHeaders.length === 0) {
      throw new Error("CSVHeaders must be given when CSVHeaderLocation is GIVEN.");
    }
    headers = config.CSVHeaders;
  } else if (location === "FIRST_ROW") {
    headers = rows.shift() ?? [];
  } else {
    throw new Error(`CSVHeaderLocation must be FIRST_ROW or GIVEN, not '${location}'.`);
  }
  if (new Set(headers).size !== headers.length) throw new Error("CSV headers cannot contain duplicates.");
  return rows.map((row) => Object.fromEntries(headers.map((h, i) => [h, row[i] ?? ""])));
}

/** RFC 4180: fields split on commas, double-quoted fields may hold commas, newlines and doubled quotes. */
export function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}
