import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { header, type SandboxRequest, type SandboxResponse } from "../http.ts";
import { isTrue, parseTimestamp } from "../wire-values.ts";
import { aclFromRequest } from "./acl.ts";
import { emptyResponse, httpDate, type S3Context, type S3Target, xmlResponse } from "./context.ts";
import { checkReadKey, encryptionHeaders, etagFor } from "./encryption.ts";
import { S3Error, s3Errors } from "./errors.ts";
import { lockFromRequest, lockHeaders } from "./lock.ts";
import {
  type ContentHeaders,
  isArchived,
  isStorageClass,
  type ObjectDraft,
  type ObjectVersion,
  type S3Bucket,
  type StorageClass,
} from "./store.ts";
import { child, list, malformedXml, parseXmlBody, text } from "./xml.ts";

export const MAX_SINGLE_PUT = 5 * 1024 ** 3;

/** Attributes of a new object that come from request headers (PutObject, CreateMultipartUpload, CopyObject REPLACE). */
export function contentFromRequest(req: SandboxRequest): ContentHeaders {
  const encoding = header(req, "content-encoding")
    ?.split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "aws-chunked" && e !== "")
    .join(",");
  return {
    ...optional("contentType", header(req, "content-type")),
    ...optional("cacheControl", header(req, "cache-control")),
    ...optional("contentDisposition", header(req, "content-disposition")),
    ...optional("contentEncoding", encoding || undefined),
    ...optional("contentLanguage", header(req, "content-language")),
    ...optional("expires", header(req, "expires")),
  };
}

function optional<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  return value === undefined ? {} : ({ [name]: value } as { [P in K]?: string });
}

export function metadataFromRequest(req: SandboxRequest): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith("x-amz-meta-") && value !== undefined) {
      metadata[name.slice("x-amz-meta-".length)] = Array.isArray(value) ? value.join(",") : value;
    }
  }
  return metadata;
}

/** `x-amz-tagging` is a URL query string (`k1=v1&k2=v2`). */
export function tagsFromHeader(req: SandboxRequest): Record<string, string> {
  const raw = header(req, "x-amz-tagging");
  if (raw === undefined || raw === "") return {};
  const pairs = [...new URLSearchParams(raw)];
  return validateTags(pairs);
}

export function validateTags(pairs: [string, string][]): Record<string, string> {
  if (pairs.length > 10) throw s3Errors.tooManyTags();
  const tags: Record<string, string> = {};
  for (const [k, v] of pairs) {
    if (k.length === 0 || k.length > 128) throw s3Errors.invalidTag("The TagKey you have provided is invalid");
    if (v.length > 256) throw s3Errors.invalidTag("The TagValue you have provided is invalid");
    if (Object.hasOwn(tags, k)) throw s3Errors.invalidTag("Cannot provide multiple Tags with the same key");
    tags[k] = v;
  }
  return tags;
}

export function storageClassFromRequest(req: SandboxRequest): StorageClass | undefined {
  const v = header(req, "x-amz-storage-class");
  if (v === undefined) return undefined;
  if (!isStorageClass(v)) throw s3Errors.invalidStorageClass(v);
  return v;
}

/** Everything PutObject and CreateMultipartUpload derive from headers, apart from the data. */
export function attributesFromRequest(
  ctx: S3Context,
  req: SandboxRequest,
  bucket: S3Bucket,
): Omit<ObjectDraft, "key" | "body" | "size" | "etag"> {
  const redirect = header(req, "x-amz-website-redirect-location");
  return {
    content: contentFromRequest(req),
    metadata: metadataFromRequest(req),
    tags: tagsFromHeader(req),
    storageClass: storageClassFromRequest(req) ?? "STANDARD",
    encryption: ctx.encryption.forWrite(req, bucket.defaultEncryption),
    acl: aclFromRequest(req, bucket),
    ...(redirect !== undefined ? { websiteRedirectLocation: redirect } : {}),
    ...lockFromRequest(req, bucket),
  };
}

/** The x-amz-version-id header: S3 sends it once a bucket has versioning (Enabled or Suspended). */
export function versionHeader(bucket: S3Bucket, versionId: string): Record<string, string> {
  return bucket.versioning === "Unversioned" ? {} : { "x-amz-version-id": versionId };
}

