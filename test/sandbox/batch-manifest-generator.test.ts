import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
} from "@aws-sdk/client-s3";
import {
  CreateJobCommand,
  type CreateJobCommandInput,
  type JobDescriptor,
  type JobManifestGeneratorFilter,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import { beforeAll, describe, expect, it } from "vitest";
import { parseCreateJob } from "../../sandbox/s3control/create-job.ts";
import { matches } from "../../sandbox/s3control/generator.ts";
import { jobInStatus } from "../support/batch-jobs.ts";
import { useSandbox } from "../support/sandbox.ts";

const ACCOUNT = "123456789012";
const ROLE = `arn:aws:iam::${ACCOUNT}:role/rekey-batch`;
const SRC = "gen-src";
const WORK = "gen-work";
const COPY_SRC = "gen-copy";

const env = useSandbox();
let key1: string;
let key2: string;
let counter = 0;

/** Every current object in SRC once seeded, by the filter that should select it. */
const ALL_CURRENT = [
  "a/plain.txt",
  "a/s3.txt",
  "a/kms-target-bk.txt",
  "a/kms-target-nobk.txt",
  "b/kms-other.txt",
  "b/dsse.bin",
  "b/ssec.bin",
  "c/glacier.log",
  "c/ia.log",
  "c/big.dat",
  "old/2020.txt",
  "v/changed.txt",
  "sp ace+plus.txt",
];

beforeAll(async () => {
  key1 = env.sandbox.kms.create("generator key 1").arn;
  key2 = env.sandbox.kms.create("generator key 2").arn;
  for (const Bucket of [SRC, WORK, COPY_SRC]) await env.s3.send(new CreateBucketCommand({ Bucket }));
  await env.s3.send(new PutBucketVersioningCommand({ Bucket: SRC, VersioningConfiguration: { Status: "Enabled" } }));
  await env.admin.seed(SRC, [
    { key: "a/plain.txt", body: "plain", encryption: { type: "NOT-SSE" } },
    { key: "a/s3.txt", body: "s3", encryption: { type: "SSE-S3" } },
    { key: "a/kms-target-bk.txt", body: "k1bk", encryption: { type: "SSE-KMS", keyArn: key1, bucketKeyEnabled: true } },
    {
      key: "a/kms-target-nobk.txt",
      body: "k1",
      encryption: { type: "SSE-KMS", keyArn: key1, bucketKeyEnabled: false },
    },
    { key: "b/kms-other.txt", body: "k2", encryption: { type: "SSE-KMS", keyArn: key2, bucketKeyEnabled: false } },
    { key: "b/dsse.bin", body: "dsse", encryption: { type: "DSSE-KMS", keyArn: key1 } },
    { key: "b/ssec.bin", body: "ssec", encryption: { type: "SSE-C" } },
    { key: "c/glacier.log", size: 1000, storageClass: "GLACIER", encryption: { type: "NOT-SSE" } },
    { key: "c/ia.log", size: 500, storageClass: "STANDARD_IA", encryption: { type: "SSE-S3" } },
    { key: "c/big.dat", size: 6 * 1024 ** 3, encryption: { type: "NOT-SSE" } },
    { key: "old/2020.txt", body: "old", encryption: { type: "NOT-SSE" }, lastModified: "2020-01-01T00:00:00Z" },
    // A NOT-SSE noncurrent version under an SSE-S3 current one: the generator sees current versions only.
    { key: "v/changed.txt", body: "v1", encryption: { type: "NOT-SSE" } },
    { key: "v/changed.txt", body: "v2", encryption: { type: "SSE-S3" } },
    { key: "sp ace+plus.txt", body: "sp", encryption: { type: "NOT-SSE" } },
    // Current version is a delete marker: not an object any more.
    { key: "gone.txt", body: "gone", encryption: { type: "NOT-SSE" } },
  ]);
  await env.s3.send(new DeleteObjectCommand({ Bucket: SRC, Key: "gone.txt" }));
});

function generatorJob(
  generator: Partial<NonNullable<CreateJobCommandInput["ManifestGenerator"]>["S3JobManifestGenerator"]>,
  extra: Partial<CreateJobCommandInput> = {},
): CreateJobCommandInput {
  return {
    AccountId: ACCOUNT,
    ClientRequestToken: `gen-${++counter}`,
    Priority: 10,
    RoleArn: ROLE,
    ConfirmationRequired: true,
    Operation: {
      S3PutObjectCopy: {
        TargetResource: `arn:aws:s3:::${SRC}`,
        NewObjectMetadata: { SSEAlgorithm: "KMS" },
        SSEAwsKmsKeyId: key1,
        BucketKeyEnabled: true,
      },
    },
    ManifestGenerator: {
      S3JobManifestGenerator: {
        SourceBucket: `arn:aws:s3:::${SRC}`,
        EnableManifestOutput: true,
        ManifestOutputLocation: {
          Bucket: `arn:aws:s3:::${WORK}`,
          ManifestFormat: "S3InventoryReport_CSV_20211130",
          ManifestPrefix: `generated/${counter}`,
        },
        ...generator,
      },
    },
    Report: { Enabled: false },
    ...extra,
  };
}

async function createJob(input: CreateJobCommandInput): Promise<string> {
  const out = await env.s3control.send(new CreateJobCommand(input));
  if (!out.JobId) throw new Error("no JobId");
  return out.JobId;
}

function waitFor(jobId: string, statuses: string[]): Promise<JobDescriptor> {
  return jobInStatus(env.s3control, ACCOUNT, jobId, statuses);
}

async function bytes(bucket: string, key: string): Promise<Buffer> {
  const out = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
}

interface GeneratedManifestJson {
  sourceBucket: string;
  destinationBucket: string;
  version: string;
  creationTimestamp: string;
  fileFormat: string;
  fileSchema: string;
  files: { key: string; size: number; MD5checksum: string }[];
}

/** Reads the generated manifest a job describes; checks each data file's size and MD5; returns rows and keys. */
async function readGenerated(job: JobDescriptor) {
  const descriptor = job.GeneratedManifestDescriptor;
  expect(descriptor?.Format).toBe("S3InventoryReport_CSV_20211130");
  const arn = descriptor?.Location?.ObjectArn ?? "";
  const m = /^arn:aws:s3:::([^/]+)\/(.+)$/.exec(arn);
  if (!m?.[1] || !m[2]) throw new Error(`bad ObjectArn ${arn}`);
  const [bucket, key] = [m[1], m[2]];
  const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  expect(descriptor?.Location?.ETag).toBe((head.ETag ?? "").replace(/"/g, ""));
  const manifest = JSON.parse((await bytes(bucket, key)).toString("utf8")) as GeneratedManifestJson;
  const rows: string[] = [];
  for (const f of manifest.files) {
    const gz = await bytes(bucket, f.key);
    expect(gz.length).toBe(f.size);
    expect(createHash("md5").update(gz).digest("hex")).toBe(f.MD5checksum);
    rows.push(
      ...gunzipSync(gz)
        .toString("utf8")
        .split("\n")
        .filter((l) => l !== ""),
    );
  }
  const keys = rows.map((r) => {
    const cells = /^"([^"]*)","([^"]*)"$/.exec(r);
    if (!cells?.[2]) throw new Error(`bad row ${r}`);
    return decodeURIComponent(cells[2]);
  });
  return { bucket, key, manifest, rows, keys: keys.sort() };
}

/** Runs a generator job up to Suspended, returns the keys it selected (from the generated manifest), cancels it. */
async function selectedKeys(filter: JobManifestGeneratorFilter | undefined): Promise<string[]> {
  const jobId = await createJob(generatorJob(filter ? { Filter: filter } : {}));
  const job = await waitFor(jobId, ["Suspended", "Failed"]);
  expect(job.Status).toBe("Suspended");
  const { keys } = await readGenerated(job);
  expect(job.ProgressSummary?.TotalNumberOfTasks).toBe(keys.length);
  await env.s3control.send(
    new UpdateJobStatusCommand({ AccountId: ACCOUNT, JobId: jobId, RequestedJobStatus: "Cancelled" }),
  );
  return keys;
}

const sorted = (keys: string[]) => [...keys].sort();

describe("ManifestGenerator filters select exactly the expected current objects", () => {
  const cases: [string, () => JobManifestGeneratorFilter | undefined, () => string[]][] = [
    ["no filter: every current object, no delete marker", () => undefined, () => ALL_CURRENT],
    [
      "NOTSSE (current versions only)",
      () => ({ MatchAnyObjectEncryption: [{ NOTSSE: {} }] }),
      () => ["a/plain.txt", "c/glacier.log", "c/big.dat", "old/2020.txt", "sp ace+plus.txt"],
    ],
    ["SSES3", () => ({ MatchAnyObjectEncryption: [{ SSES3: {} }] }), () => ["a/s3.txt", "c/ia.log", "v/changed.txt"]],
    [
      "SSEKMS, any key",
      () => ({ MatchAnyObjectEncryption: [{ SSEKMS: {} }] }),
      () => ["a/kms-target-bk.txt", "a/kms-target-nobk.txt", "b/kms-other.txt"],
    ],
    [
      "SSEKMS by key ARN",
      () => ({ MatchAnyObjectEncryption: [{ SSEKMS: { KmsKeyArn: key1 } }] }),
      () => ["a/kms-target-bk.txt", "a/kms-target-nobk.txt"],
    ],
    [
      "SSEKMS by key ARN and BucketKeyEnabled false",
      () => ({ MatchAnyObjectEncryption: [{ SSEKMS: { KmsKeyArn: key1, BucketKeyEnabled: false } }] }),
      () => ["a/kms-target-nobk.txt"],
    ],
    [
      "SSEKMS by BucketKeyEnabled true",
      () => ({ MatchAnyObjectEncryption: [{ SSEKMS: { BucketKeyEnabled: true } }] }),
      () => ["a/kms-target-bk.txt"],
    ],
    ["DSSEKMS", () => ({ MatchAnyObjectEncryption: [{ DSSEKMS: {} }] }), () => ["b/dsse.bin"]],
    ["DSSEKMS under another key", () => ({ MatchAnyObjectEncryption: [{ DSSEKMS: { KmsKeyArn: key2 } }] }), () => []],
    ["SSEC", () => ({ MatchAnyObjectEncryption: [{ SSEC: {} }] }), () => ["b/ssec.bin"]],
    [
      "any of SSEC, DSSEKMS, SSEKMS under key 2",
      () => ({ MatchAnyObjectEncryption: [{ SSEC: {} }, { DSSEKMS: {} }, { SSEKMS: { KmsKeyArn: key2 } }] }),
      () => ["b/dsse.bin", "b/kms-other.txt", "b/ssec.bin"],
    ],
    [
      "MatchAnyStorageClass",
      () => ({ MatchAnyStorageClass: ["GLACIER", "STANDARD_IA"] }),
      () => ["c/glacier.log", "c/ia.log"],
    ],
    [
      "size bounds are strict",
      () => ({ ObjectSizeGreaterThanBytes: 499, ObjectSizeLessThanBytes: 1000 }),
      () => ["c/ia.log"],
    ],
    [
      "size greater than 500 excludes 500",
      () => ({ ObjectSizeGreaterThanBytes: 500 }),
      () => ["c/big.dat", "c/glacier.log"],
    ],
    [
      "MatchAnyPrefix",
      () => ({ KeyNameConstraint: { MatchAnyPrefix: ["c/"] } }),
      () => ["c/big.dat", "c/glacier.log", "c/ia.log"],
    ],
    [
      "MatchAnySuffix",
      () => ({ KeyNameConstraint: { MatchAnySuffix: [".log"] } }),
      () => ["c/glacier.log", "c/ia.log"],
    ],
    [
      "MatchAnySubstring",
      () => ({ KeyNameConstraint: { MatchAnySubstring: ["kms"] } }),
      () => ["a/kms-target-bk.txt", "a/kms-target-nobk.txt", "b/kms-other.txt"],
    ],
    [
      "prefix and suffix together (AND) with an encryption filter",
      () => ({
        KeyNameConstraint: { MatchAnyPrefix: ["a/"], MatchAnySuffix: ["bk.txt"] },
        MatchAnyObjectEncryption: [{ SSEKMS: {} }],
      }),
      () => ["a/kms-target-bk.txt", "a/kms-target-nobk.txt"],
    ],
    ["CreatedBefore", () => ({ CreatedBefore: new Date("2021-01-01T00:00:00Z") }), () => ["old/2020.txt"]],
    [
      "CreatedAfter",
      () => ({ CreatedAfter: new Date("2021-01-01T00:00:00Z") }),
      () => ALL_CURRENT.filter((k) => k !== "old/2020.txt"),
    ],
    ["EligibleForReplication true (no replication configured)", () => ({ EligibleForReplication: true }), () => []],
    ["EligibleForReplication false does not filter", () => ({ EligibleForReplication: false }), () => ALL_CURRENT],
    ["ObjectReplicationStatuses NONE", () => ({ ObjectReplicationStatuses: ["NONE"] }), () => ALL_CURRENT],
    ["ObjectReplicationStatuses COMPLETED", () => ({ ObjectReplicationStatuses: ["COMPLETED", "REPLICA"] }), () => []],
  ];

  it.each(cases)("%s", async (_name, filter, expected) => {
    expect(await selectedKeys(filter())).toEqual(sorted(expected()));
  });

  it("compares CreatedAfter strictly with LastModified", () => {
    const v = {
      key: "k",
      versionId: "null",
      isLatest: true,
      isDeleteMarker: false,
      size: 1,
      lastModified: "2024-01-01T00:00:00.000Z",
      storageClass: "STANDARD",
      encryption: { type: "NOT-SSE" },
    };
    const at = new Date("2024-01-01T00:00:00.000Z");
    expect(matches(v, { createdAfter: at })).toBe(false);
    expect(matches(v, { createdBefore: at })).toBe(false);
    expect(matches(v, { createdAfter: new Date(at.getTime() - 1) })).toBe(true);
  });
});

describe("the generated manifest and the job", () => {
  it("parses the SDK's CreateJob XML (SSE-KMS operation, <ObjectEncryption> filter items) and echoes it in DescribeJob", async () => {
    const input: CreateJobCommandInput = generatorJob(
      {
        ExpectedBucketOwner: ACCOUNT,
        ManifestOutputLocation: {
          ExpectedManifestBucketOwner: ACCOUNT,
          Bucket: `arn:aws:s3:::${WORK}`,
          ManifestFormat: "S3InventoryReport_CSV_20211130",
          ManifestPrefix: "echo",
          ManifestEncryption: { SSES3: {} },
        },
        Filter: {
          EligibleForReplication: false,
          CreatedAfter: new Date("2021-01-01T00:00:00Z"),
          CreatedBefore: new Date("2099-01-01T00:00:00Z"),
          ObjectReplicationStatuses: ["NONE"],
          KeyNameConstraint: { MatchAnyPrefix: ["a/"], MatchAnySuffix: [".txt"], MatchAnySubstring: ["kms"] },
          ObjectSizeGreaterThanBytes: 0,
          ObjectSizeLessThanBytes: 100,
          MatchAnyStorageClass: ["STANDARD"],
          MatchAnyObjectEncryption: [
            { SSES3: {} },
            { SSEKMS: { KmsKeyArn: key1, BucketKeyEnabled: false } },
            { DSSEKMS: { KmsKeyArn: key1 } },
            { SSEC: {} },
            { NOTSSE: {} },
          ],
        },
      },
      {
        Operation: {
          S3UpdateObjectEncryption: { ObjectEncryption: { SSEKMS: { KMSKeyArn: key1, BucketKeyEnabled: true } } },
        },
      },
    );
    const jobId = await createJob(input);
    const job = await waitFor(jobId, ["Suspended", "Failed"]);
    expect(job.Status).toBe("Suspended");
    expect(job.Manifest).toBeUndefined();
    expect(job.Operation).toEqual(input.Operation);
    expect(job.ManifestGenerator).toEqual(input.ManifestGenerator);
    expect(env.sandbox.batch.engine.getJob(jobId).request.generator?.filter.encryptions).toEqual([
      { type: "SSE-S3" },
      { type: "SSE-KMS", kmsKeyArn: key1, bucketKeyEnabled: false },
      { type: "DSSE-KMS", kmsKeyArn: key1 },
      { type: "SSE-C" },
      { type: "NOT-SSE" },
    ]);
    expect((await readGenerated(job)).keys).toEqual(["a/kms-target-nobk.txt"]);
    await env.s3control.send(
      new UpdateJobStatusCommand({ AccountId: ACCOUNT, JobId: jobId, RequestedJobStatus: "Cancelled" }),
    );
  });

  it("writes manifest.json and gzip CSV data files under <prefix>/job-<id>/ and describes them", async () => {
    const input = generatorJob({
      ManifestOutputLocation: {
        Bucket: `arn:aws:s3:::${WORK}`,
        ManifestFormat: "S3InventoryReport_CSV_20211130",
        ManifestPrefix: "layout/",
        ManifestEncryption: { SSEKMS: { KeyId: key2 } },
      },
      Filter: { MatchAnyObjectEncryption: [{ NOTSSE: {} }], MatchAnyStorageClass: ["STANDARD"] },
    });
    const jobId = await createJob(input);
    const job = await waitFor(jobId, ["Suspended"]);
    const generated = await readGenerated(job);
    expect(generated.bucket).toBe(WORK);
    expect(generated.key).toBe(`layout/job-${jobId}/manifest.json`);
    expect(generated.manifest).toMatchObject({
      sourceBucket: SRC,
      destinationBucket: `arn:aws:s3:::${WORK}`,
      version: "2021-11-30",
      fileFormat: "CSV",
      fileSchema: "Bucket, Key",
    });
    expect(Number(generated.manifest.creationTimestamp)).toBeGreaterThan(Date.now() - 60_000);
    for (const f of generated.manifest.files)
      expect(f.key).toMatch(new RegExp(`^layout/job-${jobId}/data/[0-9a-f-]{36}\\.csv\\.gz$`));
    // Every field quoted, keys percent-encoded with slashes kept.
    expect(generated.rows.sort()).toEqual(
      [
        `"${SRC}","a/plain.txt"`,
        `"${SRC}","c/big.dat"`,
        `"${SRC}","old/2020.txt"`,
        `"${SRC}","sp%20ace%2Bplus.txt"`,
      ].sort(),
    );
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: WORK, Key: generated.key }));
    expect([head.ServerSideEncryption, head.SSEKMSKeyId]).toEqual(["aws:kms", key2]);
    expect(job.ProgressSummary?.TotalNumberOfTasks).toBe(4);
    await env.s3control.send(
      new UpdateJobStatusCommand({ AccountId: ACCOUNT, JobId: jobId, RequestedJobStatus: "Cancelled" }),
    );
  });

  it("writes nothing and describes no generated manifest when EnableManifestOutput is false", async () => {
    const jobId = await createJob(
      generatorJob({
        EnableManifestOutput: false,
        ManifestOutputLocation: undefined,
        Filter: { MatchAnyStorageClass: ["GLACIER"] },
      }),
    );
    const job = await waitFor(jobId, ["Suspended"]);
    expect(job.GeneratedManifestDescriptor).toBeUndefined();
    expect(job.ProgressSummary?.TotalNumberOfTasks).toBe(1);
    await env.s3control.send(
      new UpdateJobStatusCommand({ AccountId: ACCOUNT, JobId: jobId, RequestedJobStatus: "Cancelled" }),
    );
  });

  it("runs an S3PutObjectCopy job over the generated list to Complete, reporting the generated keys", async () => {
    await env.admin.seed(COPY_SRC, [
      { key: "x/one.txt", body: "1", encryption: { type: "NOT-SSE" } },
      { key: "x/t w+o.txt", body: "2", encryption: { type: "NOT-SSE" } },
      { key: "x/done.txt", body: "3", encryption: { type: "SSE-KMS", keyArn: key1, bucketKeyEnabled: true } },
      { key: "y/other.txt", body: "4", encryption: { type: "NOT-SSE" } },
    ]);
    const input = generatorJob(
      {
        SourceBucket: `arn:aws:s3:::${COPY_SRC}`,
        ManifestOutputLocation: {
          Bucket: `arn:aws:s3:::${WORK}`,
          ManifestFormat: "S3InventoryReport_CSV_20211130",
          ManifestPrefix: "copy-gen",
        },
        Filter: { KeyNameConstraint: { MatchAnyPrefix: ["x/"] }, MatchAnyObjectEncryption: [{ NOTSSE: {} }] },
      },
      {
        ConfirmationRequired: false,
        Operation: {
          S3PutObjectCopy: {
            TargetResource: `arn:aws:s3:::${COPY_SRC}`,
            MetadataDirective: "COPY",
            NewObjectMetadata: { SSEAlgorithm: "KMS" },
            SSEAwsKmsKeyId: key1,
            BucketKeyEnabled: true,
          },
        },
        Report: {
          Enabled: true,
          Bucket: `arn:aws:s3:::${WORK}`,
          Format: "Report_CSV_20180820",
          Prefix: "copy-gen-report",
          ReportScope: "AllTasks",
        },
      },
    );
    const jobId = await createJob(input);
    const job = await waitFor(jobId, ["Complete", "Failed"]);
    expect(job.Status).toBe("Complete");
    expect(job.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 2,
      NumberOfTasksSucceeded: 2,
      NumberOfTasksFailed: 0,
    });
    expect(job.GeneratedManifestDescriptor?.Location?.ObjectArn).toBe(
      `arn:aws:s3:::${WORK}/copy-gen/job-${jobId}/manifest.json`,
    );
    const enc = Object.fromEntries((await env.admin.versions(COPY_SRC)).map((v) => [v.key, v.encryption.type]));
    expect(enc).toEqual({
      "x/done.txt": "SSE-KMS",
      "x/one.txt": "SSE-KMS",
      "x/t w+o.txt": "SSE-KMS",
      "y/other.txt": "NOT-SSE",
    });
    const report = JSON.parse((await bytes(WORK, `copy-gen-report/job-${jobId}/manifest.json`)).toString("utf8")) as {
      Results: { Key: string }[];
    };
    const rows: string[] = [];
    for (const r of report.Results) {
      rows.push(
        ...(await bytes(WORK, r.Key))
          .toString("utf8")
          .split("\r\n")
          .filter((l) => l !== ""),
      );
    }
    expect(rows.sort()).toEqual([
      `${COPY_SRC},x/one.txt,,succeeded,200,,Successful`,
      `${COPY_SRC},x/t%20w%2Bo.txt,,succeeded,200,,Successful`,
    ]);
  });

  it("fails the job in Preparing when the source bucket does not exist (no report, no manifest)", async () => {
    const input = generatorJob(
      {
        SourceBucket: "arn:aws:s3:::no-such-bucket",
        ManifestOutputLocation: {
          Bucket: `arn:aws:s3:::${WORK}`,
          ManifestFormat: "S3InventoryReport_CSV_20211130",
          ManifestPrefix: "missing",
        },
      },
      { ConfirmationRequired: false },
    );
    const jobId = await createJob(input);
    const job = await waitFor(jobId, ["Failed", "Complete", "Suspended"]);
    expect(job.Status).toBe("Failed");
    expect(job.FailureReasons).toEqual([
      { FailureCode: "ManifestGenerationFailure", FailureReason: expect.stringContaining("NoSuchBucket") },
    ]);
    expect(job.GeneratedManifestDescriptor).toBeUndefined();
    const listed = await env.s3.send(new ListObjectsV2Command({ Bucket: WORK, Prefix: "missing/" }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it("fails the job when ExpectedBucketOwner is another account", async () => {
    const jobId = await createJob(generatorJob({ ExpectedBucketOwner: "210987654321" }));
    const job = await waitFor(jobId, ["Failed", "Suspended"]);
    expect(job.FailureReasons?.[0]?.FailureCode).toBe("ManifestGenerationFailure");
  });
});

describe("CreateJob validation for ManifestGenerator", () => {
  const manifest: CreateJobCommandInput["Manifest"] = {
    Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
    Location: { ObjectArn: `arn:aws:s3:::${WORK}/m.csv`, ETag: "e" },
  };

  it("refuses Manifest and ManifestGenerator together, and neither", async () => {
    await expect(
      env.s3control.send(new CreateJobCommand({ ...generatorJob({}), Manifest: manifest })),
    ).rejects.toMatchObject({
      name: "BadRequestException",
      message: "Jobs must be created with either a manifest file or a ManifestGenerator, but not both.",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      env.s3control.send(new CreateJobCommand({ ...generatorJob({}), ManifestGenerator: undefined })),
    ).rejects.toMatchObject({
      name: "BadRequestException",
      message: expect.stringContaining("either Manifest or ManifestGenerator"),
    });
  });

  it.each<[string, Partial<NonNullable<CreateJobCommandInput["ManifestGenerator"]>["S3JobManifestGenerator"]>, RegExp]>(
    [
      ["a SourceBucket that is not a bucket ARN", { SourceBucket: SRC }, /SourceBucket must be a bucket ARN/],
      [
        "two prefixes",
        { Filter: { KeyNameConstraint: { MatchAnyPrefix: ["a/", "b/"] } } },
        /accepts exactly one string/,
      ],
      [
        "an unknown storage class",
        { Filter: { MatchAnyStorageClass: ["REDUCED_REDUNDANCY" as "STANDARD"] } },
        /Invalid MatchAnyStorageClass/,
      ],
      [
        "an unknown replication status",
        { Filter: { ObjectReplicationStatuses: ["PENDING" as "NONE"] } },
        /Invalid ObjectReplicationStatuses/,
      ],
      ["output without location", { ManifestOutputLocation: undefined }, /requires ManifestOutputLocation/],
      [
        "another manifest format",
        {
          ManifestOutputLocation: {
            Bucket: `arn:aws:s3:::${WORK}`,
            ManifestFormat: "S3InventoryReport_CSV_20161130" as "S3InventoryReport_CSV_20211130",
          },
        },
        /ManifestFormat must be S3InventoryReport_CSV_20211130/,
      ],
    ],
  )("refuses %s", async (_name, generator, message) => {
    await expect(env.s3control.send(new CreateJobCommand(generatorJob(generator)))).rejects.toMatchObject({
      name: "BadRequestException",
      message: expect.stringMatching(message),
    });
  });

  it("refuses a MatchAnyObjectEncryption item with two members (raw XML)", () => {
    const xml =
      '<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">' +
      `<Operation><S3PutObjectCopy><TargetResource>arn:aws:s3:::${SRC}</TargetResource></S3PutObjectCopy></Operation>` +
      `<Report><Enabled>false</Enabled></Report><Priority>1</Priority><RoleArn>${ROLE}</RoleArn><ClientRequestToken>t</ClientRequestToken>` +
      `<ManifestGenerator><S3JobManifestGenerator><SourceBucket>arn:aws:s3:::${SRC}</SourceBucket><EnableManifestOutput>false</EnableManifestOutput>` +
      "<Filter><MatchAnyObjectEncryption><ObjectEncryption><SSE-S3/><NOT-SSE/></ObjectEncryption></MatchAnyObjectEncryption></Filter>" +
      "</S3JobManifestGenerator></ManifestGenerator></CreateJobRequest>";
    expect(() => parseCreateJob(xml)).toThrow(
      /exactly one of SSE-S3, SSE-KMS, DSSE-KMS, SSE-C, NOT-SSE; got SSE-S3, NOT-SSE/,
    );
    expect(parseCreateJob(xml.replace("<NOT-SSE/>", "")).generator?.filter.encryptions).toEqual([{ type: "SSE-S3" }]);
  });
});
