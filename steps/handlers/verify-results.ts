import { HeadObjectCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { z } from "zod";
import { BatchJobFailedError, CompletionReportError, VerificationFailedError } from "../../contract/errors.ts";
import { LargeCopyBatchSchema } from "../../contract/large-objects.ts";
import { JobsSchema, PlanFileSchema, PlanSchema } from "../../contract/plan.ts";
import { planKeys, type RunContext, RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { NOT_FOUND, type Verification, type VerificationFileSchema } from "../../contract/verification.ts";
import { describeJob, jobProgressOf } from "../aws/batch-jobs.ts";
import { readLargeObjectList } from "../aws/large-object-list.ts";
import { LineUpload } from "../aws/manifest-upload.ts";
import { getStreamWithMd5, getText, getTextIfExists, httpStatusOf, putJson } from "../aws/s3-io.ts";
import { encodeManifestKey } from "../domain/batch-manifest.ts";
import { parseReportManifest, type ReportRow, reportRows } from "../domain/completion-report.ts";
import { Reservoir } from "../domain/spot-check.ts";
import { RunTally } from "../domain/tally.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

const FAILED_HEADER = "bucket,key,category,http_status,error_code,message\n";
/** HeadObject calls in flight during the spot check. */
const HEAD_CONCURRENCY = 16;

export interface SpotCheckMismatch {
  key: string;
  found: string;
}

/**
 * Accounts for every object: each copy job's completion report is read in full, every row lands in the tally
 * (a deleted object counts as gone, not failed), failed rows are listed in failed.csv, and a sample of
 * re-encrypted objects is checked independently with HeadObject.
 */
export const verifyResults = defineStep({
  state: StateNames.verifyResults,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema,
    jobs: JobsSchema.optional(),
    /** What "Copy large objects" returned, or the marker that there was nothing to copy part by part. */
    largeCopy: z.object({ done: z.literal(true), batchKey: z.string().optional() }).optional(),
  }),
  async run({ run, plan, jobs, largeCopy }, deps): Promise<Verification> {
    const { clients, log } = deps;
    const keys = runKeys(run);
    const planFile = PlanFileSchema.parse(JSON.parse(await getText(clients.s3, run.workBucket, plan.planKey)));
    const tally = RunTally.fromJSON(planFile.tally);
    const failedList = new LineUpload(clients.s3, run.workBucket, keys.failed, "text/csv");
    await failedList.write(FAILED_HEADER);
    // An encryption update keeps each object's class, so only copies have a class to check.
    const sample = new Reservoir<{ key: string; storageClass: string | undefined }>(run.options.verifySampleSize);
    const jobStates: z.infer<typeof VerificationFileSchema>["jobs"] = [];

    try {
      for (const job of jobs?.jobs ?? []) {
        const { status, failureReasons } = jobProgressOf(
          await describeJob(clients.s3control, run.accountId, job.jobId),
        );
        jobStates.push({ jobId: job.jobId, status, failureReasons });
        tally.recordJob({
          operation: job.operation,
          jobId: job.jobId,
          storageClass: job.storageClass as CopyStorageClass | undefined,
          manifestRows: job.objects,
        });
        const rows = await readCompletionReport(run, plan.planPrefix, job.jobId, deps, (row) => {
          const category = tally.recordReportRow(job.jobId, row);
          if (row.taskStatus === "succeeded") sample.offer({ key: row.key, storageClass: job.storageClass });
          else if (category !== "gone")
            return failedList.write(
              failedLine(row.bucket, row.key, category ?? "other", row.resultMessage, row.httpStatus, row.errorCode),
            );
          return undefined;
        });
        if (rows === undefined) {
          throw new BatchJobFailedError(
            `Copy job ${job.jobId} ended ${status} without a completion report: ${failureReasons.join("; ") || "no reason given"}.`,
            {
              jobId: job.jobId,
              fix: "Read the job's failure reasons (aws s3control describe-job); fix the manifest or the Batch Operations role, then start a new run. No object of that job was changed.",
            },
          );
        }
        tally.markJobReported(job.jobId);
        log.info("completion report read", { bucket: run.bucket, jobId: job.jobId, rows, status });
      }
      if (plan.largeObjects) {
        if (!largeCopy?.batchKey) {
          throw new VerificationFailedError(
            `The plan lists ${plan.largeObjects.objects} object(s) over 5 GiB but no result of "${StateNames.copyLargeObjects}" reached verification.`,
            { fix: "Start a new run for the same inventory: it reuses the plan and continues the multipart copies." },
          );
        }
        const batch = LargeCopyBatchSchema.parse(
          JSON.parse(await getText(clients.s3, run.workBucket, largeCopy.batchKey)),
        );
        tally.recordLargeCopies(batch.counts);
        const problems = new Set(batch.problems.map((p) => p.key));
        // Skipped ones are counted as skipped (reason changed-before-copy), not as failures.
        for (const p of batch.problems) {
          if (p.outcome !== "skipped") {
            await failedList.write(failedLine(run.bucket, p.key, `multipart-copy-${p.outcome}`, p.reason ?? ""));
          }
        }
        for (const object of await readLargeObjectList(clients.s3, run.workBucket, plan.largeObjects.key)) {
          if (!problems.has(object.key)) sample.offer({ key: object.key, storageClass: object.storageClass });
        }
        log.info("large-object results read", { bucket: run.bucket, batchKey: largeCopy.batchKey, ...batch.counts });
      }
      await failedList.finish();
    } catch (err) {
      await failedList.abort();
      throw err;
    }

    const mismatches = await spotCheck(run, sample.items, deps);
    const verificationKey = keys.verification;
    await putJson(clients.s3, run.workBucket, verificationKey, {
      tally: tally.toJSON(),
      spotCheck: { checked: sample.items.length, mismatches },
      jobs: jobStates,
    });
    return { verificationKey, spotChecked: sample.items.length, mismatches: mismatches.length };
  },
});

