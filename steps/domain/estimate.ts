/**
 * Cost and duration estimate of one run, from the planned counts per route. Pure. Prices come from prices.ts (each
 * with its confidence); every modelling assumption is a named constant below and is repeated in the estimate's
 * `assumptions`, so the operator reads them next to the numbers.
 *
 * Model:
 * - Batch Operations: per job and per object operation. Jobs: one S3PutObjectCopy job per storage class with
 *   objects, plus one S3UpdateObjectEncryption job. Multipart copies are made by rekey's own step
 *   (steps/aws/multipart-copy.ts), not a Batch Operations job: no Batch fee.
 * - Requests: one COPY per copied object at the destination class's PUT/COPY price (S3 Standard's where no other is
 *   known); one UpdateObjectEncryption request per updated object (price assumed); per multipart copy a HeadObject
 *   and a GetObjectTagging (GET tier) to carry metadata and tags, CreateMultipartUpload, one UploadPartCopy per part
 *   and CompleteMultipartUpload (PUT tier); one HeadObject per verified object. The large-object copy's own
 *   checks (a few HEAD / ListParts / ListObjectVersions per object) are not counted.
 * - KMS without Bucket Keys: one request per object written (GenerateDataKey, or Encrypt/ReEncrypt for
 *   UpdateObjectEncryption), one Decrypt per part uploaded into an SSE-KMS multipart upload, one Decrypt per
 *   SSE-KMS source read. With Bucket Keys: the writes cost one request per bucket-level key, and AWS publishes
 *   neither how long such a key lives ("time-limited") nor how many S3 holds at once; the model assumes
 *   {@link BUCKET_KEY_ASSUMED_LIFETIME_SECONDS} and {@link BUCKET_KEY_ASSUMED_CONCURRENT} over the longest duration,
 *   capped at the per-object figure. SSE-KMS sources are decrypted per object either way.
 * - Old versions: in a versioned bucket every copy leaves the previous version, in its storage class, until a
 *   NoncurrentVersionExpiration rule deletes it; S3UpdateObjectEncryption is assumed not to leave one (not
 *   documented in https://docs.aws.amazon.com/AmazonS3/latest/userguide/update-sse-encryption.html). A month is 30 days.
 * - Duration: setup time plus per-object and per-byte terms at assumed rates, all work sharing one throughput;
 *   low = fast rates and short setup, high = slow rates and long setup. AWS publishes no Batch Operations task rate.
 */

import { DEFAULT_PART_BYTES } from "../../contract/large-objects.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { formatBytes, formatCount, formatUsd } from "./format.ts";
import type { VersioningStatus } from "./preflight-facts.ts";
import {
  ATHENA_BYTES_PER_TB,
  ATHENA_MIN_BYTES_PER_QUERY,
  BYTES_PER_GB,
  costOf,
  PRICES,
  PRICES_AS_OF,
  PRICES_REGION,
  type Price,
  type PriceConfidence,
  putCopyRequestPrice,
  STORAGE_PRICES,
} from "./prices.ts";

export interface RouteCount {
  objects: number;
  bytes: number;
}

export interface EstimateInput {
  /** NOT-SSE objects up to 5 GiB, copied in place: one job per storage class. */
  copy: Partial<Record<CopyStorageClass, RouteCount>>;
  /** Already-encrypted objects for S3UpdateObjectEncryption (one job), by their current encryption. */
  updateEncryption: { fromSseS3: RouteCount; fromSseKms: RouteCount };
  /** NOT-SSE objects over 5 GiB, multipart-copied, by storage class; `parts` when the planner knows them. */
  multipartCopy: Partial<Record<CopyStorageClass, RouteCount & { parts?: number }>>;
  /** Objects not touched (any reason); counted only. */
  skipped: RouteCount;
  /** HeadObject requests Verify results makes. */
  verifySample: number;
  versioning: VersioningStatus;
  /** Days after which a whole-bucket rule expires noncurrent versions; undefined when none does. */
  noncurrentExpirationDays?: number;
  /** Objects an S3 Inventory report lists for this run, when the run waits for one. */
  inventoryObjectsListed?: number;
  /** Jobs the manifest generator ran to list candidates (source: generate); cancelled before any task. */
  candidateListJobs?: number;
  /** False when object sizes are unknown (generated lists name keys only): bytes count as zero. */
  sizesKnown?: boolean;
  /** HeadObject requests planning made (the KMS key of SSE-KMS objects, which the inventory does not list). */
  planningHeadRequests?: number;
  /** SSE-KMS objects with a Bucket Key updated without that HeadObject (options.sseKmsWithBucketKey "update"). */
  keyChecksSkipped?: number;
  /** Bytes each of planning's Athena queries scanned (the athena engine); each is billed at least 10 MB. */
  athenaQueriesScanned?: number[];
}

