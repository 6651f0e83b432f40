import { createHash } from "node:crypto";
import pLimit from "p-limit";
import { z } from "zod";
import { InvariantViolatedError } from "../../contract/errors.ts";
import type { RunContext } from "../../contract/run-context.ts";
import { tallyStateSchema } from "../../contract/tally.ts";
import type { StepDeps } from "../runtime/step.ts";
import { getText, getTextIfExists, putJson } from "./s3-io.ts";

/**
 * What the three verification steps leave each other in the work bucket (runKeys().verifyPrefix): every job's result
 * files ("Slice the completion reports"), each slice's progress between invocations and its result ("Read completion
 * reports"), which "Verify results" merges.
 */

/** A job of the run as verification needs it: what the tally records, and whether it wrote a report. */
export const ReportJobSchema = z.object({
  jobId: z.string(),
  operation: z.enum(["copy", "update-encryption"]),
  storageClass: z.string().optional(),
  objects: z.number().int().nonnegative(),
  redriveOf: z.string().optional(),
  attempt: z.number().int().positive().optional(),
  createdBy: z.string().optional(),
  createdAt: z.string().optional(),
  /** False when the job wrote no completion report (it failed before running a task). */
  reported: z.boolean(),
});
export type ReportJob = z.infer<typeof ReportJobSchema>;

/** runKeys().reportFiles: the jobs, and every result file of their reports in job order (the slices index these). */
export const ReportFilesSchema = z.object({
  version: z.literal(1),
  jobs: z.array(ReportJobSchema),
  files: z.array(
    z.object({
      /** Index of the file's job in `jobs`. */
      job: z.number().int().nonnegative(),
      bucket: z.string(),
      key: z.string(),
      md5: z.string(),
      size: z.number().int().nonnegative(),
    }),
  ),
});
export type ReportFiles = z.infer<typeof ReportFilesSchema>;
export type ReportFileEntry = ReportFiles["files"][number];

const sampleSchema = z.object({
  seen: z.number().int().nonnegative(),
  items: z.array(z.object({ key: z.string(), copied: z.boolean(), storageClass: z.string().optional() })),
});

const reportRowSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  rawKey: z.string(),
  versionId: z.string().optional(),
  taskStatus: z.enum(["succeeded", "failed"]),
  httpStatus: z.number().optional(),
  errorCode: z.string().optional(),
  resultMessage: z.string(),
});

/**
 * A slice's progress when it stops at its time budget (reportSliceKeys().progress), in one object, so the tally always
 * matches the cursor it was counted to: a single PutObject replaces the whole, and an invocation that fails before
 * writing it leaves the previous one, which its retry takes up again.
 */
export const SliceProgressSchema = z.object({
  version: z.literal(1),
  /** The files it was counted for (sliceDigest); progress of other ones is not taken up. */
  digest: z.string(),
  /** Invocations whose work this holds; each wrote failed.csv part `failedPart(n)`, n = 1..invocations. */
  invocations: z.number().int().positive(),
  /** Report rows read so far. */
  rows: z.number().int().nonnegative(),
  /** The slice's tally of report rows: its jobs registered, their rows recorded (RunTally.mergeReportRows). */
  tally: tallyStateSchema,
  /** The file being read (index in the slice) and where in it: an offset at a record's end, the MD5 so far. */
  cursor: z.object({
    file: z.number().int().nonnegative(),
    offset: z.number().int().nonnegative(),
    md5: z
      .object({
        words: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]),
        length: z.number().int().nonnegative(),
        tail: z.string(),
      })
      .optional(),
  }),
  /** Rows of the current file read but not yet counted: they wait for their HeadObject with the next batch. */
  pendingChecks: z.array(reportRowSchema),
  /** The slice's spot-check reservoir and how many items were offered to it. */
  sample: sampleSchema,
});
export type SliceProgress = z.infer<typeof SliceProgressSchema>;

/** A slice verified (reportSliceKeys().result), written after its last failed.csv part. */
export const SliceResultSchema = z.object({
  version: z.literal(1),
  digest: z.string(),
  invocations: z.number().int().positive(),
  rows: z.number().int().nonnegative(),
  tally: tallyStateSchema,
  sample: sampleSchema,
});
export type SliceResult = z.infer<typeof SliceResultSchema>;

/** Identifies what a slice counts: its result files, each with the MD5 its report manifest gives. */
export function sliceDigest(files: readonly { bucket: string; key: string; md5: string }[]): string {
  const hash = createHash("sha256");
  for (const f of files) hash.update(`${f.bucket}\n${f.key}\n${f.md5}\n`);
  return hash.digest("hex");
}

export async function loadReportFiles(run: RunContext, key: string, { clients }: StepDeps): Promise<ReportFiles> {
  const text = await getTextIfExists(clients.s3, run.workBucket, key);
  if (text === undefined) {
    throw new InvariantViolatedError(`The completion reports' file list s3://${run.workBucket}/${key} is missing.`, {
      fix: "Start a new run: Slice the completion reports writes it again. If it recurs, report it with the execution's history.",
    });
  }
  return ReportFilesSchema.parse(JSON.parse(text));
}

/** A saved object of this slice's files (progress or result), or undefined to start from the beginning. */
export async function loadForSlice<T extends { digest: string }>(
  run: RunContext,
  key: string,
  schema: z.ZodType<T>,
  digest: string,
  { clients }: StepDeps,
): Promise<T | undefined> {
  const text = await getTextIfExists(clients.s3, run.workBucket, key);
  if (text === undefined) return undefined;
  const saved = schema.parse(JSON.parse(text));
  return saved.digest === digest ? saved : undefined;
}

export async function saveSliceState(
  run: RunContext,
  key: string,
  state: SliceProgress | SliceResult,
  { clients }: StepDeps,
): Promise<void> {
  await putJson(clients.s3, run.workBucket, key, state);
}

/** Every slice's result, in slice order; a missing one is a bug (the Distributed Map succeeded without it). */
export async function loadSliceResults(
  run: RunContext,
  keys: readonly string[],
  { clients }: StepDeps,
): Promise<SliceResult[]> {
  const limit = pLimit(16);
  return Promise.all(
    keys.map((key) =>
      limit(async () => SliceResultSchema.parse(JSON.parse(await getText(clients.s3, run.workBucket, key)))),
    ),
  );
}
