import { createHash } from "node:crypto";
import { z } from "zod";
import {
  DEFAULT_PART_BYTES,
  LARGE_COPY_OUTCOMES,
  type LargeCopyBatch,
  type LargeCopyBatchSummary,
  type LargeCopyCounts,
  type LargeCopyOutcome,
  type LargeCopyOutcomeKind,
  LargeCopyOutcomeSchema,
  MAX_PART_BYTES,
  MAX_PARTS,
  MIN_PART_BYTES,
} from "../../contract/large-objects.ts";

/**
 * Planning for the multipart copy in place (UploadPartCopy) that re-encrypts objects too large for CopyObject,
 * and the progress model that lets one copy span several Lambda invocations. Pure: no AWS calls. The part limits
 * are in contract/large-objects.ts (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
 */

const MiB = 1024 * 1024;

/** 10,000 parts of 5 GiB: 53,687,091,200,000 bytes, the 48.8 TiB AWS gives as the largest object. */
export const MAX_OBJECT_BYTES = MAX_PARTS * MAX_PART_BYTES;

/** One part of the copy: bytes `start`..`end` (inclusive, zero-based) of the source. */
export interface PartRange {
  partNumber: number;
  start: number;
  end: number;
}

function requireObjectSize(objectBytes: number): void {
  if (!Number.isSafeInteger(objectBytes) || objectBytes < 1) {
    throw new RangeError(`A multipart copy needs a whole number of bytes of at least 1, not ${objectBytes}.`);
  }
  if (objectBytes > MAX_OBJECT_BYTES) {
    throw new RangeError(`${objectBytes} bytes is larger than S3's largest object (${MAX_OBJECT_BYTES} bytes).`);
  }
}

/**
 * The part size for an object: the preferred size, raised (to a whole MiB) when the object would otherwise need
 * more than 10,000 parts. The result is within 5 MiB–5 GiB and gives at most 10,000 parts.
 */
export function choosePartSize(objectBytes: number, preferredPartBytes: number = DEFAULT_PART_BYTES): number {
  requireObjectSize(objectBytes);
  if (!Number.isSafeInteger(preferredPartBytes) || preferredPartBytes < MIN_PART_BYTES) {
    throw new RangeError(`A part must be at least ${MIN_PART_BYTES} bytes (5 MiB), not ${preferredPartBytes}.`);
  }
  if (preferredPartBytes > MAX_PART_BYTES) {
    throw new RangeError(`A part must be at most ${MAX_PART_BYTES} bytes (5 GiB), not ${preferredPartBytes}.`);
  }
  const smallestAllowed = Math.ceil(Math.ceil(objectBytes / MAX_PARTS) / MiB) * MiB;
  // smallestAllowed <= 5 GiB because objectBytes <= 10,000 * 5 GiB and 5 GiB is a whole number of MiB.
  return Math.max(preferredPartBytes, smallestAllowed);
}

export function partCount(objectBytes: number, partBytes: number): number {
  return Math.ceil(objectBytes / partBytes);
}

/** The parts of an object copied in `partBytes` pieces; the last part holds the rest. */
export function planParts(objectBytes: number, partBytes: number): PartRange[] {
  requireObjectSize(objectBytes);
  if (!Number.isSafeInteger(partBytes) || partBytes < MIN_PART_BYTES || partBytes > MAX_PART_BYTES) {
    throw new RangeError(`A part must be 5 MiB to 5 GiB, not ${partBytes} bytes.`);
  }
  const count = partCount(objectBytes, partBytes);
  if (count > MAX_PARTS) {
    throw new RangeError(
      `${objectBytes} bytes in ${partBytes}-byte parts needs ${count} parts; S3 allows ${MAX_PARTS}. Use choosePartSize.`,
    );
  }
  const parts: PartRange[] = [];
  for (let i = 0; i < count; i += 1) {
    const start = i * partBytes;
    parts.push({ partNumber: i + 1, start, end: Math.min(start + partBytes, objectBytes) - 1 });
  }
  return parts;
}

