import { z } from "zod";
import { MAX_COPY_OBJECT_BYTES } from "./storage-classes.ts";
import { strictObject } from "./strict-object.ts";

/**
 * The step that copies objects itself ("Copy objects directly", StateNames.copyLargeObjects): what it reads (the
 * plan's list of objects Batch Operations cannot take: unencrypted objects over 5 GiB, and keys a manifest cannot
 * carry), its input and options, the outcome of each object and the batch file verification reads, and what it
 * returns to the workflow. Objects up to 5 GiB are copied with one CopyObject, larger ones part by part.
 *
 * Multipart limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html): part numbers 1–10,000;
 * every part 5 MiB–5 GiB except the last, which has no minimum; objects up to 48.8 TiB (= 10,000 parts of 5 GiB).
 */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const MIN_PART_BYTES = 5 * MiB;
export const MAX_PART_BYTES = 5 * GiB;
export const MAX_PARTS = 10_000;
/**
 * Part size when the object allows it: 512 MiB makes 12 parts of a 6 GiB object and 200 of a 100 GiB one, each
 * a server-side copy of a few seconds, so a Lambda invocation stops between parts well before its timeout.
 */
export const DEFAULT_PART_BYTES = 512 * MiB;

/** One line of the plan's large-object list (JSON Lines). */
export const LargeObjectSchema = z.object({
  key: z.string().min(1),
  /** Size as planned (inventory); the size HeadObject reports is what is copied. */
  size: z.number().int().nonnegative(),
  /** ETag as planned; informational, the copy is guarded by the ETag HeadObject reports. */
  etag: z.string().optional(),
  storageClass: z.string().optional(),
  /** Why Batch Operations cannot take it; absent means over 5 GiB (lists written before keys were routed here). */
  why: z.enum(["over-5-gib", "key-too-long-for-manifest"]).optional(),
});
export type LargeObject = z.infer<typeof LargeObjectSchema>;

/** How the step copied an object: one CopyObject (up to 5 GiB) or a multipart copy. */
export const DIRECT_COPY_METHODS = ["copy-object", "multipart"] as const;
export type DirectCopyMethod = (typeof DIRECT_COPY_METHODS)[number];

/** Strict (strict-object.ts): callers set these in code, and a misspelt tunable would silently run on its default. */
export const LargeObjectCopyOptionsSchema = strictObject({
  /** Preferred part size; raised for objects that would need more than 10,000 parts. */
  partBytes: z.number().int().min(MIN_PART_BYTES).max(MAX_PART_BYTES).default(DEFAULT_PART_BYTES),
  /** UploadPartCopy requests in flight per object. */
  partConcurrency: z.number().int().min(1).max(64).default(8),
  /** No new part or object is started when the deadline is closer than this (a part in flight must finish). */
  deadlineMarginMs: z
    .number()
    .int()
    .min(0)
    .max(15 * 60_000)
    .default(60_000),
  /** Progress is saved after this many copied parts (and always when an invocation stops). */
  saveEveryParts: z.number().int().min(1).max(10_000).default(10),
  /**
   * Objects up to this size are copied with one CopyObject (its limit is 5 GiB), larger ones part by part; tests set
   * it lower to exercise the multipart copy on small objects.
   */
  singleCopyMaxBytes: z.number().int().min(0).max(MAX_COPY_OBJECT_BYTES).default(MAX_COPY_OBJECT_BYTES),
  /** Problems listed by key in the result (the batch file in the work bucket has all of them). */
  problemsInResult: z.number().int().min(0).max(100).default(20),
});
export type LargeObjectCopyOptions = z.infer<typeof LargeObjectCopyOptionsSchema>;

