import { z } from "zod";
import { PlanEngineSchema } from "./engines.ts";
import { COPYABLE_STORAGE_CLASSES } from "./storage-classes.ts";
import {
  count,
  FAILURE_CATEGORIES,
  failureSampleSchema,
  jobTallySchema,
  NOT_CURRENT_REASON_CODES,
  routeTotalsSchema,
  SKIP_REASON_CODES,
} from "./tally.ts";
import { BucketCheckFileSchema, BucketCheckFindingSchema } from "./verification.ts";

export const IndependentCheckSchema = BucketCheckFileSchema.omit({ findings: true }).extend({
  description: z.string(),
  /** Non-compliant objects rekey could have fixed, or could not examine: any keeps the run from succeeding. */
  failing: count,
  findings: z.array(BucketCheckFindingSchema),
  findingsOmitted: count,
});

/** The final report of a run (report.json in the work bucket): what the run proves it did, by bucket of outcome. */
export const RUN_REPORT_VERSION = 1;

export const runReportSchema = z.object({
  reportVersion: z.literal(RUN_REPORT_VERSION),
  bucket: z.string().min(1),
  kmsKeyArn: z.string().min(1),
  executionArn: z.string().optional(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  /** Where this JSON report is stored, e.g. s3://work-bucket/reports/<execution>/report.json. */
  reportLocation: z.string().optional(),
  inventory: z
    .object({
      manifestKey: z.string(),
      creationTimestamp: z.iso.datetime(),
      /** How the inventory was filtered into the plan (contract/engines.ts). */
      engine: PlanEngineSchema.optional(),
    })
    .optional(),
  totals: z.object({
    seen: count,
    reencrypted: count,
    alreadyCompliant: count,
    skipped: count,
    failed: count,
    gone: count,
    notCurrent: count,
    pending: count,
    /** Written again since planning and compliant through the bucket default encryption: not copied over. */
    changed: count.default(0),
    /** Made compliant by earlier runs' jobs (left out of this plan, or jobs reused from another execution). */
    doneEarlier: count.default(0),
  }),
  /** Who did the work counted in totals.doneEarlier: per earlier run, its objects and the jobs this run reused. */
  earlierRuns: z
    .array(
      z.object({
        runId: z.string(),
        objects: count,
        reusedJobs: z.array(z.object({ jobId: z.string(), createdAt: z.string().optional() })),
      }),
    )
    .default([]),
  copyPlanned: z.array(z.object({ storageClass: z.enum(COPYABLE_STORAGE_CLASSES), count, bytes: count })),
  routes: z.array(routeTotalsSchema),
  skipped: z.array(
    z.object({
      reason: z.enum(SKIP_REASON_CODES),
      count,
      bytes: count,
      summary: z.string(),
      whatToDo: z.string(),
      sampleKeys: z.array(z.string()),
    }),
  ),
  failed: z.array(
    z.object({
      category: z.enum(FAILURE_CATEGORIES),
      count,
      summary: z.string(),
      whatToDo: z.string(),
      samples: z.array(failureSampleSchema),
    }),
  ),
  notCurrent: z.array(
    z.object({ reason: z.enum(NOT_CURRENT_REASON_CODES), count, bytes: count, whatToDo: z.string() }),
  ),
  jobs: z.array(jobTallySchema),
  reconciliation: z.object({ ok: z.boolean(), problems: z.array(z.string()) }),
  warnings: z.array(z.string()),
  /** The independent check after the jobs: which method, when, and every non-compliant object it found. */
  independentCheck: IndependentCheckSchema.optional(),
  /** What rekey copied itself, by method, with the first keys copied with one CopyObject. */
  copiedDirectly: z.object({ copyObject: count, multipart: count, copyObjectKeys: z.array(z.string()) }).optional(),
});

export type RunReport = z.infer<typeof runReportSchema>;

/** What "Write final report" returns: the run's outcome, where the report is, and the summary text. */
export interface FinalReportOutput {
  /**
   * "succeeded" only when counts reconcile, no copy failed, the spot check found every sampled object compliant and
   * the independent check found no non-compliant object rekey could have fixed.
   */
  outcome: "succeeded" | "failed";
  bucket: string;
  reportLocation: string;
  summaryLocation: string;
  summary: string;
  totals: RunReport["totals"];
}
