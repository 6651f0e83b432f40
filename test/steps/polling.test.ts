import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateJobCommand } from "@aws-sdk/client-s3-control";
import { beforeAll, describe, expect, it } from "vitest";
import { type RunContext, RunOptionsSchema } from "../../contract/run-context.ts";
import { nextInventoryPollSeconds, nextJobPollSeconds } from "../../steps/domain/polling.ts";
import { checkCopyJobs } from "../../steps/handlers/check-copy-jobs.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { newTestBucket, useSandbox } from "../support/sandbox.ts";

const EVENTS_PER_POLL = 9; // Task (5) + Choice (2) + Wait (2) history events; the 25,000-event limit: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
const THREE_WEEKS = 21 * 24 * 3600; // the execution's timeout

describe("nextJobPollSeconds", () => {
  const base = {
    elapsedSeconds: 0,
    totalTasks: 1000,
    finishedTasks: 0,
    tasksPerSecond: undefined,
    minSeconds: 30,
    maxSeconds: 1800,
  };

  it("waits the minimum before any task ran", () => {
    expect(nextJobPollSeconds(base)).toBe(30);
  });

  it("waits a quarter of the estimated remaining time", () => {
    expect(nextJobPollSeconds({ ...base, finishedTasks: 200, tasksPerSecond: 1 })).toBe(200);
  });

  it("stays within its bounds early in a run", () => {
    expect(nextJobPollSeconds({ ...base, totalTasks: 1e9, tasksPerSecond: 1 })).toBe(1800);
    expect(nextJobPollSeconds({ ...base, finishedTasks: 999, tasksPerSecond: 1000 })).toBe(30);
  });

  it("never polls faster than 1/50 of the time already spent, even above the upper bound", () => {
    expect(nextJobPollSeconds({ ...base, elapsedSeconds: 5000, finishedTasks: 999, tasksPerSecond: 1000 })).toBe(100);
    expect(nextJobPollSeconds({ ...base, elapsedSeconds: 500_000, maxSeconds: 60 })).toBe(10_000);
  });

  it("keeps a job that lasts until the execution times out far below the 25,000-event history limit", () => {
    // The tightest bounds the options allow: 1 second both ways.
    let elapsed = 0;
    let polls = 0;
    while (elapsed < THREE_WEEKS) {
      elapsed += nextJobPollSeconds({
        elapsedSeconds: elapsed,
        totalTasks: THREE_WEEKS,
        finishedTasks: elapsed,
        tasksPerSecond: 1,
        minSeconds: 1,
        maxSeconds: 1,
      });
      polls += 1;
    }
    expect(polls * EVENTS_PER_POLL).toBeLessThan(25_000 / 3);
  });
});

describe("nextInventoryPollSeconds", () => {
  it("waits the operator's interval, but never past the deadline", () => {
    expect(nextInventoryPollSeconds({ waitedSeconds: 0, pollSeconds: 1800, secondsToDeadline: 86_400 })).toBe(1800);
    expect(nextInventoryPollSeconds({ waitedSeconds: 0, pollSeconds: 1800, secondsToDeadline: 60 })).toBe(60);
  });

  it("keeps the longest inventory wait with a 1-second interval below a third of the history limit", () => {
    const deadline = 7 * 24 * 3600; // the largest inventoryWaitSeconds the options allow
    let waited = 0;
    let polls = 0;
    while (waited < deadline) {
      waited += nextInventoryPollSeconds({
        waitedSeconds: waited,
        pollSeconds: 1,
        secondsToDeadline: deadline - waited,
      });
      polls += 1;
    }
    expect(polls * EVENTS_PER_POLL).toBeLessThan(25_000 / 3);
  });
});

/** The floor is only a safeguard if "Check copy jobs" applies it: its waitSeconds for a job that has run for days. */
describe('"Check copy jobs" waits', () => {
  const sb = useSandbox();
  let run: RunContext;
  let jobId: string;
  beforeAll(async () => {
    const { accountId, region } = sb.sandbox.identity;
    const bucket = await newTestBucket(sb.s3, "poll-data");
    const workBucket = await newTestBucket(sb.s3, "poll-work");
    await sb.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "a.txt", Body: "a" }));
    const keyArn = (await sb.kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? "";
    // A job awaiting confirmation runs no task: its remaining time is unknown, and only the floor lengthens the wait.
    const created = await sb.s3control.send(
      new CreateJobCommand({
        AccountId: accountId,
        ClientRequestToken: "long-running",
        Priority: 10,
        RoleArn: `arn:aws:iam::${accountId}:role/rekey-batch`,
        ConfirmationRequired: true,
        Operation: {
          S3PutObjectCopy: {
            TargetResource: `arn:aws:s3:::${bucket}`,
            NewObjectMetadata: { SSEAlgorithm: "KMS" },
            SSEAwsKmsKeyId: keyArn,
            BucketKeyEnabled: true,
          },
        },
        ManifestGenerator: {
          S3JobManifestGenerator: { SourceBucket: `arn:aws:s3:::${bucket}`, EnableManifestOutput: false },
        },
        Report: { Enabled: false },
      }),
    );
    jobId = created.JobId ?? "";
    run = {
      runId: "r1",
      executionId: `arn:aws:states:${region}:${accountId}:execution:rekey:r1`,
      bucket,
      kmsKeyArn: keyArn,
      region,
      accountId,
      workBucket,
      source: "generate",
      runPrefix: `runs/${bucket}/r1/`,
      startedAt: new Date().toISOString(),
      options: RunOptionsSchema.parse({ jobPollMinSeconds: 30, jobPollMaxSeconds: 1800 }),
    };
  });

  it("at least 1/50 of the time since the jobs were created, above the operator's upper bound", async () => {
    const now = new Date();
    const tenDaysAgo = new Date(now.getTime() - 10 * 24 * 3600_000).toISOString();
    const progress = await invokeStep(
      checkCopyJobs,
      {
        run,
        jobs: { createdAt: tenDaysAgo, jobs: [{ jobId, storageClass: "STANDARD", manifestKey: "m", objects: 1 }] },
        plan: {
          inventoryManifestKey: "generated",
          inventoryCreatedAt: tenDaysAgo,
          manifests: [],
          planKey: `plans/${run.bucket}/p/plan.json`,
          planPrefix: `plans/${run.bucket}/p/`,
        },
        defaultEncryption: { enforcedAt: tenDaysAgo },
      },
      {
        clients: sb.clients,
        config: { batchRoleArn: run.executionId },
        log: silentLogger,
        now: () => now,
      },
    );
    expect(progress).toMatchObject({ done: false, jobs: [{ jobId, elapsedActiveSeconds: 0 }] });
    expect(progress.waitSeconds).toBe((10 * 24 * 3600) / 50);
  });
});
