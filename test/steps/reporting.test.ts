import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunOptionsSchema } from "../../contract/run-context.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { notFoundProblem } from "../../steps/domain/spot-check.ts";
import { causeMessage, recordFailure } from "../../steps/handlers/record-failure.ts";
import { mismatchWarnings } from "../../steps/handlers/write-final-report.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { sandboxWithClients } from "../support/sandbox.ts";

describe("spot-check findings", () => {
  it("treat a few deleted objects as normal and many as a broken check", () => {
    expect(notFoundProblem(1000, 5)).toBe(false);
    expect(notFoundProblem(1000, 100)).toBe(false);
    expect(notFoundProblem(1000, 101)).toBe(true);
    expect(notFoundProblem(20, 6)).toBe(true);
  });

  it("name at most five examples, so the report and a Fail state's cause stay small", () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, found: "AES256" }));
    const [warning] = mismatchWarnings(many, "runs/x/verification.json");
    expect(warning).toMatch(/^10000 sampled object\(s\)/);
    expect(warning?.split("\n")).toHaveLength(6);
    expect(warning?.length).toBeLessThan(1000);
    expect(mismatchWarnings([], "x")).toEqual([]);
  });
});

describe("Record failure", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  beforeAll(async () => {
    ({ sandbox, clients } = await sandboxWithClients());
    await clients.s3.send(new CreateBucketCommand({ Bucket: "work" }));
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it("reads the message out of a Lambda error's JSON cause", () => {
    expect(causeMessage(JSON.stringify({ errorType: "X", errorMessage: "the message", trace: [] }))).toBe(
      "the message",
    );
    expect(causeMessage("plain text")).toBe("plain text");
  });

  it("names the jobs a failed run left behind, in its cause and in failure.json", async () => {
    const run = {
      runId: "r1",
      executionId: "arn:aws:states:us-east-1:123456789012:execution:rekey:r1",
      bucket: "data",
      kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      region: "us-east-1",
      accountId: "123456789012",
      workBucket: "work",
      inventoryConfigurationId: "inv",
      runPrefix: "runs/data/r1/",
      startedAt: new Date().toISOString(),
      options: RunOptionsSchema.parse({}),
    };
    const state = {
      run,
      jobs: {
        createdAt: new Date().toISOString(),
        jobs: [{ jobId: "job-a", storageClass: "STANDARD", manifestKey: "m", objects: 3 }],
      },
      failure: {
        Error: "TransientAwsError",
        Cause: JSON.stringify({ errorMessage: "SlowDown: please reduce your request rate" }),
      },
    };
    const deps = {
      clients,
      config: { batchRoleArn: "arn:aws:iam::123456789012:role/r" },
      log: silentLogger,
      now: () => new Date(),
    };
    const out = await invokeStep(recordFailure, { state }, deps);
    expect(out.error).toBe("TransientAwsError");
    expect(out.cause).toMatch(
      /^SlowDown: please reduce your request rate\nCopy jobs this run created or reused, which may still be running: job-a$/,
    );
    expect(out.failureLocation).toBe("s3://work/runs/data/r1/failure.json");
    expect(JSON.parse(await getText(clients.s3, "work", "runs/data/r1/failure.json"))).toMatchObject({
      jobIds: ["job-a"],
      runId: "r1",
    });
  });
});
