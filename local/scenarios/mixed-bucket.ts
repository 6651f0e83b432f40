import { CreateKeyCommand } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  PutBucketInventoryConfigurationCommand,
  PutBucketVersioningCommand,
} from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { UnexpectedResponseError } from "../../contract/errors.ts";
import type { SkipReason } from "../../contract/reasons.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { SeedObject } from "../../sandbox/s3/seed.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";

/** What the scenario expects rekey to do with one current key; the e2e test and the demo check against it. */
export type Expectation =
  | "reencrypt"
  | "update-from-sse-s3"
  | "update-from-sse-kms"
  | "large-copy"
  | "already-compliant"
  | "skip-archived"
  | "skip-sse-c"
  | "skip-dsse-kms"
  | "skip-object-lock"
  | "deleted";

export interface SeededKey {
  key: string;
  expectation: Expectation;
  /** For skipped keys: the reason code the plan must give. */
  skipReason?: SkipReason;
  storageClass: string;
  /** Version ids written for this key, oldest first (current last unless deleted). */
  versionIds: string[];
}

export interface MixedBucket {
  bucket: string;
  workBucket: string;
  inventoryConfigurationId: string;
  targetKeyArn: string;
  otherKeyArn: string;
  keys: SeededKey[];
  /** Rows an "All versions" inventory will list: every version and delete marker. */
  inventoryRows: number;
}

/** Awkward names a manifest must survive: spaces, plus, percent, commas, quotes and non-ASCII. */
const NAME_STYLES = [
  (i: number) => `data/2019/${String(i % 12).padStart(2, "0")}/part-${i}.parquet`,
  (i: number) => `reports/q1 summary ${i}.csv`,
  (i: number) => `a+b/${i}+plus.txt`,
  (i: number) => `percent/100% done ${i}.txt`,
  (i: number) => `csv/a,b,c ${i}.csv`,
  (i: number) => `unicode/café-${i}-✓.txt`,
  (i: number) => `日本語/ファイル ${i}.txt`,
  (i: number) => `quotes/"quoted" ${i}.txt`,
];

type SeedStorageClass = NonNullable<SeedObject["storageClass"]>;
const CLASS_CYCLE: SeedStorageClass[] = [
  "STANDARD",
  "STANDARD",
  "STANDARD_IA",
  "STANDARD",
  "GLACIER_IR",
  "STANDARD",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
];

export function bodyOf(key: string, version: number): string {
  return `rekey sandbox object ${key} (version ${version})\n`;
}

/**
 * Creates a versioned bucket with Object Lock enabled (no default retention) holding every case rekey routes or
 * must report: unencrypted objects in several storage classes (with tags, user metadata and content types) for
 * Batch copies; SSE-S3, SSE-KMS under another key and SSE-KMS without Bucket Key for encryption updates;
 * unencrypted objects over 5 GiB for the multipart copy; an object already compliant; archived (GLACIER,
 * DEEP_ARCHIVE, Intelligent-Tiering archive tier), SSE-C, DSSE-KMS and Object-Locked objects to skip; noncurrent
 * unencrypted versions and deleted keys. Written before default encryption is enforced, as data from before 2023
 * would be.
 */
