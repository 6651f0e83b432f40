import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectVersionsCommand,
  type S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { ObjectChangedDuringCopyError, UnexpectedResponseError } from "../../contract/errors.ts";
import type { LargeCopyOutcome, LargeCopyTarget, LargeObjectCopyOptions } from "../../contract/large-objects.ts";
import {
  copySourceRange,
  type LargeCopyProgress,
  type PartRange,
  pendingParts,
  withPart,
} from "../domain/large-copy.ts";
import { attributeProblems, encryptionProblems, realVersion, sameTags } from "../domain/large-copy-checks.ts";
import type { StepDeps } from "../runtime/step.ts";
import { httpStatusOf } from "./s3-io.ts";

/**
 * The calls on one multipart upload of the copy in place (steps/aws/multipart-copy.ts): copy its parts guarded by
 * the source ETag, complete or abort it, and check the version it wrote against the source.
 */

export interface LargeObjectCopyContext {
  target: LargeCopyTarget;
  options: LargeObjectCopyOptions;
  /** Epoch milliseconds; undefined means no deadline. */
  deadline: number | undefined;
}

export const RETRY_FIX =
  "Start a new run for the same inventory: it continues the multipart copies where they stopped.";

export async function readTags(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId: string | undefined,
): Promise<Record<string, string>> {
  const v = realVersion(versionId);
  const out = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key, ...(v ? { VersionId: v } : {}) }));
  const tags: Record<string, string> = {};
  for (const t of out.TagSet ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? "";
  return tags;
}

// ---------------------------------------------------------------------------------------------------------
// Copying

export function nearDeadline(ctx: LargeObjectCopyContext, deps: StepDeps): boolean {
  return ctx.deadline !== undefined && deps.now().getTime() + ctx.options.deadlineMarginMs >= ctx.deadline;
}

/** `x-amz-copy-source` for the current version of a key (URL-encoded). */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key)}`;
}

/**
 * Copies the pending parts, `partConcurrency` at a time, each guarded by the source ETag. Stops starting parts
 * at the deadline or after the first error; parts in flight finish. Rejects with that first error.
 */
export async function copyParts(
  start: LargeCopyProgress,
  plan: PartRange[],
  ctx: LargeObjectCopyContext,
  deps: StepDeps,
  save: (p: LargeCopyProgress) => Promise<unknown>,
  onPart: (p: LargeCopyProgress) => void,
): Promise<{ progress: LargeCopyProgress; stopped: boolean }> {
  const { s3 } = deps.clients;
  const { bucket } = ctx.target;
  const { key, source, uploadId } = start;
  const limit = pLimit(ctx.options.partConcurrency);
  let progress = start;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let sinceSave = 0;
  let saving: Promise<unknown> = Promise.resolve();

  const copyOne = async (part: PartRange): Promise<void> => {
    if (failure || stopped) return;
    if (nearDeadline(ctx, deps)) {
      stopped = true;
      return;
    }
    try {
      const out = await s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: part.partNumber,
          CopySource: copySource(bucket, key),
          CopySourceIfMatch: source.etag,
          CopySourceRange: copySourceRange(part),
        }),
      );
      const etag = out.CopyPartResult?.ETag;
      if (!etag) {
        throw new UnexpectedResponseError(
          `UploadPartCopy of part ${part.partNumber} of s3://${bucket}/${key} returned no ETag.`,
          {
            fix: RETRY_FIX,
          },
        );
      }
      if (source.versionId !== undefined && out.CopySourceVersionId !== source.versionId) {
        throw new ObjectChangedDuringCopyError(
          `Part ${part.partNumber} was copied from version ${out.CopySourceVersionId ?? "(none)"}, not from ${source.versionId}, the version read at the start.`,
          { bucket, key, fix: "Nothing was written; the newer write is kept. A later rekey run re-encrypts it." },
        );
      }
      progress = withPart(progress, { partNumber: part.partNumber, etag });
      onPart(progress);
      sinceSave += 1;
      if (sinceSave >= ctx.options.saveEveryParts) {
        sinceSave = 0;
        const snapshot = progress;
        saving = saving.then(() => save(snapshot));
        await saving;
      }
    } catch (error) {
      failure ??= { error };
    }
  };

  await Promise.all(pendingParts(plan, progress).map((part) => limit(() => copyOne(part))));
  if (failure) {
    const changedError = asChangedError(
      failure.error,
      (problem) =>
        new ObjectChangedDuringCopyError(problem, {
          bucket,
          key,
          fix: "Nothing was written; the newer write is kept. A later rekey run re-encrypts the object as it is then.",
        }),
    );
    // Keep what was copied, so a transient failure resumes rather than starts over.
    await save(progress).catch(() => undefined);
    throw changedError ?? failure.error;
  }
  return { progress, stopped };
}

