import type { NotCurrentReason, SkipReason } from "../../contract/reasons.ts";
import {
  COPYABLE_STORAGE_CLASSES,
  type CopyStorageClass,
  isArchiveStorageClass,
  MAX_COPY_OBJECT_BYTES,
} from "../../contract/storage-classes.ts";
import { manifestKeyTooLong } from "./batch-manifest.ts";
import type { InventoryRow } from "./inventory.ts";

/**
 * Intelligent-Tiering access tiers whose objects must be restored before a copy. The inventory's values for
 * this field are not listed in https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html; both the short names and
 * the SDK's `*_ACCESS` spellings are listed. Any other tier (frequent, infrequent, archive instant) is read
 * as copyable: if a tier is in fact archived the copy task fails with InvalidObjectState, which the
 * completion report classifies, and nothing is changed.
 */
export const INTELLIGENT_TIERING_ARCHIVE_TIERS: ReadonlySet<string> = new Set([
  "ARCHIVE",
  "ARCHIVE_ACCESS",
  "DEEP_ARCHIVE",
  "DEEP_ARCHIVE_ACCESS",
]);

export type Classification =
  | { kind: "copy"; storageClass: CopyStorageClass }
  /** Encrypted, but not as the target wants: S3UpdateObjectEncryption changes the key without copying data. */
  | { kind: "update-encryption" }
  /**
   * What Batch Operations cannot take, copied by rekey itself ("Copy objects directly", which keeps metadata, tags
   * and storage class): unencrypted objects over 5 GB, and keys a manifest cannot carry (`why`). The class is
   * undefined when the source does not tell it (a generated list of encrypted objects).
   */
  | { kind: "large-copy"; storageClass: CopyStorageClass | undefined; why?: "key-too-long-for-manifest" }
  | { kind: "compliant" }
  | { kind: "skipped"; reason: SkipReason; detail: string }
  | { kind: "not-current"; reason: NotCurrentReason };

export interface ClassifyOptions {
  /**
   * The inventory cannot tell which KMS key encrypted an object (storage-inventory.html lists no key field). A caller that knows (from
   * HeadObject or S3 Metadata tables) answers whether the row's key is the target key; undefined = unknown.
   * Without it, SSE-KMS rows are never called compliant.
   */
  sseKmsKeyIsTarget?: (row: InventoryRow) => boolean | undefined;
  /**
   * The date the plan is made as of (the inventory's, steps/handlers/filter-inventory-and-write-manifests.ts): a
   * retention whose retain-until date had passed by then no longer protects a version.
   */
  now?: Date;
}

function skipped(reason: SkipReason, detail: string): Classification {
  return { kind: "skipped", reason, detail };
}

const DELETE_MARKER: Classification = Object.freeze({ kind: "not-current", reason: "delete-marker" });
const NONCURRENT: Classification = Object.freeze({ kind: "not-current", reason: "noncurrent-version" });
const COMPLIANT: Classification = Object.freeze({ kind: "compliant" });
const COPY_BY_CLASS = new Map<string, Classification & { kind: "copy" }>(
  COPYABLE_STORAGE_CLASSES.map((c) => [c, Object.freeze({ kind: "copy", storageClass: c } as const)]),
);

/** Routes one inventory row to exactly one outcome. Pure; the order of checks decides which reason wins. */
export function classifyInventoryRow(row: InventoryRow, options?: ClassifyOptions): Classification {
  if (row.isDeleteMarker) return DELETE_MARKER;
  if (!row.isLatest) return NONCURRENT;

  const encryption = row.encryptionStatus?.toUpperCase();
  switch (encryption) {
    case undefined:
      return skipped("missing-columns", "no EncryptionStatus");
    case "NOT-SSE":
      break;
    case "SSE-S3":
      return updateEncryption(row, options);
    case "SSE-KMS":
      return classifySseKms(row, options);
    case "SSE-C":
      return skipped("sse-c", "EncryptionStatus SSE-C");
    case "DSSE-KMS":
      return skipped("dsse-kms", "EncryptionStatus DSSE-KMS");
    default:
      return skipped("unknown-encryption-status", `EncryptionStatus ${row.encryptionStatus}`);
  }

  const storageClass = row.storageClass?.toUpperCase();
  if (storageClass === undefined) return skipped("missing-columns", "no StorageClass");
  if (isArchiveStorageClass(storageClass)) return skipped("archived", `StorageClass ${storageClass}`);
  const tier = row.intelligentTieringAccessTier?.toUpperCase();
  if (storageClass === "INTELLIGENT_TIERING" && tier !== undefined && INTELLIGENT_TIERING_ARCHIVE_TIERS.has(tier)) {
    return skipped("archived", `INTELLIGENT_TIERING tier ${tier}`);
  }
  const copy = COPY_BY_CLASS.get(storageClass);
  if (copy === undefined) {
    const why =
      storageClass === "REDUCED_REDUNDANCY"
        ? "REDUCED_REDUNDANCY is not in the Batch Operations copy StorageClass enum"
        : `StorageClass ${storageClass} is not in the Batch Operations copy StorageClass enum`;
    return skipped("storage-class-not-copyable", why);
  }
  if (row.size === undefined) return skipped("missing-columns", "no Size");
  // A copy would only add a version beside a locked one, and a Batch copy carries no per-object retention or hold.
  const locked = objectLockSkip(row, options);
  if (locked) return locked;
  // Over the single-copy limit, and so over Batch Operations' too; the multipart copy step needs no manifest.
  if (row.size > MAX_COPY_OBJECT_BYTES) return { kind: "large-copy", storageClass: copy.storageClass };
  if (manifestKeyTooLong(row.key)) return copyDirectly(copy.storageClass);
  return copy;
}

