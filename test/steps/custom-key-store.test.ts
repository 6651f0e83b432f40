import { ConnectCustomKeyStoreCommand, CreateCustomKeyStoreCommand, CreateKeyCommand } from "@aws-sdk/client-kms";
import { beforeAll, describe, expect, it } from "vitest";
import { gatherPreflightFacts, type PreflightRun } from "../../steps/aws/preflight-reads.ts";
import { evaluatePreflight } from "../../steps/domain/preflight.ts";
import { newTestBucket, useSandbox } from "../support/sandbox.ts";

/** Preflight of a target key in a custom key store, against the sandbox's KMS with the real SDK. */
describe("preflight: a target key in a custom key store", () => {
  const env = useSandbox();
  let bucket: string;

  async function keyInStore(type: "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE", name: string): Promise<string> {
    const { CustomKeyStoreId } = await env.kms.send(
      new CreateCustomKeyStoreCommand(
        type === "AWS_CLOUDHSM"
          ? {
              CustomKeyStoreName: name,
              CloudHsmClusterId: "cluster-1a23b4cdefg",
              TrustAnchorCertificate: "certificate",
              KeyStorePassword: "password",
            }
          : {
              CustomKeyStoreName: name,
              CustomKeyStoreType: "EXTERNAL_KEY_STORE",
              XksProxyUriEndpoint: "https://xks.example.com",
              XksProxyUriPath: "/kms/xks/v1",
              XksProxyAuthenticationCredential: { AccessKeyId: "ABCDEFGHIJKLMNOPQRST", RawSecretAccessKey: "secret" },
            },
      ),
    );
    await env.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId }));
    const { KeyMetadata } = await env.kms.send(
      new CreateKeyCommand({
        CustomKeyStoreId,
        Origin: type,
        ...(type === "EXTERNAL_KEY_STORE" ? { XksKeyId: `${name}-key` } : {}),
      }),
    );
    return KeyMetadata?.Arn ?? "";
  }

  const run = (kmsKeyArn: string): PreflightRun => ({
    bucket,
    kmsKeyArn,
    region: env.sandbox.identity.region,
    accountId: env.sandbox.identity.accountId,
  });
  const batchRole = () => `arn:aws:iam::${env.sandbox.identity.accountId}:role/rekey-batch`;

  beforeAll(async () => {
    bucket = await newTestBucket(env.s3, "key-store", { versioned: true });
  });

  it("warns, per kind of store, of the store's request quota and why the Bucket Key matters", async () => {
    for (const [type, says] of [
      ["AWS_CLOUDHSM", "an AWS CloudHSM key store"],
      ["EXTERNAL_KEY_STORE", "an external key store"],
    ] as const) {
      const key = await keyInStore(type, `store-${type}`);
      const facts = await gatherPreflightFacts(run(key), env.clients, batchRole());
      expect(facts.key).toMatchObject({
        customKeyStore: { id: expect.stringMatching(/^cks-/), details: { type, connectionState: "CONNECTED" } },
      });
      const { blockers, warnings } = evaluatePreflight(facts);
      expect(blockers).toEqual([]);
      const warning = warnings.find((w) => w.code === "key-in-custom-key-store");
      expect(warning?.message).toContain(says);
      expect(warning?.message).toContain("1,800 requests per second");
      expect(warning?.fix).toContain("Bucket Key");
    }
  });

  it("still warns when the store cannot be described, saying why its type is unknown", async () => {
    const key = await keyInStore("AWS_CLOUDHSM", "undescribed");
    await env.admin.addFaults({
      service: "kms",
      operation: "DescribeCustomKeyStores",
      count: 1,
      error: "accessDenied",
    });
    const facts = await gatherPreflightFacts(run(key), env.clients, batchRole());
    const warning = evaluatePreflight(facts).warnings.find((w) => w.code === "key-in-custom-key-store");
    expect(warning?.message).toContain("type unknown: KMS DescribeCustomKeyStores: access denied");
  });

  it("raises nothing about key stores for a key in KMS's own store", async () => {
    const { KeyMetadata } = await env.kms.send(new CreateKeyCommand({}));
    const facts = await gatherPreflightFacts(run(KeyMetadata?.Arn ?? ""), env.clients, batchRole());
    expect(facts.key).not.toHaveProperty("customKeyStore");
    expect(evaluatePreflight(facts).warnings.map((w) => w.code)).not.toContain("key-in-custom-key-store");
  });
});
