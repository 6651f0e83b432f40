import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateJobCommand, DescribeJobCommand, NotFoundException } from "@aws-sdk/client-s3-control";
import { describe, expect, it } from "vitest";
import { cancelJob, isUnknownJob } from "../../steps/aws/batch-jobs.ts";
import { jobInStatus } from "../support/batch-jobs.ts";
import { useSandbox } from "../support/sandbox.ts";

describe("isUnknownJob", () => {
  const env = useSandbox();

  it("recognises the sandbox's (and AWS's documented) answer for a job S3 Control does not know", async () => {
    const err = await env.s3control
      .send(new DescribeJobCommand({ AccountId: env.sandbox.identity.accountId, JobId: "no-such-job-0000" }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundException);
    expect(isUnknownJob(err)).toBe(true);
  });

  it("also takes NoSuchJobException and a bare 404, the answers reported right after CreateJob", () => {
    expect(isUnknownJob(Object.assign(new Error("no such job"), { name: "NoSuchJobException" }))).toBe(true);
    expect(isUnknownJob(Object.assign(new Error("?"), { name: "Unknown", $metadata: { httpStatusCode: 404 } }))).toBe(
      true,
    );
  });

  it("does not mistake other failures for an unknown job", () => {
    expect(
      isUnknownJob(Object.assign(new Error("denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } })),
    ).toBe(false);
    expect(isUnknownJob(Object.assign(new Error("slow"), { name: "TooManyRequestsException" }))).toBe(false);
    expect(isUnknownJob(undefined)).toBe(false);
  });
});

describe("cancelJob", () => {
  const env = useSandbox();

  it("cancels a job that can still run tasks, answers false for one that has ended, and throws anything else", async () => {
    const account = env.sandbox.identity.accountId;
    await env.s3.send(new CreateBucketCommand({ Bucket: "cancel-src" }));
    await env.s3.send(new PutObjectCommand({ Bucket: "cancel-src", Key: "a", Body: "a" }));
    const manifest = await env.s3.send(
      new PutObjectCommand({ Bucket: "cancel-src", Key: "m.csv", Body: "cancel-src,a\n" }),
    );
    const { JobId } = await env.s3control.send(
      new CreateJobCommand({
        AccountId: account,
        ClientRequestToken: "cancel-job-test",
        Priority: 10,
        RoleArn: `arn:aws:iam::${account}:role/batch`,
        // Held Suspended, so the job is still cancellable when cancelJob comes.
        ConfirmationRequired: true,
        Operation: { S3PutObjectCopy: { TargetResource: "arn:aws:s3:::cancel-src" } },
        Manifest: {
          Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
          Location: { ObjectArn: "arn:aws:s3:::cancel-src/m.csv", ETag: manifest.ETag?.replace(/"/g, "") ?? "" },
        },
        Report: { Enabled: false },
      }),
    );
    const jobId = JobId ?? "";
    await jobInStatus(env.s3control, account, jobId, ["Suspended"]);
    expect(await cancelJob(env.s3control, account, jobId, "test")).toBe(true);
    await jobInStatus(env.s3control, account, jobId, ["Cancelled"]);
    // The race rekey stop meets: the job ended after the caller last looked.
    expect(await cancelJob(env.s3control, account, jobId, "again")).toBe(false);
    await expect(cancelJob(env.s3control, account, "no-such-job-0000", "test")).rejects.toBeInstanceOf(
      NotFoundException,
    );
  });
});
