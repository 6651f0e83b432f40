import { CopyObjectCommand, CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateJobCommand, type JobDescriptor } from "@aws-sdk/client-s3-control";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { SandboxAdminError } from "../../sandbox/admin-client.ts";
import { jobInStatus } from "../support/batch-jobs.ts";
import { useSandbox } from "../support/sandbox.ts";

const SRC = "task-faults-src";
const WORK = "task-faults-work";
const SLOW_DOWN = "failed,503,SlowDown,Please reduce your request rate.";

const env = useSandbox();
let kmsKeyArn: string;
let counter = 0;

beforeAll(async () => {
  kmsKeyArn = env.sandbox.kms.create("task faults").arn;
  await env.s3.send(new CreateBucketCommand({ Bucket: SRC }));
  await env.s3.send(new CreateBucketCommand({ Bucket: WORK }));
});
afterEach(async () => {
  await env.admin.clearBatchTaskFaults();
  await env.admin.clearFaults();
});

/** Puts the objects, runs one S3PutObjectCopy job over them to its end, and returns the job and its report rows. */
async function runCopyJob(keys: string[]): Promise<{ job: JobDescriptor; rows: Map<string, string> }> {
  for (const Key of keys) await env.s3.send(new PutObjectCommand({ Bucket: SRC, Key, Body: Key }));
  const n = ++counter;
  const manifest = await env.s3.send(
    new PutObjectCommand({ Bucket: WORK, Key: `m/${n}.csv`, Body: `${keys.map((k) => `${SRC},${k}`).join("\n")}\n` }),
  );
  const AccountId = env.sandbox.identity.accountId;
  const { JobId } = await env.s3control.send(
    new CreateJobCommand({
      AccountId,
      ClientRequestToken: `task-faults-${n}`,
      Priority: 10,
      RoleArn: `arn:aws:iam::${AccountId}:role/batch`,
      ConfirmationRequired: false,
      Operation: {
        S3PutObjectCopy: {
          TargetResource: `arn:aws:s3:::${SRC}`,
          NewObjectMetadata: { SSEAlgorithm: "KMS" },
          SSEAwsKmsKeyId: kmsKeyArn,
          BucketKeyEnabled: true,
        },
      },
      Manifest: {
        Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
        Location: { ObjectArn: `arn:aws:s3:::${WORK}/m/${n}.csv`, ETag: manifest.ETag ?? "" },
      },
      Report: {
        Enabled: true,
        Bucket: `arn:aws:s3:::${WORK}`,
        Format: "Report_CSV_20180820",
        Prefix: `r/${n}`,
        ReportScope: "AllTasks",
      },
    }),
  );
  const job = await jobInStatus(env.s3control, AccountId, JobId ?? "", ["Complete", "Failed"]);
  const rows = new Map<string, string>();
  const report = JSON.parse(await text(WORK, `r/${n}/job-${JobId}/manifest.json`)) as { Results: { Key: string }[] };
  for (const r of report.Results) {
    for (const line of (await text(WORK, r.Key)).split("\r\n").filter((l) => l !== "")) {
      const [, key = "", , ...rest] = line.split(",");
      rows.set(decodeURIComponent(key), rest.join(","));
    }
  }
  return { job, rows };
}

async function text(Bucket: string, Key: string): Promise<string> {
  return (await (await env.s3.send(new GetObjectCommand({ Bucket, Key }))).Body?.transformToString()) ?? "";
}

describe("Batch Operations task faults through /_sandbox/batch/faults", () => {
  it("the existing form still fails every task on a key, with the error it names", async () => {
    await env.admin.request("POST", "/_sandbox/batch/faults", {
      failKeys: [{ key: "legacy/denied", httpStatus: 403, errorCode: "AccessDenied", message: "Access Denied" }],
    });
    const { rows } = await runCopyJob(["legacy/denied", "legacy/ok"]);
    expect(rows.get("legacy/denied")).toBe("failed,403,AccessDenied,Access Denied");
    expect(rows.get("legacy/ok")).toBe("succeeded,200,,Successful");
  });

  it("`attempts` throttles the first N tasks on a key, so the same key in a later job succeeds", async () => {
    await env.admin.setBatchTaskFaults([{ key: "redrive/a", attempts: 1 }]);
    const first = await runCopyJob(["redrive/a", "redrive/b"]);
    expect(first.rows.get("redrive/a")).toBe(SLOW_DOWN);
    expect(first.rows.get("redrive/b")).toBe("succeeded,200,,Successful");
    const again = await runCopyJob(["redrive/a"]);
    expect(again.rows.get("redrive/a")).toBe("succeeded,200,,Successful");
  });

  it("`share` throttles a seeded share of tasks, the same tasks whatever order they run in", async () => {
    const keys = Array.from({ length: 24 }, (_, i) => `share/${i}`);
    const failedOf = async () => {
      await env.admin.setBatchTaskFaults([{ bucket: SRC, share: 0.4, seed: 3 }]);
      const { rows, job } = await runCopyJob(keys);
      const failed = keys.filter((k) => rows.get(k) === SLOW_DOWN);
      expect(job.ProgressSummary?.NumberOfTasksFailed).toBe(failed.length);
      return failed;
    };
    const failed = await failedOf();
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(keys.length);
    expect(await failedOf()).toEqual(failed);
  });

  it("refuses a fault with neither key nor share, keeping the faults it had", async () => {
    await env.admin.setBatchTaskFaults([{ key: "kept" }]);
    await expect(env.admin.setBatchTaskFaults([{ attempts: 2 }])).rejects.toBeInstanceOf(SandboxAdminError);
    expect(await env.admin.batchTaskFaults()).toEqual([expect.objectContaining({ key: "kept" })]);
  });

  it("an API fault rule `from: batch` throttles the engine's own S3 calls, not a client's", async () => {
    // The engine's S3 client makes 3 attempts, so 3 throttled CopyObject calls fail the task.
    await env.admin.addFaults({ service: "s3", operation: "CopyObject", from: "batch", key: "api/a", count: 3 });
    await env.s3.send(new PutObjectCommand({ Bucket: SRC, Key: "api/a", Body: "x" }));
    await env.s3.send(
      new CopyObjectCommand({ Bucket: SRC, Key: "api/a", CopySource: `${SRC}/api/a`, ServerSideEncryption: "AES256" }),
    );
    const { rows } = await runCopyJob(["api/a", "api/b"]);
    expect(rows.get("api/a")).toBe(SLOW_DOWN);
    expect(rows.get("api/b")).toBe("succeeded,200,,Successful");
    expect(await env.admin.faults()).toEqual([expect.objectContaining({ injected: 3, remaining: 0 })]);
  });
});