export function putObject(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const bucket = ctx.store.bucket(t.bucket);
  const body = req.body;
  if (body.length > MAX_SINGLE_PUT) throw s3Errors.entityTooLarge(body.length, MAX_SINGLE_PUT);
  const dataMd5 = verifyContentMd5(req, body);
  const checksum = verifyChecksums(req, body);
  const attributes = attributesFromRequest(ctx, req, bucket);
  const version = ctx.store.writeObject(bucket.name, {
    ...attributes,
    key: t.key,
    body,
    size: body.length,
    etag: etagFor(dataMd5, attributes.encryption),
    ...(checksum ? { checksumAlgorithm: checksum.algorithm } : {}),
  });
  return emptyResponse(200, {
    etag: version.etag,
    ...versionHeader(bucket, version.versionId),
    ...encryptionHeaders(version.encryption),
    ...(checksum ? { [checksum.header]: checksum.value } : {}),
  });
}

/** Content-MD5 must be a base64 16-byte digest and match the data; returns the data's MD5 hex either way. */
export function verifyContentMd5(req: SandboxRequest, body: Buffer): string {
  const actual = createHash("md5").update(body).digest();
  const given = header(req, "content-md5");
  if (given === undefined) return actual.toString("hex");
  const decoded = Buffer.from(given, "base64");
  if (decoded.length !== 16 || decoded.toString("base64") !== given.trim()) throw s3Errors.invalidDigest(given);
  if (!decoded.equals(actual)) throw s3Errors.badDigest(given, actual.toString("base64"));
  return actual.toString("hex");
}

const CHECKSUMS: Record<string, { name: string; compute?: (b: Buffer) => string }> = {
  "x-amz-checksum-crc32": {
    name: "CRC32",
    compute: (b) => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc32(b) >>> 0);
      return out.toString("base64");
    },
  },
  "x-amz-checksum-crc32c": { name: "CRC32C" },
  "x-amz-checksum-crc64nvme": { name: "CRC64NVME" },
  "x-amz-checksum-sha1": { name: "SHA1", compute: (b) => createHash("sha1").update(b).digest("base64") },
  "x-amz-checksum-sha256": { name: "SHA256", compute: (b) => createHash("sha256").update(b).digest("base64") },
};

/**
 * Flexible checksums (header or aws-chunked trailer): CRC32, SHA1 and SHA256 are verified, CRC32C and
 * CRC64NVME are recorded unverified. Returns the algorithm S3 stores with the object.
 */
export function verifyChecksums(
  req: SandboxRequest,
  body: Buffer,
): { algorithm: string; header: string; value: string } | undefined {
  for (const [name, spec] of Object.entries(CHECKSUMS)) {
    const value = header(req, name);
    if (value === undefined) continue;
    if (spec.compute && spec.compute(body) !== value) throw s3Errors.badChecksum(spec.name.toLowerCase());
    return { algorithm: spec.name, header: name, value };
  }
  return undefined;
}

/** Headers every GET and HEAD of an object version carries. */
export function objectHeaders(bucket: S3Bucket, v: ObjectVersion): Record<string, string> {
  const h: Record<string, string> = {
    "last-modified": httpDate(v.lastModified),
    etag: v.etag,
    "content-type": v.content.contentType ?? "binary/octet-stream",
    "accept-ranges": "bytes",
    ...versionHeader(bucket, v.versionId),
    ...encryptionHeaders(v.encryption),
    ...lockHeaders(v),
  };
  if (v.content.cacheControl !== undefined) h["cache-control"] = v.content.cacheControl;
  if (v.content.contentDisposition !== undefined) h["content-disposition"] = v.content.contentDisposition;
  if (v.content.contentEncoding !== undefined) h["content-encoding"] = v.content.contentEncoding;
  if (v.content.contentLanguage !== undefined) h["content-language"] = v.content.contentLanguage;
  if (v.content.expires !== undefined) h.expires = v.content.expires;
  if (v.storageClass !== "STANDARD") h["x-amz-storage-class"] = v.storageClass;
  if (v.websiteRedirectLocation !== undefined) h["x-amz-website-redirect-location"] = v.websiteRedirectLocation;
  if (v.partsCount !== undefined) h["x-amz-mp-parts-count"] = String(v.partsCount);
  if (isArchived(v) && v.storageClass === "INTELLIGENT_TIERING" && v.intelligentTieringAccessTier) {
    h["x-amz-archive-status"] = v.intelligentTieringAccessTier;
  }
  for (const [k, val] of Object.entries(v.metadata)) h[`x-amz-meta-${k}`] = val;
  return h;
}

