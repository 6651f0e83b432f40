import { HeadObjectCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { z } from "zod";
import { VerificationFailedError } from "../../contract/errors.ts";
import { LargeCopyBatchSchema } from "../../contract/large-objects.ts";
import { JobsSchema, PlanFileSchema, PlanSchema } from "../../contract/plan.ts";
import { type RunContext, RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import type { Verification, VerificationFileSchema } from "../../contract/verification.ts";
import { describeJob, jobProgressOf } from "../aws/batch-jobs.ts";
import { planReportManifestKey, readCompletionReport } from "../aws/completion-reports.ts";
import { readLargeObjectList } from "../aws/large-object-list.ts";
import { LineUpload } from "../aws/manifest-upload.ts";
import { getText, httpStatusOf, putJson } from "../aws/s3-io.ts";
import { describeObject, type SpotCheckItem, spotCheck } from "../aws/spot-check.ts";
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

/**
 * Accounts for every object: each copy job's completion report is read in full, every row lands in the tally,
 * failed rows are listed in failed.csv, and a sample of re-encrypted objects is checked independently with
 * HeadObject. Rows that say the object is missing (404) or was modified since default encryption was enforced
 * (412) are counted by what HeadObject finds at the key now (domain/completion-report.ts, rowCheck): gone only
 * when the object is absent; changed since planning only when it is compliant; otherwise a failure.
 */
export const verifyResults = defineStep({
  state: StateNames.verifyResults,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema,
    jobs: JobsSchema.optional(),
    /** What "Copy objects directly" returned, or the marker that there was nothing to copy directly. */
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
    const sample = new Reservoir<SpotCheckItem>(run.options.verifySampleSize);
    const jobStates: z.infer<typeof VerificationFileSchema>["jobs"] = [];
    let directCopies: z.infer<typeof VerificationFileSchema>["directCopies"];

    // Jobs whose transient failures a redrive job ran again: those rows are listed by the redrive's report.
    const redriven = new Set((jobs?.jobs ?? []).flatMap((j) => (j.redriveOf ? [j.redriveOf] : [])));
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
          ...(job.redriveOf ? { redriveOf: job.redriveOf, attempt: job.attempt ?? 2 } : {}),
          createdBy: job.createdBy,
          createdAt: job.createdAt,
        });
        const onOutcome = (row: ReportRow, settled: RowOutcome): Promise<void> | undefined => {
          if (settled.outcome === "succeeded") {
            sample.offer({ key: row.key, copied: job.operation === "copy", storageClass: job.storageClass });
          }
          if (settled.outcome !== "failed") return undefined;
          if (settled.category === "throttled-or-transient" && redriven.has(job.jobId)) return undefined;
          return failedList.write(
            failedLine(row.bucket, row.key, settled.category, settled.message, row.httpStatus, row.errorCode),
          );
        };
        const toCheck: ReportRow[] = [];
        const settleChecked = async (): Promise<void> => {
          const rows = toCheck.splice(0);
          const limit = pLimit(HEAD_CONCURRENCY);
          const found = await Promise.all(rows.map((row) => limit(() => objectNow(run, row.key, deps))));
          for (const [i, row] of rows.entries()) {
            await onOutcome(row, tally.recordReportRow(job.jobId, row, found[i]));
          }
        };
        const reportKey = planReportManifestKey(plan.planPrefix, job.jobId);
        const rows = await readCompletionReport(run.workBucket, reportKey, deps, (row) => {
          if (rowCheck(job.operation, row) !== undefined) {
            toCheck.push(row);
            return toCheck.length >= CHECK_BATCH ? settleChecked() : undefined;
          }
          return onOutcome(row, tally.recordReportRow(job.jobId, row));
        });
        await settleChecked();
        if (rows === undefined) {
          // A job that failed before running a task (a manifest it could not read, say) writes no report. The other
          // jobs' reports are still read and the run's report written: this job's objects stay pending there, the
          // job's failure reasons are its warning, and the next run plans them again (steps/aws/earlier-work.ts).
          log.warn("copy job without completion report", { bucket: run.bucket, jobId: job.jobId, status });
          continue;
        }
        tally.markJobReported(job.jobId);
        log.info("completion report read", { bucket: run.bucket, jobId: job.jobId, rows, status });
      }
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
            await failedList.write(failedLine(run.bucket, p.key, `multipart-copy-${p.outcome}`, p.reason ?? ""));
          }
        }
        for (const object of await readLargeObjectList(clients.s3, run.workBucket, plan.largeObjects.key)) {
          if (!problems.has(object.key)) {
            sample.offer({ key: object.key, copied: true, storageClass: object.storageClass });
          }
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
      ...(directCopies ? { directCopies } : {}),
    });
    return { verificationKey, spotChecked: sample.items.length, mismatches: mismatches.length };
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
