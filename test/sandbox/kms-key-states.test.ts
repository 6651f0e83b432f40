import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import {
  CopyObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UpdateObjectEncryptionCommand,
} from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { newTestBucket, s3Error, useSandbox } from "../support/sandbox.ts";

const env = useSandbox();
let bucket: string;

beforeAll(async () => {
  bucket = await newTestBucket(env.s3, "key-states");
  await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "src", Body: "data", ServerSideEncryption: "AES256" }));
});

async function newKey(input: CreateKeyCommandInput = {}): Promise<string> {
  const arn = (await env.kms.send(new CreateKeyCommand(input))).KeyMetadata?.Arn;
  if (!arn) throw new Error("CreateKey returned no ARN");
  return arn;
}

/** The three S3 writes that encrypt under a key: PutObject, CopyObject and UpdateObjectEncryption. */
const writesUnder = (keyArn: string) => [
  () =>
    env.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "put",
        Body: "x",
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: keyArn,
      }),
    ),
  () =>
    env.s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: "copy",
        CopySource: `${bucket}/src`,
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: keyArn,
      }),
    ),
  () =>
    env.s3.send(
      new UpdateObjectEncryptionCommand({
        Bucket: bucket,
        Key: "src",
        ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn } },
      }),
    ),
];

async function expectWritesFail(keyArn: string, code: string, message: string | RegExp): Promise<void> {
  for (const write of writesUnder(keyArn)) {
    const e = await s3Error(write());
    expect(e).toMatchObject({ name: code, $metadata: { httpStatusCode: 400 } });
    expect(e.message).toMatch(message);
  }
}

describe("KMS key states through the KMS API, and S3's answers to writes under such keys", () => {
  it("DisableKey: writes, copies and UpdateObjectEncryption fail with KMS.DisabledException until EnableKey", async () => {
    const key = await newKey();
    await env.kms.send(new DisableKeyCommand({ KeyId: key }));
    await expectWritesFail(key, "KMS.DisabledException", `${key} is disabled.`);
    await env.kms.send(new EnableKeyCommand({ KeyId: key }));
    for (const write of writesUnder(key)) await write();
  });

  it("ScheduleKeyDeletion: PendingDeletion with a DeletionDate; S3 answers KMS.KMSInvalidStateException", async () => {
    const key = await newKey();
    const scheduled = await env.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: 7 }));
    expect(scheduled).toMatchObject({ KeyId: key, KeyState: "PendingDeletion", PendingWindowInDays: 7 });
    const inAWeek = Date.now() + 7 * 86_400_000;
    expect(Math.abs((scheduled.DeletionDate?.getTime() ?? 0) - inAWeek)).toBeLessThan(60_000);
    const described = (await env.kms.send(new DescribeKeyCommand({ KeyId: key }))).KeyMetadata;
    expect(described).toMatchObject({ KeyState: "PendingDeletion", Enabled: false });
    expect(described?.DeletionDate).toEqual(scheduled.DeletionDate);
    await expectWritesFail(key, "KMS.KMSInvalidStateException", `${key} is pending deletion.`);
    for (const call of [
      new EnableKeyCommand({ KeyId: key }),
      new DisableKeyCommand({ KeyId: key }),
      new ScheduleKeyDeletionCommand({ KeyId: key }),
    ]) {
      await expect(env.kms.send(call as EnableKeyCommand)).rejects.toMatchObject({ name: "KMSInvalidStateException" });
    }
  });

  it("CancelKeyDeletion leaves the key Disabled; EnableKey brings it back into use", async () => {
    const key = await newKey();
    await expect(
      env.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: 6 })),
    ).rejects.toMatchObject({ name: "ValidationException" });
    await expect(env.kms.send(new CancelKeyDeletionCommand({ KeyId: key }))).rejects.toMatchObject({
      name: "KMSInvalidStateException",
    });
    await env.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key }));
    expect(await env.kms.send(new CancelKeyDeletionCommand({ KeyId: key }))).toMatchObject({ KeyId: key });
    const described = (await env.kms.send(new DescribeKeyCommand({ KeyId: key }))).KeyMetadata;
    expect(described).toMatchObject({ KeyState: "Disabled", Enabled: false });
    expect(described?.DeletionDate).toBeUndefined();
    await expectWritesFail(key, "KMS.DisabledException", `${key} is disabled.`);
    await env.kms.send(new EnableKeyCommand({ KeyId: key }));
    for (const write of writesUnder(key)) await write();
  });

  it("CreateKey makes asymmetric and HMAC keys; S3 refuses to encrypt under them (KMS.InvalidKeyUsageException)", async () => {
    const rsa = await newKey({ KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT" });
    expect((await env.kms.send(new DescribeKeyCommand({ KeyId: rsa }))).KeyMetadata).toMatchObject({
      KeySpec: "RSA_2048",
      KeyUsage: "ENCRYPT_DECRYPT",
      EncryptionAlgorithms: ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
      KeyState: "Enabled",
    });
    await expectWritesFail(
      rsa,
      "KMS.InvalidKeyUsageException",
      "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.",
    );
    const signing = await newKey({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" });
    expect((await env.kms.send(new DescribeKeyCommand({ KeyId: signing }))).KeyMetadata?.SigningAlgorithms).toEqual([
      "ECDSA_SHA_256",
    ]);
    await expectWritesFail(signing, "KMS.InvalidKeyUsageException", "key usage is SIGN_VERIFY which is not valid");
    const hmac = await newKey({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" });
    await expectWritesFail(hmac, "KMS.InvalidKeyUsageException", "key usage is GENERATE_VERIFY_MAC");
  });

  it("a bucket default under an asymmetric key fails the writes that take the default", async () => {
    const rsa = await newKey({ KeySpec: "RSA_3072", KeyUsage: "ENCRYPT_DECRYPT" });
    const defaulted = await newTestBucket(env.s3, "key-states-default");
    await env.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: defaulted,
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: rsa } }],
        },
      }),
    );
    const e = await s3Error(env.s3.send(new PutObjectCommand({ Bucket: defaulted, Key: "k", Body: "x" })));
    expect(e).toMatchObject({ name: "KMS.InvalidKeyUsageException", $metadata: { httpStatusCode: 400 } });
  });

  it("CreateKey refuses a key spec without a usage, or a usage the spec does not allow", async () => {
    for (const input of [
      { KeySpec: "RSA_2048" },
      { KeySpec: "ECC_NIST_P256", KeyUsage: "ENCRYPT_DECRYPT" },
      { KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "SIGN_VERIFY" },
    ] as CreateKeyCommandInput[]) {
      await expect(env.kms.send(new CreateKeyCommand(input))).rejects.toMatchObject({ name: "ValidationException" });
    }
  });
});
