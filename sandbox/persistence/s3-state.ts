import type { Database } from "lmdb";
import type { InventoryConfiguration } from "../s3/inventory-configuration.ts";
import type { MultipartUpload, ObjectVersion, PartData, S3Bucket, S3Store } from "../s3/store.ts";

/** An object version without its data, which is kept apart as a binary value. */
type SavedVersion = Omit<ObjectVersion, "body"> & { hasBody: boolean };
type SavedPart = Omit<PartData, "body"> & { hasBody: boolean };
type SavedUpload = Omit<MultipartUpload, "parts"> & { parts: SavedPart[] };

/** A bucket and its configurations; its objects and upload parts are records of their own. */
interface SavedBucket {
  name: string;
  region: string;
  creationDate: Date;
  versioning: S3Bucket["versioning"];
  defaultEncryption: S3Bucket["defaultEncryption"];
  inventory: InventoryConfiguration[];
  objectLock: S3Bucket["objectLock"];
  ownership: S3Bucket["ownership"];
  acl: string;
  policy: S3Bucket["policy"];
  tags?: S3Bucket["tags"];
  replication: S3Bucket["replication"];
  lifecycle: S3Bucket["lifecycle"];
  notification: S3Bucket["notification"];
  uploads: SavedUpload[];
}

export interface S3Databases {
  /** name → SavedBucket */
  buckets: Database;
  /** [bucket, key] → SavedVersion[], newest first */
  objects: Database;
  /** [bucket, key, versionId] → object data (binary) */
  bodies: Database;
  /** [bucket, uploadId, partNumber] → part data (binary) */
  parts: Database;
}

/**
 * S3's state in the data directory. Buckets are compared with what was last written; objects are written when the
 * store's observer names their key, since comparing every object at each flush would cost as much as the bucket.
 * Data is written once per version (or part), not again when only attributes such as tags change.
 */
export class S3State {
  private readonly dirty = new Map<string, Set<string>>();
  private readonly writtenBuckets = new Map<string, string>();
  /** Which records already hold a given data buffer (buffers are shared between versions by copies). */
  private readonly stored = new WeakMap<Buffer, Set<string>>();

  constructor(
    private readonly store: S3Store,
    private readonly db: S3Databases,
  ) {}

  /** Puts every saved bucket, object version and multipart upload back into the (empty) store. */
  restore(): void {
    const buckets = new Map<string, SavedBucket>();
    for (const { value } of this.db.buckets.getRange()) {
      const saved = value as SavedBucket;
      buckets.set(saved.name, saved);
      this.store.createBucket(saved.name, saved.creationDate);
      this.writtenBuckets.set(saved.name, JSON.stringify(saved));
    }
    for (const { key, value } of this.db.objects.getRange()) {
      const [bucketName, objectKey] = key as [string, string];
      const bucket = this.store.findBucket(bucketName);
      if (!bucket) continue;
      // Oldest first, so each addVersion puts the next one on top, as the writes did.
      for (const { hasBody, ...v } of [...(value as SavedVersion[])].reverse()) {
        const id = [bucketName, objectKey, v.versionId];
        const body = hasBody ? this.read(this.db.bodies, id) : undefined;
        bucket.addVersion({ ...v, ...(body ? { body } : {}) });
      }
    }
    // Uploads last: adding versions marks the uploads open on their key as changed.
    for (const saved of buckets.values()) this.restoreConfiguration(saved);
  }

  /** Remembers a key the store says changed, to be written at the next flush. */
  changed(bucket: string, key: string): void {
    let keys = this.dirty.get(bucket);
    if (!keys) {
      keys = new Set();
      this.dirty.set(bucket, keys);
    }
    keys.add(key);
  }

  /** Writes what changed since the last call; runs inside the flush's write transaction. */
  save(): void {
    const present = new Set<string>();
    for (const bucket of this.store.listBuckets()) {
      present.add(bucket.name);
      this.saveBucket(bucket);
    }
    for (const name of [...this.writtenBuckets.keys()]) {
      if (present.has(name)) continue;
      const old = this.db.buckets.get(name) as SavedBucket | undefined;
      for (const upload of old?.uploads ?? []) this.removeParts(name, upload, undefined);
      this.db.buckets.removeSync(name);
      this.writtenBuckets.delete(name);
    }
    for (const [bucket, keys] of this.dirty) for (const key of keys) this.saveKey(bucket, key);
    this.dirty.clear();
  }

