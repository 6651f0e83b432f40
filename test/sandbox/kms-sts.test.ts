import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  GetKeyPolicyCommand,
  PutKeyPolicyCommand,
} from "@aws-sdk/client-kms";
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { beforeAll, describe, expect, it } from "vitest";
import { useSandbox } from "../support/sandbox.ts";

describe("sandbox KMS and STS with the real SDK clients", () => {
  const env = useSandbox();

  beforeAll(async () => {
    await env.clients.s3.send(new CreateBucketCommand({ Bucket: "kms-check" }));
  });

  it("STS GetCallerIdentity names the sandbox account", async () => {
    const id = await env.clients.sts.send(new GetCallerIdentityCommand({}));
    expect(id.Account).toBe(env.sandbox.identity.accountId);
    expect(id.Arn).toMatch(/^arn:aws:iam::\d{12}:user\//);
  });

  it("CreateKey returns a customer managed, enabled key with a full ARN in the sandbox region", async () => {
    const { KeyMetadata: k } = await env.clients.kms.send(new CreateKeyCommand({ Description: "target" }));
    expect(k?.Arn).toBe(`arn:aws:kms:us-east-1:${env.sandbox.identity.accountId}:key/${k?.KeyId}`);
    expect(k).toMatchObject({
      KeyState: "Enabled",
      Enabled: true,
      KeyManager: "CUSTOMER",
      KeySpec: "SYMMETRIC_DEFAULT",
      Description: "target",
    });
    expect(k?.CreationDate).toBeInstanceOf(Date);
  });

  it("DescribeKey finds a key by id, ARN and alias, and answers NotFoundException otherwise", async () => {
    const { KeyMetadata: k } = await env.clients.kms.send(new CreateKeyCommand({}));
    await env.clients.kms.send(new CreateAliasCommand({ AliasName: "alias/data", TargetKeyId: k?.KeyId }));
    for (const ref of [
      k?.KeyId,
      k?.Arn,
      "alias/data",
      `arn:aws:kms:us-east-1:${env.sandbox.identity.accountId}:alias/data`,
    ]) {
      const found = await env.clients.kms.send(new DescribeKeyCommand({ KeyId: ref }));
      expect(found.KeyMetadata?.Arn, ref).toBe(k?.Arn);
    }
    await expect(env.clients.kms.send(new DescribeKeyCommand({ KeyId: "alias/none" }))).rejects.toMatchObject({
      name: "NotFoundException",
    });
    const foreign = k?.Arn?.replace(":us-east-1:", ":eu-west-1:");
    await expect(env.clients.kms.send(new DescribeKeyCommand({ KeyId: foreign }))).rejects.toMatchObject({
      name: "NotFoundException",
    });
  });

  it("a disabled key refuses SSE-KMS writes until enabled again", async () => {
    const { KeyMetadata: k } = await env.clients.kms.send(new CreateKeyCommand({}));
    const put = () =>
      env.clients.s3.send(
        new PutObjectCommand({
          Bucket: "kms-check",
          Key: "o",
          Body: "x",
          ServerSideEncryption: "aws:kms",
          SSEKMSKeyId: k?.Arn,
        }),
      );
    await env.clients.kms.send(new DisableKeyCommand({ KeyId: k?.Arn }));
    expect((await env.clients.kms.send(new DescribeKeyCommand({ KeyId: k?.Arn }))).KeyMetadata?.KeyState).toBe(
      "Disabled",
    );
    await expect(put()).rejects.toMatchObject({ name: "KMS.DisabledException", $metadata: { httpStatusCode: 400 } });
    await env.clients.kms.send(new EnableKeyCommand({ KeyId: k?.Arn }));
    await put();
    const head = await env.clients.s3.send(new HeadObjectCommand({ Bucket: "kms-check", Key: "o" }));
    expect(head.SSEKMSKeyId).toBe(k?.Arn);
  });

  it("keys carry KMS's default key policy, which PutKeyPolicy replaces", async () => {
    const { KeyMetadata: k } = await env.clients.kms.send(new CreateKeyCommand({}));
    const got = await env.clients.kms.send(new GetKeyPolicyCommand({ KeyId: k?.Arn, PolicyName: "default" }));
    expect(JSON.parse(got.Policy ?? "{}")).toMatchObject({
      Statement: [
        { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${env.sandbox.identity.accountId}:root` }, Action: "kms:*" },
      ],
    });
    const policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Deny", Principal: "*", Action: "kms:Decrypt", Resource: "*" }],
    });
    await env.clients.kms.send(new PutKeyPolicyCommand({ KeyId: k?.Arn, PolicyName: "default", Policy: policy }));
    expect((await env.clients.kms.send(new GetKeyPolicyCommand({ KeyId: k?.Arn, PolicyName: "default" }))).Policy).toBe(
      policy,
    );
    await expect(
      env.clients.kms.send(new PutKeyPolicyCommand({ KeyId: k?.Arn, PolicyName: "default", Policy: "{" })),
    ).rejects.toMatchObject({
      name: "MalformedPolicyDocumentException",
    });
  });
});