/** A key no manifest line can carry: rekey copies the object itself (CopyObject guarded by its ETag). */
export function copyDirectly(storageClass: CopyStorageClass | undefined): Classification {
  return { kind: "large-copy", storageClass, why: "key-too-long-for-manifest" };
}

const UPDATE: Classification = Object.freeze({ kind: "update-encryption" });

/**
 * Encrypted objects get S3UpdateObjectEncryption, whatever their storage class (archived ones need no restore),
 * unless Object Lock forbids the change (https://docs.aws.amazon.com/AmazonS3/latest/userguide/update-sse-encryption.html).
 */
function updateEncryption(row: InventoryRow, options: ClassifyOptions | undefined): Classification {
  const locked = objectLockSkip(row, options);
  if (locked) return locked;
  if (manifestKeyTooLong(row.key)) {
    // A copy reads the object, so only a class CopyObject can read and write; an archived one stays skipped.
    const copy = COPY_BY_CLASS.get(row.storageClass?.toUpperCase() ?? "STANDARD");
    if (copy?.kind !== "copy" || isArchiveStorageClass(copy.storageClass)) {
      return skipped("key-too-long-for-manifest", `${row.key.length} characters, StorageClass ${row.storageClass}`);
    }
    return copyDirectly(copy.storageClass);
  }
  return UPDATE;
}

/** The skip for a version Object Lock still protects (running retention or legal hold); undefined when none does. */
function objectLockSkip(row: InventoryRow, options: ClassifyOptions | undefined): Classification | undefined {
  const mode = activeRetention(row, options);
  if (mode === "COMPLIANCE") return skipped("object-lock-compliance", "ObjectLockMode Compliance");
  if (mode === "GOVERNANCE" || row.objectLockLegalHoldStatus?.toUpperCase() === "ON") {
    return skipped("object-lock-governance", mode === "GOVERNANCE" ? "ObjectLockMode Governance" : "legal hold on");
  }
  return undefined;
}

/**
 * The Object Lock mode still protecting the version: the inventory lists a retention after its date has passed,
 * and an expired one protects nothing. Without a date (column not in the inventory) the mode is taken as running.
 */
function activeRetention(row: InventoryRow, options: ClassifyOptions | undefined): string | undefined {
  const mode = row.objectLockMode?.toUpperCase();
  if (mode === undefined) return undefined;
  const until = row.objectLockRetainUntilDate === undefined ? Number.NaN : Date.parse(row.objectLockRetainUntilDate);
  if (options?.now !== undefined && !Number.isNaN(until) && until <= options.now.getTime()) return undefined;
  return mode;
}

/** Whether an SSE-KMS row needs its key checked (HeadObject) before it can be classified. */
export function needsKeyCheck(row: InventoryRow): boolean {
  return (
    row.isLatest &&
    !row.isDeleteMarker &&
    row.encryptionStatus?.toUpperCase() === "SSE-KMS" &&
    row.bucketKeyStatus !== "DISABLED"
  );
}

function classifySseKms(row: InventoryRow, options: ClassifyOptions | undefined): Classification {
  // Without a Bucket Key the object needs an update even under the target key.
  if (row.bucketKeyStatus === "DISABLED") return updateEncryption(row, options);
  const isTarget = options?.sseKmsKeyIsTarget?.(row);
  if (isTarget === false) return updateEncryption(row, options);
  if (isTarget === true && row.bucketKeyStatus === "ENABLED") return COMPLIANT;
  return skipped(
    "sse-kms-key-unverified",
    row.bucketKeyStatus === undefined
      ? "SSE-KMS, key and Bucket Key status unknown"
      : "SSE-KMS with Bucket Key, key unknown",
  );
}
