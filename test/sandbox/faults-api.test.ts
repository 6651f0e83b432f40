import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient, ListFunctionsCommand } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeJobCommand, ListJobsCommand, S3ControlClient } from "@aws-sdk/client-s3-control";
import { ListStateMachinesCommand } from "@aws-sdk/client-sfn";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { SandboxAdminError } from "../../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { sandboxS3Client } from "../../sandbox/sdk-clients.ts";
import { awsCliEnv, s3Error, useSandbox } from "../support/sandbox.ts";

const run = promisify(execFile);
const BUCKET = "faults-api";

describe("API-call faults through /_sandbox/faults, as the real SDK sees them", () => {
  const env = useSandbox();
  const endpointOf = () => ({ endpoint: env.sandbox.endpoint, region: env.sandbox.identity.region });

  beforeAll(async () => {
    await env.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (const Key of ["a.txt", "b.txt", "deny/c.txt"]) {
      await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: Key }));
    }
  });
  afterEach(async () => {
    await env.admin.clearFaults();
  });

  it("a count rule throttles S3 with 503 SlowDown for the next N matching calls only, then expires", async () => {
    const [rule] = await env.admin.addFaults({ service: "s3", operation: "GetObject", key: "a.txt", count: 2 });
    const get = (Key: string) => env.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
    await get("b.txt"); // another key: not matched
    await env.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "a.txt" })); // another operation: not matched
    for (let i = 0; i < 2; i++) {
      const e = await s3Error(get("a.txt"));
      expect(e).toMatchObject({
        name: "SlowDown",
        message: "Please reduce your request rate.",
        $metadata: { httpStatusCode: 503 },
      });
    }
    expect(await (await get("a.txt")).Body?.transformToString()).toBe("a.txt");
    expect(await env.admin.faults()).toEqual([
      expect.objectContaining({ id: rule?.id, remaining: 0, matched: 3, injected: 2 }),
    ]);
  });

  it("a throttled HeadObject answers 503 with no body, as S3 answers every HEAD error", async () => {
    await env.admin.addFaults({ service: "s3", operation: "HeadObject", key: "a.txt", count: 1 });
    const e = await s3Error(env.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "a.txt" })));
    expect(e.$metadata.httpStatusCode).toBe(503);
  });

  it("the SDK's retries absorb a share-limited throttle; without retries the same seed shows the errors", async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `share/${i}`);
    for (const Key of keys) await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: "x" }));
    const throttle = { service: "s3", operation: "HeadObject", keyPrefix: "share/", share: 0.3, seed: 7 } as const;

    await env.admin.addFaults(throttle);
    const retrying = sandboxS3Client(endpointOf(), { maxAttempts: 6 });
    const attempts: number[] = [];
    for (const Key of keys) {
      const out = await retrying.send(new HeadObjectCommand({ Bucket: BUCKET, Key }));
      attempts.push(out.$metadata.attempts ?? 1);
    }
    retrying.destroy();
    const [absorbed] = await env.admin.faults();
    expect(absorbed?.injected).toBeGreaterThan(0);
    expect(attempts.reduce((a, b) => a + b, 0)).toBe(keys.length + (absorbed?.injected ?? 0));

    await env.admin.clearFaults();
    await env.admin.addFaults(throttle);
    const failures: number[] = [];
    for (const Key of keys) {
      await env.s3
        .send(new HeadObjectCommand({ Bucket: BUCKET, Key }))
        .catch((e: { $metadata: { httpStatusCode: number } }) => failures.push(e.$metadata.httpStatusCode));
    }
    expect(failures.length).toBeGreaterThan(0);
    expect(new Set(failures)).toEqual(new Set([503]));
  });

  it("access denied and explicit errors, filtered by bucket and key prefix", async () => {
    await env.admin.addFaults(
      { service: "s3", operation: "PutObject", bucket: BUCKET, keyPrefix: "deny/", count: 1, error: "accessDenied" },
      {
        service: "s3",
        operation: "GetObject",
        key: "b.txt",
        count: 1,
        error: { code: "InternalError", status: 500, message: "We encountered an internal error. Please try again." },
      },
    );
    await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "allowed/x", Body: "x" }));
    const denied = await s3Error(env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "deny/x", Body: "x" })));
    expect(denied).toMatchObject({
      name: "AccessDenied",
      message: "Access Denied",
      $metadata: { httpStatusCode: 403 },
    });
    const internal = await s3Error(env.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "b.txt" })));
    expect(internal).toMatchObject({ name: "InternalError", $metadata: { httpStatusCode: 500 } });
  });

  it("KMS answers ThrottlingException 400 in its JSON protocol, which the SDK retries", async () => {
    const { KeyMetadata: k } = await env.kms.send(new CreateKeyCommand({}));
    await env.admin.addFaults({ service: "kms", operation: "DescribeKey", count: 2 });
    const e = await env.kms.send(new DescribeKeyCommand({ KeyId: k?.Arn })).catch((err: unknown) => err);
    expect(e).toMatchObject({
      name: "ThrottlingException",
      $metadata: { httpStatusCode: 400 },
      message: "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
    });
    const retrying = new KMSClient({ ...endpointOf(), credentials: SANDBOX_CREDENTIALS, maxAttempts: 3 });
    const out = await retrying.send(new DescribeKeyCommand({ KeyId: k?.Arn }));
    retrying.destroy();
    expect(out.KeyMetadata?.Arn).toBe(k?.Arn);
    expect(out.$metadata.attempts).toBe(2);
  });

  it("KMS access denied is AccessDeniedException", async () => {
    await env.admin.addFaults({ service: "kms", operation: "CreateKey", count: 1, error: "accessDenied" });
    await expect(env.kms.send(new CreateKeyCommand({}))).rejects.toMatchObject({
      name: "AccessDeniedException",
      $metadata: { httpStatusCode: 400 },
    });
  });

  it("S3 Control answers TooManyRequestsException 429, which the SDK retries", async () => {
    await env.admin.addFaults({ service: "s3control", operation: "ListJobs", count: 1 });
    const account = env.sandbox.identity.accountId;
    await expect(env.s3control.send(new ListJobsCommand({ AccountId: account }))).rejects.toMatchObject({
      name: "TooManyRequestsException",
      $metadata: { httpStatusCode: 429 },
    });
    await env.admin.addFaults({ service: "s3control", operation: "ListJobs", count: 1 });
    const base = `${env.sandbox.endpoint}/`;
    const retrying = new S3ControlClient({
      region: env.sandbox.identity.region,
      credentials: SANDBOX_CREDENTIALS,
      maxAttempts: 2,
      endpointProvider: () => ({ url: new URL(base) }),
    });
    const out = await retrying.send(new ListJobsCommand({ AccountId: account }));
    retrying.destroy();
    expect(out.$metadata.attempts).toBe(2);
    // Another operation is not matched: DescribeJob of an unknown job still answers NotFoundException.
    await expect(
      env.s3control.send(new DescribeJobCommand({ AccountId: account, JobId: "none" })),
    ).rejects.toMatchObject({ name: "NotFoundException" });
  });

  it("STS, Step Functions and Lambda throttle in their own protocols", async () => {
    await env.admin.addFaults(
      { service: "sts", count: 1 },
      { service: "states", operation: "ListStateMachines", count: 1 },
      { service: "lambda", operation: "ListFunctions", count: 1 },
    );
    await expect(env.sts.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: "Throttling",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(env.sfn.send(new ListStateMachinesCommand({}))).rejects.toMatchObject({
      name: "ThrottlingException",
      $metadata: { httpStatusCode: 400 },
    });
    const lambda = new LambdaClient({ ...endpointOf(), credentials: SANDBOX_CREDENTIALS, maxAttempts: 1 });
    await expect(lambda.send(new ListFunctionsCommand({}))).rejects.toMatchObject({
      name: "TooManyRequestsException",
      $metadata: { httpStatusCode: 429 },
    });
    expect((await lambda.send(new ListFunctionsCommand({}))).Functions).toEqual([]);
    lambda.destroy();
  });

  it("rules for batch calls leave client calls alone, and the default (clients) leaves batch calls alone", async () => {
    await env.admin.addFaults({ service: "s3", operation: "HeadObject", from: "batch", count: 1 });
    await env.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "a.txt" }));
    expect((await env.admin.faults())[0]).toMatchObject({ matched: 0, injected: 0, remaining: 1 });
  });

  it("refuses a rule with both share and count, or an S3 filter on another service", async () => {
    for (const bad of [
      { service: "s3", share: 0.5, count: 1 },
      { service: "kms", bucket: BUCKET, count: 1 },
      { service: "dynamodb", count: 1 },
    ]) {
      await expect(env.admin.request("POST", "/_sandbox/faults", bad)).rejects.toBeInstanceOf(SandboxAdminError);
    }
    expect(await env.admin.faults()).toEqual([]);
  });

  it("the aws CLI shows an injected KMS throttle as the service's error", async () => {
    const hasCli = await run("aws", ["--version"]).then(
      () => true,
      () => false,
    );
    if (!hasCli) return;
    const { KeyMetadata: k } = await env.kms.send(new CreateKeyCommand({}));
    await env.admin.addFaults({ service: "kms", operation: "DescribeKey", count: 1 });
    const cli = (args: string[]) =>
      run("aws", ["--endpoint-url", env.sandbox.endpoint, "--output", "json", ...args], {
        env: awsCliEnv(env.sandbox, { AWS_MAX_ATTEMPTS: "1", AWS_RETRY_MODE: "standard" }),
      });
    const failed = await cli(["kms", "describe-key", "--key-id", k?.Arn ?? ""]).then(
      () => "",
      (e: { stderr: string }) => e.stderr,
    );
    expect(failed).toContain("An error occurred (ThrottlingException) when calling the DescribeKey operation");
    expect(failed).toContain("You have exceeded the rate at which you may call KMS");
    const ok = JSON.parse((await cli(["kms", "describe-key", "--key-id", k?.Arn ?? ""])).stdout);
    expect(ok.KeyMetadata.Arn).toBe(k?.Arn);
  });
});
