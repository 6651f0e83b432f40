import { z } from "zod";
import { tallyStateSchema } from "./tally.ts";

/** verification.json in the run prefix: what "Verify results" found, for "Write final report". */

/** How the spot check records a sampled object that no longer exists. */
export const NOT_FOUND = "not found (404)";

export const VerificationFileSchema = z.object({
  tally: tallyStateSchema,
  spotCheck: z.object({ checked: z.number(), mismatches: z.array(z.object({ key: z.string(), found: z.string() })) }),
  jobs: z.array(z.object({ jobId: z.string(), status: z.string(), failureReasons: z.array(z.string()) })),
  /** What "Copy objects directly" re-encrypted, by method, and the first keys it copied with one CopyObject. */
  directCopies: z
    .object({
      reencryptedBy: z.object({ "copy-object": z.number(), multipart: z.number() }),
      copiedWithCopyObject: z.array(z.string()),
    })
    .optional(),
});
export type VerificationFile = z.infer<typeof VerificationFileSchema>;

/** What "Verify results" hands on: where the file is, and the spot check's counts. */
export interface Verification {
  done: true;
  verificationKey: string;
  spotChecked: number;
  mismatches: number;
}

/**
 * What "Slice the completion reports" hands on: every job's result files are listed in `filesKey`, cut into
 * `slices` runs of files written to `itemsKey` (the Distributed Map's items, each a PlanSlice of the file list).
 */
export const ReportSlicingSchema = z.object({
  filesKey: z.string(),
  itemsKey: z.string(),
  resultsPrefix: z.string(),
  slices: z.number().int().positive(),
  /** Result files in all, across every job's report. */
  files: z.number().int().nonnegative(),
});
export type ReportSlicing = z.infer<typeof ReportSlicingSchema>;

/**
 * What "Read completion reports" returns: its slice verified (its result is in the work bucket), or that it stopped
 * at its time budget with its progress saved, and the slice's execution calls it again (the Choice looks for
 * `verifying`). A slice taking N invocations adds about 7N events to its own history, none to the run's.
 */
export type SliceVerification =
  | { slice: number; rows: number }
  | { verifying: { filesRead: number; files: number; rows: number } };

/**
 * The independent check after the jobs ("Look for non-compliant objects"): how rekey looked for current objects that
 * are not SSE-KMS under the target key with Bucket Key, from a source other than its plan, and what it found.
 */
export const BUCKET_CHECK_METHODS = {
  "head-planned-objects": "HeadObject of every object the plan routed to a job or a direct copy",
  "manifest-generator":
    "a fresh listing by the Batch Operations manifest generator of current objects unencrypted (in a class a copy can read), SSE-S3, or SSE-KMS without Bucket Key, each then checked with HeadObject",
} as const;
export type BucketCheckMethod = keyof typeof BUCKET_CHECK_METHODS;

/**
 * What a non-compliant current object means: `left-non-compliant` rekey could have fixed (it predates default
 * encryption, and so the plan); `written-after-planning` was written since by a writer that asked for another
 * encryption (the bucket default would have made it compliant);
 * `not-fixable` rekey cannot change (SSE-C, DSSE-KMS, archived, Object Lock) and reports as skipped.
 */
export const FINDING_VERDICTS = ["left-non-compliant", "written-after-planning", "not-fixable"] as const;
export type FindingVerdict = (typeof FINDING_VERDICTS)[number];

export const BucketCheckFindingSchema = z.object({
  key: z.string(),
  verdict: z.enum(FINDING_VERDICTS),
  found: z.string(),
  reason: z.string(),
});
export type BucketCheckFinding = z.infer<typeof BucketCheckFindingSchema>;

const n = z.number().int().nonnegative();

/** bucket-check.json in the run prefix. */
export const BucketCheckFileSchema = z.object({
  method: z.enum(Object.keys(BUCKET_CHECK_METHODS) as [BucketCheckMethod, ...BucketCheckMethod[]]),
  /** When the check began looking (HeadObject calls, or the listing jobs' creation). */
  startedAt: z.string(),
  finishedAt: z.string(),
  /** Objects looked at with HeadObject. */
  examined: n,
  /** Listed as non-compliant but not looked at (beyond headCheckMaxObjects): counted as not proven compliant. */
  unexamined: n,
  counts: z.object(Object.fromEntries(FINDING_VERDICTS.map((v) => [v, n])) as Record<FindingVerdict, typeof n>),
  /** The first findings, each with its reason (all of them are counted). */
  findings: z.array(BucketCheckFindingSchema),
  listJobs: z.array(z.object({ name: z.string(), jobId: z.string() })).default([]),
});
export type BucketCheckFile = z.infer<typeof BucketCheckFileSchema>;

/** What "Look for non-compliant objects" hands on; the workflow calls it again while `done` is false. */
export type BucketCheckResult = { done: true; checkKey: string } | { done: false; waitSeconds: number };
