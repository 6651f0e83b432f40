import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  type CreateCustomKeyStoreCommandInput,
  CreateKeyCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
} from "@aws-sdk/client-kms";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { newTestBucket, sandboxWithClients, useSandbox } from "../support/sandbox.ts";

const env = useSandbox();

const CLOUDHSM: CreateCustomKeyStoreCommandInput = {
  CustomKeyStoreName: "hsm-store",
  CloudHsmClusterId: "cluster-1a23b4cdefg",
  TrustAnchorCertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
  KeyStorePassword: "kmsuser-password",
};
const EXTERNAL: CreateCustomKeyStoreCommandInput = {
  CustomKeyStoreName: "xks-store",
  CustomKeyStoreType: "EXTERNAL_KEY_STORE",
  XksProxyConnectivity: "PUBLIC_ENDPOINT",
  XksProxyUriEndpoint: "https://xks.example.com",
  XksProxyUriPath: "/kms/xks/v1",
  XksProxyAuthenticationCredential: { AccessKeyId: "ABCDEFGHIJKLMNOPQRST", RawSecretAccessKey: "a".repeat(43) },
};

async function store(input: CreateCustomKeyStoreCommandInput): Promise<string> {
  const { CustomKeyStoreId } = await env.kms.send(new CreateCustomKeyStoreCommand(input));
  return CustomKeyStoreId ?? "";
}