export async function seedMixedBucket(
  clients: AwsClients,
  admin: SandboxAdmin,
  options: {
    bucket: string;
    workBucket: string;
    objects: number;
    inventoryConfigurationId?: string;
    /** Object Lock on the bucket (default true); without it versioning can be suspended, and no key is locked. */
    objectLock?: boolean;
    /** The target and the older key, when several buckets share them (a fleet); else new keys are made. */
    keys?: { targetKeyArn: string; otherKeyArn: string };
  },
): Promise<MixedBucket> {
  const { bucket, workBucket } = options;
  const inventoryConfigurationId = options.inventoryConfigurationId ?? "rekey-all-versions";
  const targetKeyArn =
    options.keys?.targetKeyArn ??
    (await clients.kms.send(new CreateKeyCommand({ Description: "rekey target key" }))).KeyMetadata?.Arn;
  const otherKeyArn =
    options.keys?.otherKeyArn ??
    (await clients.kms.send(new CreateKeyCommand({ Description: "an older key" }))).KeyMetadata?.Arn;
  if (!targetKeyArn || !otherKeyArn) {
    throw new UnexpectedResponseError("KMS CreateKey returned no key ARN.", {
      fix: "Check the KMS endpoint the clients point at: CreateKey always answers KeyMetadata.Arn.",
    });
  }

  const objectLock = options.objectLock ?? true;
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: objectLock }));
  // The work bucket may already exist: the sandbox's own, or one shared by several seeded buckets.
  const workBucketExists = await clients.s3.send(new HeadBucketCommand({ Bucket: workBucket })).then(
    () => true,
    () => false,
  );
  if (!workBucketExists) await clients.s3.send(new CreateBucketCommand({ Bucket: workBucket }));
  await clients.s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
  );
  await clients.s3.send(
    new PutBucketInventoryConfigurationCommand({
      Bucket: bucket,
      Id: inventoryConfigurationId,
      InventoryConfiguration: {
        Id: inventoryConfigurationId,
        IsEnabled: true,
        IncludedObjectVersions: "All",
        Destination: {
          S3BucketDestination: { Bucket: `arn:aws:s3:::${workBucket}`, Format: "CSV", Prefix: "inventory" },
        },
        Schedule: { Frequency: "Daily" },
        OptionalFields: [
          "Size",
          "LastModifiedDate",
          "StorageClass",
          "ETag",
          "EncryptionStatus",
          "BucketKeyStatus",
          "IntelligentTieringAccessTier",
          "ObjectLockMode",
          "ObjectLockRetainUntilDate",
          "ObjectLockLegalHoldStatus",
        ],
      },
    }),
  );

  const planned: {
    seed: SeedObject;
    expectation: Expectation;
    skipReason?: SkipReason;
    oldVersion?: SeedObject;
    deleteAfter?: boolean;
  }[] = [];
  for (let i = 0; i < options.objects; i++) {
    const key = NAME_STYLES[i % NAME_STYLES.length]?.(i) ?? `k/${i}`;
    const storageClass: SeedStorageClass =
      CLASS_CYCLE[Math.floor(i / NAME_STYLES.length) % CLASS_CYCLE.length] ?? "STANDARD";
    const base: SeedObject = {
      key,
      body: bodyOf(key, 2),
      storageClass,
      contentType: i % 3 === 0 ? "application/json" : "text/plain",
      ...(i % 2 === 0 ? { metadata: { owner: `team-${i % 7}`, "source-system": "legacy" } } : {}),
      ...(i % 3 === 0 ? { tags: { project: "atlas", index: String(i) } } : {}),
      encryption: { type: "NOT-SSE" },
    };
    switch (i % 20) {
      case 12:
      case 13:
      case 14:
        planned.push({ seed: { ...base, encryption: { type: "SSE-S3" } }, expectation: "update-from-sse-s3" });
        break;
      case 15:
      case 16:
        planned.push({
          seed: { ...base, encryption: { type: "SSE-KMS", keyArn: otherKeyArn, bucketKeyEnabled: i % 40 < 20 } },
          expectation: "update-from-sse-kms",
        });
        break;
      case 17:
        planned.push({ seed: base, expectation: "reencrypt", oldVersion: { ...base, body: bodyOf(key, 1) } });
        break;
      case 18:
        planned.push({
          seed: { ...base, storageClass: i % 40 < 20 ? "GLACIER" : "DEEP_ARCHIVE" },
          expectation: "skip-archived",
          skipReason: "archived",
        });
        break;
      case 19:
        planned.push({ seed: base, expectation: "deleted", deleteAfter: true });
        break;
      default:
        planned.push({ seed: base, expectation: "reencrypt" });
    }
  }
  const GiB = 1024 ** 3;
  const lockedUntil = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000).toISOString();
  planned.push(
    {
      seed: {
        key: "large/video-6GiB.mov",
        size: 6 * GiB,
        storageClass: "STANDARD_IA",
        contentType: "video/quicktime",
        metadata: { camera: "north-gate", "source-system": "legacy" },
        tags: { retention: "7y" },
        encryption: { type: "NOT-SSE" },
      },
      expectation: "large-copy",
    },
    {
      seed: {
        key: "large/backup 11GiB,full.tar",
        size: 11 * GiB,
        storageClass: "STANDARD",
        encryption: { type: "NOT-SSE" },
      },
      expectation: "large-copy",
    },
    {
      seed: { key: "large/cold-7GiB.tar", size: 7 * GiB, storageClass: "GLACIER", encryption: { type: "NOT-SSE" } },
      expectation: "skip-archived",
      skipReason: "archived",
    },
    {
      seed: {
        key: "tiering/archived-tier.bin",
        body: "in the archive access tier",
        storageClass: "INTELLIGENT_TIERING",
        intelligentTieringAccessTier: "ARCHIVE_ACCESS",
        encryption: { type: "NOT-SSE" },
      },
      expectation: "skip-archived",
      skipReason: "archived",
    },
    {
      seed: { key: "secret/customer-key.bin", body: "sse-c data", encryption: { type: "SSE-C" } },
      expectation: "skip-sse-c",
      skipReason: "sse-c",
    },
    {
      seed: { key: "dsse/dual-layer.bin", body: "dsse data", encryption: { type: "DSSE-KMS", keyArn: otherKeyArn } },
      expectation: "skip-dsse-kms",
      skipReason: "dsse-kms",
    },
  );
  if (objectLock) {
    planned.push(
      {
        seed: {
          key: "locked/compliance-record.pdf",
          body: "retained by regulation",
          encryption: { type: "NOT-SSE" },
          objectLock: { mode: "COMPLIANCE", retainUntil: lockedUntil },
        },
        expectation: "skip-object-lock",
        skipReason: "object-lock-compliance",
      },
      {
        seed: {
          key: "locked/governance-sse-s3.pdf",
          body: "under governance retention",
          encryption: { type: "SSE-S3" },
          objectLock: { mode: "GOVERNANCE", retainUntil: lockedUntil },
        },
        expectation: "skip-object-lock",
        skipReason: "object-lock-governance",
      },
      {
        // Unencrypted under a legal hold that outlives any retention: a Batch copy would drop the hold.
        seed: {
          key: "locked/legal-hold.txt",
          body: "held for litigation",
          encryption: { type: "NOT-SSE" },
          objectLock: { mode: "GOVERNANCE", retainUntil: "2020-01-01T00:00:00Z", legalHold: true },
        },
        expectation: "skip-object-lock",
        skipReason: "object-lock-governance",
      },
    );
  }
  planned.push(
    {
      seed: {
        key: "kms/target-key-without-bucket-key.txt",
        body: "under the target key, no Bucket Key",
        encryption: { type: "SSE-KMS", keyArn: targetKeyArn, bucketKeyEnabled: false },
      },
      expectation: "update-from-sse-kms",
    },
    {
      seed: {
        key: "kms/already-compliant.txt",
        body: "under the target key with Bucket Key",
        encryption: { type: "SSE-KMS", keyArn: targetKeyArn, bucketKeyEnabled: true },
      },
      expectation: "already-compliant",
    },
  );

  const versionIds = new Map<string, string[]>();
  const record = (result: { versions: { key: string; versionId: string }[] }) => {
    for (const v of result.versions) versionIds.set(v.key, [...(versionIds.get(v.key) ?? []), v.versionId]);
  };
  const olds = planned.flatMap((p) => (p.oldVersion ? [p.oldVersion] : []));
  for (let i = 0; i < olds.length; i += 2000) record(await admin.seed(bucket, olds.slice(i, i + 2000)));
  for (let i = 0; i < planned.length; i += 2000)
    record(
      await admin.seed(
        bucket,
        planned.slice(i, i + 2000).map((p) => p.seed),
      ),
    );

  const limit = pLimit(16);
  await Promise.all(
    planned
      .filter((p) => p.deleteAfter)
      .map((p) => limit(() => clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: p.seed.key })))),
  );

  const keys = planned.map((p) => ({
    key: p.seed.key,
    expectation: p.expectation,
    ...(p.skipReason ? { skipReason: p.skipReason } : {}),
    storageClass: p.seed.storageClass ?? "STANDARD",
    versionIds: versionIds.get(p.seed.key) ?? [],
  }));
  const inventoryRows = keys.reduce((n, k) => n + k.versionIds.length + (k.expectation === "deleted" ? 1 : 0), 0);
  return { bucket, workBucket, inventoryConfigurationId, targetKeyArn, otherKeyArn, keys, inventoryRows };
}

/** Keys rekey makes compliant: copied in place (by a Batch job or part by part), or their encryption updated. */
export const becomesCompliant = (e: Expectation) =>
  e === "reencrypt" || e === "large-copy" || e === "update-from-sse-s3" || e === "update-from-sse-kms";
export const encryptionUpdated = (e: Expectation) => e === "update-from-sse-s3" || e === "update-from-sse-kms";
