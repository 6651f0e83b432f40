import { header, type SandboxRequest } from "../http.ts";
import { S3Error, s3Errors } from "./errors.ts";
import type { ObjectVersion, S3Bucket } from "./store.ts";

/**
 * Conditional writes and deletes on general purpose buckets:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html and the IfMatch / IfNoneMatch
 * members of https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html and
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html. The conditions are evaluated
 * against the key's current version only; a delete marker as current version is no object. Choices AWS does not
 * document are in sandbox/ASSUMPTIONS.md ("S3 conditional writes").
 */
export type WriteConditions = { ifNoneMatch: "*" } | { ifMatch: string };

/** The `If-None-Match` / `If-Match` headers of a PutObject or CompleteMultipartUpload, if any. */
export function writeConditionsOf(req: SandboxRequest): WriteConditions | undefined {
  const ifNoneMatch = header(req, "if-none-match");
  const ifMatch = header(req, "if-match");
  if (ifNoneMatch !== undefined && ifMatch !== undefined) {
    throw s3Errors.notImplemented("The sandbox does not serve If-None-Match and If-Match on the same write.");
  }
  if (ifNoneMatch !== undefined) {
    // AWS: "Expects the '*' (asterisk) character."
    if (ifNoneMatch.trim() !== "*") {
      throw s3Errors.notImplemented(`If-None-Match on a write takes only "*", not ${JSON.stringify(ifNoneMatch)}.`);
    }
    return { ifNoneMatch: "*" };
  }
  return ifMatch === undefined ? undefined : { ifMatch };
}

/** The key's current version unless it is a delete marker. */
export function currentObject(bucket: S3Bucket, key: string): ObjectVersion | undefined {
  const latest = bucket.latest(key);
  return latest && !latest.isDeleteMarker ? latest : undefined;
}

/**
 * 412 PreconditionFailed when `If-None-Match: *` finds an object or `If-Match` names another ETag; `If-Match` on a
 * key with no object is 404 NoSuchKey.
 */
export function checkWriteConditions(bucket: S3Bucket, key: string, conditions: WriteConditions | undefined): void {
  if (conditions === undefined) return;
  const current = currentObject(bucket, key);
  if ("ifNoneMatch" in conditions) {
    if (current) throw s3Errors.preconditionFailed("If-None-Match");
    return;
  }
  if (!current) throw s3Errors.noSuchKey(key);
  if (!sameEtag(conditions.ifMatch, current.etag)) throw s3Errors.preconditionFailed("If-Match");
}

/** `*` matches any object; otherwise one ETag, quoted or not. */
export function sameEtag(condition: string, etag: string): boolean {
  const wanted = condition.trim();
  return wanted === "*" || wanted.replace(/"/g, "") === etag.replace(/"/g, "");
}

/**
 * DeleteObject `If-Match` (or a DeleteObjects entry's `ETag`): the current version must exist (404 NoSuchKey) and,
 * unless the value is `*`, carry that ETag (412 PreconditionFailed).
 */
export function checkDeleteCondition(bucket: S3Bucket, key: string, ifMatch: string | undefined): void {
  if (ifMatch === undefined) return;
  const current = currentObject(bucket, key);
  if (!current) throw s3Errors.noSuchKey(key);
  if (!sameEtag(ifMatch, current.etag)) throw s3Errors.preconditionFailed("If-Match");
}

export function conditionalRequestConflict(): S3Error {
  return new S3Error(
    "ConditionalRequestConflict",
    409,
    "A conflicting conditional operation is currently in progress against this resource. Please try again.",
  );
}
