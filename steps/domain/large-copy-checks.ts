import type { CreateMultipartUploadCommandInput, HeadObjectCommandOutput } from "@aws-sdk/client-s3";
import { isArchiveStorageClass } from "../../contract/storage-classes.ts";
import type { CopySourceState } from "./large-copy.ts";

/**
 * The rules of the multipart copy in place that need no AWS call: which objects it leaves alone, what the new
 * upload must be told so that nothing of the source is lost, and how the new version is checked against the source.
 */

/** SSE-KMS under the target key with an S3 Bucket Key: nothing to do. */
export function isCompliant(
  head: Pick<HeadObjectCommandOutput, "ServerSideEncryption" | "SSEKMSKeyId" | "BucketKeyEnabled">,
  kmsKeyArn: string,
): boolean {
  return head.ServerSideEncryption === "aws:kms" && head.SSEKMSKeyId === kmsKeyArn && head.BucketKeyEnabled === true;
}

/** Why an object is not copied, when something about it means a copy would fail or lose data. */
export function skipReason(head: HeadObjectCommandOutput): string | undefined {
  if (head.ServerSideEncryption === "aws:kms:dsse") return "DSSE-KMS: rekey does not change dual-layer encryption.";
  if (head.StorageClass && isArchiveStorageClass(head.StorageClass)) {
    return `Archived (${head.StorageClass}): restore it, then run rekey again.`;
  }
  if (head.ArchiveStatus)
    return `In the Intelligent-Tiering ${head.ArchiveStatus} tier: restore it, then run rekey again.`;
  if ((head.MissingMeta ?? 0) > 0) {
    return `Has ${head.MissingMeta} metadata entries that HTTP headers cannot carry; a copy would drop them.`;
  }
  if (head.Expires === undefined && head.ExpiresString !== undefined) {
    return `Its Expires header (${head.ExpiresString}) is not a date; a copy could not keep it as it is.`;
  }
  return undefined;
}

/** `x-amz-tagging`: a URL query string. */
function encodeTags(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
}

export function sameTags(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/**
 * What CreateMultipartUpload must be told, because a multipart copy carries nothing over from the source: the
 * content headers, user metadata, tags, storage class (unset means STANDARD), website redirect and Object Lock
 * settings of the source, and the target encryption.
 */
export function carriedAttributes(
  head: HeadObjectCommandOutput,
  tags: Record<string, string>,
  kmsKeyArn: string,
  now: Date,
): Omit<CreateMultipartUploadCommandInput, "Bucket" | "Key"> {
  const retain = head.ObjectLockRetainUntilDate;
  return {
    ...(head.ContentType !== undefined ? { ContentType: head.ContentType } : {}),
    ...(head.CacheControl !== undefined ? { CacheControl: head.CacheControl } : {}),
    ...(head.ContentDisposition !== undefined ? { ContentDisposition: head.ContentDisposition } : {}),
    ...(head.ContentEncoding !== undefined ? { ContentEncoding: head.ContentEncoding } : {}),
    ...(head.ContentLanguage !== undefined ? { ContentLanguage: head.ContentLanguage } : {}),
    ...(head.Expires !== undefined ? { Expires: head.Expires } : {}),
    ...(head.WebsiteRedirectLocation !== undefined ? { WebsiteRedirectLocation: head.WebsiteRedirectLocation } : {}),
    Metadata: { ...(head.Metadata ?? {}) },
    StorageClass: head.StorageClass ?? "STANDARD",
    ...(Object.keys(tags).length > 0 ? { Tagging: encodeTags(tags) } : {}),
    ...(head.ObjectLockMode && retain && retain.getTime() > now.getTime()
      ? { ObjectLockMode: head.ObjectLockMode, ObjectLockRetainUntilDate: retain }
      : {}),
    ...(head.ObjectLockLegalHoldStatus === "ON" ? { ObjectLockLegalHoldStatus: "ON" } : {}),
    ServerSideEncryption: "aws:kms",
    SSEKMSKeyId: kmsKeyArn,
    BucketKeyEnabled: true,
  };
}

/** A version id for requests that take one; `null` (unversioned writes) is left out. */
export function realVersion(versionId: string | undefined): string | undefined {
  return versionId === undefined || versionId === "null" ? undefined : versionId;
}

export function stripQuotes(etag: string): string {
  return etag.replace(/"/g, "");
}

/** Whether the current object, as HeadObject describes it, is still the source the copy started from. */
export function sameSource(head: HeadObjectCommandOutput, source: CopySourceState): boolean {
  return stripQuotes(head.ETag ?? "") === stripQuotes(source.etag) && head.VersionId === source.versionId;
}

export function encryptionProblems(actual: HeadObjectCommandOutput, kmsKeyArn: string): string[] {
  const problems: string[] = [];
  if (actual.ServerSideEncryption !== "aws:kms")
    problems.push(`encryption is ${actual.ServerSideEncryption ?? "none"}`);
  if (actual.SSEKMSKeyId !== kmsKeyArn) problems.push(`KMS key is ${actual.SSEKMSKeyId ?? "none"}`);
  if (actual.BucketKeyEnabled !== true) problems.push("Bucket Key is off");
  return problems;
}

const COMPARED_HEADERS = [
  "ContentType",
  "CacheControl",
  "ContentDisposition",
  "ContentEncoding",
  "ContentLanguage",
  "WebsiteRedirectLocation",
] as const;

/** How the new version differs from the source in encryption, content headers, storage class and metadata. */
export function attributeProblems(
  source: HeadObjectCommandOutput,
  actual: HeadObjectCommandOutput,
  kmsKeyArn: string,
): string[] {
  const problems = encryptionProblems(actual, kmsKeyArn);
  for (const h of COMPARED_HEADERS) {
    if (source[h] !== actual[h])
      problems.push(`${h} is ${actual[h] ?? "unset"}, the source has ${source[h] ?? "unset"}`);
  }
  if (source.Expires?.getTime() !== actual.Expires?.getTime()) problems.push("Expires differs from the source");
  if ((source.StorageClass ?? "STANDARD") !== (actual.StorageClass ?? "STANDARD")) {
    problems.push(
      `storage class is ${actual.StorageClass ?? "STANDARD"}, the source has ${source.StorageClass ?? "STANDARD"}`,
    );
  }
  if (!sameTags(source.Metadata ?? {}, actual.Metadata ?? {})) {
    problems.push(
      `metadata is ${JSON.stringify(actual.Metadata ?? {})}, the source has ${JSON.stringify(source.Metadata ?? {})}`,
    );
  }
  return problems;
}
