import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { GetBucketEncryptionCommand, PutBucketEncryptionCommand, type S3Client } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultEncryptionRecordKey, type RunContext, RunOptionsSchema } from "../../contract/run-context.ts";
import { sandboxS3Client } from "../../sandbox/sdk-clients.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { enforceDefaultEncryption } from "../../steps/handlers/enforce-default-encryption.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import type { StepDeps } from "../../steps/runtime/step.ts";
import { newTestBucket, useSandbox } from "../support/sandbox.ts";

const AES256 = [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" as const }, BucketKeyEnabled: false }];

describe("Enforce default encryption", () => {
  const sb = useSandbox();
  let keyArn: string;
  let workBucket: string;
  beforeAll(async () => {
    keyArn = (await sb.kms.send(new CreateKeyCommand({ Description: "rekey target" }))).KeyMetadata?.Arn ?? "";
    workBucket = await newTestBucket(sb.s3, "enforce-work");
  });

  const deps = (s3: S3Client = sb.s3): StepDeps => ({
    clients: { ...sb.clients, s3 },
    config: { batchRoleArn: "arn:aws:iam::123456789012:role/batch" },
    log: silentLogger,
    now: () => new Date(),
  });

  async function runFor(bucket: string, runId = "r1"): Promise<RunContext> {
    return {
      runId,
      executionId: `arn:aws:states:us-east-1:123456789012:execution:rekey:${runId}`,
      bucket,
      kmsKeyArn: keyArn,
      region: sb.sandbox.identity.region,
      accountId: sb.sandbox.identity.accountId,
      workBucket,
      source: "generate",
      runPrefix: `runs/${bucket}/${runId}/`,
      startedAt: new Date().toISOString(),
      options: RunOptionsSchema.parse({}),
    };
  }

  async function bucketWithAes256(): Promise<string> {
    const bucket = await newTestBucket(sb.s3, "enforce-data");
    await sb.s3.send(
      new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: AES256 } }),
    );
    return bucket;
  }

  const rules = async (bucket: string) =>
    (await sb.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }))).ServerSideEncryptionConfiguration?.Rules;
  const record = async (bucket: string) =>
    JSON.parse(await getText(sb.s3, workBucket, defaultEncryptionRecordKey(bucket)));

  it("sets SSE-KMS under the target key with Bucket Key, records the previous rule, and reuses the moment", async () => {
    const bucket = await bucketWithAes256();
    const first = await invokeStep(enforceDefaultEncryption, { run: await runFor(bucket) }, deps());
    expect(first).toMatchObject({ changed: true, previous: AES256 });
    expect(await rules(bucket)).toEqual([
      {
        ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keyArn },
        BucketKeyEnabled: true,
      },
    ]);
    expect(await record(bucket)).toMatchObject({ state: "enforced", enforcedAt: first.enforcedAt, previous: AES256 });

    const again = await invokeStep(enforceDefaultEncryption, { run: await runFor(bucket, "r2") }, deps());
    expect(again).toEqual({ enforcedAt: first.enforcedAt, changed: false, previous: AES256 });
  });

  it("keeps the original rule for rollback when an attempt crashes between changing the bucket and the record", async () => {
    const bucket = await bucketWithAes256();
    const recordKey = defaultEncryptionRecordKey(bucket);
    // A client whose first write of the record after PutBucketEncryption fails, as a Lambda that times out or
    // loses its connection there would.
    const crashing = sandboxS3Client({ endpoint: sb.sandbox.endpoint, region: sb.sandbox.identity.region });
    let bucketChanged = false;
    let crashed = false;
    crashing.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string };
        if (context.commandName === "PutBucketEncryptionCommand") bucketChanged = true;
        if (context.commandName === "PutObjectCommand" && input.Key === recordKey && bucketChanged && !crashed) {
          crashed = true;
          throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        }
        return next(args);
      },
      { step: "initialize", name: "crashAfterBucketChange" },
    );
    const run = await runFor(bucket);
    await expect(invokeStep(enforceDefaultEncryption, { run }, deps(crashing))).rejects.toMatchObject({
      name: "TransientAwsError",
    });
    expect(crashed).toBe(true);
    expect((await rules(bucket))?.[0]?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID).toBe(keyArn);

    const retry = await invokeStep(enforceDefaultEncryption, { run }, deps());
    expect(retry).toMatchObject({ changed: true, previous: AES256 });
    expect(await record(bucket)).toMatchObject({ state: "enforced", previous: AES256, kmsKeyArn: keyArn });
  });
});
