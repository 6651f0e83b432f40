import { RunOptionsSchema } from "../../contract/run-context.ts";
import { estimateRun } from "./estimate.ts";
import { formatCount } from "./format.ts";
import type { InventoryCounts } from "./inventory-counts.ts";
import type { VersioningStatus } from "./preflight-facts.ts";

/**
 * The cost and duration of one run as `rekey scan` can tell them before any run: rekey's own estimate
 * (steps/domain/estimate.ts) fed from the latest inventory's counts when scan has them, else from S3's daily storage
 * metrics, which count versions but not their encryption.
 */

export interface ScanEstimate {
  /** What the numbers come from: the latest inventory's counts, S3's storage metrics, or a listing that found nothing. */
  basis: "inventory" | "storage-metrics" | "empty";
  oneTimeUsd: number;
  durationLowSeconds: number;
  durationHighSeconds: number;
  /** What the old versions a run leaves in a versioned bucket cost a month until lifecycle expires them. */
  oldVersionsPerMonthUsd: number;
  /** What the numbers leave out or assume beyond estimate.ts's own assumptions. */
  notes: string[];
}

export interface BucketFactsForEstimate {
  versioning: VersioningStatus;
  noncurrentExpirationDays: number | undefined;
  /** Whether a run would plan from an inventory (else the manifest generator lists the candidates). */
  inventory: boolean;
}

/** HeadObject calls the run's verification makes: its default sample size (contract/run-context.ts). */
const VERIFY_SAMPLE = RunOptionsSchema.parse({}).verifySampleSize;

/** From the latest delivery's counts: what a run would copy, update, skip and check, by the planning's rules. */
export function estimateFromCounts(counts: InventoryCounts, facts: BucketFactsForEstimate): ScanEstimate {
  const { run, encryption } = counts;
  const route = (c: { objects: number; bytes: number }) => ({ objects: c.objects, bytes: c.bytes });
  const changed =
    Object.values(run.copy).reduce((n, c) => n + (c?.objects ?? 0), 0) +
    Object.values(run.multipartCopy).reduce((n, c) => n + (c?.objects ?? 0), 0) +
    run.updateFromSseS3.objects +
    run.updateFromSseKms.objects;
  const unknownKeys = encryption.sseKmsKeyUnknown.objects;
  const e = estimateRun({
    copy: run.copy,
    multipartCopy: run.multipartCopy,
    updateEncryption: { fromSseS3: route(run.updateFromSseS3), fromSseKms: route(run.updateFromSseKms) },
    skipped: route(run.skipped),
    verifySample: Math.min(VERIFY_SAMPLE, changed),
    versioning: facts.versioning,
    ...(facts.noncurrentExpirationDays === undefined
      ? {}
      : { noncurrentExpirationDays: facts.noncurrentExpirationDays }),
    // A run plans from a delivery made after it sets the default encryption: one more listing of every version.
    inventoryObjectsListed: counts.current.objects + counts.notCurrent.objects,
    ...(unknownKeys ? { planningHeadRequests: unknownKeys } : {}),
  });
  const notes: string[] = [];
  if (unknownKeys) {
    notes.push(
      `${formatCount(unknownKeys)} SSE-KMS object(s) with a Bucket Key whose key the inventory does not list: a run checks each (counted) and updates those under another key (not counted)`,
    );
  }
  if (counts.countedBy === "athena" && Object.keys(run.multipartCopy).length > 0) {
    notes.push("objects rekey copies itself (over 5 GiB, or keys too long for a manifest) are priced as S3 Standard");
  }
  return {
    basis: "inventory",
    oneTimeUsd: e.oneTimeUsd,
    durationLowSeconds: e.duration.lowSeconds,
    durationHighSeconds: e.duration.highSeconds,
    oldVersionsPerMonthUsd: e.oldVersions.perMonthUsd,
    notes,
  };
}

/**
 * From S3's daily storage metrics: every version they count is priced as an object a run copies in S3 Standard. An
 * upper bound: a run copies only current unencrypted objects, updates encrypted ones in place and leaves the others.
 */
export function estimateFromStorageMetrics(
  storage: { objects: number; bytes: number; asOf: string },
  facts: BucketFactsForEstimate,
): ScanEstimate {
  const e = estimateRun({
    copy: { STANDARD: { objects: storage.objects, bytes: storage.bytes } },
    multipartCopy: {},
    updateEncryption: { fromSseS3: { objects: 0, bytes: 0 }, fromSseKms: { objects: 0, bytes: 0 } },
    skipped: { objects: 0, bytes: 0 },
    verifySample: Math.min(VERIFY_SAMPLE, storage.objects),
    versioning: facts.versioning,
    ...(facts.noncurrentExpirationDays === undefined
      ? {}
      : { noncurrentExpirationDays: facts.noncurrentExpirationDays }),
    ...(facts.inventory ? { inventoryObjectsListed: storage.objects } : { candidateListJobs: 1 }),
  });
  return {
    basis: "storage-metrics",
    oneTimeUsd: e.oneTimeUsd,
    durationLowSeconds: e.duration.lowSeconds,
    durationHighSeconds: e.duration.highSeconds,
    oldVersionsPerMonthUsd: e.oldVersions.perMonthUsd,
    notes: [
      `an upper bound from S3's storage metrics of ${storage.asOf}: each of the ${formatCount(storage.objects)} version(s) priced as a copy in S3 Standard`,
    ],
  };
}

/** An empty bucket: a run sets the default encryption, finds nothing to copy, and costs next to nothing. */
export function estimateForEmptyBucket(): ScanEstimate {
  return {
    basis: "empty",
    oneTimeUsd: 0,
    durationLowSeconds: 0,
    durationHighSeconds: 0,
    oldVersionsPerMonthUsd: 0,
    notes: ["the bucket is empty: a run sets the default encryption and copies nothing"],
  };
}
