import { CompletionReportError } from "../../contract/errors.ts";
import { planKeys } from "../../contract/run-context.ts";
import { parseReportManifest, type ReportRow, reportRows } from "../domain/completion-report.ts";
import { Md5, type Md5State } from "../domain/md5.ts";
import { recordSegments } from "../domain/report-segments.ts";
import type { StepDeps } from "../runtime/step.ts";
import { getStream, getTextIfExists } from "./s3-io.ts";

/** Where Batch Operations writes a job's completion report manifest: `<report prefix>/job-<id>/manifest.json`. */
export function reportManifestKey(reportsPrefix: string, jobId: string): string {
  return `${reportsPrefix}/job-${jobId}/manifest.json`;
}

/** The report manifest key of a job of the plan (its Report prefix is the plan's reports prefix). */
export function planReportManifestKey(planPrefix: string, jobId: string): string {
  return reportManifestKey(planKeys(planPrefix).reportsPrefix, jobId);
}

/**
 * Where a reading of one job's report stands: the result file (its index in the report manifest), the byte offset
 * in it, always at the start of a record, and the MD5 of the bytes before that offset.
 */
export interface ReportPosition {
  file: number;
  offset: number;
  md5?: Md5State | undefined;
}

export const REPORT_START: ReportPosition = { file: 0, offset: 0 };

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
  const read = await readCompletionReportFrom(workBucket, manifestKey, deps, REPORT_START, onRow, { only });
  return read?.rows;
}

/**
 * Reads one job's completion report from `from` on, and stops, between two records, when `pause()` says so before
 * the next run of records: then `paused` is where to take up again (the same file at a byte offset read with a
 * Range request, so a report file of any size can be read across invocations, and the MD5 of the bytes before it,
 * so the whole file is still checked against its manifest). Undefined when the job wrote no report.
 */
export async function readCompletionReportFrom(
  workBucket: string,
  manifestKey: string,
  { clients }: Pick<StepDeps, "clients">,
  from: ReportPosition,
  onRow: (row: ReportRow) => Promise<void> | undefined,
  options: { only?: "succeeded" | "failed" | undefined; pause?: () => boolean; segmentBytes?: number } = {},
): Promise<{ rows: number; paused?: ReportPosition } | undefined> {
  const text = await getTextIfExists(clients.s3, workBucket, manifestKey);
  if (text === undefined) return undefined;
  const report = parseReportManifest(text, manifestKey);
  let rows = 0;
  for (const [index, file] of report.results.entries()) {
    if (index < from.file) continue;
    if (options.only !== undefined && file.taskExecutionStatus !== options.only) continue;
    const resuming = index === from.file;
    const md5 = new Md5(resuming ? from.md5 : undefined);
    let offset = resuming ? from.offset : 0;
    let paused: ReportPosition | undefined;
    const body = await getStream(clients.s3, file.bucket, file.key, offset);
    // Each segment ends at a record's end, so the parser is between records whenever it asks for the next one,
    // after every row of the segments before was handled.
    const fed = async function* (): AsyncGenerator<Buffer> {
      for await (const segment of recordSegments(body, options.segmentBytes ?? SEGMENT_BYTES)) {
        if (options.pause?.()) {
          paused = { file: index, offset, md5: md5.save() };
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
  }
  return { rows };
}
