import {
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectVersionsCommand,
} from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { z } from "zod";
import { VerificationFailedError } from "../../contract/errors.ts";
import { LargeCopyBatchSchema } from "../../contract/large-objects.ts";
import { JobsSchema, PlanFileSchema, PlanSchema } from "../../contract/plan.ts";
import { type RunContext, RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { NOT_FOUND, type Verification, type VerificationFileSchema } from "../../contract/verification.ts";
import { describeJob, jobProgressOf } from "../aws/batch-jobs.ts";
import { planReportManifestKey, readCompletionReport } from "../aws/completion-reports.ts";
import { readLargeObjectList } from "../aws/large-object-list.ts";
import { LineUpload } from "../aws/manifest-upload.ts";
import { getText, httpStatusOf, putJson } from "../aws/s3-io.ts";
import { encodeManifestKey } from "../domain/batch-manifest.ts";
import { type ObjectNow, type ReportRow, rowCheck } from "../domain/completion-report.ts";
import { Reservoir } from "../domain/spot-check.ts";
import { type RowOutcome, RunTally } from "../domain/tally.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

const FAILED_HEADER = "bucket,key,category,http_status,error_code,message\n";
/** HeadObject calls in flight during the spot check and the checks of report rows. */
const HEAD_CONCURRENCY = 16;
/** Report rows held for HeadObject at a time, so memory stays bounded whatever the number of such rows. */
const CHECK_BATCH = 1_000;

export interface SpotCheckMismatch {
  key: string;
  found: string;
}

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
          if (settled.outcome === "succeeded") sample.offer({ key: row.key, storageClass: job.storageClass });
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

/** SSE-KMS under the target key with Bucket Key: what every object must be when the run ends. */
function isCompliant(run: RunContext, head: HeadObjectCommandOutput): boolean {
  return (
    head.ServerSideEncryption === "aws:kms" && head.SSEKMSKeyId === run.kmsKeyArn && head.BucketKeyEnabled === true
  );
}

function describeObject(head: HeadObjectCommandOutput): string {
  return `${head.ServerSideEncryption ?? "none"} key=${head.SSEKMSKeyId ?? "-"} bucketKey=${head.BucketKeyEnabled ?? false} class=${head.StorageClass ?? "STANDARD"}`;
}

/** The object at `key` now (HeadObject with the real key, not the report's text), or that there is none. */
async function objectNow(run: RunContext, key: string, { clients }: StepDeps): Promise<ObjectNow> {
  try {
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: key }));
    return { exists: true, compliant: isCompliant(run, head), found: describeObject(head) };
  } catch (err) {
    if (httpStatusOf(err) === 404) return { exists: false };
    throw err;
  }
}

/**
 * In a versioned bucket, the version a copy in place read: the one right below the current version (a copy needs
 * its source current, so no delete marker lies between). Undefined in an unversioned bucket, or when the listing
 * does not show that order (the current version is not the first, or a delete marker came between).
 */
async function copiedVersion(
  run: RunContext,
  key: string,
  current: HeadObjectCommandOutput,
  { clients }: StepDeps,
): Promise<HeadObjectCommandOutput | undefined> {
  if (current.VersionId === undefined || current.VersionId === "null") return undefined;
  const listed = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: run.bucket, Prefix: key, MaxKeys: 2 }));
  if ((listed.DeleteMarkers ?? []).some((m) => m.Key === key)) return undefined;
  const versions = (listed.Versions ?? []).filter((v) => v.Key === key);
  const below = versions[1]?.VersionId;
  if (versions[0]?.VersionId !== current.VersionId || below === undefined) return undefined;
  return clients.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: key, VersionId: below }));
}

function sameMetadata(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const sorted = (m: Record<string, string> | undefined) => JSON.stringify(Object.entries(m ?? {}).sort());
  return sorted(a) === sorted(b);
}

/** A version's tags as a sorted `key=value` list, to compare a copy with the version it was copied from. */
async function tagsOf(run: RunContext, key: string, versionId: string | undefined, { clients }: StepDeps) {
  const out = await clients.s3.send(
    new GetObjectTaggingCommand({ Bucket: run.bucket, Key: key, VersionId: versionId }),
  );
  return (out.TagSet ?? []).map((t) => `${t.Key ?? ""}=${t.Value ?? ""}`).sort();
}

/**
 * Whether the copy kept the content type, user metadata and tags of the version it was copied from: how a copy
 * job's form loses them differs between readings of S3PutObjectCopy (batch-job-requests.ts), so the result is
 * checked, not assumed.
 */
async function keptAttributes(
  run: RunContext,
  key: string,
  head: HeadObjectCommandOutput,
  source: HeadObjectCommandOutput,
  deps: StepDeps,
): Promise<boolean> {
  if (head.ContentType !== source.ContentType || !sameMetadata(head.Metadata, source.Metadata)) return false;
  const [now, was] = await Promise.all([
    tagsOf(run, key, head.VersionId, deps),
    tagsOf(run, key, source.VersionId, deps),
  ]);
  return JSON.stringify(now) === JSON.stringify(was);
}

/**
 * HEADs each sampled object: it must be SSE-KMS under the target key with Bucket Key. A copied one (a sample with
 * a storage class) must also keep the storage class, content type, user metadata and tags of the version it was copied
 * from, read from the bucket where versioning keeps it: the plan's class is what the inventory saw, and a lifecycle
 * transition since then changes the class without changing Last-Modified. Without versioning the plan is all
 * there is to compare the class with.
 */
async function spotCheck(
  run: RunContext,
  sample: { key: string; storageClass: string | undefined }[],
  deps: StepDeps,
): Promise<SpotCheckMismatch[]> {
  const limit = pLimit(HEAD_CONCURRENCY);
  const results = await Promise.all(
    sample.map((item) =>
      limit(async () => {
        try {
          const head = await deps.clients.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: item.key }));
          const storageClass = head.StorageClass ?? "STANDARD";
          let ok = isCompliant(run, head);
          let found = describeObject(head);
          if (item.storageClass !== undefined) {
            const source = await copiedVersion(run, item.key, head, deps);
            const expectedClass = source ? (source.StorageClass ?? "STANDARD") : item.storageClass;
            ok &&= storageClass === expectedClass;
            if (source && !(await keptAttributes(run, item.key, head, source, deps))) {
              ok = false;
              found += ` (content type, user metadata or tags differ from version ${source.VersionId ?? "?"} it was copied from)`;
            } else if (storageClass !== expectedClass) {
              found += ` (expected class ${expectedClass}${source ? ` of version ${source.VersionId ?? "?"} it was copied from` : " as planned"})`;
            }
          }
          return ok ? undefined : { key: item.key, found };
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