/** Maps the answers S3 gives when the source changed under a guarded request to ObjectChangedDuringCopyError. */
export function asChangedError(
  err: unknown,
  changed: (problem: string) => ObjectChangedDuringCopyError,
): ObjectChangedDuringCopyError | undefined {
  if (err instanceof ObjectChangedDuringCopyError) return err;
  const status = httpStatusOf(err);
  const name = (err as { name?: string } | undefined)?.name;
  if (status === 412) return changed("The object was overwritten during the copy (its ETag no longer matches).");
  if (status === 404 && name === "NoSuchKey") return changed("The object was deleted during the copy.");
  if (status === 409 && name === "ConditionalRequestConflict") {
    return changed("Another write to the object raced the completion of the copy.");
  }
  return undefined;
}

export async function complete(s3: S3Client, bucket: string, key: string, progress: LargeCopyProgress) {
  return s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId: progress.uploadId,
      MultipartUpload: { Parts: progress.parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
      // S3 completes only if the current object still has the source's ETag (conditional write).
      IfMatch: progress.source.etag,
    }),
  );
}

export async function abort(s3: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (err) {
    if (httpStatusOf(err) !== 404) throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Checking the result

/**
 * After completion: the new version must sit directly on the source version (versioned buckets), be SSE-KMS
 * under the target key with Bucket Key, and keep size, metadata, content headers, storage class, redirect and
 * tags. `expected` is the source as read before completing; without it the source version is read again.
 */
export async function checkCompleted(
  s3: S3Client,
  target: LargeCopyTarget,
  key: string,
  progress: Pick<LargeCopyProgress, "source" | "tags">,
  newVersionId: string | undefined,
  expected: HeadObjectCommandOutput | undefined,
): Promise<LargeCopyOutcome> {
  const { bucket, kmsKeyArn } = target;
  const sourceVersionId = realVersion(progress.source.versionId);
  const ids = {
    ...(newVersionId !== undefined ? { versionId: newVersionId } : {}),
    ...(progress.source.versionId !== undefined ? { sourceVersionId: progress.source.versionId } : {}),
  };
  const newVersion = realVersion(newVersionId);

  if (newVersion && sourceVersionId) {
    const below = await versionBelow(s3, bucket, key, newVersion);
    if (below !== sourceVersionId) {
      return {
        key,
        outcome: "changed-during-copy",
        reason: `A write (version ${below ?? "unknown"}) landed during the copy, before its completion: the re-encrypted copy of version ${sourceVersionId} (now version ${newVersion}) is current above it. Check the object; to restore the newer write, copy version ${below ?? "?"} onto the key.`,
        ...ids,
      };
    }
  }

  const source =
    expected ??
    (sourceVersionId
      ? await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: sourceVersionId }))
      : undefined);
  const actual = await s3.send(
    new HeadObjectCommand({ Bucket: bucket, Key: key, ...(newVersion ? { VersionId: newVersion } : {}) }),
  );
  const problems = source ? attributeProblems(source, actual, kmsKeyArn) : encryptionProblems(actual, kmsKeyArn);
  if (actual.ContentLength !== progress.source.size) {
    problems.push(`size is ${actual.ContentLength}, the source has ${progress.source.size}`);
  }
  const tags = await readTags(s3, bucket, key, newVersion);
  if (!sameTags(tags, progress.tags)) {
    problems.push(`tags are ${JSON.stringify(tags)}, expected ${JSON.stringify(progress.tags)}`);
  }
  if (problems.length > 0) {
    return {
      key,
      outcome: "failed",
      reason: `Copied, but the new version does not match: ${[...new Set(problems)].join("; ")}.`,
      ...ids,
    };
  }
  return { key, outcome: "reencrypted", ...ids };
}

/** The version directly below `versionId` among the key's versions (delete markers aside), newest first. */
async function versionBelow(s3: S3Client, bucket: string, key: string, versionId: string): Promise<string | undefined> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  let seen = false;
  for (;;) {
    const out = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: key,
        ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
        ...(versionIdMarker !== undefined ? { VersionIdMarker: versionIdMarker } : {}),
      }),
    );
    for (const v of out.Versions ?? []) {
      if (v.Key !== key) continue;
      if (seen) return v.VersionId;
      if (v.VersionId === versionId) seen = true;
    }
    // Versions of `key` come before those of longer keys sharing the prefix; stop once past them.
    const passed = (out.Versions ?? []).some((v) => v.Key !== undefined && v.Key > key);
    if (!out.IsTruncated || passed) return undefined;
    keyMarker = out.NextKeyMarker;
    versionIdMarker = out.NextVersionIdMarker;
  }
}
