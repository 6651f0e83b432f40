import { StringDecoder } from "node:string_decoder";
import { z } from "zod";
import { CompletionReportError } from "../../contract/errors.ts";
import type { TaskFailureCategory } from "../../contract/reasons.ts";
import { tryDecodeManifestKey } from "./batch-manifest.ts";

export const COMPLETION_REPORT_FORMAT = "Report_CSV_20180820";

const reportManifestSchema = z.object({
  Format: z.string().min(1),
  ReportCreationDate: z.string().min(1),
  Results: z.array(
    z.object({
      TaskExecutionStatus: z.string().min(1),
      Bucket: z.string().min(1),
      MD5Checksum: z.string().min(1),
      Key: z.string().min(1),
    }),
  ),
  ReportSchema: z.string().min(1),
});

export interface ReportResultFile {
  taskExecutionStatus: "succeeded" | "failed";
  /** Bucket name of the results CSV. */
  bucket: string;
  /** Full key of the results CSV (includes the report prefix). */
  key: string;
  md5: string;
}

export interface ReportManifest {
  format: typeof COMPLETION_REPORT_FORMAT;
  reportCreationDate: Date;
  results: ReportResultFile[];
  /** Column names as the manifest states them; see reportRows for why rows are not read by this order. */
  reportSchema: string[];
}

/**
 * Reads a Batch Operations completion report's top-level `manifest.json`
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html).
 */
export function parseReportManifest(jsonText: string, source = "manifest.json"): ReportManifest {
  const fix =
    "Point rekey at <report-prefix>/job-<job-id>/manifest.json of a finished job; if the job failed before running any task, it has no report.";
  let json: unknown;
  try {
    json = JSON.parse(jsonText);
  } catch (cause) {
    throw new CompletionReportError("the completion report manifest is not valid JSON.", { file: source, fix, cause });
  }
  const parsed = reportManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new CompletionReportError(`the completion report manifest has an unexpected shape (${issues}).`, {
      file: source,
      fix,
    });
  }
  const m = parsed.data;
  if (m.Format !== COMPLETION_REPORT_FORMAT) {
    throw new CompletionReportError(`Format is "${m.Format}"; rekey reads ${COMPLETION_REPORT_FORMAT}.`, {
      file: source,
      fix: `Create jobs with Report.Format ${COMPLETION_REPORT_FORMAT}.`,
    });
  }
  const reportCreationDate = new Date(m.ReportCreationDate);
  if (Number.isNaN(reportCreationDate.getTime())) {
    throw new CompletionReportError(`ReportCreationDate "${m.ReportCreationDate}" is not a date.`, {
      file: source,
      fix,
    });
  }
  const results = m.Results.map((r, i): ReportResultFile => {
    const status = r.TaskExecutionStatus.toLowerCase();
    if (status !== "succeeded" && status !== "failed") {
      throw new CompletionReportError(
        `Results[${i}].TaskExecutionStatus is "${r.TaskExecutionStatus}", expected succeeded or failed.`,
        { file: source, fix },
      );
    }
    return { taskExecutionStatus: status, bucket: r.Bucket, key: r.Key, md5: r.MD5Checksum };
  });
  return {
    format: COMPLETION_REPORT_FORMAT,
    reportCreationDate,
    results,
    reportSchema: m.ReportSchema.split(",").map((c) => c.trim()),
  };
}

export interface ReportRow {
  bucket: string;
  /** The key decoded from the manifest's percent-encoding; `rawKey` when that text is not valid encoding. */
  key: string;
  /** The key exactly as the report wrote it. */
  rawKey: string;
  versionId?: string;
  taskStatus: "succeeded" | "failed";
  httpStatus?: number;
  errorCode?: string;
  resultMessage: string;
}

export interface CsvRecord {
  fields: string[];
  /** 1-based line the record starts on. */
  line: number;
}

