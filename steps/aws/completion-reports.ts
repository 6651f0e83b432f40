import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { CompletionReportError } from "../../contract/errors.ts";
import { planKeys } from "../../contract/run-context.ts";
import { parseReportManifest, type ReportRow, reportRows } from "../domain/completion-report.ts";
import { Md5, type Md5State } from "../domain/md5.ts";
import { recordSegments } from "../domain/report-segments.ts";
import type { StepDeps } from "../runtime/step.ts";
import { getStream, getTextIfExists, listSizes } from "./s3-io.ts";

/** Where Batch Operations writes a job's completion report manifest: `<report prefix>/job-<id>/manifest.json`. */
export function reportManifestKey(reportsPrefix: string, jobId: string): string {
  return `${reportsPrefix}/job-${jobId}/manifest.json`;
}

/** The report manifest key of a job of the plan (its Report prefix is the plan's reports prefix). */
export function planReportManifestKey(planPrefix: string, jobId: string): string {
  return reportManifestKey(planKeys(planPrefix).reportsPrefix, jobId);
}

/** One result file of a completion report, as its report manifest lists it. */
export interface ResultFile {
  bucket: string;
  key: string;
  /** The MD5 the report manifest gives for the file's bytes. */
  md5: string;
}

/**
 * Where a reading of one result file stands: the byte offset, always at the start of a record, and the MD5 of the
 * bytes before it.
 */
export interface FilePosition {
  offset: number;
  md5?: Md5State | undefined;
}

/**
 * Bytes of a result file parsed between two questions whether to pause: large enough that asking costs nothing,
 * small enough that an invocation stops within a fraction of a second of its budget.
 */
export const SEGMENT_BYTES = 64 * 1024;

/**
 * Reads one job's completion report, every result file checked against the MD5 its manifest gives; returns the
 * number of rows, or undefined when the job wrote no report. `only` reads just the files of that task status.
 */
export async function readCompletionReport(
  workBucket: string,
  manifestKey: string,
  deps: Pick<StepDeps, "clients">,
  onRow: (row: ReportRow) => Promise<void> | undefined,
  only?: "succeeded" | "failed",
): Promise<number | undefined> {
  const text = await getTextIfExists(deps.clients.s3, workBucket, manifestKey);
  if (text === undefined) return undefined;
  let rows = 0;
  for (const file of parseReportManifest(text, manifestKey).results) {
    if (only !== undefined && file.taskExecutionStatus !== only) continue;
    rows += (await readResultFile(file, undefined, deps, onRow)).rows;
  }
  return rows;
}

/** A job's result files with their sizes (one listing of the job's report folder), or undefined with no report. */
export async function reportResultFiles(
  workBucket: string,
  manifestKey: string,
  { clients }: Pick<StepDeps, "clients">,
): Promise<(ResultFile & { taskStatus: "succeeded" | "failed"; size: number })[] | undefined> {
  const text = await getTextIfExists(clients.s3, workBucket, manifestKey);
  if (text === undefined) return undefined;
  const report = parseReportManifest(text, manifestKey);
  const folder = manifestKey.slice(0, manifestKey.lastIndexOf("/") + 1);
  const sizes = await listSizes(clients.s3, workBucket, folder);
  const files = [];
  for (const f of report.results) {
    // A result file elsewhere than the job's folder (the manifest names its bucket and key) is asked for its size.
    const listed = f.bucket === workBucket ? sizes.get(f.key) : undefined;
    const size =
      listed ?? (await clients.s3.send(new HeadObjectCommand({ Bucket: f.bucket, Key: f.key }))).ContentLength ?? 0;
    files.push({ bucket: f.bucket, key: f.key, md5: f.md5, taskStatus: f.taskExecutionStatus, size });
  }
  return files;
}

/**
 * Reads one result file from `from` on (its start when undefined), and stops, between two records, when `pause()`
 * says so before the next run of records: then `paused` is where to take up again (a byte offset read with a Range
 * request, so a file of any size can be read across invocations, and the MD5 of the bytes before it, so the whole
 * file is still checked against its manifest). Throws CompletionReportError when the whole file's MD5 differs.
 */
export async function readResultFile(
  file: ResultFile,
  from: FilePosition | undefined,
  { clients }: Pick<StepDeps, "clients">,
  onRow: (row: ReportRow) => Promise<void> | undefined,
  options: { pause?: () => boolean; segmentBytes?: number | undefined } = {},
): Promise<{ rows: number; paused?: FilePosition }> {
  const md5 = new Md5(from?.md5);
  let offset = from?.offset ?? 0;
  let rows = 0;
  let paused: FilePosition | undefined;
  const body = await getStream(clients.s3, file.bucket, file.key, offset);
  // Each segment ends at a record's end, so the parser is between records whenever it asks for the next one,
  // after every row of the segments before was handled.
  const fed = async function* (): AsyncGenerator<Buffer> {
    for await (const segment of recordSegments(body, options.segmentBytes ?? SEGMENT_BYTES)) {
      if (options.pause?.()) {
        paused = { offset, md5: md5.save() };
        return;
      }
      md5.update(segment);
      offset += segment.length;
      yield segment;
    }
  };
  for await (const row of reportRows(fed(), file.key)) {
    rows += 1;
    await onRow(row);
  }
  if (paused) {
    body.destroy();
    return { rows, paused };
  }
  const digest = md5.hex();
  if (digest !== file.md5.toLowerCase()) {
    throw new CompletionReportError(`the file's MD5 is ${digest}, but the report manifest says ${file.md5}.`, {
      file: file.key,
      fix: "The report file is damaged or was replaced; do not trust this run's counts. Start a new run.",
    });
  }
  return { rows };
}