export const LargeObjectCopyInputSchema = z.object({
  target: z.object({
    bucket: z.string().min(1),
    kmsKeyArn: z.string().startsWith("arn:"),
    workBucket: z.string().min(1),
    /** Where progress files go in the work bucket; the plan's prefix, so a later run continues the same uploads. */
    progressPrefix: z.string().endsWith("/"),
  }),
  /** The objects, or the key in the work bucket of a JSON Lines file with one object per line. */
  objects: z.union([z.array(LargeObjectSchema), z.object({ listKey: z.string().min(1) })]),
  /** Epoch milliseconds by which the call must return (for example, now + the Lambda's remaining time). */
  deadlineMs: z.number().int().positive().optional(),
  /** Alternatively, milliseconds from the start of the call. The earlier of the two applies. */
  timeBudgetMs: z.number().int().positive().optional(),
  options: LargeObjectCopyOptionsSchema.prefault({}),
});
export type LargeObjectCopyInput = z.input<typeof LargeObjectCopyInputSchema>;

/** Which bucket and key a copy works on, and where its progress goes. */
export type LargeCopyTarget = z.infer<typeof LargeObjectCopyInputSchema>["target"];

export const LARGE_COPY_OUTCOMES = [
  "reencrypted",
  "already-compliant",
  "changed-during-copy",
  "gone",
  "skipped",
  "failed",
] as const;
export type LargeCopyOutcomeKind = (typeof LARGE_COPY_OUTCOMES)[number];

/** Where one object ended. `reason` says why for everything but a plain success. */
export const LargeCopyOutcomeSchema = z.object({
  key: z.string(),
  outcome: z.enum(LARGE_COPY_OUTCOMES),
  reason: z.string().optional(),
  /** The version the copy wrote (versioned buckets). */
  versionId: z.string().optional(),
  /** The version that was copied, now noncurrent and untouched (versioned buckets). */
  sourceVersionId: z.string().optional(),
  /** How it was copied, when a copy was made. */
  method: z.enum(DIRECT_COPY_METHODS).optional(),
});
export type LargeCopyOutcome = z.infer<typeof LargeCopyOutcomeSchema>;

const count = z.number().int().nonnegative();
const countsSchema = z.object(
  Object.fromEntries(LARGE_COPY_OUTCOMES.map((o) => [o, count])) as Record<LargeCopyOutcomeKind, typeof count>,
);
export type LargeCopyCounts = z.infer<typeof countsSchema>;

/**
 * The batch file in the work bucket: a cursor over the input list and the counts so far, so every invocation
 * returns the whole picture; "Verify results" reads it.
 */
export const LargeCopyBatchSchema = z.object({
  version: z.literal(1),
  inputDigest: z.string(),
  total: count,
  /** Objects before this index are settled and counted. */
  nextIndex: count,
  counts: countsSchema,
  /** Every object that needs attention, with the reason. */
  problems: z.array(LargeCopyOutcomeSchema),
  /** Re-encrypted objects by how they were copied. */
  reencryptedBy: z.object({ "copy-object": count, multipart: count }).default({ "copy-object": 0, multipart: 0 }),
  /** The first re-encrypted keys copied with one CopyObject (keys a manifest cannot carry), for the report. */
  copiedWithCopyObject: z.array(z.string()).default([]),
});
export type LargeCopyBatch = z.infer<typeof LargeCopyBatchSchema>;

/** The batch as a Step Functions result: counts and the first problems (keys and short reasons). */
export interface LargeCopyBatchSummary {
  total: number;
  processed: number;
  counts: LargeCopyCounts;
  problems: { key: string; outcome: LargeCopyOutcomeKind; reason: string | undefined }[];
  problemsOmitted: number;
  reencryptedBy: Record<DirectCopyMethod, number>;
}

/** What "Copy objects directly" returns; the workflow calls it again while `done` is false. */
export interface LargeObjectCopyResult extends LargeCopyBatchSummary {
  /** False when the call stopped at its deadline; call again with the same input to continue. */
  done: boolean;
  /** The batch file in the work bucket: cursor, counts and every problem with its reason. */
  batchKey: string;
}
