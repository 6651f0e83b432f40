import { type CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from "@aws-sdk/client-cloudwatch";

/**
 * The StorageType values of S3's daily BucketSizeBytes metric
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html): a bucket's bytes are their sum.
 */
const BYTE_STORAGE_TYPES = [
  "StandardStorage",
  "IntelligentTieringFAStorage",
  "IntelligentTieringIAStorage",
  "IntelligentTieringAAStorage",
  "IntelligentTieringAIAStorage",
  "IntelligentTieringDAAStorage",
  "StandardIAStorage",
  "StandardIASizeOverhead",
  "IntAAObjectOverhead",
  "IntAAS3ObjectOverhead",
  "IntDAAObjectOverhead",
  "IntDAAS3ObjectOverhead",
  "OneZoneIAStorage",
  "OneZoneIASizeOverhead",
  "ReducedRedundancyStorage",
  "GlacierInstantRetrievalSizeOverhead",
  "GlacierInstantRetrievalStorage",
  "GlacierStorage",
  "GlacierStagingStorage",
  "GlacierObjectOverhead",
  "GlacierS3ObjectOverhead",
  "DeepArchiveStorage",
  "DeepArchiveObjectOverhead",
  "DeepArchiveS3ObjectOverhead",
  "DeepArchiveStagingStorage",
] as const;

/** GetMetricData takes at most 500 queries a call. */
const QUERIES_PER_CALL = 500;

export interface BucketStorage {
  /** NumberOfObjects: every version and delete marker, as S3 counts them once a day. */
  objects: number;
  /** BucketSizeBytes summed over the storage types that have a data point. */
  bytes: number;
  /** The day the numbers are for (S3 reports each day's once, the next day). */
  asOf: string;
}

/**
 * Each bucket's latest daily storage metrics from the last three days; a bucket with no data point yet (created
 * today, or never reported) is absent from the map.
 */
export async function storageMetrics(
  cloudwatch: CloudWatchClient,
  buckets: readonly string[],
  now: Date,
): Promise<Map<string, BucketStorage>> {
  const queries: (MetricDataQuery & { Id: string })[] = [];
  const whatIs = new Map<string, { bucket: string; metric: "objects" | "bytes" }>();
  buckets.forEach((bucket, b) => {
    const query = (id: string, metric: string, storageType: string, what: "objects" | "bytes") => {
      whatIs.set(id, { bucket, metric: what });
      queries.push({
        Id: id,
        MetricStat: {
          Metric: {
            Namespace: "AWS/S3",
            MetricName: metric,
            Dimensions: [
              { Name: "BucketName", Value: bucket },
              { Name: "StorageType", Value: storageType },
            ],
          },
          Period: 86_400,
          Stat: "Average",
        },
        ReturnData: true,
      });
    };
    query(`b${b}_objects`, "NumberOfObjects", "AllStorageTypes", "objects");
    BYTE_STORAGE_TYPES.forEach((type, t) => {
      query(`b${b}_bytes${t}`, "BucketSizeBytes", type, "bytes");
    });
  });
  const found = new Map<string, BucketStorage>();
  const start = new Date(now.getTime() - 3 * 86_400_000);
  for (let i = 0; i < queries.length; i += QUERIES_PER_CALL) {
    let token: string | undefined;
    do {
      const page = await cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries.slice(i, i + QUERIES_PER_CALL),
          StartTime: start,
          EndTime: now,
          ScanBy: "TimestampDescending",
          NextToken: token,
        }),
      );
      for (const result of page.MetricDataResults ?? []) {
        const what = result.Id ? whatIs.get(result.Id) : undefined;
        const value = result.Values?.[0];
        const at = result.Timestamps?.[0];
        if (!what || value === undefined || at === undefined) continue;
        const entry = found.get(what.bucket) ?? { objects: 0, bytes: 0, asOf: at.toISOString().slice(0, 10) };
        if (what.metric === "objects") entry.objects = value;
        else entry.bytes += value;
        found.set(what.bucket, entry);
      }
      token = page.NextToken;
    } while (token);
  }
  return found;
}
