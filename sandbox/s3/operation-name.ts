import { header, type SandboxRequest } from "../http.ts";

/**
 * The S3 API operation a request is (`HeadObject`, `CopyObject`, ...), by the same method, sub-resource and header
 * rules `service.ts` routes on, for what needs the name without running the request (fault injection). Requests
 * the sandbox does not serve still get their AWS name where it is plain (`GetObjectAttributes`, `RestoreObject`).
 */
export function s3OperationName(req: SandboxRequest, bucket: string, key: string): string {
  const q = req.query;
  if (bucket === "") return req.method === "GET" ? "ListBuckets" : "Unknown";
  const sub = (table: [string, string][], otherwise: string) => table.find(([s]) => q.has(s))?.[1] ?? otherwise;
  if (key === "") {
    switch (req.method) {
      case "PUT":
        return sub(BUCKET_PUT, "CreateBucket");
      case "GET":
        if (q.has("inventory")) {
          return q.has("id") ? "GetBucketInventoryConfiguration" : "ListBucketInventoryConfigurations";
        }
        if (q.get("list-type") === "2") return "ListObjectsV2";
        return sub(BUCKET_GET, "ListObjects");
      case "HEAD":
        return "HeadBucket";
      case "DELETE":
        return sub(BUCKET_DELETE, "DeleteBucket");
      case "POST":
        return q.has("delete") ? "DeleteObjects" : "Unknown";
    }
    return "Unknown";
  }
  const copy = header(req, "x-amz-copy-source") !== undefined;
  switch (req.method) {
    case "PUT":
      if (q.has("uploadId")) return copy ? "UploadPartCopy" : "UploadPart";
      return sub(OBJECT_PUT, copy ? "CopyObject" : "PutObject");
    case "GET":
      return sub(OBJECT_GET, "GetObject");
    case "HEAD":
      return "HeadObject";
    case "DELETE":
      return sub(OBJECT_DELETE, "DeleteObject");
    case "POST":
      return sub(OBJECT_POST, "Unknown");
  }
  return "Unknown";
}

const BUCKET_PUT: [string, string][] = [
  ["versioning", "PutBucketVersioning"],
  ["encryption", "PutBucketEncryption"],
  ["inventory", "PutBucketInventoryConfiguration"],
  ["object-lock", "PutObjectLockConfiguration"],
  ["replication", "PutBucketReplication"],
  ["lifecycle", "PutBucketLifecycleConfiguration"],
  ["notification", "PutBucketNotificationConfiguration"],
  ["ownershipControls", "PutBucketOwnershipControls"],
  ["policy", "PutBucketPolicy"],
  ["tagging", "PutBucketTagging"],
];
const BUCKET_GET: [string, string][] = [
  ["versioning", "GetBucketVersioning"],
  ["encryption", "GetBucketEncryption"],
  ["location", "GetBucketLocation"],
  ["object-lock", "GetObjectLockConfiguration"],
  ["replication", "GetBucketReplication"],
  ["lifecycle", "GetBucketLifecycleConfiguration"],
  ["notification", "GetBucketNotificationConfiguration"],
  ["ownershipControls", "GetBucketOwnershipControls"],
  ["policy", "GetBucketPolicy"],
  ["acl", "GetBucketAcl"],
  ["versions", "ListObjectVersions"],
  ["uploads", "ListMultipartUploads"],
  ["tagging", "GetBucketTagging"],
];
const BUCKET_DELETE: [string, string][] = [
  ["encryption", "DeleteBucketEncryption"],
  ["inventory", "DeleteBucketInventoryConfiguration"],
  ["replication", "DeleteBucketReplication"],
  ["lifecycle", "DeleteBucketLifecycle"],
  ["ownershipControls", "DeleteBucketOwnershipControls"],
  ["policy", "DeleteBucketPolicy"],
  ["tagging", "DeleteBucketTagging"],
];
const OBJECT_PUT: [string, string][] = [
  ["tagging", "PutObjectTagging"],
  ["encryption", "UpdateObjectEncryption"],
  ["retention", "PutObjectRetention"],
  ["legal-hold", "PutObjectLegalHold"],
  ["acl", "PutObjectAcl"],
];
const OBJECT_GET: [string, string][] = [
  ["tagging", "GetObjectTagging"],
  ["retention", "GetObjectRetention"],
  ["legal-hold", "GetObjectLegalHold"],
  ["acl", "GetObjectAcl"],
  ["uploadId", "ListParts"],
  ["attributes", "GetObjectAttributes"],
];
const OBJECT_DELETE: [string, string][] = [
  ["tagging", "DeleteObjectTagging"],
  ["uploadId", "AbortMultipartUpload"],
];
const OBJECT_POST: [string, string][] = [
  ["uploads", "CreateMultipartUpload"],
  ["uploadId", "CompleteMultipartUpload"],
  ["restore", "RestoreObject"],
  ["select", "SelectObjectContent"],
];
