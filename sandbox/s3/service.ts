import type { Behaviours } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import { header, type SandboxRequest, type SandboxResponse, ServiceError, type ServiceHandler } from "../http.ts";
import type { KeyRegistry } from "../kms/keys.ts";
import { s3Admin } from "./admin.ts";
import * as config from "./bucket-config.ts";
import * as buckets from "./buckets.ts";
import { emptyResponse, type S3Context, type S3Target } from "./context.ts";
import { copyObject } from "./copy.ts";
import { EncryptionResolver } from "./encryption.ts";
import { S3Error, s3Errors } from "./errors.ts";
import { listObjectsV2, listObjectVersions } from "./listing.ts";
import * as multipart from "./multipart.ts";
import * as subresources from "./object-subresources.ts";
import * as objects from "./objects.ts";
import { selectObjectContent } from "./select/engine.ts";
import { S3Store } from "./store.ts";
import { updateObjectEncryption } from "./update-encryption.ts";
import { escapeXml } from "./xml.ts";

export interface S3Sandbox {
  handler: ServiceHandler;
  admin: ServiceHandler;
  store: S3Store;
  encryption: EncryptionResolver;
}

/** S3 over REST-XML, path style, state in memory. The behaviour is specified in sandbox/S3.md. */
export function createS3(deps: { identity: SandboxIdentity; kms: KeyRegistry; behaviours: Behaviours }): S3Sandbox {
  const store = new S3Store(deps.identity);
  const ctx: S3Context = {
    store,
    encryption: new EncryptionResolver(deps.identity, deps.kms),
    identity: deps.identity,
    behaviours: deps.behaviours,
  };
  const handler: ServiceHandler = async (req) => {
    try {
      return await route(ctx, req);
    } catch (err) {
      if (err instanceof ServiceError) return errorResponse(err, req);
      throw err;
    } finally {
      noteChange(store, req);
    }
  };
  return { handler, admin: s3Admin(ctx), store, encryption: ctx.encryption };
}

/**
 * Tells the store's observer which bucket and key a writing request addressed: tags, ACLs, Object Lock, encryption
 * and bucket configuration change in place, without a new version.
 */
function noteChange(store: S3Store, req: SandboxRequest): void {
  if (!store.observer || req.method === "GET" || req.method === "HEAD" || req.query.has("select")) return;
  try {
    const t = target(req.rawPath);
    if (t.bucket !== "") store.observer(t.bucket, t.key === "" ? undefined : t.key);
  } catch {
    // A path that does not decode addressed nothing.
  }
}

/** Splits a path-style target: `/bucket/key...` with the key percent-decoded (no "+" → space in paths). */
export function target(rawPath: string): S3Target {
  const path = rawPath.startsWith("/") ? rawPath.slice(1) : rawPath;
  const slash = path.indexOf("/");
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw s3Errors.invalidArgument("The request path is not validly URL-encoded.");
    }
  };
  if (slash < 0) return { bucket: decode(path), key: "" };
  return { bucket: decode(path.slice(0, slash)), key: decode(path.slice(slash + 1)) };
}

function route(ctx: S3Context, req: SandboxRequest): SandboxResponse | Promise<SandboxResponse> {
  const t = target(req.rawPath);
  if (t.bucket === "") {
    if (req.method === "GET") return buckets.listBuckets(ctx);
    throw methodNotAllowed(req);
  }
  return t.key === "" ? bucketRoute(ctx, req, t.bucket) : objectRoute(ctx, req, t);
}

function bucketRoute(ctx: S3Context, req: SandboxRequest, bucket: string): SandboxResponse {
  const q = req.query;
  switch (req.method) {
    case "PUT":
      if (q.has("versioning")) return buckets.putBucketVersioning(ctx, req, bucket);
      if (q.has("encryption")) return buckets.putBucketEncryption(ctx, req, bucket);
      if (q.has("inventory")) return buckets.putBucketInventory(ctx, req, bucket);
      if (q.has("object-lock")) return subresources.putObjectLockConfiguration(ctx, req, bucket);
      if (q.has("replication")) return config.putBucketReplication(ctx, req, bucket);
      if (q.has("lifecycle")) return config.putBucketLifecycle(ctx, req, bucket);
      if (q.has("notification")) return config.putBucketNotification(ctx, req, bucket);
      if (q.has("ownershipControls")) return config.putBucketOwnershipControls(ctx, req, bucket);
      if (q.has("policy")) return config.putBucketPolicy(ctx, req, bucket);
      if (q.has("tagging")) return config.putBucketTagging(ctx, req, bucket);
      if (hasUnsupportedSubresource(q)) break;
      return buckets.createBucket(ctx, req, bucket);
    case "GET":
      if (q.has("versioning")) return buckets.getBucketVersioning(ctx, bucket);
      if (q.has("encryption")) return buckets.getBucketEncryption(ctx, bucket);
      if (q.has("inventory")) {
        return q.has("id")
          ? buckets.getBucketInventory(ctx, req, bucket)
          : buckets.listBucketInventory(ctx, req, bucket);
      }
      if (q.has("location")) return buckets.getBucketLocation(ctx, bucket);
      if (q.has("object-lock")) return subresources.getObjectLockConfiguration(ctx, bucket);
      if (q.has("replication")) return config.getBucketReplication(ctx, bucket);
      if (q.has("lifecycle")) return config.getBucketLifecycle(ctx, bucket);
      if (q.has("notification")) return config.getBucketNotification(ctx, bucket);
      if (q.has("ownershipControls")) return config.getBucketOwnershipControls(ctx, bucket);
      if (q.has("policy")) return config.getBucketPolicy(ctx, bucket);
      if (q.has("acl")) return subresources.getBucketAcl(ctx, bucket);
      if (q.has("versions")) return listObjectVersions(ctx, req, bucket);
      if (q.has("uploads")) return multipart.listMultipartUploads(ctx, req, bucket);
      if (q.get("list-type") === "2") return listObjectsV2(ctx, req, bucket);
      if (q.has("tagging")) return config.getBucketTagging(ctx, bucket);
      break;
    case "HEAD":
      return buckets.headBucket(ctx, bucket);
    case "DELETE":
      if (q.has("encryption")) return buckets.deleteBucketEncryption(ctx, bucket);
      if (q.has("inventory")) return buckets.deleteBucketInventory(ctx, req, bucket);
      if (q.has("replication")) return config.deleteBucketReplication(ctx, bucket);
      if (q.has("lifecycle")) return config.deleteBucketLifecycle(ctx, bucket);
      if (q.has("ownershipControls")) return config.deleteBucketOwnershipControls(ctx, bucket);
      if (q.has("policy")) return config.deleteBucketPolicy(ctx, bucket);
      if (q.has("tagging")) return config.deleteBucketTagging(ctx, bucket);
      if (hasUnsupportedSubresource(q)) break;
      return buckets.deleteBucket(ctx, bucket);
    case "POST":
      if (q.has("delete")) return objects.deleteObjects(ctx, req, bucket);
      break;
  }
  throw notImplemented(req);
}