/**
 * Part size assumed for multipart copies when the plan gives no part count: the large-object copy's default
 * (steps/domain/large-copy.ts), which it raises only for objects that would need more than 10,000 parts.
 */
export const MULTIPART_ASSUMED_PART_BYTES = DEFAULT_PART_BYTES;
/** AWS: a bucket-level key is used "for a time-limited period", length unpublished. Assumed short, so high. */
export const BUCKET_KEY_ASSUMED_LIFETIME_SECONDS = 300;
/** How many bucket-level keys S3 may hold at once for one bucket and role (unpublished; assumed generously). */
export const BUCKET_KEY_ASSUMED_CONCURRENT = 100;
export const DAYS_PER_MONTH = 30;

/** Assumed throughput; `fast` gives the low duration, `slow` the high one. No AWS source publishes these. */
export const ASSUMED_RATES = {
  setupSeconds: { fast: 300, slow: 3600 },
  copyObjectsPerSecond: { fast: 1000, slow: 100 },
  copyBytesPerSecond: { fast: 1024 ** 3, slow: 100 * 1024 ** 2 },
  updateObjectsPerSecond: { fast: 5000, slow: 500 },
  multipartBytesPerSecond: { fast: 500 * 1024 ** 2, slow: 100 * 1024 ** 2 },
} as const;

export interface CostLine {
  item: string;
  quantity: number;
  unit: string;
  /** Dollars per single unit. */
  unitUsd: number;
  usd: number;
  confidence: PriceConfidence;
  source: string;
  /** How quantity and unit price read where counting does not suit (bytes scanned, priced per TB). */
  shown?: string;
}

export interface Estimate {
  asOf: string;
  region: string;
  jobs: number;
  objects: { copy: number; updateEncryption: number; multipartCopy: number; skipped: number };
  /** One-time charges except KMS, which is in `kms`. */
  lines: CostLine[];
  kms: {
    requestsWithBucketKey: number;
    requestsWithoutBucketKey: number;
    usdWithBucketKey: number;
    usdWithoutBucketKey: number;
    confidence: PriceConfidence;
  };
  /** Sum of `lines` plus KMS with Bucket Keys (what rekey does). */
  oneTimeUsd: number;
  /** The same if every object called KMS itself (no Bucket Key), for comparison. */
  oneTimeUsdWithoutBucketKey: number;
  oldVersions: {
    bytes: number;
    perMonthUsd: number;
    /** Months until a lifecycle rule expires them; undefined when no rule does. */
    months?: number;
    totalUsd?: number;
    byClass: { storageClass: string; bytes: number; perMonthUsd: number; confidence: PriceConfidence }[];
  };
  duration: { lowSeconds: number; highSeconds: number };
  /** The weakest confidence among the prices used. */
  confidence: PriceConfidence;
  notIncluded: string[];
  assumptions: string[];
}

const CONFIDENCE_ORDER: readonly PriceConfidence[] = ["official", "3p", "unverified", "assumed"];
const weakest = (xs: readonly PriceConfidence[]): PriceConfidence =>
  xs.reduce<PriceConfidence>((w, c) => (CONFIDENCE_ORDER.indexOf(c) > CONFIDENCE_ORDER.indexOf(w) ? c : w), "official");

