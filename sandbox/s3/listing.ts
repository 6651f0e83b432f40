import type { SandboxRequest, SandboxResponse } from "../http.ts";
import { isTrue } from "../wire-values.ts";
import { type S3Context, xmlResponse } from "./context.ts";
import { s3Errors } from "./errors.ts";
import { endOfPrefix, lowerBound } from "./sorted-keys.ts";
import type { ObjectVersion, S3Bucket } from "./store.ts";
import type { XmlNode } from "./xml.ts";

/**
 * With `encoding-type=url` S3 URL-encodes Key, Prefix, Delimiter, StartAfter and the markers in the
 * response, form-style (space as "+") with "/" left alone. The JS SDK v3 does not ask for it; botocore does.
 */
export function encodeListValue(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, "/")
    .replace(/%20/g, "+");
}

interface ListParams {
  prefix: string;
  delimiter: string;
  maxKeys: number;
  encode: (s: string) => string;
  encodingType?: "url";
}

function listParams(req: SandboxRequest): ListParams {
  const encodingType = req.query.get("encoding-type") ?? undefined;
  if (encodingType !== undefined && encodingType !== "url") {
    throw s3Errors.invalidArgument("Invalid Encoding Method specified in Request", "encoding-type", encodingType);
  }
  const rawMax = req.query.get("max-keys");
  const maxKeys = rawMax === null ? 1000 : Number(rawMax);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) {
    throw s3Errors.invalidArgument(
      "Provided max-keys not an integer or within integer range",
      "max-keys",
      rawMax ?? "",
    );
  }
  return {
    prefix: req.query.get("prefix") ?? "",
    delimiter: req.query.get("delimiter") ?? "",
    maxKeys: Math.min(maxKeys, 1000),
    encode: encodingType === "url" ? encodeListValue : (s) => s,
    ...(encodingType === "url" ? { encodingType } : {}),
  };
}

type Entry = { kind: "key"; key: string } | { kind: "prefix"; prefix: string };

/**
 * Walks keys in order from `start` (with `currentOnly`, keys whose newest version is a delete marker do not
 * exist for the listing), rolling keys that contain the delimiter after the prefix into common
 * prefixes. Each common prefix is skipped in one binary search, so a page costs O(page · log n).
 */
function* walkKeys(
  bucket: S3Bucket,
  p: ListParams,
  start: number,
  currentOnly: boolean,
): Generator<Entry & { next: number }> {
  const keys = bucket.sortedKeys();
  let i = Math.max(start, lowerBound(keys, p.prefix));
  while (i < keys.length) {
    const key = keys[i] ?? "";
    if (!key.startsWith(p.prefix)) return;
    const latest = bucket.latest(key);
    if (!latest || (currentOnly && latest.isDeleteMarker)) {
      i++;
      continue;
    }
    const d = p.delimiter ? key.indexOf(p.delimiter, p.prefix.length) : -1;
    if (d >= 0) {
      const prefix = key.slice(0, d + p.delimiter.length);
      i = endOfPrefix(keys, prefix, i);
      yield { kind: "prefix", prefix, next: i };
    } else {
      i++;
      yield { kind: "key", key, next: i };
    }
  }
}

function objectEntry(v: ObjectVersion, encode: (s: string) => string, owner?: XmlNode): XmlNode {
  return {
    Key: encode(v.key),
    LastModified: v.lastModified,
    ETag: v.etag,
    ChecksumAlgorithm: v.checksumAlgorithm,
    Size: v.size,
    Owner: owner,
    StorageClass: v.storageClass,
  };
}

/** Continuation tokens are opaque to clients; the sandbox's carry the last key or common prefix returned. */
function encodeToken(entry: Entry): string {
  return Buffer.from(JSON.stringify(entry), "utf8").toString("base64url");
}

function decodeToken(token: string): Entry {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof parsed === "object" && parsed !== null && "kind" in parsed) return parsed as Entry;
  } catch {
    // fall through to the S3 error below
  }
  throw s3Errors.invalidArgument("The continuation token provided is incorrect", "continuation-token", token);
}

function startAfterEntry(bucket: S3Bucket, entry: Entry): number {
  const keys = bucket.sortedKeys();
  if (entry.kind === "prefix") return endOfPrefix(keys, entry.prefix, lowerBound(keys, entry.prefix));
  return lowerBound(keys, entry.key, true);
}

export function listObjectsV2(ctx: S3Context, req: SandboxRequest, bucketName: string): SandboxResponse {
  const bucket = ctx.store.bucket(bucketName);
  const p = listParams(req);
  const token = req.query.get("continuation-token") ?? undefined;
  const startAfter = req.query.get("start-after") ?? undefined;
  const owner = isTrue(req.query.get("fetch-owner")) ? { ID: ctx.store.ownerId } : undefined;
  const keys = bucket.sortedKeys();
  let start = 0;
  if (token !== undefined) start = startAfterEntry(bucket, decodeToken(token));
  else if (startAfter !== undefined) start = lowerBound(keys, startAfter, true);

  const contents: XmlNode[] = [];
  const prefixes: XmlNode[] = [];
  let last: Entry | undefined;
  let truncated = false;
  for (const entry of walkKeys(bucket, p, start, true)) {
    if (contents.length + prefixes.length === p.maxKeys) {
      truncated = true;
      break;
    }
    if (entry.kind === "prefix") prefixes.push({ Prefix: p.encode(entry.prefix) });
    else {
      const latest = bucket.latest(entry.key);
      if (!latest) continue;
      contents.push(objectEntry(latest, p.encode, owner));
    }
    last = entry.kind === "prefix" ? { kind: "prefix", prefix: entry.prefix } : { kind: "key", key: entry.key };
  }
  return xmlResponse("ListBucketResult", {
    Name: bucket.name,
    Prefix: p.encode(p.prefix),
    Delimiter: p.delimiter ? p.encode(p.delimiter) : undefined,
    MaxKeys: p.maxKeys,
    EncodingType: p.encodingType,
    KeyCount: contents.length + prefixes.length,
    IsTruncated: truncated,
    ContinuationToken: token,
    NextContinuationToken: truncated && last ? encodeToken(last) : undefined,
    StartAfter: startAfter !== undefined ? p.encode(startAfter) : undefined,
    Contents: contents,
    CommonPrefixes: prefixes,
  });
}

