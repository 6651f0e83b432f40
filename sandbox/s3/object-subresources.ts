import { header, type SandboxRequest, type SandboxResponse } from "../http.ts";
import { aclFromRequest, aclResponse, aclsEnabled, cannedGrants, parseGrants } from "./acl.ts";
import { emptyResponse, type S3Context, type S3Target, xmlResponse } from "./context.ts";
import { s3Errors } from "./errors.ts";
import { parseLegalHold, parseMode, parseRetainUntil } from "./lock.ts";
import { bypassGovernance, readableVersion, versionHeader } from "./objects.ts";
import { activeRetention, type BucketObjectLock, type ObjectRetention, type S3Bucket } from "./store.ts";
import { child, list, malformedXml, parseXmlBody, text } from "./xml.ts";

/**
 * PutObjectLockConfiguration (`PUT /?object-lock`): `ObjectLockEnabled` must be `Enabled`; enabling Object Lock on an
 * existing bucket needs versioning Enabled; an optional `Rule/DefaultRetention` (Mode and exactly one of Days/Years)
 * replaces the default retention, and its absence removes it. Object Lock cannot be disabled again.
 */
export function putObjectLockConfiguration(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const root = child(parseXmlBody(req.body), "ObjectLockConfiguration");
  if (!root || text(root, "ObjectLockEnabled") !== "Enabled") throw malformedXml();
  const rule = list(root, "Rule")[0];
  const config: BucketObjectLock = {};
  if (rule !== undefined) {
    const retention = child(rule, "DefaultRetention");
    if (!retention) throw malformedXml();
    const mode = text(retention, "Mode");
    if (mode !== "GOVERNANCE" && mode !== "COMPLIANCE") throw malformedXml();
    const days = text(retention, "Days");
    const years = text(retention, "Years");
    if ((days === undefined) === (years === undefined)) throw malformedXml();
    const n = Number(days ?? years);
    if (!Number.isInteger(n) || n <= 0) {
      throw s3Errors.invalidArgument(
        "Default retention period must be a positive integer value",
        days ? "Days" : "Years",
      );
    }
    config.defaultRetention = { mode, ...(days !== undefined ? { days: n } : { years: n }) };
  }
  if (!bucket.objectLock && bucket.versioning !== "Enabled") {
    throw s3Errors.invalidBucketState(
      "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
    );
  }
  bucket.objectLock = config;
  return emptyResponse(200);
}

export function getObjectLockConfiguration(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  if (!bucket.objectLock) {
    throw s3Errors.notConfigured(
      "ObjectLockConfigurationNotFoundError",
      bucket.name,
      "Object Lock configuration does not exist for this bucket",
    );
  }
  const d = bucket.objectLock.defaultRetention;
  return xmlResponse("ObjectLockConfiguration", {
    ObjectLockEnabled: "Enabled",
    Rule: d ? { DefaultRetention: { Mode: d.mode, Days: d.days, Years: d.years } } : undefined,
  });
}

function lockedBucket(ctx: S3Context, name: string): S3Bucket {
  const bucket = ctx.store.bucket(name);
  if (!bucket.objectLock) throw s3Errors.bucketMissingObjectLock();
  return bucket;
}

/**
 * PutObjectRetention (`PUT /key?retention[&versionId=]`). A running compliance retention can only be extended
 * (same mode, later date); a running governance retention can be shortened, removed or have its mode changed only
 * with `x-amz-bypass-governance-retention: true`. An empty `<Retention/>` removes the retention.
 */
export function putObjectRetention(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  lockedBucket(ctx, t.bucket);
  const { version } = readableVersion(ctx, req, t);
  const root = child(parseXmlBody(req.body), "Retention");
  if (!root) throw malformedXml();
  const mode = text(root, "Mode");
  const until = text(root, "RetainUntilDate");
  let next: ObjectRetention | undefined;
  if (mode !== undefined || until !== undefined) {
    if (mode === undefined || until === undefined) throw malformedXml();
    next = { mode: parseMode(mode), retainUntil: parseRetainUntil(until) };
  }
  const current = activeRetention(version);
  if (current) {
    const weakens =
      next === undefined || next.mode !== current.mode || next.retainUntil.getTime() < current.retainUntil.getTime();
    if (weakens && (current.mode === "COMPLIANCE" || !bypassGovernance(req))) throw s3Errors.objectLocked();
  }
  if (next) version.retention = next;
  else delete version.retention;
  return emptyResponse(200);
}

export function getObjectRetention(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  lockedBucket(ctx, t.bucket);
  const { version } = readableVersion(ctx, req, t);
  if (!version.retention) throw s3Errors.noSuchObjectLockConfiguration();
  return xmlResponse("Retention", { Mode: version.retention.mode, RetainUntilDate: version.retention.retainUntil });
}

/** PutObjectLegalHold (`PUT /key?legal-hold[&versionId=]`): `<LegalHold><Status>ON|OFF</Status></LegalHold>`. */
export function putObjectLegalHold(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  lockedBucket(ctx, t.bucket);
  const { version } = readableVersion(ctx, req, t);
  const root = child(parseXmlBody(req.body), "LegalHold");
  if (!root) throw malformedXml();
  version.legalHold = parseLegalHold(text(root, "Status"));
  return emptyResponse(200);
}

export function getObjectLegalHold(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  lockedBucket(ctx, t.bucket);
  const { version } = readableVersion(ctx, req, t);
  if (version.legalHold === undefined) throw s3Errors.noSuchObjectLockConfiguration();
  return xmlResponse("LegalHold", { Status: version.legalHold });
}

// ACLs ---------------------------------------------------------------------------------------------------

/** Reads of ACLs work with ACLs disabled and then always show the bucket owner's FULL_CONTROL only. */
export function getBucketAcl(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const acl = aclsEnabled(bucket) ? bucket.acl : "private";
  return aclResponse(ctx.store.ownerId, cannedGrants(acl, ctx.store.ownerId));
}

export function getObjectAcl(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const { bucket, version } = readableVersion(ctx, req, t);
  const owner = ctx.store.ownerId;
  const grants = !aclsEnabled(bucket)
    ? cannedGrants("private", owner)
    : (version.aclGrants ?? cannedGrants(version.acl, owner));
  return aclResponse(owner, grants, versionHeader(bucket, version.versionId));
}

/**
 * PutObjectAcl (`PUT /key?acl[&versionId=]`): a canned ACL in `x-amz-acl`, or an `AccessControlPolicy` body.
 * Refused with AccessControlListNotSupported while the bucket enforces bucket-owner ownership.
 */
export function putObjectAcl(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const { bucket, version } = readableVersion(ctx, req, t);
  if (!aclsEnabled(bucket)) throw s3Errors.aclNotSupported();
  if (header(req, "x-amz-acl") !== undefined) {
    version.acl = aclFromRequest(req, bucket);
    delete version.aclGrants;
  } else {
    version.aclGrants = parseGrants(req.body);
    version.acl = "custom";
  }
  return emptyResponse(200, versionHeader(bucket, version.versionId));
}
