import { header, type SandboxRequest, type SandboxResponse } from "../http.ts";
import { emptyResponse, type S3Context, xmlResponse } from "./context.ts";
import { S3Error, s3Errors } from "./errors.ts";
import type { ObjectOwnership, StoredXml } from "./store.ts";
import { child, isRecord, list, malformedXml, parseXmlBody, text } from "./xml.ts";

/*
 * Bucket configurations a preflight reads. The sandbox stores them and answers them back; it does not act on
 * replication, notification or lifecycle rules (nothing is replicated, notified, transitioned or expired).
 * Replication, lifecycle and notification documents are kept as the XML the client sent (see ASSUMPTIONS.md).
 */

/** The request document without its XML declaration, after checking that it parses and has the expected root. */
function storedDocument(req: SandboxRequest, root: string): { doc: Record<string, unknown>; stored: StoredXml } {
  const parsed = parseXmlBody(req.body);
  const doc = parsed[root] === "" ? {} : parsed[root];
  if (!isRecord(doc)) throw malformedXml();
  return { doc, stored: { xml: req.body.toString("utf8").replace(/^\s*<\?xml[^>]*\?>\s*/, "") } };
}

function storedResponse(stored: StoredXml, headers: Record<string, string> = {}): SandboxResponse {
  return {
    status: 200,
    headers: { "content-type": "application/xml", ...headers },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n${stored.xml}`,
  };
}

function enabledOrDisabled(v: string | undefined): boolean {
  return v === "Enabled" || v === "Disabled";
}

// Replication ---------------------------------------------------------------------------------------------

/**
 * PutBucketReplication: the source bucket must have versioning Enabled; Role and 1–1,000 rules, each with a
 * Status and a Destination Bucket, are required. The destination bucket is not checked (it may be another
 * account's or region's).
 */
export function putBucketReplication(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const { doc, stored } = storedDocument(req, "ReplicationConfiguration");
  const rules = list(doc, "Rule");
  if (text(doc, "Role") === undefined || rules.length === 0 || rules.length > 1000) throw malformedXml();
  for (const rule of rules) {
    if (!enabledOrDisabled(text(rule, "Status")) || text(child(rule, "Destination"), "Bucket") === undefined) {
      throw malformedXml();
    }
  }
  if (bucket.versioning !== "Enabled") {
    throw s3Errors.invalidRequest("Versioning must be 'Enabled' on the bucket to apply a replication configuration");
  }
  bucket.replication = stored;
  return emptyResponse(200);
}

export function getBucketReplication(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  if (!bucket.replication) {
    throw s3Errors.notConfigured(
      "ReplicationConfigurationNotFoundError",
      bucket.name,
      "The replication configuration was not found",
    );
  }
  return storedResponse(bucket.replication);
}

export function deleteBucketReplication(ctx: S3Context, name: string): SandboxResponse {
  ctx.store.bucket(name).replication = undefined;
  return emptyResponse(204);
}

// Lifecycle -----------------------------------------------------------------------------------------------

const TRANSITION_MINIMUM = "x-amz-transition-default-minimum-object-size";

/**
 * PutBucketLifecycleConfiguration: 1–1,000 rules, each with Status Enabled|Disabled, IDs unique. The
 * `x-amz-transition-default-minimum-object-size` header defaults to `all_storage_classes_128K`.
 */
export function putBucketLifecycle(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const { doc, stored } = storedDocument(req, "LifecycleConfiguration");
  const rules = list(doc, "Rule");
  if (rules.length === 0 || rules.length > 1000) throw malformedXml();
  const ids = new Set<string>();
  for (const rule of rules) {
    if (!enabledOrDisabled(text(rule, "Status"))) throw malformedXml();
    const id = text(rule, "ID");
    if (id !== undefined) {
      if (ids.has(id))
        throw s3Errors.invalidArgument("RuleId must be unique. Found same ID for more than one rule", "ID", id);
      ids.add(id);
    }
  }
  const minimum = header(req, TRANSITION_MINIMUM) ?? "all_storage_classes_128K";
  if (minimum !== "all_storage_classes_128K" && minimum !== "varies_by_storage_class") {
    throw s3Errors.invalidArgument(
      "Invalid value for transition default minimum object size",
      TRANSITION_MINIMUM,
      minimum,
    );
  }
  bucket.lifecycle = { ...stored, transitionDefaultMinimumObjectSize: minimum };
  return emptyResponse(200, { [TRANSITION_MINIMUM]: minimum });
}

export function getBucketLifecycle(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  if (!bucket.lifecycle) {
    throw s3Errors.notConfigured(
      "NoSuchLifecycleConfiguration",
      bucket.name,
      "The lifecycle configuration does not exist",
    );
  }
  return storedResponse(bucket.lifecycle, {
    [TRANSITION_MINIMUM]: bucket.lifecycle.transitionDefaultMinimumObjectSize,
  });
}

export function deleteBucketLifecycle(ctx: S3Context, name: string): SandboxResponse {
  ctx.store.bucket(name).lifecycle = undefined;
  return emptyResponse(204);
}

// Notifications -------------------------------------------------------------------------------------------

/** PutBucketNotificationConfiguration replaces the configuration; an empty one removes all notifications. */
export function putBucketNotification(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const { doc, stored } = storedDocument(req, "NotificationConfiguration");
  bucket.notification = Object.keys(doc).length === 0 ? undefined : stored;
  return emptyResponse(200);
}

/** Without notifications S3 answers an empty `<NotificationConfiguration/>` (no error). */
export function getBucketNotification(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  return bucket.notification ? storedResponse(bucket.notification) : xmlResponse("NotificationConfiguration", {});
}

// Ownership controls --------------------------------------------------------------------------------------

const OWNERSHIPS: readonly ObjectOwnership[] = ["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"];

export function parseObjectOwnership(v: string | undefined): ObjectOwnership | undefined {
  return OWNERSHIPS.find((o) => o === v);
}

/** Bucket owner enforced needs a bucket ACL that grants nothing beyond the owner. */
export function checkOwnershipAllowsBucketAcl(bucket: { acl: string }, ownership: ObjectOwnership | undefined): void {
  if (ownership === "BucketOwnerEnforced" && bucket.acl !== "private" && bucket.acl !== "bucket-owner-full-control") {
    throw new S3Error(
      "InvalidBucketAclWithObjectOwnership",
      400,
      "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    );
  }
}

export function putBucketOwnershipControls(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const rules = list(child(parseXmlBody(req.body), "OwnershipControls"), "Rule");
  const ownership = parseObjectOwnership(text(rules[0], "ObjectOwnership"));
  if (rules.length !== 1 || !ownership) throw malformedXml();
  checkOwnershipAllowsBucketAcl(bucket, ownership);
  bucket.ownership = ownership;
  return emptyResponse(200);
}

export function getBucketOwnershipControls(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  if (!bucket.ownership) {
    throw s3Errors.notConfigured(
      "OwnershipControlsNotFoundError",
      bucket.name,
      "The bucket ownership controls were not found",
    );
  }
  return xmlResponse("OwnershipControls", { Rule: { ObjectOwnership: bucket.ownership } });
}

/** Without ownership controls the bucket behaves as before Object Ownership existed: ACLs enabled, object writer owns. */
export function deleteBucketOwnershipControls(ctx: S3Context, name: string): SandboxResponse {
  ctx.store.bucket(name).ownership = undefined;
  return emptyResponse(204);
}

// Bucket policy -------------------------------------------------------------------------------------------

/** PutBucketPolicy: the body is the policy's JSON text, kept verbatim. Policies are stored, never evaluated. */
export function putBucketPolicy(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const policy = req.body.toString("utf8");
  if (!isJsonObject(policy)) {
    throw new S3Error("MalformedPolicy", 400, "Policies must be valid JSON and the first byte must be '{'");
  }
  bucket.policy = policy;
  return emptyResponse(204);
}

function isJsonObject(s: string): boolean {
  if (!s.startsWith("{")) return false;
  try {
    return isRecord(JSON.parse(s));
  } catch {
    return false;
  }
}

export function getBucketPolicy(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  if (bucket.policy === undefined) {
    throw s3Errors.notConfigured("NoSuchBucketPolicy", bucket.name, "The bucket policy does not exist");
  }
  return { status: 200, headers: { "content-type": "application/json" }, body: bucket.policy };
}

export function deleteBucketPolicy(ctx: S3Context, name: string): SandboxResponse {
  ctx.store.bucket(name).policy = undefined;
  return emptyResponse(204);
}

// Bucket tagging ------------------------------------------------------------------------------------------

/**
 * PutBucketTagging replaces the whole tag set: at most 50 tags, keys 1 to 128 characters, values up to 256, no key
 * twice (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketTagging.html,
 * https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html).
 */
export function putBucketTagging(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const tags = list(child(child(parseXmlBody(req.body), "Tagging"), "TagSet"), "Tag").map((t) => ({
    key: text(t, "Key") ?? "",
    value: text(t, "Value") ?? "",
  }));
  const keys = new Set(tags.map((t) => t.key));
  if (keys.size !== tags.length) throw new S3Error("InvalidTag", 400, "Cannot provide multiple Tags with the same key");
  if (tags.length > 50) throw new S3Error("InvalidTag", 400, "Bucket tag count cannot be greater than 50");
  for (const t of tags) {
    if (t.key.length < 1 || t.key.length > 128)
      throw new S3Error("InvalidTag", 400, "The TagKey you have provided is invalid");
    if (t.value.length > 256) throw new S3Error("InvalidTag", 400, "The TagValue you have provided is invalid");
  }
  bucket.tags = tags.length ? tags : undefined;
  return emptyResponse(204);
}

export function getBucketTagging(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  if (!bucket.tags) throw s3Errors.notConfigured("NoSuchTagSet", bucket.name, "The TagSet does not exist");
  return xmlResponse("Tagging", { TagSet: { Tag: bucket.tags.map((t) => ({ Key: t.key, Value: t.value })) } });
}

export function deleteBucketTagging(ctx: S3Context, name: string): SandboxResponse {
  ctx.store.bucket(name).tags = undefined;
  return emptyResponse(204);
}
