import { createHash } from "node:crypto";
import { z } from "zod";
import { FILTER_ENGINE_CHOICES } from "./engines.ts";
import { ACKNOWLEDGEABLE_BLOCKERS } from "./findings.ts";
import { strictObject } from "./strict-object.ts";

/**
 * Tunables an operator may set per run; the defaults suit a production bucket. Unknown keys are refused (see
 * strict-object.ts): a misspelt option would otherwise run on its default.
 */
export const RunOptionsSchema = strictObject({
  /** How long to wait for S3 to deliver an inventory after default encryption was enforced (AWS: up to 48 h). */
  inventoryWaitSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(72 * 3600),
  /** How often to look for the inventory while waiting. */
  inventoryPollSeconds: z
    .number()
    .int()
    .min(1)
    .max(24 * 3600)
    .default(1800),
  /** Bounds for the adaptive wait between job status checks. */
  jobPollMinSeconds: z.number().int().min(1).max(3600).default(30),
  jobPollMaxSeconds: z
    .number()
    .int()
    .min(1)
    .max(24 * 3600)
    .default(1800),
  /** Batch Operations job priority (higher runs first among this account's jobs). */
  jobPriority: z.number().int().min(0).max(2147483647).default(10),
  /** How many re-encrypted objects Verify results checks independently with HeadObject. */
  verifySampleSize: z.number().int().min(0).max(100_000).default(1000),
  /**
   * The independent check after the jobs HEADs every planned object when the plan routes at most this many to work;
   * above it, the manifest generator lists the bucket's non-compliant objects afresh (steps/domain/bucket-check.ts).
   */
  headCheckMaxObjects: z.number().int().min(0).max(10_000_000).default(10_000),
  /**
   * Create the jobs with ConfirmationRequired: the run then waits in "Waiting for approval", with its plan in
   * the state output, until the operator runs `rekey approve` (or `rekey stop`). Batch Operations fails a job
   * left unconfirmed for 30 days.
   */
  requireApproval: z.boolean().default(false),
  /**
   * How many times a copy task that failed transiently (throttling, 5xx, timeouts, KMS throttling) is tried, the
   * first job included: each further attempt is a redrive job of just those objects. 1 turns redrive off.
   */
  taskAttempts: z.number().int().min(1).max(10).default(3),
  /** The wait before the first redrive job; it doubles for each later attempt. */
  redriveBackoffSeconds: z.number().int().min(1).max(3600).default(60),
  /**
   * A running job in which at least this many tasks failed, at least half of those that ran, is cancelled early
   * (Batch Operations' own rule waits for 1,000 tasks); its report then says whether access or the key is at fault.
   */
  cancelAfterFailedTasks: z.number().int().min(1).max(1000).default(100),
  /**
   * SSE-KMS objects with a Bucket Key, whose key S3 Inventory does not list: "check-key" (the default) asks HeadObject
   * for each one's key and updates only those under another key; "update" updates every one without asking (no
   * HeadObject per object, which on a bucket of hundreds of millions of such objects is the plan's longest work; those
   * already under the target key are updated too, at an UpdateObjectEncryption and a Batch task each). The plan's
   * estimate shows both costs.
   */
  sseKmsWithBucketKey: z.enum(["check-key", "update"]).default("check-key"),
  /**
   * At most this many of rekey's copy jobs live in the account at once, this run's and other runs' (a fleet sets it
   * for every bucket): while creating this run's jobs would pass it, "Create copy jobs" waits for others to end. A
   * run that needs more jobs than the bound still starts them when no other is live, so it never waits forever. Jobs
   * suspended for approval do not count (they run no task). Unset: no bound.
   */
  maxActiveJobs: z.number().int().min(1).max(10_000).optional(),
  /** Preflight blockers the operator accepts (each then becomes a warning in the report), e.g. "acls-enabled". */
  acknowledge: z.array(z.enum(ACKNOWLEDGEABLE_BLOCKERS)).default([]),
}).refine((o) => o.jobPollMinSeconds <= o.jobPollMaxSeconds, {
  message: "jobPollMinSeconds must not exceed jobPollMaxSeconds",
});
export type RunOptions = z.infer<typeof RunOptionsSchema>;

