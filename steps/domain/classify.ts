import { manifestKeyTooLong } from "./batch-manifest.ts";
import type { InventoryRow } from "./inventory.ts";

/** Largest object a single CopyObject (and so a Batch Operations copy task) handles: 5 GiB (aws-facts 8). */
export const MAX_COPY_OBJECT_BYTES = 5 * 1024 * 1024 * 1024;

/**
 * Storage classes a copy-in-place keeps by naming them in the job's `StorageClass`: the Batch Operations
 * enum (aws-facts 1.7) minus the archive classes, which need a restore first.
 */
export const COPYABLE_STORAGE_CLASSES = [
  "STANDARD",
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER_IR",
] as const;
export type CopyStorageClass = (typeof COPYABLE_STORAGE_CLASSES)[number];

const ARCHIVE_STORAGE_CLASSES: ReadonlySet<string> = new Set(["GLACIER", "DEEP_ARCHIVE"]);

/**
 * Intelligent-Tiering access tiers whose objects must be restored before a copy. The inventory's values for
 * this field are not listed in the AWS pages we have (aws-facts 1.6, [UNVERIFIED]); both the short names and
 * the SDK's `*_ACCESS` spellings are listed. Any other tier (frequent, infrequent, archive instant) is read
 * as copyable: if a tier is in fact archived the copy task fails with InvalidObjectState, which the
 * completion report classifies, and nothing is changed.
 */
const INTELLIGENT_TIERING_ARCHIVE_TIERS: ReadonlySet<string> = new Set([
  "ARCHIVE",
  "ARCHIVE_ACCESS",
  "DEEP_ARCHIVE",
  "DEEP_ARCHIVE_ACCESS",
]);

export const SKIP_REASONS = {
  "sse-kms-key-unverified": {
    summary: "SSE-KMS with a key the inventory does not name",
    whatToDo:
      "S3 Inventory does not report the KMS key. Check a sample with HeadObject (SSEKMSKeyId) or S3 Metadata tables; objects under another key need S3UpdateObjectEncryption.",
  },
  archived: {
    summary: "Archived (GLACIER, DEEP_ARCHIVE or an Intelligent-Tiering archive tier)",
    whatToDo:
      "Restore the objects (RestoreObject or a Batch Operations restore job), then run rekey again while the restored copies are available.",
  },
  "sse-c": {
    summary: "Encrypted with a customer-provided key (SSE-C)",
    whatToDo:
      "rekey cannot read SSE-C objects. The owner of the customer key must re-upload or copy them with SSE-KMS.",
  },
  "dsse-kms": {
    summary: "Encrypted with dual-layer SSE-KMS (DSSE-KMS)",
    whatToDo: "Left as is: DSSE-KMS is a stronger setting. Decide with the data owner whether to convert it.",
  },
  "storage-class-not-copyable": {
    summary: "Storage class a Batch Operations copy cannot keep",
    whatToDo:
      "The copy job's StorageClass cannot name this class (e.g. REDUCED_REDUNDANCY, OUTPOSTS). Transition the objects to a supported class (lifecycle rule), or copy them by hand.",
  },
  "missing-columns": {
    summary: "Inventory row lacks a field rekey needs",
    whatToDo:
      "Add Size, StorageClass and EncryptionStatus to the inventory configuration's optional fields and run again after the next delivery.",
  },
  "unknown-encryption-status": {
    summary: "Encryption status rekey does not know",
    whatToDo: "Check a sample with HeadObject and report the value; rekey leaves these objects alone.",
  },
  "object-lock-compliance": {
    summary: "Under Object Lock in compliance mode",
    whatToDo:
      "Nobody can change or replace the locked version until its retention ends (a copy would only add a version beside it); run rekey again after the retain-until date.",
  },
  "object-lock-governance": {
    summary: "Under Object Lock governance retention or a legal hold",
    whatToDo:
      "UpdateObjectEncryption refuses locked objects, and a Batch copy would not carry the retention or hold to the new version: remove the legal hold or governance retention (with the s3:BypassGovernanceRetention permission), run rekey again, then restore the lock.",
  },
  "changed-before-copy": {
    summary: "Over 5 GiB and planned for the multipart copy, but no longer copyable when its turn came",
    whatToDo:
      "The object was re-written, archived or encrypted otherwise after planning; the large-object results in the work bucket (plans/…/large-objects/batch-….json) give each key and reason. Run rekey again to plan it as it is now.",
  },
  "key-too-long-for-manifest": {
    summary: "Key longer than a Batch Operations manifest allows once encoded (1,024 characters)",
    whatToDo: "Re-encrypt these objects by hand: CopyObject onto itself with the target key and BucketKeyEnabled.",
  },
} as const satisfies Record<string, { summary: string; whatToDo: string }>;

export type SkipReason = keyof typeof SKIP_REASONS;

export const NOT_CURRENT_REASONS = {
  "noncurrent-version": {
    summary: "Noncurrent version",
    whatToDo:
      "Not touched (rekey never pins versions). Old unencrypted versions stay until a lifecycle rule (NoncurrentVersionExpiration) expires them.",
  },
  "delete-marker": {
    summary: "Delete marker",
    whatToDo: "Nothing to encrypt.",
  },
} as const satisfies Record<string, { summary: string; whatToDo: string }>;

export type NotCurrentReason = keyof typeof NOT_CURRENT_REASONS;

export type Classification =
  | { kind: "copy"; storageClass: CopyStorageClass }
  /** Encrypted, but not as the target wants: S3UpdateObjectEncryption changes the key without copying data. */
  | { kind: "update-encryption" }
  /** Unencrypted and over 5 GB: the multipart copy step, which keeps metadata, tags and storage class. */
  | { kind: "large-copy"; storageClass: CopyStorageClass }
  | { kind: "compliant" }
  | { kind: "skipped"; reason: SkipReason; detail: string }
  | { kind: "not-current"; reason: NotCurrentReason };

export interface ClassifyOptions {
  /**
   * The inventory cannot tell which KMS key encrypted an object (aws-facts 1.1). A caller that knows (from
   * HeadObject or S3 Metadata tables) answers whether the row's key is the target key; undefined = unknown.
   * Without it, SSE-KMS rows are never called compliant.
   */
  sseKmsKeyIsTarget?: (row: InventoryRow) => boolean | undefined;
  /** When the plan is made: a retention whose retain-until date has passed no longer protects a version. */
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
  if (ARCHIVE_STORAGE_CLASSES.has(storageClass)) return skipped("archived", `StorageClass ${storageClass}`);
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
  if (manifestKeyTooLong(row.key)) return skipped("key-too-long-for-manifest", `${row.key.length} characters`);
  return copy;
}

const UPDATE: Classification = Object.freeze({ kind: "update-encryption" });

/**
 * Encrypted objects get S3UpdateObjectEncryption, whatever their storage class (archived ones need no restore),
 * unless Object Lock forbids the change (aws-facts 3.4).
 */
function updateEncryption(row: InventoryRow, options: ClassifyOptions | undefined): Classification {
  const locked = objectLockSkip(row, options);
  if (locked) return locked;
  if (manifestKeyTooLong(row.key)) return skipped("key-too-long-for-manifest", `${row.key.length} characters`);
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
