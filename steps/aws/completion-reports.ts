import { CompletionReportError } from "../../contract/errors.ts";
import { planKeys } from "../../contract/run-context.ts";
import { parseReportManifest, type ReportRow, reportRows } from "../domain/completion-report.ts";
import type { StepDeps } from "../runtime/step.ts";
import { getStreamWithMd5, getTextIfExists } from "./s3-io.ts";

/** Where Batch Operations writes a job's completion report manifest: `<report prefix>/job-<id>/manifest.json`. */
export function reportManifestKey(reportsPrefix: string, jobId: string): string {
  return `${reportsPrefix}/job-${jobId}/manifest.json`;
}

/** The report manifest key of a job of the plan (its Report prefix is the plan's reports prefix). */
export function planReportManifestKey(planPrefix: string, jobId: string): string {
  return reportManifestKey(planKeys(planPrefix).reportsPrefix, jobId);
}

/**
 * Reads one job's completion report, every result file checked against the MD5 its manifest gives; returns the
 * number of rows, or undefined when the job wrote no report. `only` reads just the files of that task status.
 */
export async function readCompletionReport(
  workBucket: string,
  manifestKey: string,
  { clients }: Pick<StepDeps, "clients">,
  onRow: (row: ReportRow) => Promise<void> | undefined,
  only?: "succeeded" | "failed",
): Promise<number | undefined> {
  const text = await getTextIfExists(clients.s3, workBucket, manifestKey);
  if (text === undefined) return undefined;
  const report = parseReportManifest(text, manifestKey);
  let rows = 0;
  for (const file of report.results) {
    if (only !== undefined && file.taskExecutionStatus !== only) continue;
    const { body, md5 } = await getStreamWithMd5(clients.s3, file.bucket, file.key);
    for await (const row of reportRows(body, file.key)) {
      rows += 1;
      await onRow(row);
    }
    const digest = md5();
    if (digest !== file.md5.toLowerCase()) {
      throw new CompletionReportError(`the file's MD5 is ${digest}, but the report manifest says ${file.md5}.`, {
        file: file.key,
        fix: "The report file is damaged or was replaced; do not trust this run's counts. Start a new run.",
      });
    }
  }
  return rows;
}