function line(item: string, quantity: number, price: Price): CostLine {
  return {
    item,
    quantity,
    unit: price.unit,
    unitUsd: price.usd / price.per,
    usd: costOf(price, quantity),
    confidence: price.confidence,
    source: price.source,
  };
}

const entries = <T>(r: Partial<Record<CopyStorageClass, T>>): [CopyStorageClass, T][] =>
  Object.entries(r).filter((e): e is [CopyStorageClass, T] => e[1] !== undefined);

/** Parts of the multipart copies of one class: as planned, else an upper bound at the assumed part size. */
function partsOf(c: RouteCount & { parts?: number }): number {
  return c.parts ?? Math.floor(c.bytes / MULTIPART_ASSUMED_PART_BYTES) + c.objects;
}

export function estimateRun(input: EstimateInput): Estimate {
  const copies = entries(input.copy).filter(([, c]) => c.objects > 0);
  const multiparts = entries(input.multipartCopy).filter(([, c]) => c.objects > 0);
  const update = input.updateEncryption;
  const updateObjects = update.fromSseS3.objects + update.fromSseKms.objects;
  const copyObjects = copies.reduce((n, [, c]) => n + c.objects, 0);
  const copyBytes = copies.reduce((n, [, c]) => n + c.bytes, 0);
  const multipartObjects = multiparts.reduce((n, [, c]) => n + c.objects, 0);
  const multipartBytes = multiparts.reduce((n, [, c]) => n + c.bytes, 0);
  const parts = multiparts.reduce((n, [, c]) => n + partsOf(c), 0);
  const jobs = copies.length + (updateObjects > 0 ? 1 : 0);

  const lines: CostLine[] = [];
  if (jobs) lines.push(line("Batch Operations jobs", jobs, PRICES.batchOperationsJob));
  if (copyObjects + updateObjects) {
    lines.push(line("Batch Operations object operations", copyObjects + updateObjects, PRICES.batchOperationsObject));
  }
  for (const [cls, c] of copies) lines.push(line(`COPY requests (${cls})`, c.objects, putCopyRequestPrice(cls)));
  if (updateObjects)
    lines.push(line("UpdateObjectEncryption requests", updateObjects, PRICES.updateObjectEncryptionRequest));
  for (const [cls, c] of multiparts) {
    lines.push(
      line(
        `Multipart copy PUT-tier requests (${cls}): create + ${partsOf(c)} parts + complete`,
        2 * c.objects + partsOf(c),
        putCopyRequestPrice(cls),
      ),
    );
  }
  if (multipartObjects) {
    lines.push(line("Multipart copy HeadObject + GetObjectTagging", 2 * multipartObjects, PRICES.standardGetRequest));
  }
  if (input.verifySample)
    lines.push(line("Verification HeadObject requests", input.verifySample, PRICES.standardGetRequest));
  if (input.inventoryObjectsListed) {
    lines.push(line("S3 Inventory objects listed", input.inventoryObjectsListed, PRICES.inventoryObjectListed));
  }
  if (input.candidateListJobs) {
    lines.push(
      line(
        "Batch Operations jobs listing candidates (cancelled unrun)",
        input.candidateListJobs,
        PRICES.batchOperationsJob,
      ),
    );
  }

  if (input.planningHeadRequests) {
    lines.push(
      line(
        "Planning HeadObject requests (keys of SSE-KMS objects)",
        input.planningHeadRequests,
        PRICES.standardGetRequest,
      ),
    );
  }
  if (input.athenaQueriesScanned?.length) {
    const billed = input.athenaQueriesScanned.reduce((n, b) => n + Math.max(b, ATHENA_MIN_BYTES_PER_QUERY), 0);
    const queries = input.athenaQueriesScanned.length;
    lines.push({
      ...line("Athena data scanned by planning", billed / ATHENA_BYTES_PER_TB, PRICES.athenaTerabyteScanned),
      shown: `${bytesOf(billed)} billed over ${count(queries)} quer${queries === 1 ? "y" : "ies"} × ${formatUsd(PRICES.athenaTerabyteScanned.usd)}/TB`,
    });
  }

  const duration = durationOf(copyObjects, copyBytes, updateObjects, multipartBytes);

  const writes = copyObjects + updateObjects + multipartObjects;
  const sourceDecrypts = update.fromSseKms.objects;
  const withoutBucketKey = writes + parts + sourceDecrypts;
  const bucketKeyRequests =
    writes === 0
      ? 0
      : Math.ceil(duration.highSeconds / BUCKET_KEY_ASSUMED_LIFETIME_SECONDS) * BUCKET_KEY_ASSUMED_CONCURRENT;
  const withBucketKey = Math.min(writes + parts, bucketKeyRequests) + sourceDecrypts;
  const kms = {
    requestsWithBucketKey: withBucketKey,
    requestsWithoutBucketKey: withoutBucketKey,
    usdWithBucketKey: costOf(PRICES.kmsRequest, withBucketKey),
    usdWithoutBucketKey: costOf(PRICES.kmsRequest, withoutBucketKey),
    confidence: PRICES.kmsRequest.confidence,
  };

  const linesUsd = lines.reduce((s, l) => s + l.usd, 0);
  const oldVersions = oldVersionsOf(input, copies, multiparts);

  const notIncluded = [
    "CloudTrail data events, Lambda, Step Functions and CloudWatch charges of the run",
    "the 20,000 free KMS requests a month (not deducted)",
  ];
  const retrieval = [...copies, ...multiparts].filter(([cls]) =>
    ["STANDARD_IA", "ONEZONE_IA", "GLACIER_IR"].includes(cls),
  );
  if (retrieval.length) {
    notIncluded.push(
      `data-retrieval charges for reading ${retrieval.map(([cls, c]) => `${bytesOf(c.bytes)} of ${cls}`).join(", ")} (price not retrieved)`,
    );
    if (input.versioning === "Unversioned") {
      notIncluded.push("early-deletion charges for overwriting IA / Glacier IR objects before their minimum duration");
    }
  }
  if (input.versioning === "Suspended") {
    notIncluded.push("the saving where a copy replaces a null version instead of keeping it (versioning suspended)");
  }
  if (update.fromSseKms.objects) {
    notIncluded.push("fewer Decrypts for SSE-KMS sources that already use a Bucket Key (counted per object)");
  }
  if (input.candidateListJobs) {
    notIncluded.push("any charge of the manifest generator for listing the bucket (price not retrieved)");
  }
  if (input.sizesKnown === false) {
    notIncluded.push(
      "the size of objects up to 5 GiB (the generated lists name keys only): durations and retrieval count objects, not bytes",
    );
  }

  const assumptions = [
    `COPY and UploadPartCopy requests of non-Standard classes are priced at S3 Standard's PUT price (others not found); UpdateObjectEncryption at the PUT price (no official price found)`,
    `with Bucket Keys, one KMS request per bucket-level key, assumed to live ${BUCKET_KEY_ASSUMED_LIFETIME_SECONDS / 60} min with up to ${BUCKET_KEY_ASSUMED_CONCURRENT} at once (AWS publishes neither)`,
    `multipart copies: rekey's own calls, parts of ${bytesOf(MULTIPART_ASSUMED_PART_BYTES)} where the plan gives no count (an upper bound); one KMS Decrypt per part without Bucket Key`,
    "S3UpdateObjectEncryption leaves no old version behind (not documented)",
    `duration: setup ${ASSUMED_RATES.setupSeconds.fast / 60}–${ASSUMED_RATES.setupSeconds.slow / 60} min; copies ${ASSUMED_RATES.copyObjectsPerSecond.slow}–${ASSUMED_RATES.copyObjectsPerSecond.fast} objects/s plus ${bytesOf(ASSUMED_RATES.copyBytesPerSecond.slow)}–${bytesOf(ASSUMED_RATES.copyBytesPerSecond.fast)}/s; updates ${ASSUMED_RATES.updateObjectsPerSecond.slow}–${ASSUMED_RATES.updateObjectsPerSecond.fast} objects/s; multipart ${bytesOf(ASSUMED_RATES.multipartBytesPerSecond.slow)}–${bytesOf(ASSUMED_RATES.multipartBytesPerSecond.fast)}/s (no published rates)`,
    `a month is ${DAYS_PER_MONTH} days; a GB is 2^30 bytes`,
  ];
  if (input.keyChecksSkipped) {
    const checks = line("", input.keyChecksSkipped, PRICES.standardGetRequest);
    assumptions.push(
      `${count(input.keyChecksSkipped)} SSE-KMS objects with a Bucket Key are updated without checking their key (sseKmsWithBucketKey: update), those already under the target key included; checking would have taken as many HeadObject requests (${formatUsd(checks.usd)})`,
    );
  }
  if (input.planningHeadRequests) {
    const updates = costOf(PRICES.updateObjectEncryptionRequest, input.planningHeadRequests);
    const tasks = costOf(PRICES.batchOperationsObject, input.planningHeadRequests);
    assumptions.push(
      `planning checked the key of SSE-KMS objects with a Bucket Key with one HeadObject each; with sseKmsWithBucketKey "update" it would check none and update all of them, up to ${formatUsd(updates + tasks)} more in updates and Batch tasks`,
    );
  }

  return {
    asOf: PRICES_AS_OF,
    region: PRICES_REGION,
    jobs,
    objects: {
      copy: copyObjects,
      updateEncryption: updateObjects,
      multipartCopy: multipartObjects,
      skipped: input.skipped.objects,
    },
    lines,
    kms,
    oneTimeUsd: linesUsd + kms.usdWithBucketKey,
    oneTimeUsdWithoutBucketKey: linesUsd + kms.usdWithoutBucketKey,
    oldVersions,
    duration,
    confidence: weakest([
      ...lines.map((l) => l.confidence),
      ...(writes ? [kms.confidence] : []),
      ...oldVersions.byClass.map((c) => c.confidence),
    ]),
    notIncluded,
    assumptions,
  };
}

