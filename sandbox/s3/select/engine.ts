import { isUtf8 } from "node:buffer";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { type DuckDBResult, DuckDBTypeId } from "@duckdb/node-api";
import { duckMessage, quoteLiteral, sharedDuckDb } from "../../duckdb.ts";
import type { SandboxRequest, SandboxResponse } from "../../http.ts";
import type { S3Context, S3Target } from "../context.ts";
import { checkReadKey } from "../encryption.ts";
import { S3Error, s3Errors } from "../errors.ts";
import { readableVersion } from "../objects.ts";
import { isArchived } from "../store.ts";
import { selectErrors } from "./errors.ts";
import { endEvent, errorMessage, progressEvent, recordsEvent, type ScanCounts, statsEvent } from "./event-stream.ts";
import { csvRecord, firstRecord, jsonRecord, scanRangeSlice } from "./records.ts";
import { parseSelectRequest, type SelectRequest } from "./request.ts";
import { type Projection, type Translation, translate } from "./sql.ts";

/**
 * SelectObjectContent (`POST /bucket/key?select&select-type=2`): the object's CSV is decompressed, written to a
 * temporary file and queried by DuckDB with every column VARCHAR; the result is answered as the event stream
 * (event-stream.ts). Spec: sandbox/S3.md, "SelectObjectContent".
 */

/** Records events carry at most this much of the result each (AWS does not document a size). */
export const RECORDS_EVENT_BYTES = 64 * 1024;