  private saveBucket(bucket: S3Bucket): void {
    const uploads = [...bucket.uploads.values()];
    const saved: SavedBucket = {
      name: bucket.name,
      region: bucket.region,
      creationDate: bucket.creationDate,
      versioning: bucket.versioning,
      defaultEncryption: bucket.defaultEncryption,
      inventory: [...bucket.inventory.values()],
      objectLock: bucket.objectLock,
      ownership: bucket.ownership,
      acl: bucket.acl,
      policy: bucket.policy,
      tags: bucket.tags,
      replication: bucket.replication,
      lifecycle: bucket.lifecycle,
      notification: bucket.notification,
      uploads: uploads.map(({ parts, ...u }) => ({
        ...u,
        parts: [...parts.values()].map(({ body, ...p }) => ({ ...p, hasBody: body !== undefined })),
      })),
    };
    const text = JSON.stringify(saved);
    if (this.writtenBuckets.get(bucket.name) === text) return;
    const old = this.db.buckets.get(bucket.name) as SavedBucket | undefined;
    for (const upload of old?.uploads ?? []) this.removeParts(bucket.name, upload, bucket.uploads.get(upload.uploadId));
    for (const upload of uploads) {
      for (const part of upload.parts.values()) {
        if (part.body) this.writeData(this.db.parts, [bucket.name, upload.uploadId, part.partNumber], part.body);
      }
    }
    this.db.buckets.putSync(bucket.name, saved);
    this.writtenBuckets.set(bucket.name, text);
  }

  /** Removes the data of parts an upload no longer has (all of them once the upload is gone). */
  private removeParts(bucket: string, old: SavedUpload, now: MultipartUpload | undefined): void {
    for (const part of old.parts) {
      if (part.hasBody && !now?.parts.get(part.partNumber)?.body) {
        this.db.parts.removeSync([bucket, old.uploadId, part.partNumber]);
      }
    }
  }

  private saveKey(bucketName: string, key: string): void {
    const versions = this.store.findBucket(bucketName)?.versionsOf(key) ?? [];
    const old = (this.db.objects.get([bucketName, key]) as SavedVersion[] | undefined) ?? [];
    const withData = new Set<string>();
    for (const v of versions) {
      if (!v.body) continue;
      withData.add(v.versionId);
      this.writeData(this.db.bodies, [bucketName, key, v.versionId], v.body);
    }
    for (const v of old) {
      if (v.hasBody && !withData.has(v.versionId)) this.db.bodies.removeSync([bucketName, key, v.versionId]);
    }
    if (versions.length === 0) {
      if (old.length > 0) this.db.objects.removeSync([bucketName, key]);
      return;
    }
    this.db.objects.putSync(
      [bucketName, key],
      versions.map(({ body, ...v }) => ({ ...v, hasBody: body !== undefined })),
    );
  }

  /** Writes a data buffer unless this record already holds this very buffer. */
  private writeData(db: Database, id: (string | number)[], data: Buffer): void {
    const name = JSON.stringify(id);
    let holders = this.stored.get(data);
    if (holders?.has(name)) return;
    db.putSync(id, data);
    if (!holders) {
      holders = new Set();
      this.stored.set(data, holders);
    }
    holders.add(name);
  }

  private read(db: Database, id: (string | number)[]): Buffer | undefined {
    const value = db.get(id) as Uint8Array | undefined;
    if (value === undefined) return undefined;
    const data = Buffer.from(value);
    this.stored.set(data, new Set([JSON.stringify(id)]));
    return data;
  }

  private restoreConfiguration(saved: SavedBucket): void {
    const bucket = this.store.findBucket(saved.name);
    if (!bucket) return;
    bucket.versioning = saved.versioning;
    bucket.defaultEncryption = saved.defaultEncryption;
    for (const c of saved.inventory) bucket.inventory.set(c.id, c);
    bucket.objectLock = saved.objectLock;
    bucket.ownership = saved.ownership;
    bucket.acl = saved.acl;
    bucket.policy = saved.policy;
    bucket.tags = saved.tags;
    bucket.replication = saved.replication;
    bucket.lifecycle = saved.lifecycle;
    bucket.notification = saved.notification;
    for (const { parts, ...u } of saved.uploads) {
      const restored = new Map<number, PartData>();
      for (const { hasBody, ...p } of parts) {
        const body = hasBody ? this.read(this.db.parts, [saved.name, u.uploadId, p.partNumber]) : undefined;
        restored.set(p.partNumber, { ...p, ...(body ? { body } : {}) });
      }
      bucket.uploads.set(u.uploadId, { ...u, parts: restored });
    }
  }
}
