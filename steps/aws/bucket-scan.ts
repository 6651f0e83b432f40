import {
  GetBucketTaggingCommand,
  HeadBucketCommand,
  type InventoryConfiguration,
  ListBucketInventoryConfigurationsCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
} from "@aws-sdk/client-s3";
import type { Finding } from "../../contract/preflight.ts";
import { type BucketVerdict, defaultEncryptionCompliant, judgeBucket } from "../domain/bucket-verdict.ts";
import { inventoryConfigurationProblems } from "../domain/inventory-configuration.ts";
import { type InventoryCounts, nonCompliantObjects, type ScanCountEngineChoice } from "../domain/inventory-counts.ts";
import { evaluatePreflight } from "../domain/preflight.ts";
import { summarizeFacts } from "../domain/preflight-facts.ts";
import type { AwsClients } from "../runtime/clients.ts";
import type { AthenaConfig } from "../runtime/step.ts";
import { type CountProgress, countLatestDelivery } from "./inventory-counts.ts";
import { gatherPreflightFacts } from "./preflight-reads.ts";
import type { ReaderImpactCache } from "./reader-impact.ts";
import { httpStatusOf } from "./s3-io.ts";

/** Which buckets a scan looks at: all of the region's, or those with a name prefix, a tag, or in a list. */
export interface BucketFilter {
  prefix?: string | undefined;
  /** `key=value`: only buckets with that tag. */
  tag?: { key: string; value: string } | undefined;
  names?: readonly string[] | undefined;
}

/** One bucket as `rekey scan` reports it. */
export interface ScannedBucket {
  bucket: string;
  verdict: BucketVerdict;
  why: string;
  /** "aws:kms <key> with Bucket Key", "AES256", "none", or why it cannot be told. */
  defaultEncryption: string;
  defaultEncryptionCompliant: boolean | undefined;
  versioning: string;
  /** Days after which a whole-bucket lifecycle rule expires noncurrent versions; undefined when none does. */
  noncurrentExpirationDays: number | undefined;
  objectLock: string;
  replication: string;
  /** The id of an inventory configuration a run can plan from; null when none can. */
  inventoryConfiguration: string | null;
  /**
   * Current and noncurrent versions and delete markers: 0 when a listing finds none, else S3's daily storage metric
   * (as of `storageAsOf`), else undefined.
   */
  objects: number | undefined;
  /** Bytes stored, from S3's daily storage metrics; undefined when they have no data point for the bucket. */
  bytes: number | undefined;
  storageAsOf: string | undefined;
  /** Current objects not encrypted at all, as the latest inventory counts them; undefined when none was counted. */
  unencryptedObjects: number | undefined;
  /**
   * Current objects not SSE-KMS under the target key with Bucket Key, as the latest inventory (and HeadObject) tells;
   * a floor while `inventoryCounts.encryption.sseKmsKeyUnknown` holds objects. Undefined when none was counted.
   */
  nonCompliantObjects: number | undefined;
  /** The latest inventory delivery's counts (steps/domain/inventory-counts.ts); null when none could be counted. */
  inventoryCounts: InventoryCounts | null;
  /** Why the counts are unknown; absent when they were counted. */
  inventoryCountsUnknown?: string;
  blockers: Finding[];
  warnings: Finding[];
}

/** The account's buckets in `region` that pass the filter, by name. */
export async function bucketsToScan(
  clients: Pick<AwsClients, "s3">,
  region: string,
  filter: BucketFilter,
): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await clients.s3.send(new ListBucketsCommand({ ContinuationToken: token, MaxBuckets: 1000 }));
    for (const b of page.Buckets ?? []) if (b.Name) names.push(b.Name);
    token = page.ContinuationToken;
  } while (token);
  const wanted = names
    .filter((n) => filter.prefix === undefined || n.startsWith(filter.prefix))
    .filter((n) => filter.names === undefined || filter.names.includes(n))
    .sort();
  const inRegion: string[] = [];
  for (const bucket of wanted) {
    if ((await regionOf(clients, bucket)) !== region) continue;
    if (filter.tag && !(await hasTag(clients, bucket, filter.tag))) continue;
    inRegion.push(bucket);
  }
  return inRegion;
}

async function regionOf(clients: Pick<AwsClients, "s3">, bucket: string): Promise<string | undefined> {
  try {
    return (await clients.s3.send(new HeadBucketCommand({ Bucket: bucket }))).BucketRegion;
  } catch (err) {
    // A bucket in another region answers 301 with its region; one gone since the listing, 404.
    const region = (err as { $response?: { headers?: Record<string, string> } }).$response?.headers?.[
      "x-amz-bucket-region"
    ];
    if (region) return region;
    if (httpStatusOf(err) === 404) return undefined;
    throw err;
  }
}

async function hasTag(
  clients: Pick<AwsClients, "s3">,
  bucket: string,
  tag: { key: string; value: string },
): Promise<boolean> {
  try {
    const { TagSet } = await clients.s3.send(new GetBucketTaggingCommand({ Bucket: bucket }));
    return (TagSet ?? []).some((t) => t.Key === tag.key && t.Value === tag.value);
  } catch (err) {
    if ((err as Error).name === "NoSuchTagSet" || httpStatusOf(err) === 404) return false;
    throw err;
  }
}

