/** What an S3 Inventory configuration says, as PutBucketInventoryConfiguration takes it; sandbox/s3/inventory.ts parses and delivers it. */

/**
 * Optional fields in the order AWS writes them into fileSchema (the CSV example of
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html), then the
 * rest. Deliberately not shared with steps/domain/inventory.ts: the sandbox and rekey each read AWS's documentation
 * on their own, so a misreading on one side shows up as a failing test instead of agreeing with itself.
 */
export const OPTIONAL_FIELDS = [
  "Size",
  "LastModifiedDate",
  "ETag",
  "StorageClass",
  "IsMultipartUploaded",
  "ReplicationStatus",
  "EncryptionStatus",
  "ObjectLockRetainUntilDate",
  "ObjectLockMode",
  "ObjectLockLegalHoldStatus",
  "IntelligentTieringAccessTier",
  "BucketKeyStatus",
  "ChecksumAlgorithm",
  "ObjectAccessControlList",
  "ObjectOwner",
  "LifecycleExpirationDate",
  "IntelligentTieringReferenceDate",
  "ObjectLockEventHoldDuration",
  "ObjectLockEventHoldStatus",
] as const;

export type InventoryOptionalField = (typeof OPTIONAL_FIELDS)[number];

export interface InventoryConfiguration {
  id: string;
  isEnabled: boolean;
  destination: {
    accountId?: string;
    bucketArn: string;
    format: "CSV" | "ORC" | "Parquet";
    prefix?: string;
    encryption?: { type: "SSE-S3" } | { type: "SSE-KMS"; keyId: string };
  };
  filterPrefix?: string;
  includedObjectVersions: "All" | "Current";
  optionalFields: InventoryOptionalField[];
  frequency: "Daily" | "Weekly";
}
