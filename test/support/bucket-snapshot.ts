import { createHash } from "node:crypto";
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";

/**
 * What a bucket holds, read with the real SDK the way an auditor would: every current object's bytes (as a
 * SHA-256), metadata, content type, tags, storage class and encryption, and how many versions each key has. Fault
 * tests take one before the fault and one after the run, and compare them object by object.
 */
export interface ObjectState {
  versionId: string | undefined;
  versions: number;
  /** SHA-256 of the bytes; undefined for objects the sandbox holds as a declared size only (over 5 GiB). */
  sha256: string | undefined;
  size: number;
  eTag: string | undefined;
  contentType: string | undefined;
  metadata: Record<string, string>;
  tags: string[];
  storageClass: string;
  encryption: string;
  kmsKeyId: string | undefined;
  bucketKey: boolean;
}

export type BucketSnapshot = Map<string, ObjectState>;

/** Bodies read and hashed only up to this size: larger seeded objects are declared sizes with no bytes to read. */
const MAX_HASHED_BYTES = 64 * 1024 * 1024;

/** Every page of a bucket's ListObjectVersions, read with the SDK. */
export async function* versionPages(s3: S3Client, bucket: string): AsyncGenerator<ListObjectVersionsCommandOutput> {
  let page: ListObjectVersionsCommandOutput | undefined;
  do {
    page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        ...(page?.NextKeyMarker ? { KeyMarker: page.NextKeyMarker } : {}),
        ...(page?.NextVersionIdMarker ? { VersionIdMarker: page.NextVersionIdMarker } : {}),
      }),
    );
    yield page;
  } while (page.IsTruncated);
}

/** How many object versions (delete markers not counted) each key of a bucket has. */
export async function versionsPerKey(s3: S3Client, bucket: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const page of versionPages(s3, bucket)) {
    for (const v of page.Versions ?? []) counts.set(v.Key ?? "", (counts.get(v.Key ?? "") ?? 0) + 1);
  }
  return counts;
}

export async function snapshotBucket(s3: S3Client, bucket: string): Promise<BucketSnapshot> {
  const versions = new Map<string, number>();
  const current = new Map<string, string | undefined>();
  for await (const page of versionPages(s3, bucket)) {
    for (const v of page.Versions ?? []) {
      const key = v.Key ?? "";
      versions.set(key, (versions.get(key) ?? 0) + 1);
      if (v.IsLatest) current.set(key, v.VersionId);
    }
    // A key whose latest version is a delete marker has no current object.
    for (const m of page.DeleteMarkers ?? []) if (m.IsLatest) current.delete(m.Key ?? "");
  }

  const snapshot: BucketSnapshot = new Map();
  for (const [key, versionId] of current) {
    // An SSE-C object answers HeadObject only with its customer key (400 without): it is recorded as unreadable.
    let head: HeadObjectCommandOutput | undefined;
    try {
      head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 400) throw err;
    }
    const size = head?.ContentLength ?? 0;
    const sha256 = head && size <= MAX_HASHED_BYTES ? await bodyHash(s3, bucket, key, versionId) : undefined;
    const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    snapshot.set(key, {
      versionId,
      versions: versions.get(key) ?? 0,
      sha256,
      size,
      eTag: head?.ETag,
      contentType: head?.ContentType,
      metadata: head?.Metadata ?? {},
      tags: (tagging.TagSet ?? []).map((t) => `${t.Key ?? ""}=${t.Value ?? ""}`).sort(),
      storageClass: head ? (head.StorageClass ?? "STANDARD") : "unreadable",
      encryption: head ? (head.ServerSideEncryption ?? "none") : "unreadable (SSE-C)",
      kmsKeyId: head?.SSEKMSKeyId,
      bucketKey: head?.BucketKeyEnabled === true,
    });
  }
  return snapshot;
}

/** SHA-256 of a version's bytes; undefined when they cannot be read (archived: InvalidObjectState). */
async function bodyHash(s3: S3Client, bucket: string, key: string, versionId: string | undefined) {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    return createHash("sha256")
      .update((await got.Body?.transformToByteArray()) ?? new Uint8Array())
      .digest("hex");
  } catch (err) {
    if ((err as Error).name === "InvalidObjectState") return undefined;
    throw err;
  }
}

/** What a run should have done to each key that was there before it. */
export type Expected =
  /** Copied onto itself once: exactly one new version, compliant, everything else as before. */
  | "copied"
  /** Encryption updated in place (S3UpdateObjectEncryption): the same version, now compliant. */
  | "updated"
  /** Not touched: the same version, byte for byte. */
  | "untouched"
  /** Deleted during the run by someone else: no current object. */
  | "deleted"
  /** Written during the run by someone else: that write is kept as it is, never copied over. */
  | { writtenDuringRun: ObjectState };

/**
 * Every difference between what a run should have left and what the bucket holds: an empty list means nothing
 * was lost, nothing silently changed and nothing done twice. `expect(key)` says what the run should have done.
 */
export function differences(
  before: BucketSnapshot,
  after: BucketSnapshot,
  targetKeyArn: string,
  expect: (key: string, was: ObjectState) => Expected,
): string[] {
  const found: string[] = [];
  const same = (key: string, what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      found.push(`${key}: ${what} was ${JSON.stringify(a)}, is ${JSON.stringify(b)}`);
    }
  };
  for (const [key, was] of before) {
    const expected = expect(key, was);
    const now = after.get(key);
    if (expected === "deleted") {
      if (now) found.push(`${key}: expected deleted, is present`);
      continue;
    }
    if (!now) {
      found.push(`${key}: lost (no current object)`);
      continue;
    }
    const reference = typeof expected === "object" ? expected.writtenDuringRun : was;
    same(key, "bytes", reference.sha256, now.sha256);
    same(key, "size", reference.size, now.size);
    same(key, "content type", reference.contentType, now.contentType);
    same(key, "metadata", reference.metadata, now.metadata);
    same(key, "tags", reference.tags, now.tags);
    same(key, "storage class", reference.storageClass, now.storageClass);
    if (expected === "copied" || expected === "updated") {
      same(key, "versions", was.versions + (expected === "copied" ? 1 : 0), now.versions);
      same(key, "encryption", ["aws:kms", targetKeyArn, true], [now.encryption, now.kmsKeyId, now.bucketKey]);
    } else {
      // Untouched, or a newer write that must not have been copied over.
      same(key, "version", reference.versionId, now.versionId);
      same(key, "encryption", [reference.encryption, reference.kmsKeyId], [now.encryption, now.kmsKeyId]);
    }
  }
  for (const key of after.keys()) if (!before.has(key)) found.push(`${key}: appeared during the run`);
  return found;
}
