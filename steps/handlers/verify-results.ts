import { HeadObjectCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { z } from "zod";
import { VerificationFailedError } from "../../contract/errors.ts";
import { LargeCopyBatchSchema } from "../../contract/large-objects.ts";
import { JobsSchema, PlanFileSchema, PlanSchema } from "../../contract/plan.ts";
import { type RunContext, RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import type { VerificationFileSchema, VerificationStep } from "../../contract/verification.ts";
import { describeJob, jobProgressOf } from "../aws/batch-jobs.ts";
import { planReportManifestKey, REPORT_START, readCompletionReportFrom } from "../aws/completion-reports.ts";
import { readLargeObjectList } from "../aws/large-object-list.ts";
import { LineUpload } from "../aws/manifest-upload.ts";
import { getText, httpStatusOf, putJson } from "../aws/s3-io.ts";
import { describeObject, type SpotCheckItem, spotCheck } from "../aws/spot-check.ts";
import {
  joinFailedParts,
  loadVerifyProgress,
  saveVerifyProgress,
  type VerifyProgress,
  verifyInputDigest,
} from "../aws/verify-progress.ts";
import { encodeManifestKey } from "../domain/batch-manifest.ts";
import { type ObjectNow, type ReportRow, rowCheck } from "../domain/completion-report.ts";
import { isCompliant, Reservoir } from "../domain/spot-check.ts";
import { type RowOutcome, RunTally } from "../domain/tally.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

const FAILED_HEADER = "bucket,key,category,http_status,error_code,message\n";
/** HeadObject calls in flight during the checks of report rows. */
const HEAD_CONCURRENCY = 16;
/** Report rows held for HeadObject at a time, so memory stays bounded whatever the number of such rows. */
const CHECK_BATCH = 1_000;

type JobStates = z.infer<typeof VerificationFileSchema>["jobs"];
type Cursor = VerifyProgress["cursor"];

/**
 * Accounts for every object: each copy job's completion report is read in full, every row lands in the tally,
 * failed rows are listed in failed.csv, and a sample of re-encrypted objects is checked independently with
 * HeadObject. Rows that say the object is missing (404) or was modified since default encryption was enforced
 * (412) are counted by what HeadObject finds at the key now (domain/completion-report.ts, rowCheck): gone only
 * when the object is absent; changed since planning only when it is compliant; otherwise a failure.
 *
 * Reports of a large bucket hold hundreds of millions of rows, more than one invocation reads, so the reading is a
 * resumable loop: once `timeBudgetMs` has passed (and after at least one run of rows, so every invocation moves on),
 * the invocation stops between two rows, writes its part of failed.csv, saves the tally, the position in the
 * reports, the rows waiting for HeadObject and the spot check's sample in one object under the run prefix
 * (steps/aws/verify-progress.ts), and returns `done: false`; the workflow calls it again, and the next invocation
 * takes up that object. The saved object is the only hand-over, and it is replaced whole, so a retried invocation
 * starts from the last saved position with the tally counted to it: no row is counted twice or lost. The
 * invocation that reaches the end joins the parts into failed.csv, runs the spot check and writes verification.json,
 * as a single invocation does.
 */
export const verifyResults = defineStep({
  state: StateNames.verifyResults,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema,
    jobs: JobsSchema.optional(),
    /** What "Copy objects directly" returned, or the marker that there was nothing to copy directly. */
    largeCopy: z.object({ done: z.literal(true), batchKey: z.string().optional() }).optional(),
    /** Milliseconds after which the invocation saves its progress and stops (workflow/); absent: no limit. */
    timeBudgetMs: z.number().int().nonnegative().optional(),
    /** Bytes of a report parsed between looks at the clock (steps/aws/completion-reports.ts SEGMENT_BYTES). */
    segmentBytes: z.number().int().positive().optional(),
  }),
  async run({ run, plan, jobs, largeCopy, timeBudgetMs, segmentBytes }, deps): Promise<VerificationStep> {
    const { clients, log } = deps;
    const keys = runKeys(run);
    const deadline = timeBudgetMs === undefined ? undefined : deps.now().getTime() + timeBudgetMs;
    const jobList = jobs?.jobs ?? [];
    const inputDigest = verifyInputDigest(plan.planKey, jobList);
    const saved = await loadVerifyProgress(clients.s3, run.workBucket, keys.verifyProgress, inputDigest);
    const invocation = (saved?.invocations ?? 0) + 1;
    const tally = RunTally.fromJSON(
      saved?.tally ?? PlanFileSchema.parse(JSON.parse(await getText(clients.s3, run.workBucket, plan.planKey))).tally,
    );
    // An encryption update keeps each object's class, so only copies have a class to check.
    const sample = new Reservoir<SpotCheckItem>(run.options.verifySampleSize, saved?.sample);
    const jobStates: JobStates = saved?.jobStates ?? [];
    const toCheck: ReportRow[] = saved?.pendingChecks ?? [];
    let cursor: Cursor = saved?.cursor ?? { job: 0, started: false, ...REPORT_START, rows: 0 };
    let rowsBefore = saved?.rows ?? 0;
    let rowsNow = 0;
    let directCopies: z.infer<typeof VerificationFileSchema>["directCopies"];
    const failedPart = new LineUpload(clients.s3, run.workBucket, keys.failedPart(invocation), "text/csv");
    let progressed = false;
    const pause = (): boolean => {
      if (progressed && deadline !== undefined && deps.now().getTime() >= deadline) return true;
      progressed = true;
      return false;
    };
    const stop = async (): Promise<VerificationStep> => {
      await failedPart.finish();
      rowsBefore += rowsNow;
      const progress = { version: 1 as const, inputDigest, invocations: invocation, rows: rowsBefore };
      await saveVerifyProgress(clients.s3, run.workBucket, keys.verifyProgress, {
        ...progress,
        tally: tally.toJSON(),
        jobStates,
        cursor,
        pendingChecks: toCheck,
        sample: sample.save(),
      });
      log.info("verification paused at its time budget", { bucket: run.bucket, ...progress, job: cursor.job });
      return { done: false, invocations: invocation, rows: rowsBefore };
    };

    // Jobs whose transient failures a redrive job ran again: those rows are listed by the redrive's report.
    const redriven = new Set(jobList.flatMap((j) => (j.redriveOf ? [j.redriveOf] : [])));
    try {
      for (; cursor.job < jobList.length; cursor = { job: cursor.job + 1, started: false, ...REPORT_START, rows: 0 }) {
        const job = jobList[cursor.job];
        if (!job) break;
        if (!cursor.started) {
          if (pause()) return await stop();
          const { status, failureReasons } = jobProgressOf(
            await describeJob(clients.s3control, run.accountId, job.jobId),
          );
          jobStates.push({ jobId: job.jobId, status, failureReasons });
          tally.recordJob({
            operation: job.operation,
            jobId: job.jobId,
            storageClass: job.storageClass as CopyStorageClass | undefined,
            manifestRows: job.objects,
            ...(job.redriveOf ? { redriveOf: job.redriveOf, attempt: job.attempt ?? 2 } : {}),
            createdBy: job.createdBy,
            createdAt: job.createdAt,
          });
          cursor = { ...cursor, started: true };
        }
        const onOutcome = (row: ReportRow, settled: RowOutcome): Promise<void> | undefined => {
          if (settled.outcome === "succeeded") {
            sample.offer({ key: row.key, copied: job.operation === "copy", storageClass: job.storageClass });
          }
          if (settled.outcome !== "failed") return undefined;
          if (settled.category === "throttled-or-transient" && redriven.has(job.jobId)) return undefined;
          return failedPart.write(
            failedLine(row.bucket, row.key, settled.category, settled.message, row.httpStatus, row.errorCode),
          );
        };
        const settleChecked = async (): Promise<void> => {
          const rows = toCheck.splice(0);
          const limit = pLimit(HEAD_CONCURRENCY);
          const found = await Promise.all(rows.map((row) => limit(() => objectNow(run, row.key, deps))));
          for (const [i, row] of rows.entries()) {
            await onOutcome(row, tally.recordReportRow(job.jobId, row, found[i]));
          }
        };
        const reportKey = planReportManifestKey(plan.planPrefix, job.jobId);
        const onRow = (row: ReportRow): Promise<void> | undefined => {
          rowsNow += 1;
          if (rowCheck(job.operation, row) !== undefined) {
            toCheck.push(row);
            return toCheck.length >= CHECK_BATCH ? settleChecked() : undefined;
          }
          return onOutcome(row, tally.recordReportRow(job.jobId, row));
        };
        const read = await readCompletionReportFrom(run.workBucket, reportKey, deps, cursor, onRow, {
          pause,
          segmentBytes,
        });
        if (read?.paused) {
          cursor = { ...cursor, ...read.paused, rows: cursor.rows + read.rows };
          return await stop();
        }
        await settleChecked();
        progressed = true;
        if (read === undefined) {
          // A job that failed before running a task (a manifest it could not read, say) writes no report. The other
          // jobs' reports are still read and the run's report written: this job's objects stay pending there, the
          // job's failure reasons are its warning, and the next run plans them again (steps/aws/earlier-work.ts).
          const status = jobStates.find((j) => j.jobId === job.jobId)?.status;
          log.warn("copy job without completion report", { bucket: run.bucket, jobId: job.jobId, status });
          continue;
        }
        tally.markJobReported(job.jobId);
        const status = jobStates.find((j) => j.jobId === job.jobId)?.status;
        log.info("completion report read", {
          bucket: run.bucket,
          jobId: job.jobId,
          rows: cursor.rows + read.rows,
          status,
        });
      }
      // The last part (large-object results, failed.csv, the spot check) starts with a fresh budget.
      if (pause()) return await stop();
      if (plan.largeObjects) {
        if (!largeCopy?.batchKey) {
          throw new VerificationFailedError(
            `The plan lists ${plan.largeObjects.objects} object(s) for rekey to copy itself but no result of "${StateNames.copyLargeObjects}" reached verification.`,
            { fix: "Start a new run for the same inventory: it reuses the plan and continues the multipart copies." },
          );
        }
        const batch = LargeCopyBatchSchema.parse(
          JSON.parse(await getText(clients.s3, run.workBucket, largeCopy.batchKey)),
        );
        tally.recordLargeCopies(batch.counts);
        directCopies = { reencryptedBy: batch.reencryptedBy, copiedWithCopyObject: batch.copiedWithCopyObject };
        const problems = new Set(batch.problems.map((p) => p.key));
        // Skipped ones are counted as skipped (reason changed-before-copy), not as failures.
        for (const p of batch.problems) {
          if (p.outcome !== "skipped") {
            await failedPart.write(failedLine(run.bucket, p.key, `multipart-copy-${p.outcome}`, p.reason ?? ""));
          }
        }
        for (const object of await readLargeObjectList(clients.s3, run.workBucket, plan.largeObjects.key)) {
          if (!problems.has(object.key)) {
            sample.offer({ key: object.key, copied: true, storageClass: object.storageClass });
          }
        }
        log.info("large-object results read", { bucket: run.bucket, batchKey: largeCopy.batchKey, ...batch.counts });
      }
      await failedPart.finish();
    } catch (err) {
      await failedPart.abort();
      throw err;
    }
    const parts = Array.from({ length: invocation }, (_, i) => keys.failedPart(i + 1));
    await joinFailedParts(clients.s3, run.workBucket, keys.failed, FAILED_HEADER, parts);

    const mismatches = await spotCheck(run, sample.items, deps);
    const verificationKey = keys.verification;
    await putJson(clients.s3, run.workBucket, verificationKey, {
      tally: tally.toJSON(),
      spotCheck: { checked: sample.items.length, mismatches },
      jobs: jobStates,
      ...(directCopies ? { directCopies } : {}),
    });
    if (invocation > 1) {
      log.info("verification read its reports across invocations", {
        bucket: run.bucket,
        invocation,
        rows: rowsBefore + rowsNow,
      });
    }
    return { done: true, verificationKey, spotChecked: sample.items.length, mismatches: mismatches.length };
  },
});

/** The object at `key` now (HeadObject with the real key, not the report's text), or that there is none. */
async function objectNow(run: RunContext, key: string, { clients }: StepDeps): Promise<ObjectNow> {
  try {
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: key }));
    return { exists: true, compliant: isCompliant(run.kmsKeyArn, head), found: describeObject(head) };
  } catch (err) {
    if (httpStatusOf(err) === 404) return { exists: false };
    throw err;
  }
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