/** Whether the bucket holds no object version and no delete marker: one listing of one key tells. */
async function isEmpty(clients: Pick<AwsClients, "s3">, bucket: string): Promise<boolean> {
  const page = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1 }));
  return !page.Versions?.length && !page.DeleteMarkers?.length;
}

/** An inventory configuration of the bucket a run can plan from, or undefined. */
async function usableInventory(
  clients: Pick<AwsClients, "s3">,
  bucket: string,
  athenaDeployed: boolean,
): Promise<InventoryConfiguration | undefined> {
  const configurations: InventoryConfiguration[] = [];
  let token: string | undefined;
  do {
    const page = await clients.s3.send(
      new ListBucketInventoryConfigurationsCommand({ Bucket: bucket, ContinuationToken: token }),
    );
    configurations.push(...(page.InventoryConfigurationList ?? []));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return configurations.find((c) => inventoryConfigurationProblems(c, { engine: "auto", athenaDeployed }).length === 0);
}

/** What scanBucket needs besides the bucket: the target, the deployment's settings, how to count inventories. */
export interface ScanTarget {
  kmsKeyArn: string;
  region: string;
  accountId: string;
  batchRoleArn: string;
  /** The deployment's Athena workgroup and database; undefined when it has none. */
  athena: AthenaConfig | undefined;
  /** How to count the latest inventory delivery (steps/domain/inventory-counts.ts scanCountEngine). */
  countEngine: ScanCountEngineChoice;
  /** At most this many HeadObject calls per bucket to tell the key of SSE-KMS objects the inventory cannot. */
  keyChecks: number;
  onProgress?: (bucket: string, progress: CountProgress) => void;
  /** One per scan: the account's principals and their kms:Decrypt answers, read once for every bucket. */
  readers?: ReaderImpactCache;
}

/**
 * Everything `rekey scan` says of one bucket, by read-only calls (and, for a large inventory, an Athena query):
 * preflight's facts and findings for a run under the target key, an inventory configuration a run can use and its
 * latest delivery's counts, whether the bucket is empty, and the verdict. How many versions a non-empty bucket holds
 * comes later, from S3's storage metrics (storage-metrics.ts).
 */
export async function scanBucket(
  /** With IAM, preflight's reader-impact check runs too (steps/aws/preflight-reads.ts). */
  clients: Pick<AwsClients, "s3" | "kms" | "athena"> & Partial<Pick<AwsClients, "iam">>,
  bucket: string,
  target: ScanTarget,
): Promise<ScannedBucket> {
  const inventory = await usableInventory(clients, bucket, target.athena !== undefined);
  const inventoryConfiguration = inventory?.Id ?? null;
  const facts = await gatherPreflightFacts(
    {
      bucket,
      kmsKeyArn: target.kmsKeyArn,
      region: target.region,
      accountId: target.accountId,
      source: inventoryConfiguration === null ? "generate" : "inventory",
      ...(inventoryConfiguration === null ? {} : { inventoryConfigurationId: inventoryConfiguration }),
    },
    clients,
    target.batchRoleArn,
    target.readers ? { readers: target.readers } : {},
  );
  const { blockers, warnings } = evaluatePreflight(facts);
  const summary = summarizeFacts(facts);
  const objects = (await isEmpty(clients, bucket)) ? 0 : undefined;
  const counted =
    objects === 0
      ? { unknown: "the bucket is empty" }
      : inventory === undefined
        ? { unknown: "no inventory configuration a run can use" }
        : await countLatestDelivery(clients, {
            bucket,
            configuration: inventory,
            targetKeyArn: target.kmsKeyArn,
            engine: target.countEngine,
            athena: target.athena,
            keyChecks: target.keyChecks,
            ...(target.onProgress ? { onProgress: (p: CountProgress) => target.onProgress?.(bucket, p) } : {}),
          });
  const counts = "counts" in counted ? counted.counts : null;
  const nonCompliant = counts ? nonCompliantObjects(counts.encryption) : undefined;
  const { verdict, why } = judgeBucket({
    targetKeyArn: target.kmsKeyArn,
    defaultEncryption: facts.defaultEncryption,
    blockers,
    objects,
    nonCompliantObjects: nonCompliant,
    ...(counts
      ? {
          unverifiedObjects: counts.encryption.sseKmsKeyUnknown.objects,
          countsAsOf: counts.delivery.createdAt.slice(0, 10),
        }
      : {}),
  });
  return {
    bucket,
    verdict,
    why,
    defaultEncryption: summary.defaultEncryption,
    defaultEncryptionCompliant: defaultEncryptionCompliant(facts.defaultEncryption, target.kmsKeyArn),
    versioning: summary.versioning,
    noncurrentExpirationDays: summary.noncurrentExpirationDays,
    objectLock: summary.objectLock,
    replication: summary.replication,
    inventoryConfiguration,
    objects,
    bytes: objects === 0 ? 0 : undefined,
    storageAsOf: undefined,
    unencryptedObjects: objects === 0 ? 0 : counts?.encryption.notEncrypted.objects,
    nonCompliantObjects: objects === 0 ? 0 : nonCompliant,
    inventoryCounts: counts,
    ...("unknown" in counted && objects !== 0 ? { inventoryCountsUnknown: counted.unknown } : {}),
    blockers,
    warnings,
  };
}