const DAMAGED_FIX = "The results CSV is damaged; download it again and compare its MD5 with the report manifest.";
const UNQUOTED_SPECIAL = /[,\r\n"]/g;

/**
 * RFC 4180 record reader over a stream of chunks: quoted fields with commas, doubled quotes and line breaks;
 * CRLF or LF record ends; blank lines skipped. Runs of ordinary characters are copied as slices, not one
 * character at a time, and state carries across chunk boundaries (even between a quote and its double).
 */
export async function* csvRecords(input: AsyncIterable<Buffer | string>, source: string): AsyncGenerator<CsvRecord> {
  const decoder = new StringDecoder("utf8");
  let fields: string[] = [];
  let field = "";
  let inQuotes = false;
  // A quote seen inside a quoted field at the end of a chunk: the next character decides (doubled or closing).
  let quotePending = false;
  let fieldWasQuoted = false;
  let afterClosingQuote = false;
  let pendingCr = false;
  let line = 1;
  let recordLine = 1;

  const damaged = (problem: string): CompletionReportError =>
    new CompletionReportError(problem, { file: source, line, fix: DAMAGED_FIX });

  const endField = (): void => {
    fields.push(field);
    field = "";
    fieldWasQuoted = false;
    afterClosingQuote = false;
  };
  const recordStarted = (): boolean => fields.length > 0 || field !== "" || fieldWasQuoted;

  const parse = (text: string, out: CsvRecord[]): void => {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (quotePending) {
        quotePending = false;
        if (text.charCodeAt(i) === 34) {
          field += '"';
          i += 1;
          continue;
        }
        inQuotes = false;
        afterClosingQuote = true;
      }
      if (inQuotes) {
        const q = text.indexOf('"', i);
        const end = q < 0 ? n : q;
        const piece = text.slice(i, end);
        for (let nl = piece.indexOf("\n"); nl >= 0; nl = piece.indexOf("\n", nl + 1)) line += 1;
        field += piece;
        if (q < 0) return;
        if (q + 1 === n) {
          quotePending = true;
          return;
        }
        if (text.charCodeAt(q + 1) === 34) {
          field += '"';
          i = q + 2;
        } else {
          inQuotes = false;
          afterClosingQuote = true;
          i = q + 1;
        }
        continue;
      }
      if (pendingCr) {
        pendingCr = false;
        if (text.charCodeAt(i) !== 10) field += "\r";
      }
      UNQUOTED_SPECIAL.lastIndex = i;
      const m = UNQUOTED_SPECIAL.exec(text);
      const at = m ? m.index : n;
      if (at > i) {
        if (afterClosingQuote) throw damaged("text follows a closing double quote.");
        field += text.slice(i, at);
      }
      if (!m) return;
      const c = text.charCodeAt(at);
      i = at + 1;
      if (c === 44) {
        endField();
      } else if (c === 10) {
        if (recordStarted()) {
          endField();
          out.push({ fields, line: recordLine });
        }
        fields = [];
        field = "";
        fieldWasQuoted = false;
        afterClosingQuote = false;
        line += 1;
        recordLine = line;
      } else if (c === 13) {
        pendingCr = true;
      } else {
        if (field !== "" || fieldWasQuoted) throw damaged("a double quote appears inside an unquoted field.");
        inQuotes = true;
        fieldWasQuoted = true;
      }
    }
  };

  const flush = function* (text: string): Generator<CsvRecord> {
    const out: CsvRecord[] = [];
    parse(text, out);
    yield* out;
  };
  for await (const chunk of input) yield* flush(typeof chunk === "string" ? chunk : decoder.write(chunk));
  yield* flush(decoder.end());
  if (inQuotes && !quotePending) {
    throw new CompletionReportError("the file ends inside a quoted field.", {
      file: source,
      line: recordLine,
      fix: "The results CSV is truncated; download it again and compare its MD5 with the report manifest.",
    });
  }
  if (pendingCr) field += "\r";
  if (recordStarted()) {
    endField();
    yield { fields, line: recordLine };
  }
}

const HTTP_STATUS = /^[1-5]\d\d$/;
const REPORT_COLUMNS = 7;

function badRow(problem: string, file: string, line: number): CompletionReportError {
  return new CompletionReportError(problem, {
    file,
    line,
    fix: "Check that the file is a Batch Operations results CSV (Report_CSV_20180820); if it is, download it again and compare its MD5 with the report manifest.",
  });
}

/**
 * Rows of one completion report results CSV. Columns 5 and 6 are read by content, not position: the
 * ReportSchema says `ErrorCode, HTTPStatusCode` but every AWS sample and real report has the HTTP status in
 * column 5 and the error code in column 6 (the examples in batch-ops-examples-reports.html disagree with its
 * ReportSchema); the numeric one is the status.
 * Whether result keys are URL-encoded is not documented; they are decoded like the manifest we wrote, and the
 * text as written is kept in `rawKey`.
 */
