import { createHash } from "node:crypto";
import { header, type SandboxRequest, type SandboxResponse } from "../http.ts";
import { checkWriteConditions, conditionalRequestConflict, writeConditionsOf } from "./conditional-writes.ts";
import { emptyResponse, type S3Context, type S3Target, xmlResponse } from "./context.ts";
import { checkCopyConditions, MAX_COPY_SOURCE_SIZE, resolveCopySource, sourceDataMd5 } from "./copy.ts";
import { encryptionHeaders, md5Hex } from "./encryption.ts";
import { s3Errors } from "./errors.ts";
import { attributesFromRequest, verifyChecksums, verifyContentMd5, versionHeader } from "./objects.ts";
import { newVersionId, type PartData, type S3Bucket, secondPrecision } from "./store.ts";
import { child, list, malformedXml, parseXmlBody, text } from "./xml.ts";

const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_SIZE = 5 * 1024 ** 3;

export function createMultipartUpload(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const bucket = ctx.store.bucket(t.bucket);
  const template = attributesFromRequest(ctx, req, bucket);
  const uploadId = newVersionId() + newVersionId();
  bucket.uploads.set(uploadId, { uploadId, key: t.key, initiated: new Date(), template, parts: new Map() });
  return xmlResponse(
    "InitiateMultipartUploadResult",
    { Bucket: bucket.name, Key: t.key, UploadId: uploadId },
    encryptionHeaders(template.encryption),
  );
}

function upload(bucket: S3Bucket, req: SandboxRequest, key: string) {
  const uploadId = req.query.get("uploadId") ?? "";
  const found = bucket.uploads.get(uploadId);
  if (!found || found.key !== key) throw s3Errors.noSuchUpload(uploadId);
  return found;
}

function partNumber(req: SandboxRequest): number {
  const raw = req.query.get("partNumber") ?? "";
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10000) {
    throw s3Errors.invalidArgument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", raw);
  }
  return n;
}

export function uploadPart(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const bucket = ctx.store.bucket(t.bucket);
  const mpu = upload(bucket, req, t.key);
  const n = partNumber(req);
  if (req.body.length > MAX_PART_SIZE) throw s3Errors.entityTooLarge(req.body.length, MAX_PART_SIZE);
  const md5 = verifyContentMd5(req, req.body);
  const checksum = verifyChecksums(req, req.body);
  const part: PartData = {
    partNumber: n,
    etag: `"${md5}"`,
    size: req.body.length,
    body: req.body,
    lastModified: new Date(),
  };
  mpu.parts.set(n, part);
  return emptyResponse(200, {
    etag: part.etag,
    ...encryptionHeaders(mpu.template.encryption),
    ...(checksum ? { [checksum.header]: checksum.value } : {}),
  });
}

/** UploadPartCopy: a byte range (or all) of a source object becomes a part; declared-size sources give declared parts. */
export function uploadPartCopy(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const bucket = ctx.store.bucket(t.bucket);
  const mpu = upload(bucket, req, t.key);
  const n = partNumber(req);
  const source = resolveCopySource(ctx, req);
  const src = source.version;
  checkCopyConditions(req, src);
  const range = copyRange(header(req, "x-amz-copy-source-range"), src.size);
  const size = range.end - range.start + 1;
  if (size > MAX_COPY_SOURCE_SIZE) throw s3Errors.entityTooLarge(size, MAX_COPY_SOURCE_SIZE);
  const body = src.body?.subarray(range.start, range.end + 1);
  const etag = body
    ? `"${md5Hex(body)}"`
    : `"${md5Hex(`sandbox-declared-part:${sourceDataMd5(src)}:${range.start}-${range.end}`)}"`;
  const part: PartData = {
    partNumber: n,
    etag,
    size,
    ...(body ? { body } : {}),
    lastModified: secondPrecision(new Date()),
  };
  mpu.parts.set(n, part);
  return xmlResponse(
    "CopyPartResult",
    { ETag: etag, LastModified: part.lastModified },
    {
      ...(source.bucket.versioning !== "Unversioned" ? { "x-amz-copy-source-version-id": src.versionId } : {}),
      ...encryptionHeaders(mpu.template.encryption),
    },
  );
}

