import {
  type ChecksumAlgorithm,
  CopyObjectCommand,
  type CopyObjectCommandInput,
  type ObjectCannedACL,
  type ObjectLockLegalHoldStatus,
  type ObjectLockMode,
} from "@aws-sdk/client-s3";
import { type Behaviours, DEFAULT_BEHAVIOURS } from "../../behaviours.ts";
import { badRequest } from "../errors.ts";
import { booleanField, oneOf, timestampField } from "../fields.ts";
import { type ManifestTask, S3_STORAGE_CLASSES } from "../model.ts";
import { child, entries, has, isTree, members, text, type XmlTree } from "../xml.ts";
import { type BatchOperation, bucketFromArn, taskOutcome } from "./types.ts";

const CANNED_ACLS: readonly ObjectCannedACL[] = [
  "private",
  "public-read",
  "public-read-write",
  "aws-exec-read",
  "authenticated-read",
  "bucket-owner-read",
  "bucket-owner-full-control",
];
const CHECKSUMS: readonly ChecksumAlgorithm[] = [
  "CRC32",
  "CRC32C",
  "SHA1",
  "SHA256",
  "CRC64NVME",
  "SHA512",
  "MD5",
  "XXHASH64",
  "XXHASH3",
  "XXHASH128",
];
const LOCK_MODES: readonly ObjectLockMode[] = ["COMPLIANCE", "GOVERNANCE"];
const LEGAL_HOLDS: readonly ObjectLockLegalHoldStatus[] = ["OFF", "ON"];
const SSE_ALGORITHMS = { KMS: "aws:kms", AES256: "AES256" } as const;

/** Grant permissions map onto CopyObject's grant headers; WRITE has no object-level header. */
const GRANT_FIELDS = {
  FULL_CONTROL: "GrantFullControl",
  READ: "GrantRead",
  READ_ACP: "GrantReadACP",
  WRITE_ACP: "GrantWriteACP",
} as const;
type GrantField = (typeof GRANT_FIELDS)[keyof typeof GRANT_FIELDS];

/** `S3PutObjectCopy`: each task is one CopyObject of the manifest object, exactly as S3 would call it. */
export const s3PutObjectCopy: BatchOperation = {
  name: "S3PutObjectCopy",
  validate(spec) {
    copyObjectInput(spec, { bucket: "validation", rawKey: "k", key: "k" });
  },
  async run(spec, task, s3, behaviours) {
    const input = copyObjectInput(spec, task, behaviours?.newObjectMetadata);
    return taskOutcome(() => s3.send(new CopyObjectCommand(input)));
  },
};

/**
 * Translates the job's S3PutObjectCopy settings and one manifest row into the CopyObject request S3 makes.
 * Throws BadRequestException for settings CreateJob must reject.
 */
export function copyObjectInput(
  spec: XmlTree,
  task: ManifestTask,
  newObjectMetadata: Behaviours["newObjectMetadata"] = DEFAULT_BEHAVIOURS.newObjectMetadata,
): CopyObjectCommandInput {
  const target = text(spec, "TargetResource");
  if (!target) throw badRequest("S3PutObjectCopy requires TargetResource (the destination bucket ARN).");
  const bucket = bucketFromArn(target, "TargetResource");
  const input: CopyObjectCommandInput = {
    Bucket: bucket,
    Key: targetKey(text(spec, "TargetKeyPrefix"), task.key),
    CopySource: copySource(task),
  };
  const directive = text(spec, "MetadataDirective");
  if (directive !== undefined)
    input.MetadataDirective = oneOf(directive, ["COPY", "REPLACE"] as const, "MetadataDirective");
  Object.assign(input, metadataFields(child(spec, "NewObjectMetadata")));
  // AWS does not say whether NewObjectMetadata replaces the metadata without a directive (sandbox/behaviours.ts).
  if (newObjectMetadata === "Replaces" && has(spec, "NewObjectMetadata")) input.MetadataDirective = "REPLACE";
  Object.assign(input, taggingFields(spec));
  Object.assign(input, grantFields(spec));
  const storageClass = text(spec, "StorageClass");
  if (storageClass !== undefined) input.StorageClass = oneOf(storageClass, S3_STORAGE_CLASSES, "StorageClass");
  const acl = text(spec, "CannedAccessControlList");
  if (acl !== undefined) input.ACL = oneOf(acl, CANNED_ACLS, "CannedAccessControlList");
  const kmsKey = text(spec, "SSEAwsKmsKeyId");
  if (kmsKey !== undefined) input.SSEKMSKeyId = kmsKey;
  const bucketKey = text(spec, "BucketKeyEnabled");
  if (bucketKey !== undefined) input.BucketKeyEnabled = booleanField(bucketKey, "BucketKeyEnabled");
  const modifiedSince = text(spec, "ModifiedSinceConstraint");
  if (modifiedSince !== undefined)
    input.CopySourceIfModifiedSince = timestampField(modifiedSince, "ModifiedSinceConstraint");
  const unmodifiedSince = text(spec, "UnModifiedSinceConstraint");
  if (unmodifiedSince !== undefined) {
    input.CopySourceIfUnmodifiedSince = timestampField(unmodifiedSince, "UnModifiedSinceConstraint");
  }
  const redirect = text(spec, "RedirectLocation");
  if (redirect !== undefined) input.WebsiteRedirectLocation = redirect;
  if (booleanField(text(spec, "RequesterPays"), "RequesterPays")) {
    input.RequestPayer = "requester";
  }
  const checksum = text(spec, "ChecksumAlgorithm");
  if (checksum !== undefined) input.ChecksumAlgorithm = oneOf(checksum, CHECKSUMS, "ChecksumAlgorithm");
  const lockMode = text(spec, "ObjectLockMode");
  if (lockMode !== undefined) input.ObjectLockMode = oneOf(lockMode, LOCK_MODES, "ObjectLockMode");
  const retainUntil = text(spec, "ObjectLockRetainUntilDate");
  if (retainUntil !== undefined)
    input.ObjectLockRetainUntilDate = timestampField(retainUntil, "ObjectLockRetainUntilDate");
  const legalHold = text(spec, "ObjectLockLegalHoldStatus");
  if (legalHold !== undefined) {
    input.ObjectLockLegalHoldStatus = oneOf(legalHold, LEGAL_HOLDS, "ObjectLockLegalHoldStatus");
  }
  return input;
}