export async function* reportRows(
  csv: AsyncIterable<Buffer | string>,
  source = "completion report",
): AsyncGenerator<ReportRow, void, undefined> {
  for await (const { fields, line } of csvRecords(csv, source)) {
    if (fields.length < REPORT_COLUMNS) {
      throw badRow(
        `the row has ${fields.length} field(s); a completion report row has ${REPORT_COLUMNS}.`,
        source,
        line,
      );
    }
    // ResultMessage is free text and last; if a writer left commas in it unquoted, they belong to it.
    const [bucket = "", rawKey = "", versionId = "", status = "", c5 = "", c6 = ""] = fields;
    const resultMessage = fields.slice(REPORT_COLUMNS - 1).join(",");
    const taskStatus = status.toLowerCase();
    if (taskStatus !== "succeeded" && taskStatus !== "failed") {
      throw badRow(`TaskStatus is "${status}", expected succeeded or failed.`, source, line);
    }
    let httpText: string | undefined;
    let errorCode: string | undefined;
    if (HTTP_STATUS.test(c5)) {
      httpText = c5;
      errorCode = c6;
    } else if (HTTP_STATUS.test(c6)) {
      httpText = c6;
      errorCode = c5;
    } else if (c5 === "" || c6 === "") {
      errorCode = c5 || c6;
    } else {
      throw badRow(`neither column 5 ("${c5}") nor column 6 ("${c6}") is an HTTP status code.`, source, line);
    }
    if (bucket === "" || rawKey === "") throw badRow("the row has no bucket or key.", source, line);
    const row: ReportRow = {
      bucket,
      key: tryDecodeManifestKey(rawKey) ?? rawKey,
      rawKey,
      taskStatus,
      resultMessage,
    };
    if (versionId !== "") row.versionId = versionId;
    if (httpText !== undefined) row.httpStatus = Number(httpText);
    if (errorCode !== undefined && errorCode !== "") row.errorCode = errorCode;
    yield row;
  }
}

const GONE_CODES = /\b(NoSuchKey|NoSuchVersion)\b/;
const OBJECT_STATE_CODES = /\bInvalidObjectState\b/;
const PRECONDITION_CODES = /\bPreconditionFailed\b/;
// KMS marks DependencyTimeout, KMSInternal and KeyUnavailable as retryable
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKey.html#API_GenerateDataKey_Errors).
const TRANSIENT_CODES =
  /\b(SlowDown|ServiceUnavailable|InternalError|RequestTimeout|TooManyRequests(?:Exception)?|Throttling(?:Exception)?|RequestLimitExceeded|KMS\.(?:ThrottlingException|KMSInternalException|DependencyTimeoutException|KeyUnavailableException))\b/;
const ACCESS_CODES = /\b(AccessDenied|AllAccessDisabled|InvalidAccessKeyId|KMS\.[A-Za-z]+)\b/;

/**
 * Why a task failed, from its error code and result message (codes are matched as words in both, because
 * the code column often holds only PermanentFailure/TemporaryFailure), then from the HTTP status.
 */
export function classifyTaskFailure(
  row: Pick<ReportRow, "httpStatus" | "errorCode" | "resultMessage">,
): TaskFailureCategory {
  const text = `${row.errorCode ?? ""} ${row.resultMessage}`;
  const status = row.httpStatus;
  if (GONE_CODES.test(text)) return "gone";
  if (OBJECT_STATE_CODES.test(text)) return "object-state";
  if (PRECONDITION_CODES.test(text) || status === 412) return "precondition";
  if (TRANSIENT_CODES.test(text)) return "throttled-or-transient";
  if (ACCESS_CODES.test(text)) return "access-or-kms";
  if (status === 429 || (status !== undefined && status >= 500)) return "throttled-or-transient";
  if (status === 403) return "access-or-kms";
  // A bare 404 on a copy task is its source key missing; NoSuchBucket would have named itself.
  if (status === 404 && !/\bNoSuchBucket\b/.test(text)) return "gone";
  return "other";
}

/**
 * What HeadObject found, after the job, at the key of a task whose report row alone cannot be trusted: nothing
 * (404), or the object with whether it is compliant (SSE-KMS under the target key with Bucket Key) and what it is.
 */
export type ObjectNow = { exists: false } | { exists: true; compliant: boolean; found: string };

/**
 * Which failed rows verification must look at in the bucket before counting them:
 * - `confirm-gone`: a 404 (NoSuchKey, NotFound) counts as deleted since planning only once HeadObject of the key,
 *   decoded as the manifest encoded it, answers 404 too; an object that is there means Batch Operations looked
 *   for another key (the manifest key did not decode to the object's key).
 * - `changed-since-planning`: a copy refused with 412 was modified after default encryption was enforced (its
 *   UnModifiedSinceConstraint, steps/aws/batch-job-requests.ts), so it was not copied; whether it is compliant
 *   depends on what its writer asked for.
 */
export type RowCheck = "confirm-gone" | "changed-since-planning";

export function rowCheck(operation: "copy" | "update-encryption", row: ReportRow): RowCheck | undefined {
  if (row.taskStatus !== "failed") return undefined;
  const category = classifyTaskFailure(row);
  if (category === "gone") return "confirm-gone";
  // rekey's copies carry no other condition, so a 412 of a copy is the unmodified-since guard.
  if (category === "precondition" && operation === "copy") return "changed-since-planning";
  return undefined;
}
