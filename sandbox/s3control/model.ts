import type { XmlTree } from "./xml.ts";

export const JOB_STATUSES = [
  "Active",
  "Cancelled",
  "Cancelling",
  "Complete",
  "Completing",
  "Failed",
  "Failing",
  "New",
  "Paused",
  "Pausing",
  "Preparing",
  "Ready",
  "Suspended",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["Complete", "Cancelled", "Failed"]);

export type ManifestField = "Bucket" | "Key" | "VersionId" | "Ignore";
export type ManifestFormat = "S3BatchOperations_CSV_20180820" | "S3InventoryReport_CSV_20161130";

export interface ManifestSpec {
  format: ManifestFormat;
  fields: ManifestField[];
  bucket: string;
  key: string;
  versionId?: string;
  /** As given in CreateJob; compared with the object's ETag with quotes stripped on both sides. */
  etag: string;
}

export interface ReportSpec {
  enabled: boolean;
  bucket?: string;
  prefix?: string;
  scope: "AllTasks" | "FailedTasksOnly";
}

/** One manifest row: the key exactly as written (still URL-encoded) and decoded. */
export interface ManifestTask {
  bucket: string;
  rawKey: string;
  key: string;
  /** undefined when the manifest has no VersionId column; "" when the column is present but empty. */
  versionId?: string;
}

export interface TaskOutcome {
  status: "succeeded" | "failed";
  httpStatus: number;
  errorCode: string;
  message: string;
}

export interface TaskResult extends TaskOutcome {
  task: ManifestTask;
}

export interface JobFailure {
  code: string;
  reason: string;
}

/** One `MatchAnyObjectEncryption` element; unset fields of SSEKMS / DSSEKMS match any key / Bucket Key status. */
export type EncryptionFilter =
  | { type: "SSE-S3" }
  | { type: "SSE-KMS"; kmsKeyArn?: string; bucketKeyEnabled?: boolean }
  | { type: "DSSE-KMS"; kmsKeyArn?: string }
  | { type: "SSE-C" }
  | { type: "NOT-SSE" };

/**
 * The S3 Control `S3StorageClass` enum: what `S3PutObjectCopy` StorageClass and the ManifestGenerator's
 * `MatchAnyStorageClass` accept.
 */
export const S3_STORAGE_CLASSES = [
  "STANDARD",
  "STANDARD_IA",
  "ONEZONE_IA",
  "GLACIER",
  "INTELLIGENT_TIERING",
  "DEEP_ARCHIVE",
  "GLACIER_IR",
] as const;

export const REPLICATION_STATUSES = ["COMPLETED", "FAILED", "REPLICA", "NONE"] as const;
export type ReplicationStatus = (typeof REPLICATION_STATUSES)[number];

/** `JobManifestGeneratorFilter`, parsed. Every member present narrows the selection (they combine with AND). */
export interface GeneratorFilter {
  eligibleForReplication?: boolean;
  createdAfter?: Date;
  createdBefore?: Date;
  replicationStatuses?: ReplicationStatus[];
  matchAnyPrefix?: string[];
  matchAnySuffix?: string[];
  matchAnySubstring?: string[];
  sizeGreaterThan?: number;
  sizeLessThan?: number;
  storageClasses?: string[];
  encryptions?: EncryptionFilter[];
}

export type GeneratedManifestEncryption = { type: "SSE-S3" } | { type: "SSE-KMS"; keyId: string };

/** `S3ManifestOutputLocation`, parsed. */
export interface ManifestOutputLocation {
  bucket: string;
  prefix?: string;
  format: "S3InventoryReport_CSV_20211130";
  encryption?: GeneratedManifestEncryption;
  expectedBucketOwner?: string;
}

/** `S3JobManifestGenerator`, parsed. */
export interface ManifestGeneratorSpec {
  sourceBucket: string;
  expectedBucketOwner?: string;
  enableManifestOutput: boolean;
  output?: ManifestOutputLocation;
  filter: GeneratorFilter;
}

/** Where the generator wrote its manifest (DescribeJob's GeneratedManifestDescriptor). */
export interface GeneratedManifest {
  format: "S3InventoryReport_CSV_20211130";
  bucket: string;
  key: string;
  /** Without quotes, as JobManifestLocation ETags appear in AWS examples. */
  etag: string;
  dataKeys: string[];
}

/** A parsed, validated CreateJob request. `xml` keeps the members DescribeJob echoes back. */
export interface JobRequest {
  operationName: string;
  operation: XmlTree;
  /** Exactly one of `manifest` and `generator` is set. */
  manifest?: ManifestSpec;
  generator?: ManifestGeneratorSpec;
  report: ReportSpec;
  priority: number;
  roleArn: string;
  confirmationRequired: boolean;
  description?: string;
  clientRequestToken: string;
  tags: { key: string; value: string }[];
  xml: { operation: XmlTree; manifest?: XmlTree; manifestGenerator?: XmlTree; report: XmlTree };
  /** Canonical form of everything but the token, for idempotency checks. */
  fingerprint: string;
}