function objectRoute(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse | Promise<SandboxResponse> {
  const q = req.query;
  switch (req.method) {
    case "PUT":
      if (q.has("tagging")) return objects.putObjectTagging(ctx, req, t);
      if (q.has("encryption")) return updateObjectEncryption(ctx, req, t);
      if (q.has("retention")) return subresources.putObjectRetention(ctx, req, t);
      if (q.has("legal-hold")) return subresources.putObjectLegalHold(ctx, req, t);
      if (q.has("acl")) return subresources.putObjectAcl(ctx, req, t);
      if (q.has("uploadId")) {
        return header(req, "x-amz-copy-source") !== undefined
          ? multipart.uploadPartCopy(ctx, req, t)
          : multipart.uploadPart(ctx, req, t);
      }
      if (hasUnsupportedSubresource(q)) break;
      if (header(req, "x-amz-copy-source") !== undefined) return copyObject(ctx, req, t);
      return objects.putObject(ctx, req, t);
    case "GET":
      if (q.has("tagging")) return objects.getObjectTagging(ctx, req, t);
      if (q.has("retention")) return subresources.getObjectRetention(ctx, req, t);
      if (q.has("legal-hold")) return subresources.getObjectLegalHold(ctx, req, t);
      if (q.has("acl")) return subresources.getObjectAcl(ctx, req, t);
      if (q.has("uploadId")) return multipart.listParts(ctx, req, t);
      if (hasUnsupportedSubresource(q)) break;
      return objects.getObject(ctx, req, t);
    case "HEAD":
      return objects.headObject(ctx, req, t);
    case "DELETE":
      if (q.has("tagging")) return objects.deleteObjectTagging(ctx, req, t);
      if (q.has("uploadId")) return multipart.abortMultipartUpload(ctx, req, t);
      return objects.deleteObject(ctx, req, t);
    case "POST":
      if (q.has("uploads")) return multipart.createMultipartUpload(ctx, req, t);
      if (q.has("uploadId")) return multipart.completeMultipartUpload(ctx, req, t);
      if (q.has("select") && q.get("select-type") === "2") return selectObjectContent(ctx, req, t);
      break;
  }
  throw notImplemented(req);
}

/**
 * Sub-resources the sandbox does not serve (for some methods); without this check a `PUT ?cors` would be taken for
 * a PutObject. Sub-resources served for some methods only (e.g. `?acl`: no PutBucketAcl) stay listed.
 */
const UNSUPPORTED_SUBRESOURCES = [
  "acl",
  "policy",
  "lifecycle",
  "replication",
  "object-lock",
  "ownershipControls",
  "notification",
  "encryption",
  "cors",
  "website",
  "logging",
  "retention",
  "legal-hold",
  "restore",
  "select",
  "attributes",
  "torrent",
  "tagging",
  "uploads",
  "analytics",
  "metrics",
  "intelligent-tiering",
  "publicAccessBlock",
  "accelerate",
  "requestPayment",
];

function hasUnsupportedSubresource(q: URLSearchParams): boolean {
  return UNSUPPORTED_SUBRESOURCES.some((s) => q.has(s));
}

function notImplemented(req: SandboxRequest): S3Error {
  return s3Errors.notImplemented(
    `The sandbox does not implement this S3 request: ${req.method} ${req.rawPath}${req.rawQuery ? `?${req.rawQuery}` : ""}`,
  );
}

function methodNotAllowed(req: SandboxRequest): S3Error {
  return new S3Error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.", {
    Method: req.method,
    ResourceType: "SERVICE",
  });
}

/** `<Error>` with Code, Message, the error's own elements, Resource and RequestId; HEAD responses carry no body. */
function errorResponse(err: ServiceError, req: SandboxRequest): SandboxResponse {
  const extra = Object.entries(err.extra)
    .map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`)
    .join("");
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(err.code)}</Code>` +
    `<Message>${escapeXml(err.message)}</Message>${extra}<Resource>${escapeXml(req.rawPath)}</Resource>` +
    `<RequestId>${req.requestId}</RequestId><HostId>${req.requestId}</HostId></Error>`;
  const headers = err instanceof S3Error ? err.headers : {};
  if (req.method === "HEAD") return emptyResponse(err.status, headers);
  return { status: err.status, headers: { "content-type": "application/xml", ...headers }, body };
}
