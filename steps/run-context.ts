import { z } from "zod";

/** Tunables an operator may set per run; the defaults suit a production bucket. */
export const RunOptionsSchema = z
  .object({
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
  })
  .refine((o) => o.jobPollMinSeconds <= o.jobPollMaxSeconds, {
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
  inventoryConfigurationId: z.string().min(1),
  /** Where this run's manifests, reports and summaries live in the work bucket (ends with "/"). */
  runPrefix: z.string().endsWith("/"),
  startedAt: z.string(),
  options: RunOptionsSchema,
});
export type RunContext = z.infer<typeof RunContextSchema>;

/** Keys under the run prefix, in one place so steps, CLI and tests agree. */
export const runKeys = (run: Pick<RunContext, "runPrefix">) => ({
  manifest: (storageClass: string) => `${run.runPrefix}manifests/copy-${storageClass}.csv`,
  plan: `${run.runPrefix}plan.json`,
  skipped: `${run.runPrefix}skipped.csv`,
  reportsPrefix: `${run.runPrefix}batch-reports`,
  failed: `${run.runPrefix}failed.csv`,
  verification: `${run.runPrefix}verification.json`,
  report: `${run.runPrefix}report.json`,
  summary: `${run.runPrefix}summary.txt`,
  failure: `${run.runPrefix}failure.json`,
});

export const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;
