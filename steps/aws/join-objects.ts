import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { InvariantViolatedError, UnexpectedResponseError } from "../../contract/errors.ts";
import { type JoinPart, joinParts, MAX_PARTS, type Piece } from "../domain/concatenation.ts";
import { getBytes, requireEtag } from "./s3-io.ts";

/** An object of the work bucket to join, and its size (from a listing). */
export interface JoinSource {
  key: string;
  size: number;
}

/**
 * Writes `key` as `head` followed by every source's bytes in order, in the same bucket: S3 copies what it can
 * (steps/domain/concatenation.ts), so the step reads at most a part's worth of each source. Writing the same key again
 * gives the same bytes; an upload that fails is aborted. Returns the ETag (quoted, as S3 answers it).
 */
export async function joinObjects(
  s3: S3Client,
  target: { bucket: string; key: string; contentType: string; serverSideEncryption?: "AES256" },
  head: string,
  sources: readonly JoinSource[],
): Promise<{ etag: string; bytes: number }> {
  const { bucket, key } = target;
  const headBytes = Buffer.from(head, "utf8");
  const parts = joinParts(
    headBytes.length,
    sources.map((s) => s.size),
  );
  const bytes = headBytes.length + sources.reduce((n, s) => n + s.size, 0);
  if (parts.length > MAX_PARTS) {
    throw new InvariantViolatedError(
      `Joining ${sources.length} objects into s3://${bucket}/${key} takes ${parts.length} parts, over S3's ${MAX_PARTS}.`,
      {
        fix: "This is a bug in how rekey slices a plan (steps/domain/slices.ts MAX_SLICES); report it with the execution's history.",
      },
    );
  }
  const encryption = target.serverSideEncryption ? { ServerSideEncryption: target.serverSideEncryption } : {};
  const read = async (pieces: Piece[]): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for (const piece of pieces) {
      if (piece.source === "head") {
        chunks.push(headBytes);
        continue;
      }
      const source = sources[piece.source] as JoinSource;
      chunks.push(await getBytes(s3, bucket, source.key, piece));
    }
    return Buffer.concat(chunks);
  };
  const only = parts[0];
  if (parts.length <= 1 && only?.kind !== "copy") {
    const body = only ? await read(only.pieces) : Buffer.alloc(0);
    const out = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: target.contentType, ...encryption }),
    );
    return { etag: requireEtag(out.ETag, bucket, key, RETRY_FIX), bytes };
  }
  const created = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: target.contentType, ...encryption }),
  );
  const uploadId = created.UploadId;
  if (!uploadId)
    throw new UnexpectedResponseError(`CreateMultipartUpload for s3://${bucket}/${key} returned no UploadId.`, {
      fix: RETRY_FIX,
    });
  try {
    const completed: { PartNumber: number; ETag: string }[] = [];
    for (const [i, part] of parts.entries()) {
      completed.push({ PartNumber: i + 1, ETag: await sendPart(part, i + 1) });
    }
    const out = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: completed },
      }),
    );
    return { etag: requireEtag(out.ETag, bucket, key, RETRY_FIX), bytes };
  } catch (err) {
    await s3
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
    throw err;
  }

  async function sendPart(part: JoinPart, partNumber: number): Promise<string> {
    if (part.kind === "upload") {
      const out = await s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: await read(part.pieces),
        }),
      );
      return requireEtag(out.ETag, bucket, key, RETRY_FIX);
    }
    const source = sources[part.source] as JoinSource;
    const out = await s3.send(
      new UploadPartCopyCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        CopySource: `${bucket}/${encodeURIComponent(source.key)}`,
        CopySourceRange: `bytes=${part.start}-${part.end}`,
      }),
    );
    return requireEtag(out.CopyPartResult?.ETag, bucket, key, RETRY_FIX);
  }
}

const RETRY_FIX = "Start the step again: it writes the whole object again.";
