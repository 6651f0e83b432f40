import { z } from "zod";
import {
  NOT_CURRENT_REASONS,
  type NotCurrentReason,
  SKIP_REASONS,
  type SkipReason,
  TASK_FAILURE_CATEGORIES,
  type TaskFailureCategory,
} from "./reasons.ts";
import { COPYABLE_STORAGE_CLASSES } from "./storage-classes.ts";

/**
 * The run tally as plain JSON: what the planning, copy and verification steps hand each other through the workflow
 * or the work bucket. steps/domain/run-report.ts keeps it (class RunTally) and turns it into the final report.
 */
export const SKIP_REASON_CODES = Object.keys(SKIP_REASONS) as [SkipReason, ...SkipReason[]];

export const NOT_CURRENT_REASON_CODES = Object.keys(NOT_CURRENT_REASONS) as [NotCurrentReason, ...NotCurrentReason[]];

export const FAILURE_CATEGORIES = Object.keys(TASK_FAILURE_CATEGORIES) as [
  TaskFailureCategory,
  ...TaskFailureCategory[],
];

export const count = z.number().int().nonnegative();

export const countAndBytesSchema = z.object({ count, bytes: count });

export type CountAndBytes = z.infer<typeof countAndBytesSchema>;

export const failureSampleSchema = z.object({
  key: z.string(),
  httpStatus: z.number().int().optional(),
  errorCode: z.string().optional(),
  message: z.string(),
});

export type FailureSample = z.infer<typeof failureSampleSchema>;

export const zero = () => ({ count: 0, bytes: 0 });

export const noLargeCopies = () => ({
  reencrypted: 0,
  alreadyCompliant: 0,
  changed: 0,
  failed: 0,
  gone: 0,
  skipped: 0,
});

/** What a Batch Operations job does: copy one storage class in place, or update encryption (any class). */
export const JOB_OPERATIONS = ["copy", "update-encryption"] as const;

export type JobOperation = (typeof JOB_OPERATIONS)[number];

export const jobTallySchema = z.object({
  jobId: z.string().min(1),
  operation: z.enum(JOB_OPERATIONS).default("copy"),
  /** The storage class a copy job keeps; update-encryption jobs keep each object's own. */
  storageClass: z.enum(COPYABLE_STORAGE_CLASSES).optional(),
  /** A redrive job re-runs tasks that failed transiently in earlier jobs; its rows are not new objects. */
  redrive: z.boolean(),
  /** Which attempt at its objects the job is: 1 for a unit's own job, 2 for its first redrive, and so on. */
  attempt: z.number().int().min(1).default(1),
  /** The job whose transiently failed tasks this redrive job runs again. */
  redriveOf: z.string().optional(),
  manifestRows: count,
  reported: z.boolean(),
  succeeded: count,
  gone: count,
  failed: z.partialRecord(z.enum(FAILURE_CATEGORIES), count),
  /** Copies refused because the object was written after default encryption was enforced, and now compliant. */
  changed: count.default(0),
  /** Set when the job was created by another execution (its run id) and reused: its work is that run's, not this one's. */
  createdBy: z.string().optional(),
  createdAt: z.string().optional(),
});

export type JobTally = z.infer<typeof jobTallySchema>;

/** The tally as plain JSON, so steps can hand it to each other through the workflow or the work bucket. */
export const tallyStateSchema = z.object({
  sampleLimit: count,
  seen: countAndBytesSchema,
  copyPlanned: z.partialRecord(z.enum(COPYABLE_STORAGE_CLASSES), countAndBytesSchema),
  /** Encrypted objects planned for S3UpdateObjectEncryption. */
  updatePlanned: countAndBytesSchema.default(zero),
  /** Unencrypted objects over 5 GB planned for the multipart copy step. */
  largeCopyPlanned: countAndBytesSchema.default(zero),
  /** Outcomes of the multipart copy step, which has no completion report. */
  largeCopy: z
    .object({
      reencrypted: count,
      alreadyCompliant: count,
      changed: count,
      failed: count,
      gone: count.default(0),
      skipped: count.default(0),
    })
    .default(() => noLargeCopies()),
  alreadyCompliant: countAndBytesSchema,
  skipped: z.partialRecord(z.enum(SKIP_REASON_CODES), countAndBytesSchema),
  skippedSamples: z.partialRecord(z.enum(SKIP_REASON_CODES), z.array(z.string())),
  notCurrent: z.partialRecord(z.enum(NOT_CURRENT_REASON_CODES), countAndBytesSchema),
  jobs: z.array(jobTallySchema),
  /** Current objects left out of the plan because an earlier run's job already made them compliant, by run id. */
  doneEarlier: z.record(z.string(), countAndBytesSchema).default({}),
  failureSamples: z.partialRecord(z.enum(FAILURE_CATEGORIES), z.array(failureSampleSchema)),
});

export type TallyState = z.infer<typeof tallyStateSchema>;

export const ROUTES = {
  copy: "Copied in place by Batch Operations (S3PutObjectCopy), unencrypted objects up to 5 GiB",
  "update-encryption": "Encryption updated by Batch Operations (S3UpdateObjectEncryption), no data copied",
  "multipart-copy":
    "Copied in place part by part (UploadPartCopy), unencrypted objects over 5 GiB, or directly with one CopyObject, keys a Batch manifest cannot carry",
} as const;

export type Route = keyof typeof ROUTES;

export const routeTotalsSchema = z.object({
  route: z.enum(Object.keys(ROUTES) as [Route, ...Route[]]),
  planned: count,
  bytes: count,
  reencrypted: count,
  alreadyCompliant: count,
  failed: count,
  gone: count,
  skipped: count,
  /** Written again since planning and compliant through the bucket default encryption; not copied. */
  changed: count.default(0),
  /** Re-encrypted by jobs another execution created and this run reused: that run's work, not this one's. */
  doneEarlier: count.default(0),
});

export type RouteTotals = z.infer<typeof routeTotalsSchema>;
