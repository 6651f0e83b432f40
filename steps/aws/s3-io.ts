import { createHash } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { UnexpectedResponseError } from "../../contract/errors.ts";

function noBody(bucket: string, key: string): UnexpectedResponseError {
  return new UnexpectedResponseError(`GetObject of s3://${bucket}/${key} returned no body.`, {
    fix: "Start the step again; if it recurs, check the object in the S3 console.",
  });
}

/** HTTP status of an SDK error, if the service answered. */
export function httpStatusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!out.Body) throw noBody(bucket, key);
  return out.Body.transformToString("utf8");
}

/** Reads an object that may not exist; undefined on 404. */
export async function getTextIfExists(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    return await getText(s3, bucket, key);
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw err;
  }
}

/** The object's bytes, or bytes `range.start` to `range.end` (inclusive) of it (a Range request). */
export async function getBytes(
  s3: S3Client,
  bucket: string,
  key: string,
  range?: { start: number; end: number },
): Promise<Buffer> {
  const out = await s3.send(
    new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
    }),
  );
  if (!out.Body) throw noBody(bucket, key);
  return Buffer.from(await out.Body.transformToByteArray());
}

/** The object's bytes as a stream; from byte `fromByte` on when given (a Range request). */
export async function getStream(s3: S3Client, bucket: string, key: string, fromByte = 0): Promise<Readable> {
  const out = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, ...(fromByte > 0 ? { Range: `bytes=${fromByte}-` } : {}) }),
  );
  if (!out.Body) throw noBody(bucket, key);
  return out.Body as Readable;
}

export async function putJson(s3: S3Client, bucket: string, key: string, value: unknown): Promise<string | undefined> {
  const out = await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: `${JSON.stringify(value, null, 2)}\n`,
      ContentType: "application/json",
    }),
  );
  return out.ETag;
}

export async function putText(
  s3: S3Client,
  bucket: string,
  key: string,
  text: string,
  contentType = "text/plain; charset=utf-8",
) {
  const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ContentType: contentType }));
  return out.ETag;
}

/**
 * Streams an object while computing the MD5 of its bytes as they pass, so a file can be checked against the
 * checksum its manifest lists without reading it twice. Call `md5()` after the stream has been consumed.
 */
export async function getStreamWithMd5(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ body: Readable; md5: () => string }> {
  const hash = createHash("md5");
  const source = await getStream(s3, bucket, key);
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  source.on("error", (err) => hashing.destroy(err));
  return { body: source.pipe(hashing), md5: () => hash.digest("hex") };
}

/** The size of every object under `prefix`, by key, from one listing. */
export async function listSizes(s3: S3Client, bucket: string, prefix: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) sizes.set(o.Key, o.Size ?? 0);
    token = page.NextContinuationToken;
  } while (token);
  return sizes;
}

/** Deletes the given keys, 1,000 a request (DeleteObjects' limit). */
export async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
  }
}

/** The ETag S3 answered a write with (quoted, as S3 gives it); an answer without one is an error saying `fix`. */
export function requireEtag(etag: string | undefined, bucket: string, key: string, fix: string): string {
  if (!etag) throw new UnexpectedResponseError(`S3 returned no ETag for s3://${bucket}/${key}.`, { fix });
  return etag;
}
