import { createHash } from "node:crypto";
import { header, type SandboxRequest, type SandboxResponse } from "../http.ts";
import { checkWriteConditions, conditionalRequestConflict, writeConditionsOf } from "./conditional-writes.ts";
import { emptyResponse, type S3Context, type S3Target, xmlResponse } from "./context.ts";
import { checkCopyConditions, MAX_COPY_SOURCE_SIZE, resolveCopySource, sourceDataMd5 } from "./copy.ts";
import { encryptionHeaders, md5Hex } from "./encryption.ts";
import { s3Errors } from "./errors.ts";
import { encodeListValue } from "./listing.ts";
import { attributesFromRequest, verifyChecksums, verifyContentMd5, versionHeader } from "./objects.ts";
import { type MultipartUpload, newVersionId, type PartData, type S3Bucket, secondPrecision } from "./store.ts";
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

/**
 * ListMultipartUploads (`GET /bucket?uploads`): uploads in progress, by key and then by initiation, after
 * `key-marker` (and, for that key, after `upload-id-marker`), with `prefix`, `delimiter` (common prefixes) and
 * `max-uploads` (at most 1,000), as https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html
 * describes. This is how operators find what an interrupted multipart copy left behind.
 */
export function listMultipartUploads(ctx: S3Context, req: SandboxRequest, bucketName: string): SandboxResponse {
  const bucket = ctx.store.bucket(bucketName);
  const q = req.query;
  const encodingType = q.get("encoding-type") ?? undefined;
  if (encodingType !== undefined && encodingType !== "url") {
    throw s3Errors.invalidArgument("Invalid Encoding Method specified in Request", "encoding-type", encodingType);
  }
  const encode = encodingType === "url" ? encodeListValue : (s: string) => s;
  const rawMax = q.get("max-uploads");
  const maxUploads = rawMax === null ? 1000 : Number(rawMax);
  if (!Number.isInteger(maxUploads) || maxUploads < 0) {
    throw s3Errors.invalidArgument(
      "Argument max-uploads must be an integer between 0 and 2147483647",
      "max-uploads",
      rawMax ?? "",
    );
  }
  const max = Math.min(maxUploads, 1000);
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") ?? "";
  const keyMarker = q.get("key-marker") ?? "";
  // Without a key marker the upload-id marker is ignored, as S3 does.
  const uploadIdMarker = keyMarker ? (q.get("upload-id-marker") ?? "") : "";

  const ordered = [...bucket.uploads.values()]
    .filter((u) => u.key.startsWith(prefix))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated.getTime() - b.initiated.getTime()));
  const markerIndex = uploadIdMarker
    ? ordered.findIndex((u) => u.key === keyMarker && u.uploadId === uploadIdMarker)
    : -1;
  const after = ordered.filter(
    (u, i) =>
      u.key > keyMarker || (uploadIdMarker !== "" && u.key === keyMarker && markerIndex >= 0 && i > markerIndex),
  );

  const uploads: MultipartUpload[] = [];
  const prefixes: string[] = [];
  let last: { key: string; uploadId?: string } | undefined;
  let truncated = false;
  for (const u of after) {
    const d = delimiter ? u.key.indexOf(delimiter, prefix.length) : -1;
    const common = d >= 0 ? u.key.slice(0, d + delimiter.length) : undefined;
    if (common !== undefined && prefixes.at(-1) === common) continue;
    if (uploads.length + prefixes.length >= max) {
      truncated = true;
      break;
    }
    if (common !== undefined) {
      prefixes.push(common);
      last = { key: common };
    } else {
      uploads.push(u);
      last = { key: u.key, uploadId: u.uploadId };
    }
  }
  const owner = { ID: ctx.store.ownerId };
  return xmlResponse("ListMultipartUploadsResult", {
    Bucket: bucket.name,
    KeyMarker: encode(keyMarker),
    UploadIdMarker: uploadIdMarker,
    NextKeyMarker: truncated && last ? encode(last.key) : undefined,
    NextUploadIdMarker: truncated && last?.uploadId ? last.uploadId : undefined,
    Prefix: prefix ? encode(prefix) : undefined,
    Delimiter: delimiter ? encode(delimiter) : undefined,
    MaxUploads: max,
    EncodingType: encodingType,
    IsTruncated: truncated,
    Upload: uploads.map((u) => ({
      Key: encode(u.key),
      UploadId: u.uploadId,
      Initiator: owner,
      Owner: owner,
      StorageClass: u.template.storageClass,
      Initiated: u.initiated,
    })),
    CommonPrefixes: prefixes.map((p) => ({ Prefix: encode(p) })),
  });
}
