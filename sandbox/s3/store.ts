import { createHash, randomBytes } from "node:crypto";
import type { SandboxIdentity } from "../config.ts";
import { s3Errors } from "./errors.ts";
import type { InventoryConfiguration } from "./inventory-configuration.ts";
import { SortedKeyIndex } from "./sorted-keys.ts";

export const STORAGE_CLASSES = [
  "STANDARD",
  "REDUCED_REDUNDANCY",
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER",
  "DEEP_ARCHIVE",
  "GLACIER_IR",
  "OUTPOSTS",
  "SNOW",
  "EXPRESS_ONEZONE",
] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];

/** Intelligent-Tiering access tiers an object can sit in; the two archive tiers must be restored before a copy. */
export type IntelligentTieringAccessTier =
  | "FREQUENT"
  | "INFREQUENT"
  | "ARCHIVE_INSTANT_ACCESS"
  | "ARCHIVE_ACCESS"
  | "DEEP_ARCHIVE_ACCESS";

/** How an object version is encrypted at rest, named as S3 Inventory's EncryptionStatus names it. */
export type ObjectEncryption =
  | { type: "NOT-SSE" }
  | { type: "SSE-S3" }
  | { type: "SSE-KMS"; keyArn: string; bucketKeyEnabled: boolean }
  | { type: "DSSE-KMS"; keyArn: string }
  | { type: "SSE-C"; keyMd5: string };

/** System metadata S3 stores with an object and returns as response headers. */
export interface ContentHeaders {
  contentType?: string;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  expires?: string;
}

export interface ObjectVersion {
  key: string;
  /** "null" for the null version (unversioned or versioning-suspended writes), as S3 reports it. */
  versionId: string;
  isDeleteMarker: boolean;
  /** Undefined for objects declared with a size only (large-object scenarios). */
  body?: Buffer;
  size: number;
  /** Quoted, as in the ETag header. */
  etag: string;
  lastModified: Date;
  content: ContentHeaders;
  metadata: Record<string, string>;
  tags: Record<string, string>;
  storageClass: StorageClass;
  intelligentTieringAccessTier?: IntelligentTieringAccessTier;
  encryption: ObjectEncryption;
  acl: string;
  websiteRedirectLocation?: string;
  /** Explicit grants from PutObjectAcl with an AccessControlPolicy body; otherwise `acl` (a canned ACL) applies. */
  aclGrants?: Grant[];
  /** Number of parts when the object was written by a multipart upload. */
  partsCount?: number;
  checksumAlgorithm?: string;
  /** Object Lock retention of this version (a retain-until date in the past no longer protects it). */
  retention?: ObjectRetention;
  /** Object Lock legal hold of this version; undefined when never set. */
  legalHold?: "ON" | "OFF";
}

export type ObjectLockMode = "GOVERNANCE" | "COMPLIANCE";

export interface ObjectRetention {
  mode: ObjectLockMode;
  retainUntil: Date;
}

/** A grant of an ACL: canonical user (by id) or predefined group (by URI). */
export interface Grant {
  grantee: { type: "CanonicalUser"; id: string } | { type: "Group"; uri: string };
  permission: "FULL_CONTROL" | "WRITE" | "WRITE_ACP" | "READ" | "READ_ACP";
}

/** Bucket-level Object Lock: once enabled it stays enabled; the default retention applies to new versions. */
export interface BucketObjectLock {
  defaultRetention?: { mode: ObjectLockMode; days?: number; years?: number };
}

export type ObjectOwnership = "BucketOwnerEnforced" | "BucketOwnerPreferred" | "ObjectWriter";

/** A configuration kept as the XML document the client sent (root element included, XML declaration removed). */
export interface StoredXml {
  xml: string;
}

/** What a write supplies; the store assigns the version id and applies the bucket's versioning state. */
export type ObjectDraft = Omit<ObjectVersion, "versionId" | "isDeleteMarker" | "lastModified"> & {
  lastModified?: Date;
};

export type VersioningStatus = "Unversioned" | "Enabled" | "Suspended";

export interface DefaultEncryption {
  sseAlgorithm: "AES256" | "aws:kms" | "aws:kms:dsse";
  kmsMasterKeyId?: string;
  bucketKeyEnabled: boolean;
}

export interface PartData {
  partNumber: number;
  etag: string;
  size: number;
  body?: Buffer;
  lastModified: Date;
}

export interface MultipartUpload {
  uploadId: string;
  key: string;
  initiated: Date;
  /** Everything the finished object gets except its data. */
  template: Omit<ObjectDraft, "key" | "body" | "size" | "etag" | "partsCount">;
  parts: Map<number, PartData>;
  /** The key was written or deleted since CreateMultipartUpload: a conditional complete then conflicts. */
  keyChanged?: boolean;
}

/** Since January 2023 every bucket has SSE-S3 as its default encryption, and deleting the configuration restores it. */
export const BASELINE_ENCRYPTION: DefaultEncryption = { sseAlgorithm: "AES256", bucketKeyEnabled: false };

