import { createHash } from "node:crypto";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UpdateObjectEncryptionCommand,
} from "@aws-sdk/client-s3";
import {
  CreateJobCommand,
  type CreateJobCommandInput,
  type JobDescriptor,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_IDENTITY } from "../../sandbox/config.ts";
import type { BatchBackend } from "../../sandbox/s3control/backend.ts";
import { parseCreateJob } from "../../sandbox/s3control/create-job.ts";
import type { ManifestTask } from "../../sandbox/s3control/model.ts";
import { findOperation } from "../../sandbox/s3control/operations/index.ts";
import {
  s3UpdateObjectEncryption,
  updateObjectEncryptionInput,
} from "../../sandbox/s3control/operations/update-encryption.ts";
import { createBatchOperations } from "../../sandbox/s3control/service.ts";
import { jobInStatus } from "../support/batch-jobs.ts";
import { useSandbox } from "../support/sandbox.ts";

const ACCOUNT = "123456789012";
const ROLE = `arn:aws:iam::${ACCOUNT}:role/rekey-batch`;
const KEY_A = `arn:aws:kms:us-east-1:${ACCOUNT}:key/11111111-1111-1111-1111-111111111111`;

/** The XML the JS SDK sends for `S3UpdateObjectEncryption` (the member is `<SSE-KMS>`: sandbox/BATCH-OPERATIONS.md, "Wire names"). */
const SDK_OPERATION_XML = `<S3UpdateObjectEncryption><ObjectEncryption><SSE-KMS><KMSKeyArn>${KEY_A}</KMSKeyArn><BucketKeyEnabled>true</BucketKeyEnabled></SSE-KMS></ObjectEncryption></S3UpdateObjectEncryption>`;

function createJobXml(operation: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?><CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">' +
    `<Operation>${operation}</Operation><Report><Enabled>false</Enabled></Report>` +
    `<Priority>10</Priority><RoleArn>${ROLE}</RoleArn><ClientRequestToken>t</ClientRequestToken>` +
    "<Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member><member>Key</member></Fields></Spec>" +
    "<Location><ObjectArn>arn:aws:s3:::work/m.csv</ObjectArn><ETag>e</ETag></Location></Manifest></CreateJobRequest>"
  );
}

interface SentCommand {
  name: string;
  input: unknown;
}

/** An S3Client stand-in: records each command and answers with `answer`'s result or error. */
function fakeS3(answer: (input: unknown) => unknown = () => ({ $metadata: { httpStatusCode: 200 } })) {
  const sent: SentCommand[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: unknown }) {
      sent.push({ name: command.constructor.name, input: command.input });
      return answer(command.input);
    },
  } as unknown as S3Client;
  return { client, sent };
}

const s3Error = (name: string, status: number, message: string) =>
  Object.assign(new Error(message), { name, Code: name, $metadata: { httpStatusCode: status } });

