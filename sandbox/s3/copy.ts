import { header, type SandboxRequest, type SandboxResponse } from "../http.ts";
import { aclFromRequest } from "./acl.ts";
import { type S3Context, type S3Target, xmlResponse } from "./context.ts";
import { checkReadKey, encryptionHeaders, etagFor, md5Hex, requestsEncryption } from "./encryption.ts";
import { s3Errors } from "./errors.ts";
import { lockFromRequest } from "./lock.ts";
import {
  contentFromRequest,
  etagMatches,
  metadataFromRequest,
  modifiedAfter,
  storageClassFromRequest,
  tagsFromHeader,
  versionHeader,
} from "./objects.ts";
import { isArchived, type ObjectVersion, type S3Bucket } from "./store.ts";

/** CopyObject's single-request limit (S3 API reference; UploadPartCopy is the way past it). */
export const MAX_COPY_SOURCE_SIZE = 5 * 1024 ** 3;

export interface CopySource {
  bucket: S3Bucket;
  version: ObjectVersion;
  /** The version id as the request named it, if it did. */
  requestedVersionId?: string;
}

/**
 * Parses `x-amz-copy-source` (`bucket/key` or `/bucket/key`, URL-encoded, optional `?versionId=`) and
 * resolves the source version, which must be readable: not a delete marker, not archived, SSE-C key given.
 */
export function resolveCopySource(ctx: S3Context, req: SandboxRequest): CopySource {
  const raw = header(req, "x-amz-copy-source");
  if (raw === undefined)
    throw s3Errors.invalidArgument(
      "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
      "x-amz-copy-source",
    );
  const q = raw.indexOf("?");
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const requestedVersionId = q < 0 ? undefined : (new URLSearchParams(raw.slice(q + 1)).get("versionId") ?? undefined);
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathPart).replace(/^\//, "");
  } catch {
    throw s3Errors.invalidArgument("Invalid copy source encoding", "x-amz-copy-source", raw);
  }
  const slash = decoded.indexOf("/");
  if (slash <= 0 || slash === decoded.length - 1) {
    throw s3Errors.invalidArgument(
      "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
      "x-amz-copy-source",
      raw,
    );
  }
  const bucket = ctx.store.bucket(decoded.slice(0, slash));
  const key = decoded.slice(slash + 1);
  const version = ctx.store.version(bucket.name, key, requestedVersionId);
  if (version.isDeleteMarker) {
    if (requestedVersionId !== undefined) {
      throw s3Errors.invalidRequest(
        "The source of a copy request may not specifically refer to a delete marker by version id.",
      );
    }
    throw s3Errors.noSuchKey(key);
  }
  checkReadKey(req, version, true);
  if (isArchived(version)) throw s3Errors.invalidCopySourceState(version.storageClass);
  return { bucket, version, ...(requestedVersionId !== undefined ? { requestedVersionId } : {}) };
}

/**
 * The x-amz-copy-source-if-* conditions as the CopyObject reference combines them: if-match true wins over
 * if-unmodified-since false; if-none-match decides alone when present, else if-modified-since.
 */
export function checkCopyConditions(req: SandboxRequest, v: ObjectVersion): void {
  const ifMatch = header(req, "x-amz-copy-source-if-match");
  const ifNoneMatch = header(req, "x-amz-copy-source-if-none-match");
  const ifModifiedSince = header(req, "x-amz-copy-source-if-modified-since");
  const ifUnmodifiedSince = header(req, "x-amz-copy-source-if-unmodified-since");
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, v.etag)) throw s3Errors.preconditionFailed("x-amz-copy-source-If-Match");
  } else if (ifUnmodifiedSince !== undefined && modifiedAfter(v, ifUnmodifiedSince)) {
    throw s3Errors.preconditionFailed("x-amz-copy-source-If-Unmodified-Since");
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, v.etag)) throw s3Errors.preconditionFailed("x-amz-copy-source-If-None-Match");
  } else if (ifModifiedSince !== undefined && !modifiedAfter(v, ifModifiedSince)) {
    throw s3Errors.preconditionFailed("x-amz-copy-source-If-Modified-Since");
  }
}