function copyRange(raw: string | undefined, size: number): { start: number; end: number } {
  if (raw === undefined) return { start: 0, end: size - 1 };
  const m = /^bytes=(\d+)-(\d+)$/.exec(raw.trim());
  const start = Number(m?.[1]);
  const end = Number(m?.[2]);
  if (!m || end < start || end >= size) {
    throw s3Errors.invalidArgument(
      "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
      "x-amz-copy-source-range",
      raw,
    );
  }
  return { start, end };
}

export function completeMultipartUpload(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const bucket = ctx.store.bucket(t.bucket);
  const mpu = upload(bucket, req, t.key);
  const doc = child(parseXmlBody(req.body), "CompleteMultipartUpload");
  if (!doc) throw malformedXml();
  const requested = list(doc, "Part").map((p) => ({ n: Number(text(p, "PartNumber")), etag: text(p, "ETag") ?? "" }));
  if (requested.length === 0) throw malformedXml();
  const parts: PartData[] = [];
  for (const [i, r] of requested.entries()) {
    const prev = requested[i - 1];
    if (prev && r.n <= prev.n) throw s3Errors.invalidPartOrder();
    const part = mpu.parts.get(r.n);
    if (!part || part.etag.replace(/"/g, "") !== r.etag.replace(/"/g, "")) throw s3Errors.invalidPart(r.n, r.etag);
    parts.push(part);
  }
  for (const part of parts.slice(0, -1)) {
    if (part.size < MIN_PART_SIZE) throw s3Errors.entityTooSmall(part.size, part.partNumber, part.etag);
  }
  const conditions = writeConditionsOf(req);
  checkWriteConditions(bucket, t.key, conditions);
  // A condition that holds now but whose key was written or deleted since CreateMultipartUpload: AWS answers 409
  // ConditionalRequestConflict and the upload must start again (sandbox/ASSUMPTIONS.md, "S3 conditional writes").
  if (conditions && mpu.keyChanged) {
    bucket.uploads.delete(mpu.uploadId);
    throw conditionalRequestConflict();
  }
  const md5s = Buffer.concat(parts.map((p) => Buffer.from(p.etag.replace(/"/g, ""), "hex")));
  const etag = `"${createHash("md5").update(md5s).digest("hex")}-${parts.length}"`;
  const declared = parts.some((p) => !p.body);
  const size = parts.reduce((n, p) => n + p.size, 0);
  const version = ctx.store.writeObject(bucket.name, {
    ...mpu.template,
    key: t.key,
    ...(declared ? {} : { body: Buffer.concat(parts.map((p) => p.body ?? Buffer.alloc(0))) }),
    size,
    etag,
    partsCount: parts.length,
  });
  bucket.uploads.delete(mpu.uploadId);
  return xmlResponse(
    "CompleteMultipartUploadResult",
    { Location: `/${bucket.name}/${encodeURIComponent(t.key)}`, Bucket: bucket.name, Key: t.key, ETag: etag },
    { ...versionHeader(bucket, version.versionId), ...encryptionHeaders(version.encryption) },
  );
}

export function abortMultipartUpload(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const bucket = ctx.store.bucket(t.bucket);
  const mpu = upload(bucket, req, t.key);
  bucket.uploads.delete(mpu.uploadId);
  return emptyResponse(204);
}

export function listParts(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const bucket = ctx.store.bucket(t.bucket);
  const mpu = upload(bucket, req, t.key);
  const parts = [...mpu.parts.values()].sort((a, b) => a.partNumber - b.partNumber);
  return xmlResponse("ListPartsResult", {
    Bucket: bucket.name,
    Key: t.key,
    UploadId: mpu.uploadId,
    StorageClass: mpu.template.storageClass,
    MaxParts: 1000,
    IsTruncated: false,
    Part: parts.map((p) => ({ PartNumber: p.partNumber, LastModified: p.lastModified, ETag: p.etag, Size: p.size })),
  });
}