/** The `x-amz-copy-source-range` value for a part. */
export function copySourceRange(part: PartRange): string {
  return `bytes=${part.start}-${part.end}`;
}

export const partBytesOf = (part: PartRange) => part.end - part.start + 1;

// ---------------------------------------------------------------------------------------------------------
// Outcomes

/** Outcomes that need an operator's attention and are listed by key. */
export function isProblem(outcome: LargeCopyOutcomeKind): boolean {
  return outcome === "changed-during-copy" || outcome === "skipped" || outcome === "failed";
}

// ---------------------------------------------------------------------------------------------------------
// Per-object progress: what a later invocation needs to continue the same multipart upload.

const partNumber = z.number().int().min(1).max(MAX_PARTS);

export const CopiedPartSchema = z.object({ partNumber, etag: z.string().min(1) });
export type CopiedPart = z.infer<typeof CopiedPartSchema>;

/** The source as it was read when the copy began; every part and the completion are checked against it. */
export const CopySourceSchema = z.object({
  /** Absent in buckets that never had versioning. */
  versionId: z.string().optional(),
  /** With quotes, as HeadObject returns it. */
  etag: z.string().min(1),
  size: z.number().int().nonnegative(),
  lastModified: z.string().optional(),
});
export type CopySourceState = z.infer<typeof CopySourceSchema>;

export const LargeCopyProgressSchema = z.object({
  version: z.literal(1),
  bucket: z.string(),
  key: z.string(),
  kmsKeyArn: z.string(),
  source: CopySourceSchema,
  partBytes: z.number().int().min(MIN_PART_BYTES).max(MAX_PART_BYTES),
  uploadId: z.string().min(1),
  createdAt: z.string(),
  /** `completing` is written just before CompleteMultipartUpload, so a crash after it can be told from an abort. */
  state: z.enum(["copying", "completing", "settled"]),
  parts: z.array(CopiedPartSchema),
  /** The tag set given to CreateMultipartUpload; checked again before completion (tags change without a new version). */
  tags: z.record(z.string(), z.string()),
  /** How many invocations worked on this upload. */
  invocations: z.number().int().min(1),
  outcome: LargeCopyOutcomeSchema.optional(),
});
export type LargeCopyProgress = z.infer<typeof LargeCopyProgressSchema>;

export function newProgress(init: {
  bucket: string;
  key: string;
  kmsKeyArn: string;
  source: CopySourceState;
  partBytes: number;
  uploadId: string;
  tags: Record<string, string>;
  now: Date;
}): LargeCopyProgress {
  return {
    version: 1,
    bucket: init.bucket,
    key: init.key,
    kmsKeyArn: init.kmsKeyArn,
    source: init.source,
    partBytes: init.partBytes,
    uploadId: init.uploadId,
    createdAt: init.now.toISOString(),
    state: "copying",
    parts: [],
    tags: init.tags,
    invocations: 1,
  };
}

/** The progress with a part recorded (replacing an earlier copy of the same part number), parts in order. */
export function withPart(progress: LargeCopyProgress, part: CopiedPart): LargeCopyProgress {
  const parts = progress.parts.filter((p) => p.partNumber !== part.partNumber);
  parts.push(part);
  parts.sort((a, b) => a.partNumber - b.partNumber);
  return { ...progress, parts };
}

/**
 * Adopts parts S3 lists for the upload (ListParts) that the saved progress missed, for example because the
 * invocation ended between a part's copy and the next save. A listed part counts only with the planned size.
 */
export function withListedParts(
  progress: LargeCopyProgress,
  listed: { partNumber: number; etag: string; size: number }[],
  plan: PartRange[],
): LargeCopyProgress {
  const planned = new Map(plan.map((p) => [p.partNumber, partBytesOf(p)]));
  let next = progress;
  for (const part of listed) {
    if (planned.get(part.partNumber) !== part.size) continue;
    const known = next.parts.find((p) => p.partNumber === part.partNumber);
    if (known?.etag !== part.etag) next = withPart(next, { partNumber: part.partNumber, etag: part.etag });
  }
  return next;
}

