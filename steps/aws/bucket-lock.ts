import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { SFNClient } from "@aws-sdk/client-sfn";
import { BucketBusyError, UnexpectedResponseError } from "../../contract/errors.ts";
import { type BucketLock, BucketLockSchema, bucketLockKey } from "../../contract/run-context.ts";
import { executionIsRunning } from "./run-execution.ts";
import { httpStatusOf } from "./s3-io.ts";

/**
 * One run per bucket, whoever starts it (the CLI, the console, the Step Functions API): a lock object in the work
 * bucket (contract/run-context.ts bucketLockKey), created with `If-None-Match: *` and replaced or deleted only with
 * `If-Match: <the ETag read>`, so of two executions racing for it exactly one wins
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html).
 */

/**
 * S3's answers to a conditional request that lost to another writer: 412, 409 ConditionalRequestConflict, or 404 for
 * `If-Match` on a lock deleted meanwhile.
 */
function lostRace(err: unknown): boolean {
  const status = httpStatusOf(err);
  return status === 412 || status === 409 || status === 404;
}

interface HeldLock {
  lock: BucketLock;
  etag: string;
}

async function readLock(s3: S3Client, workBucket: string, bucket: string): Promise<HeldLock | undefined> {
  const key = bucketLockKey(bucket);
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: workBucket, Key: key }));
    const text = await out.Body?.transformToString("utf8");
    if (text === undefined || out.ETag === undefined) {
      throw new UnexpectedResponseError(`GetObject of s3://${workBucket}/${key} returned no body or no ETag.`, {
        fix: "Start the run again; if it recurs, check the object in the S3 console.",
      });
    }
    const parsed = BucketLockSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      throw new UnexpectedResponseError(`The bucket lock s3://${workBucket}/${key} is not a rekey lock.`, {
        fix: `Make sure no rekey run is active on ${bucket} (rekey runs), then delete s3://${workBucket}/${key} and start again.`,
      });
    }
    return { lock: parsed.data, etag: out.ETag };
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw err;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function putLock(
  s3: S3Client,
  workBucket: string,
  bucket: string,
  lock: BucketLock,
  condition: { IfNoneMatch: "*" } | { IfMatch: string },
) {
  return s3.send(
    new PutObjectCommand({
      Bucket: workBucket,
      Key: bucketLockKey(bucket),
      Body: `${JSON.stringify(lock, null, 2)}\n`,
      ContentType: "application/json",
      ...condition,
    }),
  );
}

function busy(workBucket: string, bucket: string, holder: BucketLock): BucketBusyError {
  return new BucketBusyError(
    `Another rekey run is active on bucket ${bucket}: execution ${holder.executionArn} (run ${holder.runId}, started ${holder.startedAt}) holds s3://${workBucket}/${bucketLockKey(bucket)}.`,
    {
      fix: `Wait for that run to end (rekey status), or stop it (rekey stop), then start this run again. Nothing was written to ${bucket}.`,
      holder: holder.executionArn,
    },
  );
}

/**
 * Takes the bucket's lock for `holder`, or throws BucketBusyError naming the execution that holds it. The same
 * execution finding its own lock (a retried step) has it already; a lock left by an execution that has ended
 * (stopped, timed out, failed before it could release) is taken over with `If-Match`, so two executions taking over
 * the same stale lock cannot both win.
 */
export async function takeBucketLock(
  clients: { s3: S3Client; sfn: SFNClient },
  workBucket: string,
  bucket: string,
  holder: BucketLock,
): Promise<void> {
  let seen: BucketLock | undefined;
  // Each pass ends in success, BucketBusyError, or a lost race that the next pass reads again; three passes are
  // plenty, since a lost race means someone else now holds the lock.
  for (let pass = 0; pass < 3; pass++) {
    try {
      await putLock(clients.s3, workBucket, bucket, holder, { IfNoneMatch: "*" });
      return;
    } catch (err) {
      if (!lostRace(err)) throw err;
    }
    const held = await readLock(clients.s3, workBucket, bucket);
    if (!held) continue; // released between our write and our read: try again
    seen = held.lock;
    if (held.lock.executionArn === holder.executionArn) return;
    if (await executionIsRunning(clients.sfn, held.lock.executionArn)) throw busy(workBucket, bucket, held.lock);
    try {
      await putLock(clients.s3, workBucket, bucket, holder, { IfMatch: held.etag });
      return;
    } catch (err) {
      if (!lostRace(err)) throw err;
    }
  }
  const last = seen ?? (await readLock(clients.s3, workBucket, bucket))?.lock;
  throw busy(workBucket, bucket, last ?? { executionArn: "(unknown)", runId: "(unknown)", startedAt: "(unknown)" });
}

/**
 * Deletes the bucket's lock if `executionArn` holds it, with `If-Match` on the ETag read, so a lock another
 * execution has taken over since is left alone. Returns whether this call released it.
 */
export async function releaseBucketLock(
  s3: S3Client,
  workBucket: string,
  bucket: string,
  executionArn: string,
): Promise<boolean> {
  const held = await readLock(s3, workBucket, bucket);
  if (!held || held.lock.executionArn !== executionArn) return false;
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: workBucket, Key: bucketLockKey(bucket), IfMatch: held.etag }));
    return true;
  } catch (err) {
    if (lostRace(err)) return false;
    throw err;
  }
}

/** The lock as it is now, for the CLI and tests. */
export async function currentBucketLock(
  s3: S3Client,
  workBucket: string,
  bucket: string,
): Promise<BucketLock | undefined> {
  return (await readLock(s3, workBucket, bucket))?.lock;
}
