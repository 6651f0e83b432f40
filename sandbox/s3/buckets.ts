import { header, type SandboxRequest, type SandboxResponse } from "../http.ts";
import { isTrue, parseBoolean } from "../wire-values.ts";
import { checkOwnershipAllowsBucketAcl, parseObjectOwnership } from "./bucket-config.ts";
import { emptyResponse, type S3Context, xmlResponse } from "./context.ts";
import { S3Error, s3Errors } from "./errors.ts";
import { inventoryConfigurationXml, parseInventoryConfiguration, putInventoryConfiguration } from "./inventory.ts";
import { BASELINE_ENCRYPTION, type DefaultEncryption } from "./store.ts";
import { child, escapeXml, list, malformedXml, parseXmlBody, S3_XMLNS, text } from "./xml.ts";

/**
 * General purpose bucket naming rules (bucketnamingrules.html): 3–63 characters of lowercase letters,
 * digits, dots and hyphens; begins and ends with a letter or digit; no adjacent dots; not an IP address;
 * reserved prefixes and suffixes refused.
 */
export function isValidBucketName(name: string): boolean {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) return false;
  if (name.includes("..")) return false;
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return false;
  if (["xn--", "sthree-", "amzn-s3-demo-"].some((p) => name.startsWith(p))) return false;
  return !["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].some((s) => name.endsWith(s));
}

/**
 * CreateBucket, with `x-amz-bucket-object-lock-enabled: true` (Object Lock on, which turns versioning on),
 * `x-amz-object-ownership` (default BucketOwnerEnforced) and a canned bucket ACL in `x-amz-acl`.
 */
export function createBucket(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  if (!isValidBucketName(name)) throw s3Errors.invalidBucketName(name);
  checkLocationConstraint(ctx, req);
  const ownershipHeader = header(req, "x-amz-object-ownership");
  const ownership = ownershipHeader === undefined ? "BucketOwnerEnforced" : parseObjectOwnership(ownershipHeader);
  if (!ownership)
    throw s3Errors.invalidArgument("Invalid x-amz-object-ownership header", "x-amz-object-ownership", ownershipHeader);
  const acl = header(req, "x-amz-acl") ?? "private";
  if (!CANNED_BUCKET_ACLS.includes(acl))
    throw s3Errors.invalidArgument("The canned ACL is not valid", "x-amz-acl", acl);
  checkOwnershipAllowsBucketAcl({ acl }, ownership);
  const lockHeader = header(req, "x-amz-bucket-object-lock-enabled");
  if (!ctx.store.createBucket(name)) {
    // Legacy us-east-1 behaviour: re-creating a bucket you own answers 200 there and 409 everywhere else.
    if (ctx.identity.region !== "us-east-1") throw s3Errors.bucketAlreadyOwnedByYou(name);
    return emptyResponse(200, { location: `/${name}` });
  }
  const bucket = ctx.store.bucket(name);
  bucket.ownership = ownership;
  bucket.acl = acl;
  if (isTrue(lockHeader)) {
    bucket.objectLock = {};
    bucket.versioning = "Enabled";
  }
  return emptyResponse(200, { location: `/${name}` });
}

const CANNED_BUCKET_ACLS = ["private", "public-read", "public-read-write", "authenticated-read", "log-delivery-write"];

function checkLocationConstraint(ctx: S3Context, req: SandboxRequest): void {
  const region = ctx.identity.region;
  const constraint = req.body.length
    ? text(child(parseXmlBody(req.body), "CreateBucketConfiguration"), "LocationConstraint")
    : undefined;
  if (constraint === undefined || constraint === "") {
    if (region === "us-east-1") return;
    throw new S3Error(
      "IllegalLocationConstraintException",
      400,
      "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
    );
  }
  if (region === "us-east-1" && constraint === "us-east-1") {
    throw new S3Error("InvalidLocationConstraint", 400, "The specified location-constraint is not valid", {
      LocationConstraint: constraint,
    });
  }
  if (constraint !== region) {
    throw new S3Error(
      "IllegalLocationConstraintException",
      400,
      `The ${constraint} location constraint is incompatible for the region specific endpoint this request was sent to.`,
    );
  }
}

export function headBucket(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  return emptyResponse(200, { "x-amz-bucket-region": bucket.region, "x-amz-access-point-alias": "false" });
}

export function deleteBucket(ctx: S3Context, name: string): SandboxResponse {
  ctx.store.deleteBucket(name);
  return emptyResponse(204);
}

export function listBuckets(ctx: S3Context): SandboxResponse {
  return xmlResponse("ListAllMyBucketsResult", {
    Owner: { ID: ctx.store.ownerId },
    Buckets: {
      Bucket: ctx.store
        .listBuckets()
        .map((b) => ({ Name: b.name, CreationDate: b.creationDate, BucketRegion: b.region })),
    },
  });
}

