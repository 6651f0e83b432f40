import { CopyObjectCommand, type HeadObjectCommandOutput } from "@aws-sdk/client-s3";
import { ObjectChangedDuringCopyError, UnexpectedResponseError } from "../../contract/errors.ts";
import type { LargeCopyOutcome } from "../../contract/large-objects.ts";
import { carriedAttributes, stripQuotes } from "../domain/large-copy-checks.ts";
import type { StepDeps } from "../runtime/step.ts";
import {
  asChangedError,
  checkCompleted,
  type LargeObjectCopyContext,
  RETRY_FIX,
  readTags,
} from "./multipart-upload.ts";

/**
 * Re-encrypts in place, with one CopyObject, an object of at most 5 GiB that Batch Operations cannot take (its key is
 * too long for a manifest line once encoded). The same guards and attributes as the multipart copy
 * (steps/aws/multipart-copy.ts):
 * - the copy names the key without a version id and carries `x-amz-copy-source-if-match` with the ETag HeadObject
 *   read, so a write that landed since makes S3 refuse the copy (412) instead of copying the newer write blindly;
 * - `MetadataDirective: REPLACE` and `TaggingDirective: REPLACE` with everything read from the source (content
 *   headers, user metadata, tags, storage class, website redirect, Object Lock settings), so nothing depends on what
 *   a COPY directive carries (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html: the website
 *   redirect is not copied, an unset storage class becomes STANDARD);
 * - afterwards the version it wrote is checked against the source, as a completed multipart copy is (checkCompleted).
 * Rejects with ObjectChangedDuringCopyError when the source changed before the copy.
 */
export async function copyObjectInPlace(
  key: string,
  head: HeadObjectCommandOutput,
  ctx: LargeObjectCopyContext,
  deps: StepDeps,
): Promise<LargeCopyOutcome> {
  const { s3 } = deps.clients;
  const { bucket, kmsKeyArn } = ctx.target;
  if (!head.ETag) throw new UnexpectedResponseError("HeadObject returned no ETag.", { fix: RETRY_FIX });
  const source = {
    ...(head.VersionId !== undefined ? { versionId: head.VersionId } : {}),
    etag: head.ETag,
    size: head.ContentLength ?? 0,
  };
  const changed = (problem: string) =>
    new ObjectChangedDuringCopyError(problem, {
      bucket,
      key,
      fix: "Nothing was written; the newer write is kept. A later rekey run re-encrypts the object as it is then.",
    });
  const tags = await readTags(s3, bucket, key, source.versionId);
  const copied = await s3
    .send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: key,
        CopySource: `${bucket}/${encodeURIComponent(key)}`,
        CopySourceIfMatch: head.ETag,
        MetadataDirective: "REPLACE",
        TaggingDirective: "REPLACE",
        ...carriedAttributes(head, tags, kmsKeyArn, deps.now()),
      }),
    )
    .catch((err: unknown) => {
      throw asChangedError(err, changed) ?? err;
    });
  if (source.versionId !== undefined && copied.CopySourceVersionId !== source.versionId) {
    // The ETag matched but another version was read: a rewrite with identical bytes landed in between.
    throw changed(
      `CopyObject read version ${copied.CopySourceVersionId ?? "(none)"}, not ${source.versionId} (ETag ${stripQuotes(head.ETag)}).`,
    );
  }
  deps.log.info("object copied in place", { bucket, key, versionId: copied.VersionId });
  const outcome = await checkCompleted(s3, ctx.target, key, { source, tags }, copied.VersionId, head);
  return { ...outcome, method: "copy-object" };
}