/** What every step after validation receives as `run`: the validated request plus facts learned once. */
export const RunContextSchema = z.object({
  runId: z.string().min(1),
  executionId: z.string().min(1),
  bucket: z.string().min(3),
  kmsKeyArn: z.string().startsWith("arn:"),
  region: z.string().min(1),
  accountId: z.string().regex(/^\d{12}$/),
  workBucket: z.string().min(3),
  /** Where the plan's candidates come from (contract/run-request.ts sourceOf); "inventory" names its configuration. */
  source: z.enum(["inventory", "generate"]).default("inventory"),
  inventoryConfigurationId: z.string().min(1).optional(),
  /** How the inventory is filtered (contract/engines.ts); absent or "auto" lets the plan choose. */
  engine: z.enum(FILTER_ENGINE_CHOICES).optional(),
  /** Where this run's manifests, reports and summaries live in the work bucket (ends with "/"). */
  runPrefix: z.string().endsWith("/"),
  startedAt: z.string(),
  options: RunOptionsSchema,
});
export type RunContext = z.infer<typeof RunContextSchema>;

/** Keys under the run prefix, in one place so steps, CLI and tests agree. */
export const runKeys = (run: Pick<RunContext, "runPrefix">) => ({
  failed: `${run.runPrefix}failed.csv`,
  /**
   * What the verification's slices leave each other (steps/aws/verify-slices.ts), all under `verify/`, deleted once
   * verification.json holds it: every job's result files ("Slice the completion reports"), the slices (the
   * Distributed Map's items), each slice's progress, failed.csv parts and result, and the large-object copies'
   * failed.csv lines.
   */
  verifyPrefix: `${run.runPrefix}verify/`,
  reportFiles: `${run.runPrefix}verify/files.json`,
  reportSliceItems: `${run.runPrefix}verify/slices.json`,
  reportSlice: (index: number) => reportSliceKeys(`${run.runPrefix}verify/slices/${String(index).padStart(5, "0")}/`),
  largeCopyFailed: `${run.runPrefix}verify/large-copies-failed.csv`,
  /** Where "Verify each slice" writes its Map Run's results (manifest.json, SUCCEEDED_0.json, ...). */
  reportSliceResults: `${run.runPrefix}verify-results`,
  verification: `${run.runPrefix}verification.json`,
  /** The independent check after the jobs (contract/verification.ts BucketCheckFileSchema). */
  bucketCheck: `${run.runPrefix}bucket-check.json`,
  bucketCheckStarted: `${run.runPrefix}bucket-check-started.json`,
  /** The check's list jobs, under candidates/ where the Batch Operations role may write generated lists. */
  bucketCheckJobs: `${run.runPrefix}candidates/after-run-jobs.json`,
  report: `${run.runPrefix}report.json`,
  summary: `${run.runPrefix}summary.txt`,
  failure: `${run.runPrefix}failure.json`,
});

/** One slice of the completion reports ("Read completion reports"): its progress, its failed.csv parts, its result. */
export const reportSliceKeys = (prefix: string) => ({
  /** Written last: its presence means the slice is verified, and a retried child returns at once. */
  result: `${prefix}result.json`,
  progress: `${prefix}progress.json`,
  failedPart: (invocation: number) => `${prefix}failed-${invocation}.csv`,
});
export type ReportSliceKeys = ReturnType<typeof reportSliceKeys>;

/**
 * Where "Enforce default encryption" records, per bucket, when it enforced the target key, so a re-run reuses that
 * moment instead of waiting for a newer inventory.
 */
export const defaultEncryptionRecordKey = (bucket: string) => `runs/${bucket}/default-encryption.json`;

export const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;

/**
 * Where the work derived from one inventory delivery lives: its plan, manifests and jobs' completion reports.
 * Keyed by bucket, delivery and target key, not by execution: a second execution from the same inventory reuses
 * the plan and finds the same jobs instead of copying every object again.
 */
