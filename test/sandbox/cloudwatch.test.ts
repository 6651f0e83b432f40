import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import {
  CloudWatchClient,
  type Dimension,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  ListMetricsCommand,
  type MetricDataQuery,
} from "@aws-sdk/client-cloudwatch";
import { CreateMultipartUploadCommand, DeleteObjectCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { awsCliEnv, cliWorks, newTestBucket, useSandbox } from "../support/sandbox.ts";

const run = promisify(execFile);
const onPath = await cliWorks();
/** Debian's aws-cli v2 package, which a pip-installed v1 on PATH shadows. */
const debianV2 = existsSync("/usr/bin/aws") && (await cliWorks("/usr/bin/aws")) ? "/usr/bin/aws" : undefined;

const DAY = 86_400_000;
const KIB = 1024;

/** The last midnight UTC: the timestamp of the day's storage data point. */
const today = () => new Date(Math.floor(Date.now() / DAY) * DAY);

function dims(bucket: string, storageType: string): Dimension[] {
  return [
    { Name: "BucketName", Value: bucket },
    { Name: "StorageType", Value: storageType },
  ];
}

function query(id: string, bucket: string, metric: string, storageType: string, more: Partial<MetricDataQuery> = {}) {
  return {
    Id: id,
    MetricStat: {
      Metric: { Namespace: "AWS/S3", MetricName: metric, Dimensions: dims(bucket, storageType) },
      Period: 86_400,
      Stat: "Average",
    },
    ...more,
  } satisfies MetricDataQuery;
}

describe("sandbox CloudWatch: S3 daily storage metrics with the real SDK client", () => {
  const env = useSandbox();
  let cw: CloudWatchClient;
  let bucket = "";
  /** Two days back to now, from a midnight, so that each day's period starts at its midnight. */
  const window = () => ({ StartTime: new Date(today().getTime() - 2 * DAY), EndTime: new Date(Date.now() + 60_000) });

  async function values(queries: MetricDataQuery[], extra: Partial<GetMetricDataCommandInput> = {}) {
    const out = await cw.send(new GetMetricDataCommand({ ...window(), MetricDataQueries: queries, ...extra }));
    return Object.fromEntries((out.MetricDataResults ?? []).map((r) => [r.Id, r]));
  }

  beforeAll(async () => {
    cw = env.clients.cloudwatch;
    env.sandbox.setBehaviours({ newBucketStorageMetrics: "SameDay" });
    bucket = await newTestBucket(env.s3, "metrics", { versioned: true });
    await env.admin.seed(bucket, [
      { key: "a.txt", body: "hello" },
      { key: "a.txt", body: "hello world" },
      { key: "ia.bin", size: 1000, storageClass: "STANDARD_IA" },
      { key: "big-ia.bin", size: 200_000, storageClass: "STANDARD_IA" },
      { key: "ir.bin", size: 2048, storageClass: "GLACIER_IR" },
      { key: "cold.bin", size: 5000, storageClass: "GLACIER" },
      {
        key: "tiered.bin",
        size: 7000,
        storageClass: "INTELLIGENT_TIERING",
        intelligentTieringAccessTier: "ARCHIVE_ACCESS",
      },
    ]);
    await env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "a.txt" }));
    const upload = await env.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "upload.bin" }));
    await env.s3.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: "upload.bin",
        UploadId: upload.UploadId,
        PartNumber: 1,
        Body: "x".repeat(100),
      }),
    );
  });

  it("BucketSizeBytes per storage type counts every version, overheads and unfinished parts; NumberOfObjects delete markers too", async () => {
    const expected: Record<string, number> = {
      // Two versions of a.txt (5 + 11 bytes) and the 100-byte part of the unfinished upload.
      StandardStorage: 116,
      StandardIAStorage: 201_000,
      StandardIASizeOverhead: 128 * KIB - 1000,
      GlacierInstantRetrievalStorage: 2048,
      GlacierInstantRetrievalSizeOverhead: 128 * KIB - 2048,
      GlacierStorage: 5000,
      GlacierObjectOverhead: 32 * KIB,
      GlacierS3ObjectOverhead: 8 * KIB,
      IntelligentTieringAAStorage: 7000,
    };
    const got = await values([
      ...Object.keys(expected).map((type, i) => query(`size${i}`, bucket, "BucketSizeBytes", type)),
      query("count", bucket, "NumberOfObjects", "AllStorageTypes"),
      query("none", bucket, "BucketSizeBytes", "DeepArchiveStorage"),
    ]);
    Object.entries(expected).forEach(([type, bytes], i) => {
      expect(got[`size${i}`], type).toMatchObject({
        Label: "BucketSizeBytes",
        Timestamps: [today()],
        Values: [bytes],
        StatusCode: "Complete",
      });
    });
    // 2 versions and a delete marker of a.txt, 5 other objects, 1 part.
    expect(got.count).toMatchObject({ Label: "NumberOfObjects", Timestamps: [today()], Values: [9] });
    expect(got.none).toMatchObject({ Timestamps: [], Values: [] });
  });

  it("the values follow the bucket's state at request time", async () => {
    const fresh = await newTestBucket(env.s3, "metrics-now");
    const size = () => values([query("s", fresh, "BucketSizeBytes", "StandardStorage")]);
    expect((await size()).s?.Values).toEqual([]);
    await env.admin.seed(fresh, [{ key: "k", size: 4096 }]);
    expect((await size()).s?.Values).toEqual([4096]);
    await env.admin.seed(fresh, [{ key: "k2", size: 1 }]);
    expect((await size()).s?.Values).toEqual([4097]);
  });

  it("statistics, periods counted from StartTime, labels, ReturnData and units", async () => {
    const base = query("avg", bucket, "NumberOfObjects", "AllStorageTypes");
    const stat = (Id: string, Stat: string, Period = 86_400, more: Partial<MetricDataQuery> = {}) => ({
      ...base,
      Id,
      MetricStat: { ...base.MetricStat, Stat, Period },
      ...more,
    });
    const got = await values([
      stat("sum", "Sum"),
      stat("max", "Maximum", 3600, { Label: "objects" }),
      stat("n", "SampleCount"),
      stat("hidden", "Average", 86_400, { ReturnData: false }),
      { ...stat("bytes", "Average"), MetricStat: { ...stat("bytes", "Average").MetricStat, Unit: "Bytes" } },
    ]);
    expect(got.sum?.Values).toEqual([9]);
    expect(got.max).toMatchObject({ Label: "objects", Timestamps: [today()], Values: [9] });
    expect(got.n?.Values).toEqual([1]);
    // Periods count from StartTime: a two-day period from yesterday's midnight holds today's point.
    const fromYesterday = await values([stat("twodays", "Average", 2 * 86_400)], {
      StartTime: new Date(today().getTime() - DAY),
    });
    expect(fromYesterday.twodays).toMatchObject({ Timestamps: [new Date(today().getTime() - DAY)], Values: [9] });
    expect(got.hidden).toBeUndefined();
    expect(got.bytes?.Values).toEqual([]);
  });

  it("a metric is its exact set of dimensions; another region has no metrics", async () => {
    const partial = {
      Id: "partial",
      MetricStat: {
        Metric: {
          Namespace: "AWS/S3",
          MetricName: "BucketSizeBytes",
          Dimensions: [{ Name: "BucketName", Value: bucket }],
        },
        Period: 86_400,
        Stat: "Average",
      },
    };
    expect((await values([partial])).partial?.Values).toEqual([]);
    const elsewhere = new CloudWatchClient({
      region: "eu-west-1",
      endpoint: env.sandbox.endpoint,
      credentials: SANDBOX_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const out = await elsewhere.send(
        new GetMetricDataCommand({
          ...window(),
          MetricDataQueries: [query("q", bucket, "NumberOfObjects", "AllStorageTypes")],
        }),
      );
      expect(out.MetricDataResults?.[0]?.Values).toEqual([]);
      expect((await elsewhere.send(new ListMetricsCommand({ Namespace: "AWS/S3" }))).Metrics).toEqual([]);
    } finally {
      elsewhere.destroy();
    }
  });

  it("ListMetrics lists the bucket's metrics, filtered by name and dimensions", async () => {
    const all = await cw.send(
      new ListMetricsCommand({ Namespace: "AWS/S3", Dimensions: [{ Name: "BucketName", Value: bucket }] }),
    );
    const types = (all.Metrics ?? []).map(
      (m) => `${m.MetricName}/${m.Dimensions?.find((d) => d.Name === "StorageType")?.Value}`,
    );
    expect(types.sort()).toEqual(
      [
        "BucketSizeBytes/GlacierInstantRetrievalSizeOverhead",
        "BucketSizeBytes/GlacierInstantRetrievalStorage",
        "BucketSizeBytes/GlacierObjectOverhead",
        "BucketSizeBytes/GlacierS3ObjectOverhead",
        "BucketSizeBytes/GlacierStorage",
        "BucketSizeBytes/IntelligentTieringAAStorage",
        "BucketSizeBytes/StandardIASizeOverhead",
        "BucketSizeBytes/StandardIAStorage",
        "BucketSizeBytes/StandardStorage",
        "NumberOfObjects/AllStorageTypes",
      ].sort(),
    );
    const counts = await cw.send(
      new ListMetricsCommand({
        MetricName: "NumberOfObjects",
        Dimensions: [{ Name: "BucketName", Value: bucket }, { Name: "StorageType" }],
      }),
    );
    expect(counts.Metrics).toEqual([
      { Namespace: "AWS/S3", MetricName: "NumberOfObjects", Dimensions: dims(bucket, "AllStorageTypes") },
    ]);
    expect((await cw.send(new ListMetricsCommand({ Namespace: "AWS/EC2" }))).Metrics).toEqual([]);
  });

  it("answers CloudWatch's errors, with the query-compatible codes", async () => {
    const q = query("q", bucket, "NumberOfObjects", "AllStorageTypes");
    const fails = (input: Partial<GetMetricDataCommandInput>) =>
      cw.send(new GetMetricDataCommand({ ...window(), MetricDataQueries: [q], ...input }));
    await expect(fails({ MetricDataQueries: [{ Id: "m", Expression: "SUM(METRICS())" }] })).rejects.toMatchObject({
      name: "InvalidParameterValueException",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      fails({ MetricDataQueries: [{ ...q, MetricStat: { ...q.MetricStat, Period: 90 } }] }),
    ).rejects.toMatchObject({
      name: "InvalidParameterValueException",
    });
    await expect(fails({ MetricDataQueries: [q, q] })).rejects.toMatchObject({
      name: "InvalidParameterValueException",
    });
    await expect(fails({ MetricDataQueries: [{ Id: "Upper", MetricStat: q.MetricStat }] })).rejects.toMatchObject({
      name: "InvalidParameterValueException",
    });
    await expect(fails({ MetricDataQueries: [{ Id: "neither" }] })).rejects.toMatchObject({
      name: "InvalidParameterCombinationException",
    });
    await expect(fails({ StartTime: new Date(), EndTime: new Date(Date.now() - DAY) })).rejects.toMatchObject({
      name: "InvalidParameterValueException",
      message: "The parameter StartTime must be less than the parameter EndTime.",
    });
    await expect(fails({ NextToken: "not-ours" })).rejects.toMatchObject({ name: "InvalidNextToken" });
  });

  describe("when a new bucket's first data point comes (switch newBucketStorageMetrics)", () => {
    it("NextDay, the default: a bucket created since midnight UTC has none yet; an older one has today's", async () => {
      env.sandbox.setBehaviours({ newBucketStorageMetrics: "NextDay" });
      try {
        const fresh = await newTestBucket(env.s3, "metrics-new");
        await env.admin.seed(fresh, [{ key: "k", size: 10 }]);
        const older = `metrics-old-${Date.now()}`;
        env.sandbox.s3.store.createBucket(older, new Date(today().getTime() - 3 * DAY));
        await env.admin.seed(older, [{ key: "k", size: 10 }]);
        const got = await values([
          query("fresh", fresh, "BucketSizeBytes", "StandardStorage"),
          query("older", older, "BucketSizeBytes", "StandardStorage"),
        ]);
        expect(got.fresh?.Values).toEqual([]);
        expect(got.older).toMatchObject({ Timestamps: [today()], Values: [10] });
        const listed = await cw.send(new ListMetricsCommand({ Dimensions: [{ Name: "BucketName", Value: fresh }] }));
        expect(listed.Metrics).toEqual([]);
        env.sandbox.setBehaviours({ newBucketStorageMetrics: "SameDay" });
        expect((await values([query("fresh", fresh, "BucketSizeBytes", "StandardStorage")])).fresh?.Values).toEqual([
          10,
        ]);
      } finally {
        env.sandbox.setBehaviours({ newBucketStorageMetrics: "SameDay" });
      }
    });
  });

  describe.runIf(onPath)("aws cloudwatch against the sandbox (skipped: `aws` is not on PATH)", () => {
    const clis = [
      { name: "aws CLI v1 (JSON 1.0)", bin: "aws" },
      ...(debianV2 ? [{ name: "Debian's aws CLI v2 (query protocol)", bin: debianV2 }] : []),
    ];

    async function aws(bin: string, ...args: string[]): Promise<Record<string, unknown>> {
      const { stdout } = await run(
        bin,
        ["cloudwatch", ...args, "--endpoint-url", env.sandbox.endpoint, "--output", "json"],
        {
          env: awsCliEnv(env.sandbox),
        },
      );
      return JSON.parse(stdout) as Record<string, unknown>;
    }

    it.each(clis)("$name: get-metric-data and list-metrics", async ({ bin }) => {
      const { StartTime, EndTime } = window();
      const queries = [
        query("size", bucket, "BucketSizeBytes", "StandardIAStorage"),
        query("count", bucket, "NumberOfObjects", "AllStorageTypes", { Label: "objects" }),
      ];
      const out = await aws(
        bin,
        "get-metric-data",
        "--metric-data-queries",
        JSON.stringify(queries),
        "--start-time",
        StartTime.toISOString(),
        "--end-time",
        EndTime.toISOString(),
      );
      const results = out.MetricDataResults as {
        Id: string;
        Label: string;
        Timestamps: (string | number)[];
        Values: number[];
      }[];
      // JSON 1.0 carries epoch seconds, which the CLI v1 prints as they came; the query protocol ISO 8601.
      const at = (t: string | number) => new Date(typeof t === "number" ? t * 1000 : t).getTime();
      expect(results.map((r) => [r.Id, r.Label, r.Timestamps.map(at), r.Values])).toEqual([
        ["size", "BucketSizeBytes", [today().getTime()], [201_000]],
        ["count", "objects", [today().getTime()], [9]],
      ]);
      const listed = await aws(
        bin,
        "list-metrics",
        "--namespace",
        "AWS/S3",
        "--metric-name",
        "NumberOfObjects",
        "--dimensions",
        `Name=BucketName,Value=${bucket}`,
      );
      expect(listed.Metrics).toEqual([
        { Namespace: "AWS/S3", MetricName: "NumberOfObjects", Dimensions: dims(bucket, "AllStorageTypes") },
      ]);
      await expect(
        aws(
          bin,
          "get-metric-data",
          "--metric-data-queries",
          JSON.stringify([{ Id: "m", Expression: "SUM(METRICS())" }]),
          "--start-time",
          StartTime.toISOString(),
          "--end-time",
          EndTime.toISOString(),
        ),
      ).rejects.toMatchObject({ stderr: expect.stringContaining("(InvalidParameterValue)") });
    });
  });
});