/** us-east-1 buckets report an empty LocationConstraint. */
export function getBucketLocation(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const value = bucket.region === "us-east-1" ? "" : escapeXml(bucket.region);
  return {
    status: 200,
    headers: { "content-type": "application/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_XMLNS}">${value}</LocationConstraint>`,
  };
}

export function getBucketVersioning(ctx: S3Context, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  return xmlResponse(
    "VersioningConfiguration",
    bucket.versioning === "Unversioned" ? {} : { Status: bucket.versioning },
  );
}

export function putBucketVersioning(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const status = text(child(parseXmlBody(req.body), "VersioningConfiguration"), "Status");
  if (status !== "Enabled" && status !== "Suspended") throw malformedXml();
  if (bucket.objectLock && status !== "Enabled") {
    throw s3Errors.invalidBucketState(
      "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
    );
  }
  bucket.versioning = status;
  return emptyResponse(200);
}

export function getBucketEncryption(ctx: S3Context, name: string): SandboxResponse {
  const e = ctx.store.bucket(name).defaultEncryption;
  return xmlResponse("ServerSideEncryptionConfiguration", {
    Rule: {
      ApplyServerSideEncryptionByDefault: { SSEAlgorithm: e.sseAlgorithm, KMSMasterKeyID: e.kmsMasterKeyId },
      BucketKeyEnabled: e.bucketKeyEnabled,
    },
  });
}

/**
 * PutBucketEncryption stores the key reference as given: S3 does not check that the KMS key exists here;
 * writes that use it fail later with KMS.NotFoundException.
 */
export function putBucketEncryption(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const root = child(parseXmlBody(req.body), "ServerSideEncryptionConfiguration");
  const rule = list(root, "Rule")[0];
  const apply = child(rule, "ApplyServerSideEncryptionByDefault");
  const algorithm = text(apply, "SSEAlgorithm");
  if (algorithm !== "AES256" && algorithm !== "aws:kms" && algorithm !== "aws:kms:dsse") throw malformedXml();
  const keyId = text(apply, "KMSMasterKeyID");
  if (algorithm === "AES256" && keyId !== undefined) {
    throw s3Errors.invalidArgument(
      "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
      "ApplyServerSideEncryptionByDefault",
    );
  }
  const bucketKey = text(rule, "BucketKeyEnabled");
  const config: DefaultEncryption = {
    sseAlgorithm: algorithm,
    ...(keyId !== undefined && keyId !== "" ? { kmsMasterKeyId: keyId } : {}),
    bucketKeyEnabled: parseBoolean(bucketKey, malformedXml) ?? false,
  };
  bucket.defaultEncryption = config;
  return emptyResponse(200);
}

/** Deleting the configuration returns the bucket to the SSE-S3 baseline every bucket has had since 2023. */
export function deleteBucketEncryption(ctx: S3Context, name: string): SandboxResponse {
  ctx.store.bucket(name).defaultEncryption = BASELINE_ENCRYPTION;
  return emptyResponse(204);
}

export function putBucketInventory(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const id = req.query.get("id");
  if (!id) throw s3Errors.invalidArgument("Missing required parameter: id", "id");
  putInventoryConfiguration(bucket, parseInventoryConfiguration(parseXmlBody(req.body), id));
  return emptyResponse(204);
}

export function getBucketInventory(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const config = bucket.inventory.get(req.query.get("id") ?? "");
  if (!config) throw s3Errors.noSuchConfiguration();
  return xmlResponse("InventoryConfiguration", inventoryConfigurationXml(config));
}

export function deleteBucketInventory(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  if (!bucket.inventory.delete(req.query.get("id") ?? "")) throw s3Errors.noSuchConfiguration();
  return emptyResponse(204);
}

/** Pages of 100 configurations, ordered by id, as ListBucketInventoryConfigurations documents. */
export function listBucketInventory(ctx: S3Context, req: SandboxRequest, name: string): SandboxResponse {
  const bucket = ctx.store.bucket(name);
  const token = req.query.get("continuation-token") ?? undefined;
  const all = [...bucket.inventory.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const start = token === undefined ? 0 : all.findIndex((c) => c.id > token);
  const page = start < 0 ? [] : all.slice(start, start + 100);
  const truncated = start >= 0 && start + 100 < all.length;
  return xmlResponse("ListInventoryConfigurationsResult", {
    ContinuationToken: token,
    InventoryConfiguration: page.map(inventoryConfigurationXml),
    IsTruncated: truncated,
    NextContinuationToken: truncated ? page[page.length - 1]?.id : undefined,
  });
}