function durationOf(copyObjects: number, copyBytes: number, updateObjects: number, multipartBytes: number) {
  if (copyObjects + updateObjects + multipartBytes === 0) return { lowSeconds: 0, highSeconds: 0 };
  const r = ASSUMED_RATES;
  const at = (speed: "fast" | "slow") =>
    r.setupSeconds[speed] +
    copyObjects / r.copyObjectsPerSecond[speed] +
    copyBytes / r.copyBytesPerSecond[speed] +
    updateObjects / r.updateObjectsPerSecond[speed] +
    multipartBytes / r.multipartBytesPerSecond[speed];
  return { lowSeconds: at("fast"), highSeconds: at("slow") };
}

function oldVersionsOf(
  input: EstimateInput,
  copies: readonly [CopyStorageClass, RouteCount][],
  multiparts: readonly [CopyStorageClass, RouteCount][],
): Estimate["oldVersions"] {
  if (input.versioning === "Unversioned") return { bytes: 0, perMonthUsd: 0, months: 0, totalUsd: 0, byClass: [] };
  const bytesByClass = new Map<CopyStorageClass, number>();
  for (const [cls, c] of [...copies, ...multiparts]) bytesByClass.set(cls, (bytesByClass.get(cls) ?? 0) + c.bytes);
  const byClass = [...bytesByClass].map(([storageClass, bytes]) => {
    const price = STORAGE_PRICES[storageClass];
    return { storageClass, bytes, perMonthUsd: costOf(price, bytes / BYTES_PER_GB), confidence: price.confidence };
  });
  const bytes = byClass.reduce((n, c) => n + c.bytes, 0);
  const perMonthUsd = byClass.reduce((n, c) => n + c.perMonthUsd, 0);
  if (input.noncurrentExpirationDays === undefined) return { bytes, perMonthUsd, byClass };
  const months = input.noncurrentExpirationDays / DAYS_PER_MONTH;
  return { bytes, perMonthUsd, months, totalUsd: perMonthUsd * months, byClass };
}