/** Resolves the version a GET/HEAD names; delete markers answer 404 (latest) or 405 (named), as S3 does. */
export function readableVersion(
  ctx: S3Context,
  req: SandboxRequest,
  t: S3Target,
): { bucket: S3Bucket; version: ObjectVersion } {
  const bucket = ctx.store.bucket(t.bucket);
  const versionId = req.query.get("versionId") ?? undefined;
  const version = ctx.store.version(t.bucket, t.key, versionId);
  if (version.isDeleteMarker) {
    const headers = { "x-amz-delete-marker": "true", ...versionHeader(bucket, version.versionId) };
    if (versionId === undefined) throw s3Errors.noSuchKey(t.key, headers);
    throw s3Errors.methodNotAllowedOnDeleteMarker(req.method, {
      ...headers,
      allow: "DELETE",
      "last-modified": httpDate(version.lastModified),
    });
  }
  return { bucket, version };
}

export function headObject(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const { bucket, version } = readableVersion(ctx, req, t);
  checkReadKey(req, version);
  const notModified = checkConditions(req, version);
  const headers = objectHeaders(bucket, version);
  if (notModified) return emptyResponse(304, { etag: version.etag, "last-modified": headers["last-modified"] ?? "" });
  return { status: 200, headers: { ...headers, "content-length": version.size } };
}

export function getObject(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const { bucket, version } = readableVersion(ctx, req, t);
  checkReadKey(req, version);
  if (isArchived(version))
    throw s3Errors.invalidObjectState(version.storageClass, version.intelligentTieringAccessTier);
  const notModified = checkConditions(req, version);
  const headers = objectHeaders(bucket, version);
  if (notModified) return emptyResponse(304, { etag: version.etag, "last-modified": headers["last-modified"] ?? "" });
  const tagCount = Object.keys(version.tags).length;
  if (tagCount > 0) headers["x-amz-tagging-count"] = String(tagCount);
  if (!version.body) {
    throw s3Errors.notImplemented(
      `The sandbox stores only the declared size of ${t.key} (${version.size} bytes), not its data; GetObject is not available for it.`,
    );
  }
  const range = parseRange(header(req, "range"), version.size);
  if (!range) return { status: 200, headers: { ...headers, "content-length": version.size }, body: version.body };
  return {
    status: 206,
    headers: {
      ...headers,
      "content-length": range.end - range.start + 1,
      "content-range": `bytes ${range.start}-${range.end}/${version.size}`,
    },
    body: version.body.subarray(range.start, range.end + 1),
  };
}

/** A single `bytes=` range; other forms are ignored (whole object), unsatisfiable ones are 416. */
function parseRange(raw: string | undefined, size: number): { start: number; end: number } | undefined {
  if (raw === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(raw.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) throw s3Errors.invalidRange(raw, size);
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) throw s3Errors.invalidRange(raw, size);
  return { start, end };
}

/** If-Match / If-Unmodified-Since fail with 412; If-None-Match / If-Modified-Since answer 304 (returns true). */
function checkConditions(req: SandboxRequest, v: ObjectVersion): boolean {
  const ifMatch = header(req, "if-match");
  const ifNoneMatch = header(req, "if-none-match");
  const ifModifiedSince = header(req, "if-modified-since");
  const ifUnmodifiedSince = header(req, "if-unmodified-since");
  if (ifMatch !== undefined && !etagMatches(ifMatch, v.etag)) throw s3Errors.preconditionFailed("If-Match");
  if (ifMatch === undefined && ifUnmodifiedSince !== undefined && modifiedAfter(v, ifUnmodifiedSince)) {
    throw s3Errors.preconditionFailed("If-Unmodified-Since");
  }
  if (ifNoneMatch !== undefined) return etagMatches(ifNoneMatch, v.etag);
  return ifModifiedSince !== undefined && !modifiedAfter(v, ifModifiedSince);
}