/**
 * ListObjectVersions: versions and delete markers newest first within each key, keys in order.
 * key-marker alone resumes after all versions of that key; with version-id-marker, after that version.
 */
export function listObjectVersions(ctx: S3Context, req: SandboxRequest, bucketName: string): SandboxResponse {
  const bucket = ctx.store.bucket(bucketName);
  const p = listParams(req);
  const keyMarker = req.query.get("key-marker") ?? "";
  const versionIdMarker = req.query.get("version-id-marker") ?? undefined;
  if (versionIdMarker !== undefined && keyMarker === "") {
    throw s3Errors.invalidArgument(
      "A version-id marker cannot be specified without a key marker.",
      "version-id-marker",
      versionIdMarker,
    );
  }
  const keys = bucket.sortedKeys();
  const owner = { ID: ctx.store.ownerId };
  const items: { element: "Version" | "DeleteMarker"; node: XmlNode }[] = [];
  const prefixes: XmlNode[] = [];
  let count = 0;
  let next: { key: string; versionId?: string } | undefined;
  let truncated = false;

  let start = keyMarker === "" ? 0 : lowerBound(keys, keyMarker, true);
  let skipWithinMarker = -1;
  if (keyMarker !== "" && versionIdMarker !== undefined) {
    const versions = bucket.versionsOf(keyMarker);
    const at = versions.findIndex((v) => v.versionId === versionIdMarker);
    if (at >= 0 && at < versions.length - 1) {
      start = lowerBound(keys, keyMarker);
      skipWithinMarker = at + 1;
    }
  }
  outer: for (const entry of walkKeys(bucket, p, start, false)) {
    if (entry.kind === "prefix") {
      if (count === p.maxKeys) {
        truncated = true;
        break;
      }
      prefixes.push({ Prefix: p.encode(entry.prefix) });
      count++;
      next = { key: entry.prefix };
      continue;
    }
    const versions = bucket.versionsOf(entry.key);
    const from = entry.key === keyMarker && skipWithinMarker >= 0 ? skipWithinMarker : 0;
    for (let i = from; i < versions.length; i++) {
      const v = versions[i];
      if (!v) continue;
      if (count === p.maxKeys) {
        truncated = true;
        break outer;
      }
      items.push(versionEntry(v, i === 0, p.encode, owner));
      count++;
      next = { key: v.key, versionId: v.versionId };
    }
  }
  const body: XmlNode = {
    Name: bucket.name,
    Prefix: p.encode(p.prefix),
    KeyMarker: p.encode(keyMarker),
    VersionIdMarker: versionIdMarker ?? "",
    NextKeyMarker: truncated && next ? p.encode(next.key) : undefined,
    NextVersionIdMarker: truncated && next?.versionId !== undefined ? next.versionId : undefined,
    MaxKeys: p.maxKeys,
    Delimiter: p.delimiter ? p.encode(p.delimiter) : undefined,
    EncodingType: p.encodingType,
    IsTruncated: truncated,
  };
  return xmlResponse("ListVersionsResult", { ...body, ...interleaved(items), CommonPrefixes: prefixes });
}

function versionEntry(
  v: ObjectVersion,
  isLatest: boolean,
  encode: (s: string) => string,
  owner: XmlNode,
): { element: "Version" | "DeleteMarker"; node: XmlNode } {
  if (v.isDeleteMarker) {
    return {
      element: "DeleteMarker",
      node: {
        Owner: owner,
        Key: encode(v.key),
        VersionId: v.versionId,
        IsLatest: isLatest,
        LastModified: v.lastModified,
      },
    };
  }
  return {
    element: "Version",
    node: {
      ETag: v.etag,
      ChecksumAlgorithm: v.checksumAlgorithm,
      Size: v.size,
      Owner: owner,
      StorageClass: v.storageClass,
      Key: encode(v.key),
      VersionId: v.versionId,
      IsLatest: isLatest,
      LastModified: v.lastModified,
    },
  };
}

/**
 * S3 writes Version and DeleteMarker elements in listing order, interleaved. The XML builder groups by
 * element name, so both lists are kept under their names; clients read them as two lists either way.
 */
function interleaved(items: { element: "Version" | "DeleteMarker"; node: XmlNode }[]): XmlNode {
  return {
    Version: items.filter((i) => i.element === "Version").map((i) => i.node),
    DeleteMarker: items.filter((i) => i.element === "DeleteMarker").map((i) => i.node),
  };
}
