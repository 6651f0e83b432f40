import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import {
  CreateJobCommand,
  type CreateJobCommandInput,
  DescribeJobCommand,
  type JobDescriptor,
  ListJobsCommand,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import { beforeAll, describe, expect, it } from "vitest";
import { jobInStatus } from "../support/batch-jobs.ts";
import { awsCliEnv, useSandbox } from "../support/sandbox.ts";

const ACCOUNT = "123456789012";
const ROLE = `arn:aws:iam::${ACCOUNT}:role/rekey-batch`;
const SRC = "batch-src";
const WORK = "batch-work";

const hasAwsCli = (() => {
  try {
    execFileSync("aws", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Keys as rekey writes them into manifests: every reserved character percent-encoded, slashes kept. */
const encodeKey = (key: string) => encodeURIComponent(key).replace(/%2F/g, "/");

const env = useSandbox();
let kmsKeyArn: string;
let counter = 0;

beforeAll(async () => {
  kmsKeyArn = env.sandbox.kms.create("batch tests").arn;
  await env.s3.send(new CreateBucketCommand({ Bucket: SRC }));
  await env.s3.send(new CreateBucketCommand({ Bucket: WORK }));
});

async function putObjects(keys: string[], bucket = SRC): Promise<void> {
  await Promise.all(
    keys.map((Key) => env.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: `body of ${Key}` }))),
  );
}

/** Uploads a header-less CSV manifest and returns its location with the ETag (quotes stripped, as AWS examples do). */
async function putManifest(rows: string[]): Promise<{ ObjectArn: string; ETag: string }> {
  const key = `manifests/m-${++counter}.csv`;
  const out = await env.s3.send(new PutObjectCommand({ Bucket: WORK, Key: key, Body: `${rows.join("\n")}\n` }));
  return { ObjectArn: `arn:aws:s3:::${WORK}/${key}`, ETag: (out.ETag ?? "").replace(/"/g, "") };
}

function jobInput(location: { ObjectArn: string; ETag: string }, extra: Partial<CreateJobCommandInput> = {}) {
  return {
    AccountId: ACCOUNT,
    ClientRequestToken: `token-${++counter}`,
    Priority: 10,
    RoleArn: ROLE,
    ConfirmationRequired: false,
    Operation: {
      S3PutObjectCopy: {
        TargetResource: `arn:aws:s3:::${SRC}`,
        MetadataDirective: "COPY",
        NewObjectMetadata: { SSEAlgorithm: "KMS" },
        SSEAwsKmsKeyId: kmsKeyArn,
        BucketKeyEnabled: true,
      },
    },
    Manifest: { Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] }, Location: location },
    Report: {
      Enabled: true,
      Bucket: `arn:aws:s3:::${WORK}`,
      Format: "Report_CSV_20180820",
      Prefix: `reports/${counter}`,
      ReportScope: "AllTasks",
    },
    ...extra,
  } satisfies CreateJobCommandInput;
}

/** The report prefix a test job was created with. */
const prefixOf = (input: CreateJobCommandInput) => input.Report?.Prefix ?? "";

async function createJob(input: CreateJobCommandInput): Promise<string> {
  const out = await env.s3control.send(new CreateJobCommand(input));
  if (!out.JobId) throw new Error("CreateJob returned no JobId");
  return out.JobId;
}

async function describe_(jobId: string, client = env.s3control): Promise<JobDescriptor> {
  const out = await client.send(new DescribeJobCommand({ AccountId: ACCOUNT, JobId: jobId }));
  if (!out.Job) throw new Error("DescribeJob returned no Job");
  return out.Job;
}

function waitForStatus(jobId: string, statuses: string[], client = env.s3control, timeoutMs = 30_000) {
  return jobInStatus(client, ACCOUNT, jobId, statuses, timeoutMs);
}

async function getText(bucket: string, key: string, client = env.s3): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await out.Body?.transformToString("utf8")) ?? "";
}

interface ReportManifest {
  Format: string;
  ReportCreationDate: string;
  Results: { TaskExecutionStatus: string; Bucket: string; MD5Checksum: string; Key: string }[];
  ReportSchema: string;
}

/** Reads the completion report, checking each results file against its MD5; rows per status, sorted. */
async function readReport(prefix: string, jobId: string, client = env.s3) {
  const manifest = JSON.parse(await getText(WORK, `${prefix}/job-${jobId}/manifest.json`, client)) as ReportManifest;
  const rows: Record<string, string[]> = {};
  for (const r of manifest.Results) {
    expect(r.Bucket).toBe(WORK);
    expect(r.Key).toMatch(new RegExp(`^${prefix}/job-${jobId}/results/[0-9a-f]{40}\\.csv$`));
    const body = await getText(r.Bucket, r.Key, client);
    expect(createHash("md5").update(body).digest("hex")).toBe(r.MD5Checksum);
    rows[r.TaskExecutionStatus] = body
      .split("\r\n")
      .filter((l) => l !== "")
      .sort();
  }
  return { manifest, rows };
}

