import {
  type InventoryConfiguration,
  type InventoryOptionalField,
  OPTIONAL_FIELDS,
} from "./inventory-configuration.ts";
import type { ObjectVersion, S3Bucket } from "./store.ts";

/**
 * The rows of an inventory report, in key order (versions newest first), as text values in fileSchema order with
 * the key as it is: CSV reports URL-encode it (encodeInventoryKey), Parquet reports do not. An empty value is a
 * field the object does not have.
 */
export function* inventoryRows(bucket: S3Bucket, config: InventoryConfiguration): Generator<string[]> {
  const prefix = config.filterPrefix ?? "";
  const optional = optionalFieldsOf(config);
  for (const key of bucket.sortedKeys()) {
    if (!key.startsWith(prefix)) continue;
    for (const [i, v] of bucket.versionsOf(key).entries()) {
      const row = inventoryRow(bucket.name, v, i === 0, config, optional);
      if (row) yield row;
      if (config.includedObjectVersions === "Current") break;
    }
  }
}

/** The configuration's optional fields in AWS's fileSchema order (what inventoryRow takes). */
export function optionalFieldsOf(config: InventoryConfiguration): InventoryOptionalField[] {
  return OPTIONAL_FIELDS.filter((f) => config.optionalFields.includes(f));
}

/**
 * One version's row, or undefined where the report leaves it out (a "Current" report lists only latest versions
 * that are not delete markers). `optional` is optionalFieldsOf(config), computed once per report.
 */
export function inventoryRow(
  bucketName: string,
  v: ObjectVersion,
  isLatest: boolean,
  config: InventoryConfiguration,
  optional: readonly InventoryOptionalField[],
): string[] | undefined {
  if (config.includedObjectVersions === "Current") {
    return isLatest && !v.isDeleteMarker ? [bucketName, v.key, ...optional.map((f) => field(v, f))] : undefined;
  }
  return [
    bucketName,
    v.key,
    v.versionId === "null" ? "" : v.versionId,
    String(isLatest),
    String(v.isDeleteMarker),
    ...optional.map((f) => (v.isDeleteMarker && f !== "LastModifiedDate" ? "" : field(v, f))),
  ];
}

function field(v: ObjectVersion, f: InventoryOptionalField): string {
  switch (f) {
    case "Size":
      return String(v.size);
    case "LastModifiedDate":
      return v.lastModified.toISOString();
    case "ETag":
      return v.etag.replace(/"/g, "");
    case "StorageClass":
      return v.storageClass;
    case "IsMultipartUploaded":
      return String(v.partsCount !== undefined);
    case "EncryptionStatus":
      return v.encryption.type;
    case "BucketKeyStatus":
      return v.encryption.type === "SSE-KMS" && v.encryption.bucketKeyEnabled ? "ENABLED" : "DISABLED";
    case "IntelligentTieringAccessTier":
      return v.storageClass === "INTELLIGENT_TIERING" ? (v.intelligentTieringAccessTier ?? "FREQUENT") : "";
    case "ChecksumAlgorithm":
      return v.checksumAlgorithm ?? "";
    // Object Lock values as https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html spells them: Governance/Compliance, On/Off.
    case "ObjectLockMode":
      return v.retention ? (v.retention.mode === "COMPLIANCE" ? "Compliance" : "Governance") : "";
    case "ObjectLockRetainUntilDate":
      return v.retention ? v.retention.retainUntil.toISOString() : "";
    case "ObjectLockLegalHoldStatus":
      return v.legalHold === "ON" ? "On" : v.legalHold === "OFF" ? "Off" : "";
    default:
      // Replication, ACL, owner and lifecycle are not emulated: their columns are present and empty.
      return "";
  }
}

/**
 * Keys in CSV reports are URL-encoded form-style (java.net.URLEncoder): space becomes "+", "+" becomes "%2B",
 * "/" becomes "%2F"; letters, digits and `.-*_` stay. See sandbox/ASSUMPTIONS.md.
 */
export function encodeInventoryKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2A/g, "*")
    .replace(/%20/g, "+");
}