/** Planned parts not yet copied. */
export function pendingParts(plan: PartRange[], progress: Pick<LargeCopyProgress, "parts">): PartRange[] {
  const done = new Set(progress.parts.map((p) => p.partNumber));
  return plan.filter((p) => !done.has(p.partNumber));
}

/** Where an object's progress lives: under the run prefix, named by a digest so any key fits. */
export function progressKey(runPrefix: string, key: string): string {
  return `${runPrefix}large-objects/${createHash("sha256").update(key).digest("hex")}.json`;
}

// ---------------------------------------------------------------------------------------------------------
// Batch state: a cursor over the input list and the counts so far, so every invocation returns the whole picture.

export function newBatch(inputDigest: string, total: number): LargeCopyBatch {
  const counts = Object.fromEntries(LARGE_COPY_OUTCOMES.map((o) => [o, 0])) as LargeCopyCounts;
  return {
    version: 1,
    inputDigest,
    total,
    nextIndex: 0,
    counts,
    problems: [],
    reencryptedBy: { "copy-object": 0, multipart: 0 },
    copiedWithCopyObject: [],
  };
}

/** The batch after the object at `nextIndex` settled with `outcome`. */
export function settleNext(batch: LargeCopyBatch, outcome: LargeCopyOutcome): LargeCopyBatch {
  const copied = outcome.outcome === "reencrypted" ? (outcome.method ?? "multipart") : undefined;
  return {
    ...batch,
    nextIndex: batch.nextIndex + 1,
    counts: { ...batch.counts, [outcome.outcome]: batch.counts[outcome.outcome] + 1 },
    problems: isProblem(outcome.outcome) ? [...batch.problems, outcome] : batch.problems,
    reencryptedBy: copied ? { ...batch.reencryptedBy, [copied]: batch.reencryptedBy[copied] + 1 } : batch.reencryptedBy,
    copiedWithCopyObject:
      copied === "copy-object" && batch.copiedWithCopyObject.length < COPY_OBJECT_SAMPLES
        ? [...batch.copiedWithCopyObject, outcome.key]
        : batch.copiedWithCopyObject,
  };
}

/** Keys copied with one CopyObject that the batch file names (the report shows them as copied directly). */
export const COPY_OBJECT_SAMPLES = 20;

/** Digest of what a batch copies, so a saved cursor is only reused for the same list and key. */
export function batchDigest(kmsKeyArn: string, keys: Iterable<string>): string {
  const hash = createHash("sha256").update(`${kmsKeyArn}\n`);
  for (const key of keys) hash.update(`${key.length}:${key}\n`);
  return hash.digest("hex");
}

export function batchKey(runPrefix: string, inputDigest: string): string {
  return `${runPrefix}large-objects/batch-${inputDigest.slice(0, 16)}.json`;
}

/** Longest reason kept in a step's result; the full text stays in the work bucket. */
const REASON_CHARS = 300;

/** The batch as a Step Functions result: counts and the first `cap` problems (keys and short reasons). */
export function summarizeBatch(batch: LargeCopyBatch, cap: number): LargeCopyBatchSummary {
  return {
    total: batch.total,
    processed: batch.nextIndex,
    counts: batch.counts,
    problems: batch.problems.slice(0, cap).map((p) => ({
      key: p.key,
      outcome: p.outcome,
      reason: p.reason && p.reason.length > REASON_CHARS ? `${p.reason.slice(0, REASON_CHARS - 1)}…` : p.reason,
    })),
    problemsOmitted: Math.max(0, batch.problems.length - cap),
    reencryptedBy: batch.reencryptedBy,
  };
}