export function planPrefix(bucket: string, inventoryManifestKey: string, kmsKeyArn: string): string {
  const delivery =
    /(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)\/manifest\.json$/.exec(inventoryManifestKey)?.[1] ??
    (inventoryManifestKey.startsWith("runs/") ? "generated" : "inventory");
  const digest = createHash("sha256")
    .update(`${bucket}\n${inventoryManifestKey}\n${kmsKeyArn}`)
    .digest("hex")
    .slice(0, 12);
  return `plans/${bucket}/${delivery}-${digest}/`;
}

/**
 * Where generation `generation` of the plan under `base` (planPrefix) lives. A plan is made again, in the next
 * generation, when its manifests changed since it was written (a job would fail on the ETag every time) or one of
 * its jobs was cancelled or failed (its manifest holds objects the job already did): steps/aws/plan-writer.ts.
 */
export function planGenerationPrefix(base: string, generation: number): string {
  return generation === 0 ? base : `${base}resume-${generation}/`;
}

export const planKeys = (prefix: string) => ({
  /** Written last: its presence means the plan is complete and later executions reuse it as it is. */
  plan: `${prefix}plan.json`,
  skipped: `${prefix}skipped.csv`,
  manifest: (storageClass: string) => `${prefix}manifests/copy-${storageClass}.csv`,
  updateManifest: `${prefix}manifests/update-encryption.csv`,
  /** The objects whose tasks failed transiently in `jobId`, for its redrive job (attempt `attempt`). */
  redriveManifest: (jobId: string, attempt: number) => `${prefix}manifests/redrive-${attempt}-of-${jobId}.csv`,
  /** Unencrypted objects over 5 GiB, one JSON object per line, for the multipart copy step. */
  largeObjects: `${prefix}large-objects.jsonl`,
  reportsPrefix: `${prefix}batch-reports`,
  /**
   * How "Slice the inventory" read the delivery (engine, creation time, what Athena unloaded), for the slices and
   * "Combine the plan".
   */
  delivery: `${prefix}delivery.json`,
  /** The slices "Plan each slice" reads as its items (a JSON array of PlanSlice). */
  sliceItems: `${prefix}slices.json`,
  /** Where the Distributed Map writes its results (manifest.json, SUCCEEDED_0.json, ...). */
  sliceResults: `${prefix}slice-results`,
  /** Every slice's part of every file, joined by "Combine the plan" and then deleted. */
  slicesPrefix: `${prefix}slices/`,
  slice: (index: number) => sliceKeys(`${prefix}slices/${String(index).padStart(5, "0")}/`),
});

/**
 * One slice's part of a plan (written by "Filter inventory and write manifests", joined by "Combine the plan"): the
 * same files as the plan's, without skipped.csv's header, and `plan` is the slice's summary, written last.
 */
export const sliceKeys = (prefix: string) => ({
  plan: `${prefix}slice.json`,
  skipped: `${prefix}skipped.csv`,
  manifest: (storageClass: string) => `${prefix}copy-${storageClass}.csv`,
  updateManifest: `${prefix}update-encryption.csv`,
  largeObjects: `${prefix}large-objects.jsonl`,
  /**
   * The slice's progress while it takes more than one invocation (steps/aws/plan-writer.ts): which data files are
   * read, the tally so far and the files' open uploads; the bytes not yet uploaded in `checkpoint/<n>/`.
   */
  checkpoint: `${prefix}checkpoint.json`,
  checkpointTails: `${prefix}checkpoint/`,
  checkpointTail: (sequence: number, file: string) => `${prefix}checkpoint/${sequence}/${file}.tail`,
});
export type SliceKeys = ReturnType<typeof sliceKeys>;

/**
 * One run per bucket, whoever starts it: "Validate input" takes this lock in the work bucket with a conditional
 * write before anything is written to the bucket, and the run's end states release it (steps/aws/bucket-lock.ts).
 * Next to runKeys, outside any run's prefix, because every run of the bucket must find the same key.
 */
export const bucketLockKey = (bucket: string) => `runs/${bucket}/lock.json`;

/** What the lock holds: whose it is. */
export const BucketLockSchema = z.object({
  /** The holder's execution ARN (RunContext.executionId). */
  executionArn: z.string().min(1),
  runId: z.string().min(1),
  startedAt: z.string(),
});
export type BucketLock = z.infer<typeof BucketLockSchema>;
