import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEFAULT_IDENTITY } from "../../sandbox/config.ts";
import { ServiceError } from "../../sandbox/http.ts";
import type { BatchBackend } from "../../sandbox/s3control/backend.ts";
import { parseCreateJob } from "../../sandbox/s3control/create-job.ts";
import { BatchEngine, type Job } from "../../sandbox/s3control/engine.ts";
import { decodeManifestKey, ManifestError, parseCsv, parseCsvManifest } from "../../sandbox/s3control/manifest.ts";
import type { ManifestTask, TaskOutcome } from "../../sandbox/s3control/model.ts";
import { copyObjectInput, copySource } from "../../sandbox/s3control/operations/copy.ts";
import { buildReport, reportBase, reportRow } from "../../sandbox/s3control/report.ts";
import { parseXml } from "../../sandbox/s3control/xml.ts";

const ROLE = "arn:aws:iam::123456789012:role/batch";

interface JobXmlOptions {
  token?: string;
  operation?: string;
  manifestEtag?: string;
  fields?: string[];
  report?: string;
  confirmationRequired?: boolean;
  description?: string;
  priority?: string;
}

/** A CreateJob body in the JS SDK's element order. */
function createJobXml(o: JobXmlOptions = {}): string {
  const fields = (o.fields ?? ["Bucket", "Key"]).map((f) => `<member>${f}</member>`).join("");
  return (
    '<?xml version="1.0" encoding="UTF-8"?><CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">' +
    `<Operation>${o.operation ?? "<S3PutObjectCopy><TargetResource>arn:aws:s3:::src</TargetResource></S3PutObjectCopy>"}</Operation>` +
    (o.report ??
      "<Report><Enabled>true</Enabled><Bucket>arn:aws:s3:::work</Bucket><Format>Report_CSV_20180820</Format><Prefix>reports</Prefix><ReportScope>AllTasks</ReportScope></Report>") +
    `<Priority>${o.priority ?? "10"}</Priority><RoleArn>${ROLE}</RoleArn>` +
    `<ConfirmationRequired>${o.confirmationRequired ? "true" : "false"}</ConfirmationRequired>` +
    `<ClientRequestToken>${o.token ?? "tok-1"}</ClientRequestToken>` +
    `<Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields>${fields}</Fields></Spec>` +
    `<Location><ObjectArn>arn:aws:s3:::work/manifests/m.csv</ObjectArn><ETag>${o.manifestEtag ?? "etag-m"}</ETag></Location></Manifest>` +
    (o.description !== undefined ? `<Description>${o.description}</Description>` : "") +
    "</CreateJobRequest>"
  );
}

/** An in-memory S3 for the engine: objects by `bucket/key`; a copy fails with 404 NoSuchKey when the source is missing. */
function fakeS3(objects: Record<string, string>, manifestEtag = '"etag-m"') {
  const store = new Map<string, { body: Buffer; etag: string }>();
  for (const [k, v] of Object.entries(objects)) store.set(k, { body: Buffer.from(v), etag: `"${k}"` });
  const copies: ManifestTask[] = [];
  const backend: BatchBackend = {
    async getObject(bucket, key) {
      const o = store.get(`${bucket}/${key}`);
      if (!o) throw Object.assign(new Error("The specified key does not exist."), { name: "NoSuchKey" });
      return key.startsWith("manifests/") ? { ...o, etag: manifestEtag } : o;
    },
    async putObject(bucket, key, body) {
      store.set(`${bucket}/${key}`, { body: Buffer.from(body), etag: '"x"' });
    },
    async runTask(_op, _spec, task): Promise<TaskOutcome> {
      copies.push(task);
      return store.has(`${task.bucket}/${task.key}`)
        ? { status: "succeeded", httpStatus: 200, errorCode: "", message: "Successful" }
        : { status: "failed", httpStatus: 404, errorCode: "NoSuchKey", message: "The specified key does not exist." };
    },
  };
  return { backend, store, copies };
}

function engineWith(backend: BatchBackend, extra: { tasksPerSecond?: number; concurrency?: number } = {}) {
  return new BatchEngine({ identity: DEFAULT_IDENTITY, backend, stepDelayMs: 1, ...extra });
}