/**
 * `bucket/key[?versionId=v]` with the key percent-encoded (slashes kept): the SDK sends CopySource as given,
 * and a raw non-ASCII header would not even leave Node. No versionId when the manifest has no VersionId
 * column, so the copy acts on the latest version at task time.
 */
export function copySource(task: ManifestTask): string {
  const path = `${task.bucket}/${encodeURIComponent(task.key).replace(/%2F/g, "/")}`;
  return task.versionId === undefined ? path : `${path}?versionId=${encodeURIComponent(task.versionId)}`;
}

/** Copy in place when there is no prefix; otherwise the prefix is a folder (ASSUMPTIONS.md). */
function targetKey(prefix: string | undefined, key: string): string {
  if (!prefix) return key;
  return prefix.endsWith("/") ? `${prefix}${key}` : `${prefix}/${key}`;
}

function metadataFields(meta: XmlTree | undefined): Partial<CopyObjectCommandInput> {
  if (!meta) return {};
  const out: Partial<CopyObjectCommandInput> = {};
  const simple = [
    ["CacheControl", "CacheControl"],
    ["ContentDisposition", "ContentDisposition"],
    ["ContentEncoding", "ContentEncoding"],
    ["ContentLanguage", "ContentLanguage"],
    ["ContentType", "ContentType"],
  ] as const;
  for (const [from, to] of simple) {
    const v = text(meta, from);
    if (v !== undefined) out[to] = v;
  }
  const expires = text(meta, "HttpExpiresDate");
  if (expires !== undefined) out.Expires = timestampField(expires, "HttpExpiresDate");
  if (has(meta, "UserMetadata")) out.Metadata = entries(meta, "UserMetadata");
  const sse = text(meta, "SSEAlgorithm");
  if (sse !== undefined)
    out.ServerSideEncryption = SSE_ALGORITHMS[oneOf(sse, ["KMS", "AES256"] as const, "SSEAlgorithm")];
  return out;
}

/** NewObjectTagging present (even empty) replaces the tags; absent means S3's default COPY. */
function taggingFields(spec: XmlTree): Partial<CopyObjectCommandInput> {
  if (!has(spec, "NewObjectTagging")) return {};
  const pairs = members(spec, "NewObjectTagging").flatMap((m) => {
    if (!isTree(m)) return [];
    const key = text(m, "Key");
    if (key === undefined) throw badRequest("Every NewObjectTagging entry needs a Key.");
    return [`${encodeURIComponent(key)}=${encodeURIComponent(text(m, "Value") ?? "")}`];
  });
  return { TaggingDirective: "REPLACE", Tagging: pairs.join("&") };
}

function grantFields(spec: XmlTree): Partial<CopyObjectCommandInput> {
  const byField = new Map<GrantField, string[]>();
  for (const m of members(spec, "AccessControlGrants")) {
    if (!isTree(m)) continue;
    const grantee = child(m, "Grantee");
    const type = oneOf(text(grantee, "TypeIdentifier") ?? "", ["id", "emailAddress", "uri"] as const, "TypeIdentifier");
    const permission = oneOf(text(m, "Permission") ?? "", Object.keys(GRANT_FIELDS), "Permission");
    const field = GRANT_FIELDS[permission as keyof typeof GRANT_FIELDS];
    byField.set(field, [...(byField.get(field) ?? []), `${type}="${text(grantee, "Identifier") ?? ""}"`]);
  }
  const out: Partial<CopyObjectCommandInput> = {};
  for (const [field, grantees] of byField) out[field] = grantees.join(", ");
  return out;
}