describe("sandbox KMS custom key stores with the real SDK client", () => {
  it("a CloudHSM key store: created DISCONNECTED, connected, described; a key in it says where it lives", async () => {
    const id = await store(CLOUDHSM);
    expect(id).toMatch(/^cks-[0-9a-f]{17}$/);
    await expect(
      env.kms.send(new CreateKeyCommand({ CustomKeyStoreId: id, Origin: "AWS_CLOUDHSM" })),
    ).rejects.toMatchObject({ name: "CustomKeyStoreInvalidStateException" });
    await env.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    const { CustomKeyStores } = await env.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }));
    expect(CustomKeyStores).toEqual([
      expect.objectContaining({
        CustomKeyStoreId: id,
        CustomKeyStoreName: "hsm-store",
        CustomKeyStoreType: "AWS_CLOUDHSM",
        ConnectionState: "CONNECTED",
        CloudHsmClusterId: CLOUDHSM.CloudHsmClusterId,
        CreationDate: expect.any(Date),
      }),
    ]);
    expect(JSON.stringify(CustomKeyStores)).not.toContain("kmsuser-password");

    const { KeyMetadata } = await env.kms.send(new CreateKeyCommand({ CustomKeyStoreId: id, Origin: "AWS_CLOUDHSM" }));
    expect(KeyMetadata).toMatchObject({
      Origin: "AWS_CLOUDHSM",
      CustomKeyStoreId: id,
      CloudHsmClusterId: CLOUDHSM.CloudHsmClusterId,
      KeySpec: "SYMMETRIC_DEFAULT",
      KeyState: "Enabled",
    });
    const described = await env.kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata?.Arn }));
    expect(described.KeyMetadata?.CustomKeyStoreId).toBe(id);

    // S3 encrypts under it like any key.
    const bucket = await newTestBucket(env.s3, "cks");
    const put = await env.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "k",
        Body: "x",
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: KeyMetadata?.Arn,
      }),
    );
    expect(put.SSEKMSKeyId).toBe(KeyMetadata?.Arn);
  });

  it("an external key store: a key needs Origin EXTERNAL_KEY_STORE and an external key no other key uses", async () => {
    const id = await store(EXTERNAL);
    await env.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await expect(
      env.kms.send(new CreateKeyCommand({ CustomKeyStoreId: id, Origin: "EXTERNAL_KEY_STORE" })),
    ).rejects.toMatchObject({ name: "ValidationException" });
    await expect(
      env.kms.send(new CreateKeyCommand({ CustomKeyStoreId: id, Origin: "AWS_CLOUDHSM", XksKeyId: "ext-1" })),
    ).rejects.toMatchObject({ name: "UnsupportedOperationException" });
    const { KeyMetadata } = await env.kms.send(
      new CreateKeyCommand({ CustomKeyStoreId: id, Origin: "EXTERNAL_KEY_STORE", XksKeyId: "ext-1" }),
    );
    expect(KeyMetadata).toMatchObject({
      Origin: "EXTERNAL_KEY_STORE",
      CustomKeyStoreId: id,
      XksKeyConfiguration: { Id: "ext-1" },
    });
    await expect(
      env.kms.send(new CreateKeyCommand({ CustomKeyStoreId: id, Origin: "EXTERNAL_KEY_STORE", XksKeyId: "ext-1" })),
    ).rejects.toMatchObject({ name: "XksKeyAlreadyInUseException" });
    const { CustomKeyStores } = await env.kms.send(
      new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: "xks-store" }),
    );
    expect(CustomKeyStores?.[0]).toMatchObject({
      CustomKeyStoreType: "EXTERNAL_KEY_STORE",
      XksProxyConfiguration: {
        Connectivity: "PUBLIC_ENDPOINT",
        UriEndpoint: "https://xks.example.com",
        UriPath: "/kms/xks/v1",
        AccessKeyId: "ABCDEFGHIJKLMNOPQRST",
      },
    });
  });

  it("refuses what KMS refuses: a taken name, missing members, unknown stores, asymmetric keys", async () => {
    await store({ ...CLOUDHSM, CustomKeyStoreName: "taken" });
    await expect(store({ ...CLOUDHSM, CustomKeyStoreName: "taken" })).rejects.toMatchObject({
      name: "CustomKeyStoreNameInUseException",
    });
    await expect(store({ CustomKeyStoreName: "no-cluster", KeyStorePassword: "p" })).rejects.toMatchObject({
      name: "ValidationException",
    });
    await expect(
      env.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: "cks-00000000000000000" })),
    ).rejects.toMatchObject({ name: "CustomKeyStoreNotFoundException" });
    await expect(
      env.kms.send(new CreateKeyCommand({ CustomKeyStoreId: "cks-00000000000000000", Origin: "AWS_CLOUDHSM" })),
    ).rejects.toMatchObject({ name: "CustomKeyStoreNotFoundException" });
    const id = await store({ ...CLOUDHSM, CustomKeyStoreName: "asymmetric" });
    await env.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await expect(
      env.kms.send(
        new CreateKeyCommand({
          CustomKeyStoreId: id,
          Origin: "AWS_CLOUDHSM",
          KeySpec: "RSA_2048",
          KeyUsage: "ENCRYPT_DECRYPT",
        }),
      ),
    ).rejects.toMatchObject({ name: "UnsupportedOperationException" });
    await expect(env.kms.send(new CreateKeyCommand({ Origin: "AWS_CLOUDHSM" }))).rejects.toMatchObject({
      name: "UnsupportedOperationException",
    });
    const all = await env.kms.send(new DescribeCustomKeyStoresCommand({}));
    expect(all.CustomKeyStores?.map((s) => s.CustomKeyStoreName)).toEqual(
      expect.arrayContaining(["hsm-store", "xks-store", "taken", "asymmetric"]),
    );
  });
});

describe("sandbox KMS custom key stores in a data directory", () => {
  it("keeps stores and their keys across a restart", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cks-data-"));
    try {
      const first = await sandboxWithClients({ dataDir: dir });
      const { CustomKeyStoreId } = await first.clients.kms.send(new CreateCustomKeyStoreCommand(EXTERNAL));
      await first.clients.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId }));
      const { KeyMetadata } = await first.clients.kms.send(
        new CreateKeyCommand({ CustomKeyStoreId, Origin: "EXTERNAL_KEY_STORE", XksKeyId: "kept" }),
      );
      await first.sandbox.close();
      const second = await sandboxWithClients({ dataDir: dir });
      try {
        const { CustomKeyStores } = await second.clients.kms.send(
          new DescribeCustomKeyStoresCommand({ CustomKeyStoreId }),
        );
        expect(CustomKeyStores?.[0]).toMatchObject({ ConnectionState: "CONNECTED", CreationDate: expect.any(Date) });
        const described = await second.clients.kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata?.Arn }));
        expect(described.KeyMetadata).toMatchObject({ CustomKeyStoreId, XksKeyConfiguration: { Id: "kept" } });
      } finally {
        await second.sandbox.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