describe("S3UpdateObjectEncryption: CreateJob and the UpdateObjectEncryption call per task", () => {
  it("reads the SDK's hyphenated <SSE-KMS> and maps a task to UpdateObjectEncryption", () => {
    const job = parseCreateJob(createJobXml(SDK_OPERATION_XML));
    expect(job.operationName).toBe("S3UpdateObjectEncryption");
    const task: ManifestTask = { bucket: "src", rawKey: "dir/a%20b", key: "dir/a b" };
    expect(updateObjectEncryptionInput(job.operation, task)).toEqual({
      Bucket: "src",
      Key: "dir/a b",
      ObjectEncryption: { SSEKMS: { KMSKeyArn: KEY_A, BucketKeyEnabled: true } },
    });
    expect(updateObjectEncryptionInput(job.operation, { ...task, versionId: "v1" })).toMatchObject({
      VersionId: "v1",
    });
    const noBucketKey = parseCreateJob(
      createJobXml(SDK_OPERATION_XML.replace(/<BucketKeyEnabled>.*<\/BucketKeyEnabled>/, "")),
    );
    expect(updateObjectEncryptionInput(noBucketKey.operation, task).ObjectEncryption).toEqual({
      SSEKMS: { KMSKeyArn: KEY_A },
    });
  });

  it.each([
    ["no ObjectEncryption", "<S3UpdateObjectEncryption/>", /requires ObjectEncryption/],
    [
      "the unhyphenated member name",
      `<S3UpdateObjectEncryption><ObjectEncryption><SSEKMS><KMSKeyArn>${KEY_A}</KMSKeyArn></SSEKMS></ObjectEncryption></S3UpdateObjectEncryption>`,
      /supports only SSE-KMS/,
    ],
    [
      "no KMSKeyArn",
      "<S3UpdateObjectEncryption><ObjectEncryption><SSE-KMS><BucketKeyEnabled>true</BucketKeyEnabled></SSE-KMS></ObjectEncryption></S3UpdateObjectEncryption>",
      /requires KMSKeyArn/,
    ],
    ["a non-boolean BucketKeyEnabled", SDK_OPERATION_XML.replace(">true<", ">yes<"), /Invalid boolean/],
  ])("refuses %s with BadRequestException", (_name, op, message) => {
    expect(() => parseCreateJob(createJobXml(op))).toThrow(message);
  });

  it("turns the call's result into the task outcome: 200 Successful, or S3's status, code and message", async () => {
    const spec = parseCreateJob(createJobXml(SDK_OPERATION_XML)).operation;
    const task: ManifestTask = { bucket: "src", rawKey: "k", key: "k" };
    const ok = fakeS3();
    expect(await s3UpdateObjectEncryption.run(spec, task, ok.client)).toEqual({
      status: "succeeded",
      httpStatus: 200,
      errorCode: "",
      message: "Successful",
    });
    expect(ok.sent.map((c) => c.name)).toEqual(["UpdateObjectEncryptionCommand"]);
    const refused = fakeS3(() => {
      throw s3Error("InvalidRequest", 400, "Unencrypted objects are not supported.");
    });
    expect(await s3UpdateObjectEncryption.run(spec, task, refused.client)).toEqual({
      status: "failed",
      httpStatus: 400,
      errorCode: "InvalidRequest",
      message: "Unencrypted objects are not supported.",
    });
  });

  it("runs a job through the engine (backend fake) and reports each task like a copy", async () => {
    const store = new Map<string, string>();
    const keys = new Map<string, "ok" | "refuse">([
      ["u/sse-s3.txt", "ok"],
      ["u/plain text.txt", "refuse"],
    ]);
    const calls: unknown[] = [];
    const s3 = fakeS3((input) => {
      calls.push(input);
      const key = (input as { Key: string }).Key;
      const kind = keys.get(key);
      if (kind === undefined) throw s3Error("NoSuchKey", 404, "The specified key does not exist.");
      if (kind === "refuse") throw s3Error("InvalidRequest", 400, "Unencrypted objects are not supported.");
      return { $metadata: { httpStatusCode: 200 } };
    });
    const backend: BatchBackend = {
      async getObject() {
        return { body: Buffer.from("src,u/sse-s3.txt\nsrc,u/plain%20text.txt\nsrc,u/missing\n"), etag: '"e"' };
      },
      async putObject(bucket, key, body) {
        store.set(`${bucket}/${key}`, body);
      },
      async runTask(name, spec, task) {
        const op = findOperation(name);
        if (!op) throw new Error(`no operation ${name}`);
        return op.run(spec, task, s3.client);
      },
    };
    const batch = createBatchOperations({ identity: DEFAULT_IDENTITY, endpoint: () => "http://unused", backend });
    try {
      const xml = createJobXml(SDK_OPERATION_XML).replace(
        "<Report><Enabled>false</Enabled></Report>",
        "<Report><Enabled>true</Enabled><Bucket>arn:aws:s3:::work</Bucket><Format>Report_CSV_20180820</Format><Prefix>r</Prefix></Report>",
      );
      const job = batch.engine.createJob(parseCreateJob(xml));
      const start = Date.now();
      while (job.status !== "Complete" && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 5));
      expect(job.status).toBe("Complete");
      expect([job.totalTasks, job.succeeded, job.failed]).toEqual([3, 1, 2]);
      expect(calls).toContainEqual({
        Bucket: "src",
        Key: "u/plain text.txt",
        ObjectEncryption: { SSEKMS: { KMSKeyArn: KEY_A, BucketKeyEnabled: true } },
      });
      const rows = [...store.entries()]
        .filter(([k]) => k.endsWith(".csv"))
        .flatMap(([, body]) => body.split("\r\n").filter((l) => l !== ""))
        .sort();
      expect(rows).toEqual([
        "src,u/missing,,failed,404,NoSuchKey,The specified key does not exist.",
        "src,u/plain%20text.txt,,failed,400,InvalidRequest,Unencrypted objects are not supported.",
        "src,u/sse-s3.txt,,succeeded,200,,Successful",
      ]);
    } finally {
      batch.close();
    }
  });
});