describe("S3 Batch Operations S3PutObjectCopy against the sandbox's S3", () => {
  it("runs a job to Complete, re-encrypts in place and writes the completion report", async () => {
    await putObjects(["life/a.txt", "life/b c.txt"]);
    const location = await putManifest([
      `${SRC},life/a.txt`,
      `${SRC},${encodeKey("life/b c.txt")}`,
      `${SRC},life/missing.txt`,
    ]);
    const input = jobInput(location, { Description: "lifecycle" });
    const jobId = await createJob(input);
    expect(jobId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const job = await waitForStatus(jobId, ["Complete", "Failed"]);
    expect(job).toMatchObject({
      JobId: jobId,
      Status: "Complete",
      Description: "lifecycle",
      Priority: 10,
      RoleArn: ROLE,
      ConfirmationRequired: false,
      JobArn: `arn:aws:s3:us-east-1:${ACCOUNT}:job/${jobId}`,
      ProgressSummary: { TotalNumberOfTasks: 3, NumberOfTasksSucceeded: 2, NumberOfTasksFailed: 1 },
      Manifest: input.Manifest,
      Report: input.Report,
    });
    expect(job.Operation?.S3PutObjectCopy).toMatchObject({ SSEAwsKmsKeyId: kmsKeyArn, BucketKeyEnabled: true });
    expect(job.CreationTime).toBeInstanceOf(Date);
    expect(job.TerminationDate).toBeInstanceOf(Date);
    expect(job.ProgressSummary?.Timers?.ElapsedTimeInActiveSeconds).toBeGreaterThanOrEqual(0);

    const head = await env.s3.send(new HeadObjectCommand({ Bucket: SRC, Key: "life/b c.txt" }));
    expect([head.ServerSideEncryption, head.SSEKMSKeyId, head.BucketKeyEnabled]).toEqual(["aws:kms", kmsKeyArn, true]);

    const { manifest, rows } = await readReport(prefixOf(input), jobId);
    expect(manifest.Format).toBe("Report_CSV_20180820");
    expect(manifest.ReportSchema).toBe("Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage");
    expect(manifest.Results.map((r) => r.TaskExecutionStatus)).toEqual(["succeeded", "failed"]);
    expect(rows).toEqual({
      succeeded: [`${SRC},life/a.txt,,succeeded,200,,Successful`, `${SRC},life/b%20c.txt,,succeeded,200,,Successful`],
      failed: [`${SRC},life/missing.txt,,failed,404,NoSuchKey,The specified key does not exist.`],
    });
  });

  it("returns the same job for a repeated ClientRequestToken and refuses it with other parameters", async () => {
    await putObjects(["idem/a"]);
    const input = jobInput(await putManifest([`${SRC},idem/a`]));
    const first = await createJob(input);
    const second = await createJob(input);
    expect(second).toBe(first);
    const all = await env.s3control.send(new ListJobsCommand({ AccountId: ACCOUNT }));
    expect(all.Jobs?.filter((j) => j.JobId === first)).toHaveLength(1);
    await expect(env.s3control.send(new CreateJobCommand({ ...input, Priority: 11 }))).rejects.toMatchObject({
      name: "IdempotencyException",
    });
  });

  it("fails a job whose manifest ETag does not match, with a reason and no report", async () => {
    await putObjects(["etag/a"]);
    const location = await putManifest([`${SRC},etag/a`]);
    const input = jobInput({ ...location, ETag: "0123456789abcdef0123456789abcdef" });
    const jobId = await createJob(input);
    const job = await waitForStatus(jobId, ["Failed", "Complete"]);
    expect(job.Status).toBe("Failed");
    expect(job.FailureReasons).toEqual([
      {
        FailureCode: "ManifestETagMismatch",
        FailureReason: expect.stringContaining("0123456789abcdef0123456789abcdef"),
      },
    ]);
    expect(job.TerminationDate).toBeInstanceOf(Date);
    const listed = await env.s3.send(new ListObjectsV2Command({ Bucket: WORK, Prefix: `${prefixOf(input)}/` }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it("decodes URL-encoded keys with spaces, +, %, commas and unicode, and copies exactly those objects", async () => {
    const keys = ["enc/a b.txt", "enc/c+d.txt", "enc/50%.txt", "enc/x,y.txt", "enc/ünï/cödé ✓.txt"];
    await putObjects([...keys, "enc/c d.txt"]);
    const location = await putManifest(keys.map((k) => `${SRC},${encodeKey(k)}`));
    const input = jobInput(location);
    input.Operation.S3PutObjectCopy = { ...input.Operation.S3PutObjectCopy, TargetKeyPrefix: "copied" };
    const jobId = await createJob(input);
    const job = await waitForStatus(jobId, ["Complete", "Failed"]);
    expect(job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 5, NumberOfTasksFailed: 0 });
    for (const k of keys) expect(await getText(SRC, `copied/${k}`)).toBe(`body of ${k}`);
    await expect(env.s3.send(new HeadObjectCommand({ Bucket: SRC, Key: "copied/enc/c d.txt" }))).rejects.toMatchObject({
      name: "NotFound",
    });
    const { rows } = await readReport(prefixOf(input), jobId);
    expect(rows.succeeded).toEqual(keys.map((k) => `${SRC},${encodeKey(k)},,succeeded,200,,Successful`).sort());
  });

  it("holds a ConfirmationRequired job Suspended until UpdateJobStatus Ready", async () => {
    await putObjects(["confirm/a"]);
    const jobId = await createJob(jobInput(await putManifest([`${SRC},confirm/a`]), { ConfirmationRequired: true }));
    const suspended = await waitForStatus(jobId, ["Suspended"]);
    expect(suspended.SuspendedDate).toBeInstanceOf(Date);
    expect(suspended.ProgressSummary).toMatchObject({ TotalNumberOfTasks: 1, NumberOfTasksSucceeded: 0 });
    await new Promise((r) => setTimeout(r, 100));
    expect((await describe_(jobId)).Status).toBe("Suspended");
    const updated = await env.s3control.send(
      new UpdateJobStatusCommand({
        AccountId: ACCOUNT,
        JobId: jobId,
        RequestedJobStatus: "Ready",
        StatusUpdateReason: "approved by ops",
      }),
    );
    expect(updated).toMatchObject({ JobId: jobId, Status: "Ready", StatusUpdateReason: "approved by ops" });
    const done = await waitForStatus(jobId, ["Complete"]);
    expect(done.ProgressSummary?.NumberOfTasksSucceeded).toBe(1);
    await expect(
      env.s3control.send(
        new UpdateJobStatusCommand({ AccountId: ACCOUNT, JobId: jobId, RequestedJobStatus: "Cancelled" }),
      ),
    ).rejects.toMatchObject({ name: "JobStatusException" });
  });

  it("fails the job when more than half of at least 1,000 tasks fail", async () => {
    const rows = Array.from({ length: 1100 }, (_, i) => `${SRC},rule/missing-${i}`);
    const input = jobInput(await putManifest(rows), {
      Report: {
        Enabled: true,
        Bucket: `arn:aws:s3:::${WORK}`,
        Format: "Report_CSV_20180820",
        Prefix: "rule",
        ReportScope: "FailedTasksOnly",
      },
    });
    const jobId = await createJob(input);
    const job = await waitForStatus(jobId, ["Failed", "Complete"], env.s3control, 60_000);
    expect(job.Status).toBe("Failed");
    expect(job.FailureReasons?.map((f) => f.FailureCode)).toEqual(["TaskFailureThresholdExceeded"]);
    const ran = (job.ProgressSummary?.NumberOfTasksFailed ?? 0) + (job.ProgressSummary?.NumberOfTasksSucceeded ?? 0);
    expect(ran).toBeGreaterThanOrEqual(1000);
    expect(ran).toBeLessThan(1100);
    const { rows: report } = await readReport("rule", jobId);
    expect(Object.keys(report)).toEqual(["failed"]);
    expect(report.failed).toHaveLength(ran);
  }, 90_000);

  it("lists jobs filtered by status, page by page", async () => {
    const failed = await createJob(jobInput({ ...(await putManifest([`${SRC},x`])), ETag: "nope" }));
    await waitForStatus(failed, ["Failed"]);
    const onlyFailed = await env.s3control.send(new ListJobsCommand({ AccountId: ACCOUNT, JobStatuses: ["Failed"] }));
    expect(onlyFailed.Jobs?.map((j) => j.JobId)).toContain(failed);
    expect(new Set(onlyFailed.Jobs?.map((j) => j.Status))).toEqual(new Set(["Failed"]));
    expect(onlyFailed.Jobs?.find((j) => j.JobId === failed)).toMatchObject({
      Operation: "S3PutObjectCopy",
      Priority: 10,
    });

    const seen: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await env.s3control.send(new ListJobsCommand({ AccountId: ACCOUNT, MaxResults: 2, NextToken }));
      expect(page.Jobs?.length ?? 0).toBeLessThanOrEqual(2);
      seen.push(...(page.Jobs ?? []).map((j) => j.JobId ?? ""));
      NextToken = page.NextToken;
    } while (NextToken);
    expect(seen.length).toBe(env.sandbox.batch.engine.jobs.size);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("answers unknown job ids with NotFoundException and other accounts with AccessDenied", async () => {
    await expect(describe_("00000000-0000-0000-0000-000000000000")).rejects.toMatchObject({
      name: "NotFoundException",
    });
    await expect(
      env.s3control.send(
        new DescribeJobCommand({ AccountId: "210987654321", JobId: "00000000-0000-0000-0000-000000000000" }),
      ),
    ).rejects.toMatchObject({ name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
  });

  it.runIf(hasAwsCli)("is reachable from the aws CLI through HTTP_PROXY (absolute-form requests)", async () => {
    await putObjects(["cli/a"]);
    const jobId = await createJob(jobInput(await putManifest([`${SRC},cli/a`]), { Description: "from the cli test" }));
    await waitForStatus(jobId, ["Complete"]);
    const { stdout } = await promisify(execFile)(
      "aws",
      [
        "s3control",
        "describe-job",
        "--account-id",
        ACCOUNT,
        "--job-id",
        jobId,
        "--endpoint-url",
        `http://sandbox.invalid:${env.sandbox.port}`,
      ],
      {
        env: awsCliEnv(env.sandbox, {
          HTTP_PROXY: `http://127.0.0.1:${env.sandbox.port}`,
          http_proxy: `http://127.0.0.1:${env.sandbox.port}`,
          NO_PROXY: "",
          no_proxy: "",
        }),
      },
    );
    const out = JSON.parse(stdout) as { Job: { JobId: string; Status: string; Description: string } };
    expect(out.Job).toMatchObject({ JobId: jobId, Status: "Complete", Description: "from the cli test" });
  });
});

describe("cancelling a running job", () => {
  const slow = useSandbox({ batchTasksPerSecond: 25 });

  beforeAll(async () => {
    await slow.clients.s3.send(new CreateBucketCommand({ Bucket: SRC }));
    await slow.clients.s3.send(new CreateBucketCommand({ Bucket: WORK }));
  });

  it("stops starting tasks, moves Cancelling → Cancelled and reports the tasks that ran", async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `cancel/k${i}`);
    await Promise.all(keys.map((Key) => slow.clients.s3.send(new PutObjectCommand({ Bucket: SRC, Key, Body: "x" }))));
    const put = await slow.clients.s3.send(
      new PutObjectCommand({ Bucket: WORK, Key: "m.csv", Body: keys.map((k) => `${SRC},${k}`).join("\n") }),
    );
    const input = jobInput(
      { ObjectArn: `arn:aws:s3:::${WORK}/m.csv`, ETag: put.ETag ?? "" },
      {
        Operation: {
          S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${SRC}`, NewObjectMetadata: { SSEAlgorithm: "AES256" } },
        },
      },
    );
    const out = await slow.clients.s3control.send(new CreateJobCommand(input));
    const jobId = out.JobId ?? "";
    const client = slow.clients.s3control;
    for (;;) {
      const job = await describe_(jobId, client);
      expect(job.ProgressSummary?.NumberOfTasksFailed ?? 0).toBe(0);
      if ((job.ProgressSummary?.NumberOfTasksSucceeded ?? 0) >= 5) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const cancel = await client.send(
      new UpdateJobStatusCommand({
        AccountId: ACCOUNT,
        JobId: jobId,
        RequestedJobStatus: "Cancelled",
        StatusUpdateReason: "change window closed",
      }),
    );
    expect(cancel.Status).toBe("Cancelling");
    const job = await waitForStatus(jobId, ["Cancelled"], client);
    expect(job.StatusUpdateReason).toBe("change window closed");
    const ran = job.ProgressSummary?.NumberOfTasksSucceeded ?? 0;
    expect(ran).toBeLessThan(100);
    await new Promise((r) => setTimeout(r, 200));
    expect((await describe_(jobId, client)).ProgressSummary?.NumberOfTasksSucceeded).toBe(ran);
    const { rows } = await readReport(prefixOf(input), jobId, slow.clients.s3);
    expect(rows.succeeded).toHaveLength(ran);
  });
});