async function until(job: Job, statuses: string[], timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!statuses.includes(job.status)) {
    if (Date.now() - start > timeoutMs) throw new Error(`job stayed ${job.status}, wanted ${statuses.join("|")}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function serviceErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ServiceError) return err.code;
    throw err;
  }
  return "no error";
}

describe("CreateJob parsing", () => {
  it("reads members by name, so botocore's element order gives the same job", () => {
    const sdk = parseCreateJob(createJobXml());
    const reordered = createJobXml().replace(
      /(<Operation>.*<\/Operation>)(<Report>.*<\/Report>)/,
      (_all, op: string, report: string) => `${report}${op}`,
    );
    const botocore = parseCreateJob(reordered);
    expect(botocore.fingerprint).toBe(sdk.fingerprint);
    expect(sdk.manifest).toEqual({
      format: "S3BatchOperations_CSV_20180820",
      fields: ["Bucket", "Key"],
      bucket: "work",
      key: "manifests/m.csv",
      etag: "etag-m",
    });
    expect(sdk.report).toEqual({ enabled: true, bucket: "work", prefix: "reports", scope: "AllTasks" });
    expect(sdk.priority).toBe(10);
    expect(sdk.operationName).toBe("S3PutObjectCopy");
  });

  it("refuses operations the sandbox does not run, naming them", () => {
    const op = "<S3PutObjectTagging><TagSet/></S3PutObjectTagging>";
    expect(() => parseCreateJob(createJobXml({ operation: op }))).toThrow(
      /S3PutObjectTagging is not implemented in the sandbox/,
    );
  });

  it.each([
    ["a missing ETag", createJobXml().replace("<ETag>etag-m</ETag>", "")],
    ["an unknown manifest format", createJobXml().replace("S3BatchOperations_CSV_20180820", "CSV")],
    ["Fields without Key", createJobXml({ fields: ["Bucket", "VersionId"] })],
    ["a 257-character description", createJobXml({ description: "d".repeat(257) })],
    ["a 65-character token", createJobXml({ token: "t".repeat(65) })],
    ["a negative priority", createJobXml({ priority: "-1" })],
    ["no RoleArn", createJobXml().replace(`<RoleArn>${ROLE}</RoleArn>`, "")],
    [
      "an enabled report without bucket",
      createJobXml({ report: "<Report><Enabled>true</Enabled><Format>Report_CSV_20180820</Format></Report>" }),
    ],
    ["a report without Enabled", createJobXml({ report: "<Report><Format>Report_CSV_20180820</Format></Report>" })],
    ["a bad report scope", createJobXml().replace("AllTasks", "Everything")],
    [
      "an SSE algorithm S3 does not know",
      createJobXml({
        operation:
          "<S3PutObjectCopy><TargetResource>arn:aws:s3:::src</TargetResource><NewObjectMetadata><SSEAlgorithm>DSSE</SSEAlgorithm></NewObjectMetadata></S3PutObjectCopy>",
      }),
    ],
  ])("rejects %s with BadRequestException", (_name, xml) => {
    expect(serviceErrorCode(() => parseCreateJob(xml))).toBe("BadRequestException");
  });
});

describe("S3PutObjectCopy → CopyObject", () => {
  const task: ManifestTask = { bucket: "src", rawKey: "a%20b%2Bc%20%E2%9C%93.txt", key: "a b+c ✓.txt" };
  const spec = (inner: string) =>
    parseXml(`<S3PutObjectCopy><TargetResource>arn:aws:s3:::src</TargetResource>${inner}</S3PutObjectCopy>`)
      .S3PutObjectCopy;

  function specOf(inner: string) {
    const s = spec(inner);
    if (typeof s !== "object" || Array.isArray(s)) throw new Error("bad spec");
    return s;
  }

  it("copies in place with an encoded CopySource and no versionId when the manifest has none", () => {
    expect(copyObjectInput(specOf(""), task)).toEqual({
      Bucket: "src",
      Key: "a b+c ✓.txt",
      CopySource: "src/a%20b%2Bc%20%E2%9C%93.txt",
    });
    expect(copySource({ ...task, key: "dir/x y", versionId: "v+1" })).toBe("src/dir/x%20y?versionId=v%2B1");
  });

  it("maps the encryption, class, metadata, tagging, ACL and constraint settings onto CopyObject", () => {
    const input = copyObjectInput(
      specOf(
        "<MetadataDirective>REPLACE</MetadataDirective><ModifiedSinceConstraint>2024-01-02T03:04:05Z</ModifiedSinceConstraint>" +
          "<NewObjectMetadata><UserMetadata><entry><key>team</key><value>x</value></entry></UserMetadata><ContentType>text/csv</ContentType><SSEAlgorithm>KMS</SSEAlgorithm></NewObjectMetadata>" +
          "<NewObjectTagging><member><Key>k 1</Key><Value>v&amp;2</Value></member></NewObjectTagging>" +
          "<StorageClass>STANDARD_IA</StorageClass><SSEAwsKmsKeyId>arn:aws:kms:us-east-1:123456789012:key/k</SSEAwsKmsKeyId>" +
          "<BucketKeyEnabled>true</BucketKeyEnabled><CannedAccessControlList>bucket-owner-full-control</CannedAccessControlList>" +
          "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><TargetKeyPrefix>copies</TargetKeyPrefix>",
      ),
      task,
    );
    expect(input).toEqual({
      Bucket: "src",
      Key: "copies/a b+c ✓.txt",
      CopySource: "src/a%20b%2Bc%20%E2%9C%93.txt",
      MetadataDirective: "REPLACE",
      Metadata: { team: "x" },
      ContentType: "text/csv",
      ServerSideEncryption: "aws:kms",
      TaggingDirective: "REPLACE",
      Tagging: "k%201=v%262",
      StorageClass: "STANDARD_IA",
      SSEKMSKeyId: "arn:aws:kms:us-east-1:123456789012:key/k",
      BucketKeyEnabled: true,
      ACL: "bucket-owner-full-control",
      CopySourceIfModifiedSince: new Date("2024-01-02T03:04:05Z"),
      ChecksumAlgorithm: "CRC32",
    });
  });

  it("replaces tags with none when NewObjectTagging is present but empty", () => {
    expect(copyObjectInput(specOf("<NewObjectTagging/>"), task)).toMatchObject({
      TaggingDirective: "REPLACE",
      Tagging: "",
    });
  });
});

describe("manifest parsing", () => {
  it("decodes URL-encoded keys (form decoding) and keeps the raw text for the report", () => {
    const csv = 'src,a%20b%2Bc%25d%2Ce%20%E2%9C%93\r\nsrc,plus+space\n"src","quoted,key"\n\n';
    expect(parseCsvManifest(csv, ["Bucket", "Key"])).toEqual([
      { bucket: "src", rawKey: "a%20b%2Bc%25d%2Ce%20%E2%9C%93", key: "a b+c%d,e ✓" },
      { bucket: "src", rawKey: "plus+space", key: "plus space" },
      { bucket: "src", rawKey: "quoted,key", key: "quoted,key" },
    ]);
  });

  it("fails on mixed VersionId presence, a missing key and bad encoding", () => {
    expect(() => parseCsvManifest("b,k1,v1\nb,k2\n", ["Bucket", "Key", "VersionId"])).toThrow(ManifestError);
    expect(() => parseCsvManifest("b\n", ["Bucket", "Key"])).toThrow(/no bucket or key/);
    expect(() => decodeManifestKey("%E2%9")).toThrow(ManifestError);
  });

  it("parses RFC-4180 quoting", () => {
    expect(parseCsv('a,"b ""c"", d",e\r\n')).toEqual([["a", 'b "c", d', "e"]]);
  });
});

describe("completion report", () => {
  const ok = {
    task: { bucket: "src", rawKey: "a%2Cb", key: "a,b" },
    status: "succeeded",
    httpStatus: 200,
    errorCode: "",
    message: "Successful",
  } as const;
  const bad = {
    task: { bucket: "src", rawKey: "gone", key: "gone", versionId: "v1" },
    status: "failed",
    httpStatus: 404,
    errorCode: "NoSuchKey",
    message: 'The "key", gone.',
  } as const;

  it("writes HTTP status before the error code and quotes where RFC 4180 needs it", () => {
    expect(reportRow(ok)).toBe("src,a%2Cb,,succeeded,200,,Successful");
    expect(reportRow(bad)).toBe('src,gone,v1,failed,404,NoSuchKey,"The ""key"", gone."');
  });

  it("does not double a trailing slash in the prefix", () => {
    expect(reportBase("reports/", "j1")).toBe("reports/job-j1/");
    expect(reportBase(undefined, "j1")).toBe("job-j1/");
  });

  it("lists one results file per status in manifest.json with hex MD5s; FailedTasksOnly keeps failures only", () => {
    const now = new Date("2025-01-01T00:00:00.000Z");
    const files = buildReport("j1", { enabled: true, bucket: "work", prefix: "r", scope: "AllTasks" }, [ok, bad], now);
    const manifest = JSON.parse(files.at(-1)?.body ?? "{}");
    expect(files.at(-1)?.key).toBe("r/job-j1/manifest.json");
    expect(manifest.Results.map((r: { TaskExecutionStatus: string }) => r.TaskExecutionStatus)).toEqual([
      "succeeded",
      "failed",
    ]);
    for (const [i, entry] of manifest.Results.entries()) {
      expect(entry.Key).toMatch(/^r\/job-j1\/results\/[0-9a-f]{40}\.csv$/);
      expect(entry.MD5Checksum).toBe(
        createHash("md5")
          .update(files[i]?.body ?? "")
          .digest("hex"),
      );
    }
    expect(manifest.ReportSchema).toBe("Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage");
    const failedOnly = buildReport("j1", { enabled: true, bucket: "work", scope: "FailedTasksOnly" }, [ok, bad], now);
    expect(failedOnly.map((f) => f.body).join("")).not.toContain("succeeded");
    expect(buildReport("j1", { enabled: true, bucket: "work", scope: "AllTasks" }, [], now)).toEqual([]);
  });
});

describe("job engine", () => {
  it("runs New → Preparing → Ready → Active → Complete and writes the report", async () => {
    const s3 = fakeS3({ "work/manifests/m.csv": "src,a\nsrc,missing\n", "src/a": "1" });
    const engine = engineWith(s3.backend);
    const job = engine.createJob(parseCreateJob(createJobXml()));
    expect(job.status).toBe("New");
    await until(job, ["Complete"]);
    expect([job.totalTasks, job.succeeded, job.failed]).toEqual([2, 1, 1]);
    expect(job.terminationDate).toBeInstanceOf(Date);
    expect(job.reportKeys).toHaveLength(3);
    engine.close();
  });

  it("returns the same job for a repeated token and refuses the token with different parameters", () => {
    const engine = engineWith(fakeS3({}).backend);
    const a = engine.createJob(parseCreateJob(createJobXml({ token: "same" })));
    const b = engine.createJob(parseCreateJob(createJobXml({ token: "same" })));
    expect(b.id).toBe(a.id);
    expect(engine.jobs.size).toBe(1);
    expect(
      serviceErrorCode(() => engine.createJob(parseCreateJob(createJobXml({ token: "same", priority: "11" })))),
    ).toBe("IdempotencyException");
    engine.close();
  });

  it("fails in Preparing on a manifest ETag mismatch, without running a task or writing a report", async () => {
    const s3 = fakeS3({ "work/manifests/m.csv": "src,a\n", "src/a": "1" }, '"other"');
    const engine = engineWith(s3.backend);
    const job = engine.createJob(parseCreateJob(createJobXml()));
    await until(job, ["Failed"]);
    expect(job.failureReasons[0]?.code).toBe("ManifestETagMismatch");
    expect(s3.copies).toHaveLength(0);
    expect(job.reportKeys).toEqual([]);
    engine.close();
  });

  it("waits Suspended until confirmed, and rejects Ready in other states", async () => {
    const s3 = fakeS3({ "work/manifests/m.csv": "src,a\n", "src/a": "1" });
    const engine = engineWith(s3.backend);
    const job = engine.createJob(parseCreateJob(createJobXml({ confirmationRequired: true })));
    await until(job, ["Suspended"]);
    expect(job.suspendedDate).toBeInstanceOf(Date);
    expect(s3.copies).toHaveLength(0);
    engine.updateStatus(job.id, "Ready", "approved");
    await until(job, ["Complete"]);
    expect(job.statusUpdateReason).toBe("approved");
    expect(serviceErrorCode(() => engine.updateStatus(job.id, "Ready", undefined))).toBe("JobStatusException");
    expect(serviceErrorCode(() => engine.updateStatus(job.id, "Cancelled", undefined))).toBe("JobStatusException");
    expect(serviceErrorCode(() => engine.updateStatus("nope-1", "Cancelled", undefined))).toBe("NotFoundException");
    engine.close();
  });

  it("fails the job once ≥1,000 tasks ran and more than half failed", async () => {
    const rows = Array.from({ length: 1500 }, (_, i) => `src,missing-${i}`).join("\n");
    const s3 = fakeS3({ "work/manifests/m.csv": rows });
    const engine = engineWith(s3.backend, { concurrency: 4 });
    const job = engine.createJob(parseCreateJob(createJobXml()));
    await until(job, ["Failed"]);
    const ran = job.succeeded + job.failed;
    expect(ran).toBeGreaterThanOrEqual(1000);
    expect(ran).toBeLessThan(1010);
    expect(job.failureReasons.map((f) => f.code)).toEqual(["TaskFailureThresholdExceeded"]);
    expect(job.reportKeys.length).toBeGreaterThan(0);
    engine.close();
  });

  it("cancels mid-run: running tasks finish, no new ones start, the report covers what ran", async () => {
    const rows = Array.from({ length: 200 }, (_, i) => `src,k${i}`).join("\n");
    const objects: Record<string, string> = { "work/manifests/m.csv": rows };
    for (let i = 0; i < 200; i++) objects[`src/k${i}`] = "x";
    const s3 = fakeS3(objects);
    const engine = engineWith(s3.backend, { tasksPerSecond: 100 });
    const job = engine.createJob(parseCreateJob(createJobXml()));
    await until(job, ["Active"]);
    while (job.succeeded < 5) await new Promise((r) => setTimeout(r, 5));
    engine.updateStatus(job.id, "Cancelled", "stop");
    expect(job.status).toBe("Cancelling");
    await until(job, ["Cancelled"]);
    const ran = job.succeeded;
    expect(ran).toBeLessThan(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(s3.copies).toHaveLength(ran);
    const csv = [...s3.store.entries()].filter(([k]) => k.endsWith(".csv") && k.includes("/results/"));
    expect(csv.map(([, v]) => v.body.toString().trim().split("\r\n").length)).toEqual([ran]);
    engine.close();
  });
});
