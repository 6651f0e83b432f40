import type { Behaviours } from "../behaviours.ts";
import type { IntelligentTieringAccessTier, S3Bucket, S3Store, StorageClass } from "../s3/store.ts";

/**
 * S3's free daily storage metrics (namespace AWS/S3), computed from the sandbox's S3 state: BucketSizeBytes per
 * StorageType and NumberOfObjects (StorageType AllStorageTypes), as
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html defines them: every version counts,
 * current or not, and so do the parts of multipart uploads not yet completed; NumberOfObjects also counts delete
 * markers. What "today" is: sandbox/ASSUMPTIONS.md ("CloudWatch").
 */

/** One raw data point, as S3 publishes it to CloudWatch. */
export interface Datapoint {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  timestamp: Date;
  value: number;
  unit: "Bytes" | "Count";
}

export const S3_NAMESPACE = "AWS/S3";
const DAY_MS = 86_400_000;
const KIB = 1024;

/** IA and Glacier Instant Retrieval bill an object under 128 KB as 128 KB; the difference is reported apart. */
const MINIMUM_BILLABLE = 128 * KIB;

/** The StorageType of an object version's bytes. Outposts and Snow objects are not in AWS/S3; the sandbox leaves them out. */
function storageType(cls: StorageClass, tier: IntelligentTieringAccessTier | undefined): string | undefined {
  switch (cls) {
    case "STANDARD":
      return "StandardStorage";
    case "REDUCED_REDUNDANCY":
      return "ReducedRedundancyStorage";
    case "STANDARD_IA":
      return "StandardIAStorage";
    case "ONEZONE_IA":
      return "OneZoneIAStorage";
    case "GLACIER_IR":
      return "GlacierInstantRetrievalStorage";
    case "GLACIER":
      return "GlacierStorage";
    case "DEEP_ARCHIVE":
      return "DeepArchiveStorage";
    case "INTELLIGENT_TIERING":
      return INTELLIGENT_TIERING_TYPES[tier ?? "FREQUENT"];
    case "EXPRESS_ONEZONE":
      return "ExpressOneZone";
    default:
      return undefined;
  }
}

const INTELLIGENT_TIERING_TYPES: Record<IntelligentTieringAccessTier, string> = {
  FREQUENT: "IntelligentTieringFAStorage",
  INFREQUENT: "IntelligentTieringIAStorage",
  ARCHIVE_INSTANT_ACCESS: "IntelligentTieringAIAStorage",
  ARCHIVE_ACCESS: "IntelligentTieringAAStorage",
  DEEP_ARCHIVE_ACCESS: "IntelligentTieringDAAStorage",
};

/** The overheads the StorageType dimension lists besides an object's own bytes. */
function overheads(cls: StorageClass, size: number): [type: string, bytes: number][] {
  const small = Math.max(0, MINIMUM_BILLABLE - size);
  switch (cls) {
    case "STANDARD_IA":
      return [["StandardIASizeOverhead", small]];
    case "ONEZONE_IA":
      return [["OneZoneIASizeOverhead", small]];
    case "GLACIER_IR":
      return [["GlacierInstantRetrievalSizeOverhead", small]];
    case "GLACIER":
      return [
        ["GlacierObjectOverhead", 32 * KIB],
        ["GlacierS3ObjectOverhead", 8 * KIB],
      ];
    case "DEEP_ARCHIVE":
      return [
        ["DeepArchiveObjectOverhead", 32 * KIB],
        ["DeepArchiveS3ObjectOverhead", 8 * KIB],
      ];
    default:
      return [];
  }
}

/** Where the parts of an upload not yet completed count: staging types for the archive classes. */
function partsType(cls: StorageClass, tier: IntelligentTieringAccessTier | undefined): string | undefined {
  if (cls === "GLACIER") return "GlacierStagingStorage";
  if (cls === "DEEP_ARCHIVE") return "DeepArchiveStagingStorage";
  return storageType(cls, tier);
}

/** A bucket's totals now: bytes per StorageType (a type listed once anything is stored in it) and the object count. */
export function bucketTotals(bucket: S3Bucket): { bytes: Map<string, number>; objects: number } {
  const bytes = new Map<string, number>();
  const add = (type: string | undefined, n: number) => {
    if (type !== undefined) bytes.set(type, (bytes.get(type) ?? 0) + n);
  };
  let objects = 0;
  for (const key of bucket.sortedKeys()) {
    for (const v of bucket.versionsOf(key)) {
      objects++;
      if (v.isDeleteMarker) continue;
      const type = storageType(v.storageClass, v.intelligentTieringAccessTier);
      if (type === undefined) continue;
      add(type, v.size);
      for (const [overhead, n] of overheads(v.storageClass, v.size)) add(overhead, n);
    }
  }
  for (const upload of bucket.uploads.values()) {
    const type = partsType(upload.template.storageClass, upload.template.intelligentTieringAccessTier);
    for (const part of upload.parts.values()) {
      objects++;
      add(type, part.size);
    }
  }
  return { bytes, objects };
}

/** The last midnight UTC at or before `now`: the timestamp of the day's data point. */
export function dayOf(now: Date): Date {
  return new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
}

/**
 * Every bucket's data points for the day of `now`, computed from the state at `now`. A bucket created since that
 * midnight has none unless the `newBucketStorageMetrics` switch says `SameDay`; an empty bucket has none.
 */
export function storageDatapoints(store: S3Store, behaviours: Behaviours, now: Date): Datapoint[] {
  const day = dayOf(now);
  const points: Datapoint[] = [];
  for (const bucket of store.listBuckets()) {
    if (behaviours.newBucketStorageMetrics === "NextDay" && bucket.creationDate.getTime() >= day.getTime()) continue;
    const { bytes, objects } = bucketTotals(bucket);
    for (const [type, n] of [...bytes].sort(([a], [b]) => (a < b ? -1 : 1))) {
      points.push(point(bucket.name, "BucketSizeBytes", type, day, n, "Bytes"));
    }
    if (objects > 0) points.push(point(bucket.name, "NumberOfObjects", "AllStorageTypes", day, objects, "Count"));
  }
  return points;
}

function point(
  bucket: string,
  metricName: string,
  type: string,
  timestamp: Date,
  value: number,
  unit: Datapoint["unit"],
): Datapoint {
  return {
    namespace: S3_NAMESPACE,
    metricName,
    dimensions: { BucketName: bucket, StorageType: type },
    timestamp,
    value,
    unit,
  };
}