export async function selectObjectContent(ctx: S3Context, req: SandboxRequest, t: S3Target): Promise<SandboxResponse> {
  if (ctx.behaviours.s3Select === "NotAvailable") throw selectErrors.notAvailable();
  const { version } = readableVersion(ctx, req, t);
  checkReadKey(req, version);
  if (isArchived(version) || version.storageClass === "REDUCED_REDUNDANCY") {
    throw s3Errors.invalidObjectState(version.storageClass, version.intelligentTieringAccessTier);
  }
  const request = parseSelectRequest(req.body);
  if (!version.body) {
    throw s3Errors.notImplemented(
      `The sandbox stores only the declared size of ${t.key} (${version.size} bytes), not its data; SelectObjectContent is not available for it.`,
    );
  }
  const whole = decompress(version.body, request);
  const range = scanRange(whole, request);
  const text = whole.subarray(range.from, range.to);
  // A record is at most 1 MB (selecting-content-from-objects): the first one is within the first 2 MB.
  const first = firstRecord(whole.subarray(0, 2 * 1024 * 1024).toString("utf8"), request.input);
  const translation = translate(request.expression, {
    headers: request.input.fileHeaderInfo === "USE" ? first : undefined,
  });
  const columns = Math.max(first?.length ?? 0, translation.maxColumn, 1);
  const counts: ScanCounts = {
    bytesScanned: request.scanRange ? text.length : version.body.length,
    bytesProcessed: text.length,
    bytesReturned: 0,
  };
  const withHeader = request.input.fileHeaderInfo !== "NONE" && range.from === 0;

  const dir = await mkdtemp(join(tmpdir(), "sandbox-select-"));
  const connection = await (await sharedDuckDb()).connect();
  try {
    const file = join(dir, "object.csv");
    await writeFile(file, text);
    const names = outputNames(translation, columns, first, request);
    const sql = duckSql(translation, columns, file, request, withHeader);
    let body: Buffer;
    try {
      body = await eventStream(await connection.stream(sql), names, request, counts);
    } catch (err) {
      // DuckDB may meet a bad value while planning the scan, before the first row: still an evaluation error.
      const e = planningError(err);
      if (e) throw e;
      body = errorMessage(evaluationError(err).code, evaluationError(err).message);
    }
    return { status: 200, headers: { "content-type": "application/octet-stream" }, body };
  } finally {
    connection.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The part of the object a ScanRange selects (all of it without one); only uncompressed, line-delimited CSV. */
function scanRange(data: Buffer, request: SelectRequest): { from: number; to: number } {
  if (!request.scanRange) return { from: 0, to: data.length };
  if (request.compression !== "NONE" || request.input.allowQuotedRecordDelimiter) {
    throw selectErrors.unsupportedScanRangeInput();
  }
  return scanRangeSlice(data, request.scanRange);
}

function decompress(data: Buffer, request: SelectRequest): Buffer {
  let text = data;
  if (request.compression === "GZIP") {
    if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b) throw selectErrors.invalidCompressionFormat();
    try {
      text = gunzipSync(data);
    } catch {
      throw selectErrors.invalidCompressionFormat();
    }
  }
  if (!isUtf8(text)) throw selectErrors.invalidTextEncoding();
  return text;
}

function outputNames(tr: Translation, columns: number, first: string[] | undefined, request: SelectRequest): string[] {
  if (!tr.star) return tr.projections.map((p) => p.name);
  const useHeaders = request.input.fileHeaderInfo === "USE" && first !== undefined;
  return Array.from({ length: columns }, (_, i) => (useHeaders ? (first[i] ?? `_${i + 1}`) : `_${i + 1}`));
}

/** The DuckDB statement: the translated query over read_csv with the request's CSV options. */
export function duckSql(
  tr: Translation,
  columns: number,
  file: string,
  request: SelectRequest,
  withHeader: boolean,
): string {
  const csv = request.input;
  const columnTypes = Array.from({ length: columns }, (_, i) => `'_${i + 1}': 'VARCHAR'`).join(", ");
  const options = [
    "auto_detect = false",
    `header = ${withHeader}`,
    `delim = ${quoteLiteral(csv.fieldDelimiter)}`,
    `quote = ${quoteLiteral(csv.quoteCharacter)}`,
    `escape = ${quoteLiteral(csv.quoteEscapeCharacter)}`,
    ...(csv.comments !== undefined ? [`comment = ${quoteLiteral(csv.comments)}`] : []),
    // Short records read MISSING (NULL) for the columns they lack; long ones keep their first columns.
    "null_padding = true",
    "strict_mode = false",
    // S3 Select reads an empty field as the empty string, never as NULL.
    "allow_quoted_nulls = false",
    `nullstr = ${quoteLiteral("\u0001no-null\u0002")}`,
    `columns = {${columnTypes}}`,
  ];
  const projections: Projection[] = tr.star
    ? Array.from({ length: columns }, (_, i) => ({ sql: `"_${i + 1}"`, name: `_${i + 1}` }))
    : tr.projections;
  const list = projections
    .map((p, i) => (request.output.kind === "CSV" ? `CAST(${p.sql} AS VARCHAR) AS "c${i}"` : `${p.sql} AS "c${i}"`))
    .join(", ");
  return (
    `SELECT ${list} FROM read_csv(${quoteLiteral(file)}, ${options.join(", ")})` +
    (tr.where ? ` WHERE ${tr.where}` : "") +
    (tr.limit !== undefined ? ` LIMIT ${tr.limit}` : "")
  );
}

const NUMERIC = new Set([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.DECIMAL,
]);

/**
 * Records events of up to RECORDS_EVENT_BYTES, then (if asked) Progress, Stats and End. An error while rows are
 * being evaluated (a failed cast, a malformed CSV record) ends the stream with an error message after the records
 * already sent, as an error met mid-response does on S3.
 */
async function eventStream(
  result: DuckDBResult,
  names: string[],
  request: SelectRequest,
  counts: ScanCounts,
): Promise<Buffer> {
  const events: Buffer[] = [];
  const numeric = result.columnTypes().map((t) => NUMERIC.has(t.typeId));
  let pending: string[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const payload = Buffer.from(pending.join(""), "utf8");
    counts.bytesReturned += payload.length;
    events.push(recordsEvent(payload));
    pending = [];
    pendingBytes = 0;
  };
  try {
    for await (const rows of result.yieldRowsJson()) {
      for (const row of rows) {
        const record =
          request.output.kind === "CSV"
            ? csvRecord(row as (string | null)[], request.output)
            : jsonRecord(names, row, numeric, request.output);
        pending.push(record);
        pendingBytes += Buffer.byteLength(record, "utf8");
        if (pendingBytes >= RECORDS_EVENT_BYTES) flush();
      }
    }
  } catch (err) {
    flush();
    const e = evaluationError(err);
    events.push(errorMessage(e.code, e.message));
    return Buffer.concat(events);
  }
  flush();
  if (request.requestProgress) events.push(progressEvent(counts));
  events.push(statsEvent(counts), endEvent());
  return Buffer.concat(events);
}

/** DuckDB refused the statement before reading any row (a type error in the expression): an HTTP error. */
function planningError(err: unknown): S3Error | undefined {
  const message = duckMessage(err);
  if (!message.startsWith("Binder Error")) return undefined;
  return new S3Error(
    "IncorrectSqlFunctionArgumentType",
    400,
    `Incorrect type of arguments in function call in the SQL expression. (${message})`,
  );
}

function evaluationError(err: unknown): S3Error {
  const message = duckMessage(err);
  if (message.startsWith("Conversion Error")) return selectErrors.castFailed(`(${message})`);
  if (/CSV Error|Invalid Input Error/.test(message)) return selectErrors.csvParsingError(`(${message})`);
  return new S3Error("InternalError", 500, `We encountered an internal error. Please try again. (${message})`);
}