/** Reads one job's report; returns the number of rows, or undefined when the job wrote no report. */
async function readCompletionReport(
  run: RunContext,
  planPrefix: string,
  jobId: string,
  { clients }: StepDeps,
  onRow: (row: ReportRow) => Promise<void> | undefined,
): Promise<number | undefined> {
  const manifestKey = `${planKeys(planPrefix).reportsPrefix}/job-${jobId}/manifest.json`;
  const text = await getTextIfExists(clients.s3, run.workBucket, manifestKey);
  if (text === undefined) return undefined;
  const report = parseReportManifest(text, manifestKey);
  let rows = 0;
  for (const file of report.results) {
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

/** HEADs each sampled object: it must be SSE-KMS under the target key with Bucket Key, in its planned class. */
async function spotCheck(
  run: RunContext,
  sample: { key: string; storageClass: string | undefined }[],
  { clients }: StepDeps,
): Promise<SpotCheckMismatch[]> {
  const limit = pLimit(HEAD_CONCURRENCY);
  const results = await Promise.all(
    sample.map((item) =>
      limit(async () => {
        try {
          const head = await clients.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: item.key }));
          const storageClass = head.StorageClass ?? "STANDARD";
          const ok =
            head.ServerSideEncryption === "aws:kms" &&
            head.SSEKMSKeyId === run.kmsKeyArn &&
            head.BucketKeyEnabled === true &&
            (item.storageClass === undefined || storageClass === item.storageClass);
          return ok
            ? undefined
            : {
                key: item.key,
                found: `${head.ServerSideEncryption ?? "none"} key=${head.SSEKMSKeyId ?? "-"} bucketKey=${head.BucketKeyEnabled ?? false} class=${storageClass}`,
              };
        } catch (err) {
          // Deleted after its copy (nothing left to encrypt), or a key rekey misread: counted apart (domain/spot-check.ts).
          if (httpStatusOf(err) === 404) return { key: item.key, found: NOT_FOUND };
          throw err;
        }
      }),
    ),
  );
  return results.filter((r): r is SpotCheckMismatch => r !== undefined);
}

/** One failed.csv line (FAILED_HEADER); the key percent-encoded like a manifest key, the message quoted. */
function failedLine(
  bucket: string,
  key: string,
  category: string,
  message: string,
  httpStatus?: number,
  errorCode?: string,
): string {
  return `${bucket},${encodeManifestKey(key)},${category},${httpStatus ?? ""},${errorCode ?? ""},"${message.replace(/"/g, '""')}"\n`;
}
