import { createHash } from "node:crypto";
import { StringDecoder } from "node:string_decoder";
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { tallyStateSchema } from "../../contract/tally.ts";
import { LineUpload } from "./manifest-upload.ts";
import { getStream, getTextIfExists, putJson } from "./s3-io.ts";

/**
 * What "Verify results" saves when it stops at its time budget (steps/handlers/verify-results.ts), in one object
 * under the run prefix, so the tally always matches the cursor it was counted to: a single PutObject replaces the
 * whole, and an invocation that fails before writing it leaves the previous one, which its retry takes up again.
 */
export const VerifyProgressSchema = z.object({
  version: z.literal(1),
  /** The plan and jobs it was counted for; progress of other ones is not taken up. */
  inputDigest: z.string(),
  /** Invocations whose work this holds; each wrote failed.csv part `failedPart(n)`, n = 1..invocations. */
  invocations: z.number().int().positive(),
  /** Report rows read so far. */
  rows: z.number().int().nonnegative(),
  tally: tallyStateSchema,
  jobStates: z.array(z.object({ jobId: z.string(), status: z.string(), failureReasons: z.array(z.string()) })),
  /** The job (index in the run's job list) being read, whether it was described and recorded, and where in it. */
  cursor: z.object({
    job: z.number().int().nonnegative(),
    started: z.boolean(),
    file: z.number().int().nonnegative(),
    offset: z.number().int().nonnegative(),
    md5: z
      .object({
        words: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]),
        length: z.number().int().nonnegative(),
        tail: z.string(),
      })
      .optional(),
    rows: z.number().int().nonnegative(),
  }),
  /** Rows of the current job read but not yet counted: they wait for their HeadObject with the next batch. */
  pendingChecks: z.array(
    z.object({
      bucket: z.string(),
      key: z.string(),
      rawKey: z.string(),
      versionId: z.string().optional(),
      taskStatus: z.enum(["succeeded", "failed"]),
      httpStatus: z.number().optional(),
      errorCode: z.string().optional(),
      resultMessage: z.string(),
    }),
  ),
  /** The spot check's reservoir and how many items were offered to it. */
  sample: z.object({
    seen: z.number().int().nonnegative(),
    items: z.array(z.object({ key: z.string(), copied: z.boolean(), storageClass: z.string().optional() })),
  }),
});
export type VerifyProgress = z.infer<typeof VerifyProgressSchema>;

/** Identifies what a verification counts: the plan and its jobs. */
export function verifyInputDigest(
  planKey: string,
  jobs: readonly { jobId: string; operation: string; objects: number }[],
): string {
  const hash = createHash("sha256").update(`${planKey}\n`);
  for (const j of jobs) hash.update(`${j.jobId},${j.operation},${j.objects}\n`);
  return hash.digest("hex");
}

/** The saved progress for this input, or undefined to start from the beginning. */
export async function loadVerifyProgress(
  s3: S3Client,
  workBucket: string,
  key: string,
  inputDigest: string,
): Promise<VerifyProgress | undefined> {
  const text = await getTextIfExists(s3, workBucket, key);
  if (text === undefined) return undefined;
  const saved = VerifyProgressSchema.parse(JSON.parse(text));
  return saved.inputDigest === inputDigest ? saved : undefined;
}

export async function saveVerifyProgress(
  s3: S3Client,
  workBucket: string,
  key: string,
  progress: VerifyProgress,
): Promise<void> {
  await putJson(s3, workBucket, key, VerifyProgressSchema.parse(progress));
}

/**
 * Writes failed.csv: `header`, then each invocation's part in order. Each invocation writes its own part, whole,
 * before it saves its progress, so a retried invocation rewrites only its own part and a line is never in two parts.
 * (One multipart upload across invocations would need parts of at least 5 MiB, so each invocation would have to
 * carry its unsent tail over; the parts are copied once here instead, at S3 speed, and failed.csv holds only failed
 * rows.)
 */
export async function joinFailedParts(
  s3: S3Client,
  workBucket: string,
  target: string,
  header: string,
  parts: readonly string[],
): Promise<void> {
  const out = new LineUpload(s3, workBucket, target, "text/csv");
  try {
    await out.write(header);
    for (const part of parts) {
      const decoder = new StringDecoder("utf8");
      for await (const chunk of await getStream(s3, workBucket, part)) {
        const text = decoder.write(chunk as Buffer);
        if (text !== "") await out.write(text);
      }
      const rest = decoder.end();
      if (rest !== "") await out.write(rest);
    }
    await out.finish();
  } catch (err) {
    await out.abort();
    throw err;
  }
}