export class S3Bucket {
  versioning: VersioningStatus = "Unversioned";
  defaultEncryption: DefaultEncryption = BASELINE_ENCRYPTION;
  readonly inventory = new Map<string, InventoryConfiguration>();
  /** Undefined until Object Lock is enabled (CreateBucket header or PutObjectLockConfiguration). */
  objectLock: BucketObjectLock | undefined;
  /** New buckets have had "bucket owner enforced" (ACLs disabled) since April 2023; undefined after DeleteBucketOwnershipControls. */
  ownership: ObjectOwnership | undefined = "BucketOwnerEnforced";
  /** The bucket's canned ACL. */
  acl = "private";
  /** Bucket policy as the JSON text PutBucketPolicy sent. */
  policy: string | undefined;
  /** The bucket's tags (PutBucketTagging); undefined when it has none. */
  tags: { key: string; value: string }[] | undefined;
  replication: StoredXml | undefined;
  lifecycle: (StoredXml & { transitionDefaultMinimumObjectSize: string }) | undefined;
  /** Undefined means no notifications (GET answers an empty configuration). */
  notification: StoredXml | undefined;
  readonly uploads = new Map<string, MultipartUpload>();
  /** Key → versions, newest first. */
  private readonly objects = new Map<string, ObjectVersion[]>();
  private readonly index = new SortedKeyIndex();

  constructor(
    readonly name: string,
    readonly region: string,
    readonly creationDate = secondPrecision(new Date()),
  ) {}

  get arn(): string {
    return `arn:aws:s3:::${this.name}`;
  }

  isEmpty(): boolean {
    return this.objects.size === 0;
  }

  versionsOf(key: string): readonly ObjectVersion[] {
    return this.objects.get(key) ?? [];
  }

  latest(key: string): ObjectVersion | undefined {
    return this.objects.get(key)?.[0];
  }

  /** Keys in S3's listing order (UTF-8 binary), each with at least one version or delete marker. */
  sortedKeys(): readonly string[] {
    return this.index.view(
      (k) => this.objects.has(k),
      () => this.objects.keys(),
    );
  }

  /** Adds a version as the newest one, honouring the versioning state: overwrite, append, or replace the null version. */
  addVersion(version: ObjectVersion): void {
    this.keyChanged(version.key);
    const existing = this.objects.get(version.key);
    if (!existing) {
      this.objects.set(version.key, [version]);
      this.index.add(version.key);
      return;
    }
    if (version.versionId === "null") {
      const i = existing.findIndex((v) => v.versionId === "null");
      if (i >= 0) existing.splice(i, 1);
    }
    existing.unshift(version);
  }

  /** Marks the uploads open on the key (few at a time), for conditional CompleteMultipartUpload. */
  private keyChanged(key: string): void {
    for (const upload of this.uploads.values()) if (upload.key === key) upload.keyChanged = true;
  }

  /** Permanently removes one version; returns it, or undefined when no such version exists. */
  removeVersion(key: string, versionId: string): ObjectVersion | undefined {
    const versions = this.objects.get(key);
    const i = versions?.findIndex((v) => v.versionId === versionId) ?? -1;
    if (!versions || i < 0) return undefined;
    this.keyChanged(key);
    const [removed] = versions.splice(i, 1);
    if (versions.length === 0) {
      this.objects.delete(key);
      this.index.remove();
    }
    return removed;
  }
}

export interface DeleteOutcome {
  versionId?: string;
  deleteMarker: boolean;
}

/** All S3 state of the sandbox account. Request handling lives in service.ts; this class keeps the rules of versions. */
export class S3Store {
  private readonly buckets = new Map<string, S3Bucket>();
  /** The canonical user id S3 reports as Owner.ID: 64 hex characters, derived from the account so it is stable. */
  readonly ownerId: string;
  /** Milliseconds of the latest write; inventory delivery stamps its reports strictly after it. */
  lastWriteAt = 0;
  /** Told of every bucket (key undefined) or key whose state may have changed; the data directory writes it through. */
  observer: ((bucket: string, key?: string) => void) | undefined;

  constructor(readonly identity: SandboxIdentity) {
    this.ownerId = createHash("sha256").update(`sandbox-canonical-user:${identity.accountId}`).digest("hex");
  }

  /** Returns false when the bucket already existed (which the caller turns into the region's answer). */
  createBucket(name: string, creationDate?: Date): boolean {
    if (this.buckets.has(name)) return false;
    this.buckets.set(name, new S3Bucket(name, this.identity.region, creationDate));
    this.observer?.(name);
    return true;
  }

  deleteBucket(name: string): void {
    const bucket = this.bucket(name);
    if (!bucket.isEmpty()) throw s3Errors.bucketNotEmpty(name);
    this.buckets.delete(name);
    this.observer?.(name);
  }

  findBucket(name: string): S3Bucket | undefined {
    return this.buckets.get(name);
  }