function directive(req: SandboxRequest, name: string, what: string): "COPY" | "REPLACE" {
  const v = header(req, name);
  if (v === undefined || v === "COPY") return "COPY";
  if (v === "REPLACE") return "REPLACE";
  throw s3Errors.invalidArgument(`Unknown ${what} directive.`, name, v);
}

export function copyObject(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const dest = ctx.store.bucket(t.bucket);
  if (header(req, "if-match") !== undefined || header(req, "if-none-match") !== undefined) {
    throw s3Errors.notImplemented(
      "The sandbox does not serve conditional writes (If-Match, If-None-Match) on CopyObject.",
    );
  }
  const source = resolveCopySource(ctx, req);
  const src = source.version;
  checkCopyConditions(req, src);
  if (src.size > MAX_COPY_SOURCE_SIZE) {
    throw s3Errors.invalidRequest(
      `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_COPY_SOURCE_SIZE}`,
    );
  }
  const metadataDirective = directive(req, "x-amz-metadata-directive", "metadata");
  const taggingDirective = directive(req, "x-amz-tagging-directive", "tagging");
  const storageClass = storageClassFromRequest(req);
  const redirect = header(req, "x-amz-website-redirect-location");
  rejectUnchangedSelfCopy(
    req,
    source,
    t,
    metadataDirective === "REPLACE" || storageClass !== undefined || redirect !== undefined,
  );

  const encryption = ctx.encryption.forWrite(req, dest.defaultEncryption);
  const version = ctx.store.writeObject(dest.name, {
    key: t.key,
    ...(src.body ? { body: src.body } : {}),
    size: src.size,
    etag: etagFor(sourceDataMd5(src), encryption),
    content: metadataDirective === "REPLACE" ? contentFromRequest(req) : { ...src.content },
    metadata: metadataDirective === "REPLACE" ? metadataFromRequest(req) : { ...src.metadata },
    tags: taggingDirective === "REPLACE" ? tagsFromHeader(req) : { ...src.tags },
    storageClass: storageClass ?? "STANDARD",
    encryption,
    // "When you copy an object, the ACL metadata is not preserved and is set to private by default."
    acl: aclFromRequest(req, dest),
    ...(redirect !== undefined ? { websiteRedirectLocation: redirect } : {}),
    // Object Lock is not copied: the new version gets the request's lock headers, else the bucket's default retention.
    ...lockFromRequest(req, dest),
    ...(src.checksumAlgorithm !== undefined ? { checksumAlgorithm: src.checksumAlgorithm } : {}),
  });
  return xmlResponse(
    "CopyObjectResult",
    { ETag: version.etag, LastModified: version.lastModified },
    {
      ...versionHeader(dest, version.versionId),
      ...(source.bucket.versioning !== "Unversioned" ? { "x-amz-copy-source-version-id": src.versionId } : {}),
      ...encryptionHeaders(version.encryption),
    },
  );
}

/**
 * S3 refuses to copy the current version of an object onto itself unless something changes: metadata
 * (REPLACE), storage class, website redirect or encryption. Copying an older version onto its key is a restore.
 */
function rejectUnchangedSelfCopy(
  req: SandboxRequest,
  source: CopySource,
  t: S3Target,
  changesAttributes: boolean,
): void {
  const sameObject = source.bucket.name === t.bucket && source.version.key === t.key;
  const isCurrent = source.bucket.latest(t.key) === source.version;
  if (!sameObject || !isCurrent || changesAttributes || requestsEncryption(req)) return;
  throw s3Errors.invalidRequest(
    "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
  );
}

/**
 * The MD5 of the source's data, recovered from what the store knows: for bodies it is recomputed; for
 * declared-size objects the sandbox uses the source ETag so copies of the same object get the same ETag.
 */
export function sourceDataMd5(src: ObjectVersion): string {
  if (src.body) return md5Hex(src.body);
  return src.etag.replace(/"/g, "").replace(/-\d+$/, "");
}