export function etagMatches(condition: string, etag: string): boolean {
  const bare = etag.replace(/"/g, "");
  return condition.split(",").some((c) => {
    const t = c.trim().replace(/^W\//, "").replace(/"/g, "");
    return t === "*" || t === bare;
  });
}

/** True when the version changed after the given HTTP date (an unparseable date is ignored, as HTTP says). */
export function modifiedAfter(v: ObjectVersion, httpDateValue: string): boolean {
  const t = parseTimestamp(httpDateValue, () => undefined);
  return t !== undefined && v.lastModified.getTime() > t.getTime();
}

export function deleteObject(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const bucket = ctx.store.bucket(t.bucket);
  const versionId = req.query.get("versionId") ?? undefined;
  const outcome = ctx.store.deleteObject(t.bucket, t.key, versionId, bypassGovernance(req));
  const headers: Record<string, string> = {};
  if (outcome.deleteMarker) headers["x-amz-delete-marker"] = "true";
  if (outcome.versionId !== undefined && (versionId !== undefined || bucket.versioning !== "Unversioned")) {
    headers["x-amz-version-id"] = outcome.versionId;
  }
  return emptyResponse(204, headers);
}

export function deleteObjects(ctx: S3Context, req: SandboxRequest, bucketName: string): SandboxResponse {
  const bucket = ctx.store.bucket(bucketName);
  const doc = child(parseXmlBody(req.body), "Delete");
  if (!doc) throw malformedXml();
  const quiet = isTrue(text(doc, "Quiet"));
  const objects = list(doc, "Object");
  if (objects.length > 1000) throw malformedXml();
  const deleted: Record<string, string | undefined>[] = [];
  const errors: Record<string, string | undefined>[] = [];
  for (const o of objects) {
    const key = text(o, "Key");
    if (key === undefined) throw malformedXml();
    const versionId = text(o, "VersionId");
    let outcome: ReturnType<typeof ctx.store.deleteObject>;
    try {
      outcome = ctx.store.deleteObject(bucket.name, key, versionId, bypassGovernance(req));
    } catch (err) {
      // Per-key failures (Object Lock) are reported in the result, also in quiet mode.
      if (!(err instanceof S3Error)) throw err;
      errors.push({ Key: key, VersionId: versionId, Code: err.code, Message: err.message });
      continue;
    }
    if (quiet) continue;
    deleted.push({
      Key: key,
      VersionId: versionId,
      DeleteMarker: outcome.deleteMarker ? "true" : undefined,
      DeleteMarkerVersionId: outcome.deleteMarker && versionId === undefined ? outcome.versionId : undefined,
    });
  }
  return xmlResponse("DeleteResult", { Deleted: deleted, Error: errors });
}

/** `x-amz-bypass-governance-retention: true` (the caller's s3:BypassGovernanceRetention permission is not checked). */
export function bypassGovernance(req: SandboxRequest): boolean {
  return isTrue(header(req, "x-amz-bypass-governance-retention"));
}

// Tagging ----------------------------------------------------------------------------------------------

function taggableVersion(
  ctx: S3Context,
  req: SandboxRequest,
  t: S3Target,
): { bucket: S3Bucket; version: ObjectVersion } {
  return readableVersion(ctx, req, t);
}

export function getObjectTagging(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const { bucket, version } = taggableVersion(ctx, req, t);
  return xmlResponse(
    "Tagging",
    { TagSet: { Tag: Object.entries(version.tags).map(([Key, Value]) => ({ Key, Value })) } },
    versionHeader(bucket, version.versionId),
  );
}

export function putObjectTagging(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const { bucket, version } = taggableVersion(ctx, req, t);
  const tagSet = child(child(parseXmlBody(req.body), "Tagging"), "TagSet");
  if (!tagSet) throw malformedXml();
  const pairs = list(tagSet, "Tag").map((tag): [string, string] => {
    const k = text(tag, "Key");
    if (k === undefined) throw malformedXml();
    return [k, text(tag, "Value") ?? ""];
  });
  version.tags = validateTags(pairs);
  return emptyResponse(200, versionHeader(bucket, version.versionId));
}

export function deleteObjectTagging(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const { bucket, version } = taggableVersion(ctx, req, t);
  version.tags = {};
  return emptyResponse(204, versionHeader(bucket, version.versionId));
}
