import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { HeadObjectCommand, PutBucketEncryptionCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateJobCommand, DescribeJobCommand, ListJobsCommand } from "@aws-sdk/client-s3-control";
import { beforeAll, describe, expect, it } from "vitest";
import type { Jobs, Plan, WorkJob } from "../../contract/plan.ts";
import { planKeys, type RunContext, RunOptionsSchema } from "../../contract/run-context.ts";
import { copyOperation, jobManifest, jobReport } from "../../steps/aws/batch-job-requests.ts";
import { jobDescription } from "../../steps/aws/batch-jobs.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { manifestLine } from "../../steps/domain/batch-manifest.ts";
import { checkCopyJobs } from "../../steps/handlers/check-copy-jobs.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { runningExecution } from "../support/running-execution.ts";
import { newTestBucket, useSandbox } from "../support/sandbox.ts";

const KEYS = ["plain.txt", "dir/a b+c ✓.txt", "slow-1", "slow-2", "denied", "ok"];
const THROTTLED = ["dir/a b+c ✓.txt", "slow-1", "slow-2"];

/** "Check copy jobs" on a job that completed with throttled tasks, against the sandbox with the real SDK. */
describe('"Check copy jobs" redrives transient failures', () => {
  const sb = useSandbox();
  let run: RunContext;
  let plan: Plan;
  let jobs: Jobs;
  let job: WorkJob;
  let enforcedAt: string;
  let endedAt: Date;

  const deps = (now: Date) => ({
    clients: sb.clients,
    config: { batchRoleArn: `arn:aws:iam::${sb.sandbox.identity.accountId}:role/rekey-batch` },
    log: silentLogger,
    now: () => now,
  });
  const check = (options: Record<string, unknown>, now: Date, input: Jobs = jobs) =>
    invokeStep(
      checkCopyJobs,
      {
        run: { ...run, options: RunOptionsSchema.parse(options) },
        jobs: input,
        plan,
        defaultEncryption: { enforcedAt },
      },
      deps(now),
    );
  const describeJob = async (jobId: string) =>
    (await sb.s3control.send(new DescribeJobCommand({ AccountId: sb.sandbox.identity.accountId, JobId: jobId }))).Job;
  const untilEnded = async (jobId: string) => {
    for (;;) {
      const d = await describeJob(jobId);
      if (d?.Status === "Complete" || d?.Status === "Failed" || d?.Status === "Cancelled") return d;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const listedJobs = async () =>
    (await sb.s3control.send(new ListJobsCommand({ AccountId: sb.sandbox.identity.accountId }))).Jobs ?? [];

  beforeAll(async () => {
    const { accountId, region } = sb.sandbox.identity;
    const bucket = await newTestBucket(sb.s3, "redrive-step-data", { versioned: true });
    const workBucket = await newTestBucket(sb.s3, "redrive-step-work");
    for (const key of KEYS) await sb.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    enforcedAt = new Date(Date.now() + 1000).toISOString();
    const keyArn = (await sb.kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? "";
    // What "Enforce default encryption" leaves in place before any copy job: copies take the bucket default.
    await sb.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keyArn },
              BucketKeyEnabled: true,
            },
          ],
        },
      }),
    );
    run = {
      runId: "r1",
      // Running: the step cancels a redrive job it makes for a stopped run (steps/aws/run-execution.ts).
      executionId: (await runningExecution(sb.sfn, "r1")).executionArn,
      bucket,
      kmsKeyArn: keyArn,
      region,
      accountId,
      workBucket,
      source: "generate",
      runPrefix: `runs/${bucket}/r1/`,
      startedAt: new Date().toISOString(),
      options: RunOptionsSchema.parse({}),
    };
    const planPrefix = `plans/${bucket}/p/`;
    const manifestKey = planKeys(planPrefix).manifest("STANDARD");
    const put = await sb.s3.send(
      new PutObjectCommand({
        Bucket: workBucket,
        Key: manifestKey,
        Body: KEYS.map((k) => manifestLine(bucket, k)).join(""),
        ServerSideEncryption: "AES256",
      }),
    );
    const manifest = {
      operation: "copy" as const,
      storageClass: "STANDARD",
      key: manifestKey,
      etag: put.ETag ?? "",
      objects: KEYS.length,
      bytes: 0,
    };
    plan = {
      inventoryManifestKey: "generated",
      inventoryCreatedAt: run.startedAt,
      manifests: [manifest],
      planKey: `${planPrefix}plan.json`,
      planPrefix,
    };
    await sb.admin.request("POST", "/_sandbox/batch/faults", {
      failKeys: [
        ...THROTTLED.map((key) => ({ key, httpStatus: 503, errorCode: "SlowDown" })),
        { key: "denied", httpStatus: 403, errorCode: "AccessDenied", message: "Access Denied" },
      ],
    });
    const created = await sb.s3control.send(
      new CreateJobCommand({
        AccountId: accountId,
        ConfirmationRequired: false,
        Operation: copyOperation(run, "STANDARD", enforcedAt),
        Report: jobReport(run, planPrefix),
        ClientRequestToken: "redrive-step-test",
        Manifest: jobManifest(run, manifest),
        Description: jobDescription(run, planPrefix, "STANDARD"),
        Priority: 10,
        RoleArn: deps(new Date()).config.batchRoleArn,
      }),
    );
    job = { jobId: created.JobId ?? "", operation: "copy", storageClass: "STANDARD", manifestKey, objects: 6 };
    jobs = { createdAt: new Date().toISOString(), jobs: [job] };
    const ended = await untilEnded(job.jobId);
    expect(ended).toMatchObject({ Status: "Complete", ProgressSummary: { NumberOfTasksFailed: 4 } });
    endedAt = ended?.TerminationDate ?? new Date();
    await sb.admin.request("DELETE", "/_sandbox/batch/faults");
  });

  it("waits out the backoff before creating a redrive job", async () => {
    const progress = await check({ redriveBackoffSeconds: 3600 }, new Date(endedAt.getTime() + 600_000));
    expect(progress.done).toBe(false);
    expect(progress.redriven).toBeUndefined();
    expect(progress.waitSeconds).toBe(3000);
    expect(await listedJobs()).toHaveLength(1);
  });

  it("creates no redrive job when taskAttempts is 1, and the jobs are done", async () => {
    const progress = await check({ taskAttempts: 1 }, new Date(endedAt.getTime() + 600_000));
    expect(progress).toMatchObject({ done: true, jobs: [{ jobId: job.jobId, attempt: 1, failed: 4 }] });
    expect(progress.redriven).toBeUndefined();
    expect(await listedJobs()).toHaveLength(1);
  });

  it("creates one redrive job of just the transiently failed objects, found again when the check is retried", async () => {
    const later = new Date(endedAt.getTime() + 120_000);
    const progress = await check({}, later);
    expect(progress.done).toBe(false);
    const redrive = progress.redriven?.jobs.find((j) => j.redriveOf === job.jobId);
    expect(progress.redriven?.jobs).toHaveLength(2);
    expect(redrive).toMatchObject({ operation: "copy", storageClass: "STANDARD", attempt: 2, objects: 3 });

    const manifestKey = planKeys(plan.planPrefix).redriveManifest(job.jobId, 2);
    expect(redrive?.manifestKey).toBe(manifestKey);
    const lines = (await getText(sb.s3, run.workBucket, manifestKey)).split("\n").filter((l) => l !== "");
    expect(lines.sort()).toEqual(THROTTLED.map((k) => manifestLine(run.bucket, k).trimEnd()).sort());

    const described = await describeJob(redrive?.jobId ?? "");
    expect(described?.ConfirmationRequired).toBe(false);
    expect(described?.Manifest?.Spec?.Fields).toEqual(["Bucket", "Key"]);
    expect(described?.Operation?.S3PutObjectCopy).toMatchObject({
      StorageClass: "STANDARD",
      UnModifiedSinceConstraint: new Date(enforcedAt),
    });
    // Like the plan's copy jobs: the enforced bucket default encrypts, so the copy carries no encryption of its own.
    expect(described?.Operation?.S3PutObjectCopy?.SSEAwsKmsKeyId).toBeUndefined();
    expect(described?.Operation?.S3PutObjectCopy?.NewObjectMetadata).toBeUndefined();
    expect(described?.Description).toContain(`redrive-2-of-${job.jobId}`);
    expect(described?.Description).toMatch(/\(r1\)$/);

    const again = await check({}, later);
    expect(again.redriven?.jobs.map((j) => j.jobId)).toEqual(progress.redriven?.jobs.map((j) => j.jobId));
    expect(await listedJobs()).toHaveLength(2);

    // Once the run keeps the redrive job, a check follows it and does not redrive the first job again.
    const kept = progress.redriven as Jobs;
    await untilEnded(redrive?.jobId ?? "");
    const after = await check({}, new Date(Date.now() + 120_000), kept);
    expect(after).toMatchObject({ done: true, succeeded: 2 + 3, failed: 4 });
    expect(after.jobs.map((j) => j.attempt)).toEqual([1, 2]);
    expect(after.redriven).toBeUndefined();
    expect(await listedJobs()).toHaveLength(2);
    for (const key of THROTTLED) {
      const head = await sb.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: key }));
      expect(head, key).toMatchObject({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: run.kmsKeyArn });
    }
  });
});
