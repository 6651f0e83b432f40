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
import { evaluatePreflight } from "../domain/preflight.ts";
import { summarizeFacts } from "../domain/preflight-facts.ts";
import type { AwsClients } from "../runtime/clients.ts";
import { gatherPreflightFacts } from "./preflight-reads.ts";
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
  nonCompliantObjects: number | undefined;
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

/** An inventory configuration of the bucket a run can plan from, or null. */
async function usableInventory(clients: Pick<AwsClients, "s3">, bucket: string, athenaDeployed: boolean) {
  const configurations: InventoryConfiguration[] = [];
  let token: string | undefined;
  do {
    const page = await clients.s3.send(
      new ListBucketInventoryConfigurationsCommand({ Bucket: bucket, ContinuationToken: token }),
    );
    configurations.push(...(page.InventoryConfigurationList ?? []));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const usable = configurations.find(
    (c) => inventoryConfigurationProblems(c, { engine: "auto", athenaDeployed }).length === 0,
  );
  return usable?.Id ?? null;
}

/**
 * Everything `rekey scan` says of one bucket, by read-only calls: preflight's facts and findings for a run under
 * the target key, an inventory configuration a run can use, whether the bucket is empty, and the verdict. How many
 * objects a non-empty bucket holds, and how many are not compliant, are not read yet ("unknown").
 */
export async function scanBucket(
  clients: Pick<AwsClients, "s3" | "kms">,
  bucket: string,
  target: { kmsKeyArn: string; region: string; accountId: string; batchRoleArn: string; athenaDeployed: boolean },
): Promise<ScannedBucket> {
  const inventoryConfiguration = await usableInventory(clients, bucket, target.athenaDeployed);
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
  );
  const { blockers, warnings } = evaluatePreflight(facts);
  const summary = summarizeFacts(facts);
  const objects = (await isEmpty(clients, bucket)) ? 0 : undefined;
  const nonCompliantObjects = undefined;
  const { verdict, why } = judgeBucket({
    targetKeyArn: target.kmsKeyArn,
    defaultEncryption: facts.defaultEncryption,
    blockers,
    objects,
    nonCompliantObjects,
  });
  return {
    bucket,
    verdict,
    why,
    defaultEncryption: summary.defaultEncryption,
    defaultEncryptionCompliant: defaultEncryptionCompliant(facts.defaultEncryption, target.kmsKeyArn),
    versioning: summary.versioning,
    objectLock: summary.objectLock,
    replication: summary.replication,
    inventoryConfiguration,
    objects,
    bytes: objects === 0 ? 0 : undefined,
    storageAsOf: undefined,
    nonCompliantObjects,
    blockers,
    warnings,
  };
}