// ---------------------------------------------------------------------------------------------------------------------
// Rendering

export function formatDuration(seconds: number): string {
  const m = Math.round(seconds / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${(h / 24).toFixed(1)} days`;
}

const count = formatCount;
/** Sizes as the estimate writes them: no decimal for whole numbers ("17 GiB"). */
const bytesOf = (bytes: number) => formatBytes(bytes, "trimmed");

/**
 * Per-request prices read best per 1,000 (as AWS lists most of them), the smallest per million (as AWS lists S3
 * Inventory's), so no digit is rounded away; per-job prices as they are.
 */
function unitPrice(usd: number): string {
  if (usd >= 0.01) return `${formatUsd(usd)} each`;
  const [scale, per] = usd * 1000 >= 0.0001 ? [1000, "1,000"] : [1_000_000, "million"];
  return `$${(usd * scale).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 6 })}/${per}`;
}

/** What each source tag in brackets means (steps/domain/prices.ts). */
const SOURCE_TAGS: Record<PriceConfidence, string> = {
  official: "an AWS pricing page or AWS documentation",
  "3p": "a secondary source quoting AWS's list price",
  unverified: "a widely published list price that no source found here confirms",
  assumed: "no price found; a stand-in, named under Assumptions",
};

/** A short text for the approval gate and the report. */
export function renderEstimate(e: Estimate): string {
  const out: string[] = [];
  out.push(
    `Estimate (${e.region} prices as of ${e.asOf}; the least sure price is [${e.confidence}], see Sources below). Objects: ${count(e.objects.copy)} copied and ${count(e.objects.updateEncryption)} updated in ${e.jobs} Batch Operations job(s), ${count(e.objects.multipartCopy)} multipart-copied, ${count(e.objects.skipped)} skipped.`,
  );
  out.push(
    `One-time cost: ${formatUsd(e.oneTimeUsd)} with S3 Bucket Keys (${formatUsd(e.oneTimeUsdWithoutBucketKey)} if every object called KMS).`,
  );
  for (const l of e.lines) {
    const amount = l.shown ?? `${count(l.quantity)} × ${unitPrice(l.unitUsd)}`;
    out.push(`  ${l.item}: ${amount} = ${formatUsd(l.usd)} [${l.confidence}]`);
  }
  out.push(
    `  KMS requests: ${count(e.kms.requestsWithBucketKey)} with Bucket Keys = ${formatUsd(e.kms.usdWithBucketKey)}; ${count(e.kms.requestsWithoutBucketKey)} without = ${formatUsd(e.kms.usdWithoutBucketKey)} [${e.kms.confidence}]`,
  );
  const ov = e.oldVersions;
  if (ov.bytes > 0) {
    out.push(
      ov.totalUsd === undefined || ov.months === undefined
        ? `Old versions kept: ${bytesOf(ov.bytes)}, ${formatUsd(ov.perMonthUsd)} per month until deleted (no lifecycle rule expires them).`
        : `Old versions kept: ${bytesOf(ov.bytes)}, ${formatUsd(ov.perMonthUsd)} per month for ${ov.months.toFixed(1)} month(s) until lifecycle expires them = ${formatUsd(ov.totalUsd)}.`,
    );
  }
  out.push(
    `Duration: ${formatDuration(e.duration.lowSeconds)} to ${formatDuration(e.duration.highSeconds)} (assumed rates).`,
  );
  out.push(`Not included: ${e.notIncluded.join("; ")}.`);
  out.push(`Assumptions: ${e.assumptions.join("; ")}.`);
  const tags = new Set<PriceConfidence>([
    ...e.lines.map((l) => l.confidence),
    e.kms.confidence,
    ...e.oldVersions.byClass.map((c) => c.confidence),
  ]);
  const legend = (Object.keys(SOURCE_TAGS) as PriceConfidence[]).filter((t) => tags.has(t));
  out.push(`Sources in brackets: ${legend.map((t) => `[${t}] ${SOURCE_TAGS[t]}`).join("; ")}.`);
  return out.join("\n");
}