describe("S3UpdateObjectEncryption against the sandbox's S3 UpdateObjectEncryption", () => {
  const SRC = "uoe-src";
  const WORK = "uoe-work";
  const env = useSandbox();
  let target: string;
  let other: string;
  let counter = 0;

  beforeAll(async () => {
    target = env.sandbox.kms.create("target").arn;
    other = env.sandbox.kms.create("other").arn;
    await env.s3.send(new CreateBucketCommand({ Bucket: SRC }));
    await env.s3.send(new CreateBucketCommand({ Bucket: WORK }));
  });

  const operation = (bucketKey: boolean): CreateJobCommandInput["Operation"] => ({
    S3UpdateObjectEncryption: { ObjectEncryption: { SSEKMS: { KMSKeyArn: target, BucketKeyEnabled: bucketKey } } },
  });

  function report(prefix: string): CreateJobCommandInput["Report"] {
    return {
      Enabled: true,
      Bucket: `arn:aws:s3:::${WORK}`,
      Format: "Report_CSV_20180820",
      Prefix: prefix,
      ReportScope: "AllTasks",
    };
  }

  function waitFor(jobId: string, statuses: string[]): Promise<JobDescriptor> {
    return jobInStatus(env.s3control, ACCOUNT, jobId, statuses);
  }

  async function text(bucket: string, key: string): Promise<string> {
    const out = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await out.Body?.transformToString()) ?? "";
  }

  /** Completion report rows of a job, all statuses, sorted; every results file checked against its MD5. */
  async function reportRows(prefix: string, jobId: string): Promise<string[]> {
    const manifest = JSON.parse(await text(WORK, `${prefix}/job-${jobId}/manifest.json`)) as {
      Results: { Key: string; MD5Checksum: string }[];
    };
    const rows: string[] = [];
    for (const r of manifest.Results) {
      const body = await text(WORK, r.Key);
      expect(createHash("md5").update(body).digest("hex")).toBe(r.MD5Checksum);
      rows.push(...body.split("\r\n").filter((l) => l !== ""));
    }
    return rows.sort();
  }

  it("changes the encryption of SSE-S3 and SSE-KMS objects in place and fails the ones S3 refuses", async () => {
    await env.admin.seed(SRC, [
      { key: "m/sse-s3.txt", body: "s3 data", encryption: { type: "SSE-S3" } },
      {
        key: "m/kms other.txt",
        body: "kms data",
        encryption: { type: "SSE-KMS", keyArn: other, bucketKeyEnabled: false },
      },
      { key: "m/archived.bin", size: 4096, storageClass: "DEEP_ARCHIVE", encryption: { type: "SSE-S3" } },
      { key: "m/plain.txt", body: "plain", encryption: { type: "NOT-SSE" } },
      { key: "m/ssec.bin", body: "c", encryption: { type: "SSE-C" } },
      { key: "m/dsse.bin", body: "d", encryption: { type: "DSSE-KMS", keyArn: other } },
    ]);
    const before = new Map((await env.admin.versions(SRC, "m/")).map((v) => [v.key, v]));
    // What S3 itself answers for the refused sources, to compare the report rows with.
    const direct = async (Key: string) => {
      try {
        await env.s3.send(
          new UpdateObjectEncryptionCommand({
            Bucket: SRC,
            Key,
            ObjectEncryption: { SSEKMS: { KMSKeyArn: target, BucketKeyEnabled: true } },
          }),
        );
        return "accepted";
      } catch (err) {
        const e = err as { name: string; message: string; $metadata: { httpStatusCode?: number } };
        return `${e.$metadata.httpStatusCode},${e.name},${e.message}`;
      }
    };
    const refusedPlain = await direct("m/plain.txt");
    const refusedSsec = await direct("m/ssec.bin");
    const refusedDsse = await direct("m/dsse.bin");
    expect(refusedPlain).toMatch(/^400,InvalidRequest,/);

    const keys = [
      "m/sse-s3.txt",
      "m/kms other.txt",
      "m/archived.bin",
      "m/plain.txt",
      "m/ssec.bin",
      "m/dsse.bin",
      "m/gone",
    ];
    const manifestBody = keys.map((k) => `${SRC},${encodeURIComponent(k).replace(/%2F/g, "/")}`).join("\n");
    const put = await env.s3.send(new PutObjectCommand({ Bucket: WORK, Key: "m.csv", Body: manifestBody }));
    const input: CreateJobCommandInput = {
      AccountId: ACCOUNT,
      ClientRequestToken: `uoe-${++counter}`,
      Priority: 10,
      RoleArn: ROLE,
      ConfirmationRequired: false,
      Operation: operation(true),
      Manifest: {
        Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
        Location: { ObjectArn: `arn:aws:s3:::${WORK}/m.csv`, ETag: put.ETag ?? "" },
      },
      Report: report("uoe"),
    };
    const { JobId } = await env.s3control.send(new CreateJobCommand(input));
    const jobId = JobId ?? "";
    const job = await waitFor(jobId, ["Complete", "Failed"]);
    expect(job.Status).toBe("Complete");
    expect(job.Operation).toEqual(input.Operation);
    expect(job.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 7,
      NumberOfTasksSucceeded: 3,
      NumberOfTasksFailed: 4,
    });

    const after = new Map((await env.admin.versions(SRC, "m/")).map((v) => [v.key, v]));
    for (const key of ["m/sse-s3.txt", "m/kms other.txt", "m/archived.bin"]) {
      const b = before.get(key);
      const a = after.get(key);
      expect(a?.encryption).toEqual({ type: "SSE-KMS", keyArn: target, bucketKeyEnabled: true });
      // No data moved: class, size, ETag and LastModified stay.
      expect([a?.storageClass, a?.size, a?.etag, a?.lastModified]).toEqual([
        b?.storageClass,
        b?.size,
        b?.etag,
        b?.lastModified,
      ]);
    }
    expect(await text(SRC, "m/kms other.txt")).toBe("kms data");
    expect(after.get("m/plain.txt")?.encryption).toEqual({ type: "NOT-SSE" });
    expect(after.get("m/dsse.bin")?.encryption).toEqual({ type: "DSSE-KMS", keyArn: other });
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: SRC, Key: "m/sse-s3.txt" }));
    expect([head.ServerSideEncryption, head.SSEKMSKeyId, head.BucketKeyEnabled]).toEqual(["aws:kms", target, true]);

    const csv = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    const failed = (rawKey: string, outcome: string) => {
      const [status, code, ...message] = outcome.split(",");
      return `${SRC},${rawKey},,failed,${status},${code},${csv(message.join(","))}`;
    };
    expect(await reportRows("uoe", jobId)).toEqual(
      [
        `${SRC},m/sse-s3.txt,,succeeded,200,,Successful`,
        `${SRC},m/kms%20other.txt,,succeeded,200,,Successful`,
        `${SRC},m/archived.bin,,succeeded,200,,Successful`,
        failed("m/plain.txt", refusedPlain),
        failed("m/ssec.bin", refusedSsec),
        failed("m/dsse.bin", refusedDsse),
        `${SRC},m/gone,,failed,404,NoSuchKey,The specified key does not exist.`,
      ].sort(),
    );
  });

  it("with a ManifestGenerator, updates exactly the objects the encryption filter selects", async () => {
    await env.admin.seed(SRC, [
      { key: "g/sse-s3.txt", body: "1", encryption: { type: "SSE-S3" } },
      { key: "g/kms-no-bk.txt", body: "2", encryption: { type: "SSE-KMS", keyArn: other, bucketKeyEnabled: false } },
      { key: "g/kms-bk.txt", body: "3", encryption: { type: "SSE-KMS", keyArn: other, bucketKeyEnabled: true } },
      { key: "g/plain.txt", body: "4", encryption: { type: "NOT-SSE" } },
    ]);
    const { JobId } = await env.s3control.send(
      new CreateJobCommand({
        AccountId: ACCOUNT,
        ClientRequestToken: `uoe-${++counter}`,
        Priority: 10,
        RoleArn: ROLE,
        ConfirmationRequired: false,
        Operation: operation(false),
        ManifestGenerator: {
          S3JobManifestGenerator: {
            SourceBucket: `arn:aws:s3:::${SRC}`,
            EnableManifestOutput: false,
            Filter: {
              KeyNameConstraint: { MatchAnyPrefix: ["g/"] },
              MatchAnyObjectEncryption: [{ SSES3: {} }, { SSEKMS: { BucketKeyEnabled: false } }],
            },
          },
        },
        Report: report("uoe-gen"),
      }),
    );
    const jobId = JobId ?? "";
    const job = await waitFor(jobId, ["Complete", "Failed"]);
    expect(job.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 2,
      NumberOfTasksSucceeded: 2,
      NumberOfTasksFailed: 0,
    });
    expect(job.GeneratedManifestDescriptor).toBeUndefined();
    const enc = new Map((await env.admin.versions(SRC, "g/")).map((v) => [v.key, v.encryption]));
    expect(Object.fromEntries(enc)).toEqual({
      "g/sse-s3.txt": { type: "SSE-KMS", keyArn: target, bucketKeyEnabled: false },
      "g/kms-no-bk.txt": { type: "SSE-KMS", keyArn: target, bucketKeyEnabled: false },
      "g/kms-bk.txt": { type: "SSE-KMS", keyArn: other, bucketKeyEnabled: true },
      "g/plain.txt": { type: "NOT-SSE" },
    });
    expect(await reportRows("uoe-gen", jobId)).toEqual([
      `${SRC},g/kms-no-bk.txt,,succeeded,200,,Successful`,
      `${SRC},g/sse-s3.txt,,succeeded,200,,Successful`,
    ]);
  });

  it("cancels cleanly while Suspended (no task runs, objects untouched)", async () => {
    await env.admin.seed(SRC, [{ key: "c/sse-s3.txt", body: "1", encryption: { type: "SSE-S3" } }]);
    const { JobId } = await env.s3control.send(
      new CreateJobCommand({
        AccountId: ACCOUNT,
        ClientRequestToken: `uoe-${++counter}`,
        Priority: 10,
        RoleArn: ROLE,
        ConfirmationRequired: true,
        Operation: operation(true),
        ManifestGenerator: {
          S3JobManifestGenerator: {
            SourceBucket: `arn:aws:s3:::${SRC}`,
            EnableManifestOutput: false,
            Filter: { KeyNameConstraint: { MatchAnyPrefix: ["c/"] } },
          },
        },
        Report: { Enabled: false },
      }),
    );
    const jobId = JobId ?? "";
    expect((await waitFor(jobId, ["Suspended"])).ProgressSummary?.TotalNumberOfTasks).toBe(1);
    await env.s3control.send(
      new UpdateJobStatusCommand({ AccountId: ACCOUNT, JobId: jobId, RequestedJobStatus: "Cancelled" }),
    );
    await waitFor(jobId, ["Cancelled"]);
    expect((await env.admin.versions(SRC, "c/"))[0]?.encryption).toEqual({ type: "SSE-S3" });
  });
});
