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

/** A parsed, validated CreateJob request. `xml` keeps the members DescribeJob echoes back. */
export interface JobRequest {
  operationName: string;
  operation: XmlTree;
  manifest: ManifestSpec;
  report: ReportSpec;
  priority: number;
  roleArn: string;
  confirmationRequired: boolean;
  description?: string;
  clientRequestToken: string;
  tags: { key: string; value: string }[];
  xml: { operation: XmlTree; manifest: XmlTree; report: XmlTree };
  /** Canonical form of everything but the token, for idempotency checks. */
  fingerprint: string;
}
