import type { S3Client } from "@aws-sdk/client-s3";
import { CompletionReportError } from "../../contract/errors.ts";
import { planKeys } from "../../contract/run-context.ts";
import { parseReportManifest, type ReportRow, reportRows } from "../domain/completion-report.ts";
import { getStreamWithMd5, getTextIfExists } from "./s3-io.ts";

/**
 * Reads one job's completion report from the work bucket, row by row, checking each results file against the MD5
 * its manifest.json gives; `failedOnly` reads only the files of failed tasks. Returns the number of rows, or
 * undefined when the job wrote no report (Batch Operations writes one once a task ran, for completed, failed and
 * cancelled jobs alike: https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html).
 */
export async function readCompletionReport(
  s3: S3Client,
  workBucket: string,
  planPrefix: string,
  jobId: string,
  onRow: (row: ReportRow) => Promise<void> | undefined,
  options: { failedOnly?: boolean } = {},
): Promise<number | undefined> {
  const manifestKey = `${planKeys(planPrefix).reportsPrefix}/job-${jobId}/manifest.json`;
  const text = await getTextIfExists(s3, workBucket, manifestKey);
  if (text === undefined) return undefined;
  const report = parseReportManifest(text, manifestKey);
  let rows = 0;
  for (const file of report.results) {
    if (options.failedOnly && file.taskExecutionStatus !== "failed") continue;
    const { body, md5 } = await getStreamWithMd5(s3, file.bucket, file.key);
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