  bucket(name: string): S3Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw s3Errors.noSuchBucket(name);
    return bucket;
  }

  listBuckets(): S3Bucket[] {
    return [...this.buckets.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Writes a new object version exactly as PutObject would, given fully resolved attributes. A version without
   * its own retention gets the bucket's default retention, if Object Lock has one.
   */
  writeObject(bucketName: string, draft: ObjectDraft): ObjectVersion {
    const bucket = this.bucket(bucketName);
    const now = new Date();
    const retention = draft.retention ?? defaultRetention(bucket, now);
    const version: ObjectVersion = {
      ...draft,
      ...(retention ? { retention } : {}),
      versionId: bucket.versioning === "Enabled" ? newVersionId() : "null",
      isDeleteMarker: false,
      lastModified: secondPrecision(draft.lastModified ?? now),
    };
    bucket.addVersion(version);
    this.touch(bucketName, draft.key);
    return version;
  }

  /**
   * The version a GET/HEAD/COPY addresses. Without a version id that is the newest one, which may be a
   * delete marker (the caller answers 404 with x-amz-delete-marker); with one it may be any version.
   */
  version(bucketName: string, key: string, versionId?: string): ObjectVersion {
    const bucket = this.bucket(bucketName);
    if (versionId === undefined) {
      const latest = bucket.latest(key);
      if (!latest) throw s3Errors.noSuchKey(key);
      return latest;
    }
    const found = bucket.versionsOf(key).find((v) => v.versionId === versionId);
    if (!found) throw s3Errors.noSuchVersion(key, versionId);
    return found;
  }

  /**
   * DeleteObject: a delete marker in versioned buckets, a removal otherwise, or removal of one named version.
   * Removing a version that Object Lock protects fails with AccessDenied (governance retention can be bypassed).
   */
  deleteObject(bucketName: string, key: string, versionId?: string, bypassGovernance = false): DeleteOutcome {
    const bucket = this.bucket(bucketName);
    if (versionId !== undefined) {
      const target = bucket.versionsOf(key).find((v) => v.versionId === versionId);
      if (target) checkNotLocked(target, bypassGovernance);
    }
    this.touch(bucketName, key);
    if (versionId !== undefined) {
      const removed = bucket.removeVersion(key, versionId);
      return { versionId, deleteMarker: removed?.isDeleteMarker ?? false };
    }
    if (bucket.versioning === "Unversioned") {
      bucket.removeVersion(key, "null");
      return { deleteMarker: false };
    }
    const marker: ObjectVersion = {
      key,
      versionId: bucket.versioning === "Enabled" ? newVersionId() : "null",
      isDeleteMarker: true,
      size: 0,
      etag: "",
      lastModified: secondPrecision(new Date()),
      content: {},
      metadata: {},
      tags: {},
      storageClass: "STANDARD",
      encryption: { type: "NOT-SSE" },
      acl: "private",
    };
    bucket.addVersion(marker);
    return { versionId: marker.versionId, deleteMarker: true };
  }

  private touch(bucket: string, key: string): void {
    this.lastWriteAt = Date.now();
    this.observer?.(bucket, key);
  }
}

/** The retention a new version gets from the bucket's Object Lock default retention (days of 24 hours, years of 365 days). */
function defaultRetention(bucket: S3Bucket, now: Date): ObjectRetention | undefined {
  const d = bucket.objectLock?.defaultRetention;
  if (!d) return undefined;
  const days = d.days ?? (d.years ?? 0) * 365;
  return { mode: d.mode, retainUntil: new Date(now.getTime() + days * 86_400_000) };
}

/** True while a retention period is running (its retain-until date is in the future). */
export function activeRetention(v: ObjectVersion, now = new Date()): ObjectRetention | undefined {
  return v.retention && v.retention.retainUntil.getTime() > now.getTime() ? v.retention : undefined;
}

/**
 * Object Lock protection of one version against deletion: a legal hold always, compliance retention always,
 * governance retention unless the request bypasses it (x-amz-bypass-governance-retention; IAM is not evaluated).
 */
export function checkNotLocked(v: ObjectVersion, bypassGovernance: boolean): void {
  const retention = activeRetention(v);
  const locked =
    v.legalHold === "ON" || retention?.mode === "COMPLIANCE" || (retention?.mode === "GOVERNANCE" && !bypassGovernance);
  if (locked) throw s3Errors.objectLocked();
}

/** S3 keeps modification times to the second. */
export function secondPrecision(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** Version ids look like S3's: 32 URL-safe characters. */
export function newVersionId(): string {
  return randomBytes(24).toString("base64url");
}

export function isStorageClass(v: string): v is StorageClass {
  return (STORAGE_CLASSES as readonly string[]).includes(v);
}

/** GLACIER, DEEP_ARCHIVE and the Intelligent-Tiering archive tiers hold data that must be restored before it is read. */
export function isArchived(v: ObjectVersion): boolean {
  return (
    v.storageClass === "GLACIER" ||
    v.storageClass === "DEEP_ARCHIVE" ||
    (v.storageClass === "INTELLIGENT_TIERING" &&
      (v.intelligentTieringAccessTier === "ARCHIVE_ACCESS" || v.intelligentTieringAccessTier === "DEEP_ARCHIVE_ACCESS"))
  );
}
