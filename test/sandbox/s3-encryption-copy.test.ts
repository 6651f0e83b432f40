import { createHash } from "node:crypto";
import { CreateKeyCommand, DisableKeyCommand } from "@aws-sdk/client-kms";
import {
  CopyObjectCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { SANDBOX_SSE_C_KEY } from "../../sandbox/s3/seed.ts";
import { newTestBucket, s3Error, useSandbox } from "../support/sandbox.ts";

const env = useSandbox();

const newBucket = (versioned = false) => newTestBucket(env.s3, "enc", { versioned });

async function newKey(): Promise<string> {
  const out = await env.kms.send(new CreateKeyCommand({ Description: "test" }));
  return out.KeyMetadata?.Arn ?? "";
}

function copySource(bucket: string, key: string, versionId?: string): string {
  const path = `${bucket}/${encodeURIComponent(key).replace(/%2F/g, "/")}`;
  return versionId ? `${path}?versionId=${versionId}` : path;
}

describe("server-side encryption on writes", () => {
  it("applies SSE-S3 to writes without SSE headers (the 2023 baseline) and reports it on HEAD", async () => {
    const bucket = await newBucket();
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x" }));
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" }));
    expect(head.ServerSideEncryption).toBe("AES256");
    expect(head.SSEKMSKeyId).toBeUndefined();
    const enc = await env.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    expect(enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe(
      "AES256",
    );
  });

  it("SSE-KMS with key id and Bucket Key: HEAD shows the full key ARN and bucket-key-enabled", async () => {
    const bucket = await newBucket();
    const arn = await newKey();
    const keyId = arn.split("/")[1];
    const put = await env.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "k",
        Body: "x",
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: keyId,
        BucketKeyEnabled: true,
      }),
    );
    expect(put.SSEKMSKeyId).toBe(arn);
    expect(put.ETag).not.toBe(`"${createHash("md5").update("x").digest("hex")}"`);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" }));
    expect([head.ServerSideEncryption, head.SSEKMSKeyId, head.BucketKeyEnabled]).toEqual(["aws:kms", arn, true]);
  });

  it("SSE-KMS without a key uses the AWS managed aws/s3 key and no Bucket Key", async () => {
    const bucket = await newBucket();
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x", ServerSideEncryption: "aws:kms" }));
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" }));
    expect(head.SSEKMSKeyId).toBe(env.sandbox.kms.awsManagedS3Key().arn);
    expect(head.BucketKeyEnabled).toBeUndefined();
  });

  it("bucket default SSE-KMS with Bucket Key applies to new writes and to aws:kms requests without a key", async () => {
    const bucket = await newBucket();
    const arn = await newKey();
    await env.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: arn },
              BucketKeyEnabled: true,
            },
          ],
        },
      }),
    );
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "plain", Body: "x" }));
    await env.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: "asked", Body: "x", ServerSideEncryption: "aws:kms" }),
    );
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "s3", Body: "x", ServerSideEncryption: "AES256" }));
    for (const key of ["plain", "asked"]) {
      const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect([head.ServerSideEncryption, head.SSEKMSKeyId, head.BucketKeyEnabled], key).toEqual(["aws:kms", arn, true]);
    }
    expect((await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "s3" }))).ServerSideEncryption).toBe(
      "AES256",
    );
    const got = await env.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    expect(got.ServerSideEncryptionConfiguration?.Rules?.[0]).toEqual({
      ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: arn },
      BucketKeyEnabled: true,
    });
    await env.s3.send(new DeleteBucketEncryptionCommand({ Bucket: bucket }));
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "after", Body: "x" }));
    expect((await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "after" }))).ServerSideEncryption).toBe(
      "AES256",
    );
  });

  it("fails SSE-KMS writes with unknown, foreign-region and disabled keys as S3 does", async () => {
    const bucket = await newBucket();
    const putKms = (Bucket: string, SSEKMSKeyId: string) =>
      env.s3.send(new PutObjectCommand({ Bucket, Key: "k", Body: "x", ServerSideEncryption: "aws:kms", SSEKMSKeyId }));
    const unknown = await s3Error(putKms(bucket, "11111111-2222-3333-4444-555555555555"));
    expect([unknown.name, unknown.$metadata.httpStatusCode]).toEqual(["KMS.NotFoundException", 400]);
    expect(unknown.message).toBe(
      "Key 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555' does not exist",
    );
    const region = await s3Error(
      putKms(bucket, "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"),
    );
    expect(region.name).toBe("KMS.NotFoundException");
    const arn = await newKey();
    await env.kms.send(new DisableKeyCommand({ KeyId: arn }));
    const disabled = await s3Error(putKms(bucket, arn));
    expect([disabled.name, disabled.$metadata.httpStatusCode]).toEqual(["KMS.DisabledException", 400]);
    const noAlg = await s3Error(
      env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x", SSEKMSKeyId: arn })),
    );
    expect(noAlg.name).toBe("InvalidArgument");
  });

  it("SSE-C: GET/HEAD need the key; DSSE-KMS is stored and reported", async () => {
    const bucket = await newBucket();
    const ssec = { SSECustomerAlgorithm: "AES256", SSECustomerKey: SANDBOX_SSE_C_KEY.toString("base64") };
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "c", Body: "secret", ...ssec }));
    const noKey = await s3Error(env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "c" })));
    expect([noKey.name, noKey.$metadata.httpStatusCode]).toEqual(["InvalidRequest", 400]);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "c", ...ssec }));
    expect(head.SSECustomerAlgorithm).toBe("AES256");
    expect(head.SSECustomerKeyMD5).toBe(createHash("md5").update(SANDBOX_SSE_C_KEY).digest("base64"));
    const got = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "c", ...ssec }));
    expect(await got.Body?.transformToString()).toBe("secret");

    const arn = await newKey();
    await env.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "d",
        Body: "x",
        ServerSideEncryption: "aws:kms:dsse",
        SSEKMSKeyId: arn,
      }),
    );
    const dsse = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "d" }));
    expect([dsse.ServerSideEncryption, dsse.SSEKMSKeyId]).toEqual(["aws:kms:dsse", arn]);
  });

  it("seeded NOT-SSE objects have no encryption headers", async () => {
    const bucket = await newBucket();
    await env.admin.seed(bucket, [
      { key: "old", body: "x", encryption: { type: "NOT-SSE" }, lastModified: "2019-05-01T10:00:00Z" },
    ]);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "old" }));
    expect(head.ServerSideEncryption).toBeUndefined();
    expect(head.LastModified?.toISOString()).toBe("2019-05-01T10:00:00.000Z");
  });
});

describe("CopyObject", () => {
  it("copy in place with SSE-KMS + Bucket Key: new version, STANDARD class, metadata and tags kept, ACL private", async () => {
    const bucket = await newBucket(true);
    const arn = await newKey();
    const [seeded] = (
      await env.admin.seed(bucket, [
        {
          key: "dir/a b+c ✓.txt",
          body: "data",
          contentType: "text/plain",
          metadata: { team: "x" },
          tags: { env: "prod" },
          storageClass: "STANDARD_IA",
          encryption: { type: "NOT-SSE" },
        },
      ])
    ).versions;
    const out = await env.s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: "dir/a b+c ✓.txt",
        CopySource: copySource(bucket, "dir/a b+c ✓.txt"),
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: arn,
        BucketKeyEnabled: true,
      }),
    );
    expect(out.CopySourceVersionId).toBe(seeded?.versionId);
    expect(out.VersionId).not.toBe(seeded?.versionId);
    expect(out.CopyObjectResult?.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(out.CopyObjectResult?.LastModified).toBeInstanceOf(Date);
    expect([out.ServerSideEncryption, out.SSEKMSKeyId, out.BucketKeyEnabled]).toEqual(["aws:kms", arn, true]);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "dir/a b+c ✓.txt" }));
    expect(head.StorageClass).toBeUndefined();
    expect(head.ContentType).toBe("text/plain");
    expect(head.Metadata).toEqual({ team: "x" });
    const tags = await env.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "dir/a b+c ✓.txt" }));
    expect(tags.TagSet).toEqual([{ Key: "env", Value: "prod" }]);
    const versions = await env.admin.versions(bucket);
    expect(versions.map((v) => [v.isLatest, v.encryption.type, v.storageClass, v.acl])).toEqual([
      [true, "SSE-KMS", "STANDARD", "private"],
      [false, "NOT-SSE", "STANDARD_IA", "private"],
    ]);
  });

  it("keeps the storage class only when asked, and honours REPLACE directives", async () => {
    const bucket = await newBucket();
    await env.admin.seed(bucket, [
      { key: "s", body: "x", storageClass: "ONEZONE_IA", metadata: { a: "1" }, tags: { t: "1" } },
    ]);
    await env.s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: "d",
        CopySource: copySource(bucket, "s"),
        StorageClass: "ONEZONE_IA",
        MetadataDirective: "REPLACE",
        Metadata: { b: "2" },
        ContentType: "application/json",
        TaggingDirective: "REPLACE",
        Tagging: "new=yes",
      }),
    );
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "d" }));
    expect([head.StorageClass, head.Metadata, head.ContentType]).toEqual([
      "ONEZONE_IA",
      { b: "2" },
      "application/json",
    ]);
    expect((await env.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "d" }))).TagSet).toEqual([
      { Key: "new", Value: "yes" },
    ]);
  });

  it("refuses an unchanged copy onto itself with S3's exact message", async () => {
    const bucket = await newBucket();
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x" }));
    const e = await s3Error(
      env.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "k", CopySource: copySource(bucket, "k") })),
    );
    expect(e.name).toBe("InvalidRequest");
    expect(e.message).toBe(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
    await env.s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: "k",
        CopySource: copySource(bucket, "k"),
        StorageClass: "STANDARD",
      }),
    );
  });

  it("refuses sources over 5 GB, archived sources, and SSE-C sources without the copy-source key", async () => {
    const bucket = await newBucket();
    await env.admin.seed(bucket, [
      { key: "huge", size: 5 * 1024 ** 3 + 1, encryption: { type: "NOT-SSE" } },
      { key: "exact", size: 5 * 1024 ** 3, encryption: { type: "NOT-SSE" } },
      { key: "glacier", body: "x", storageClass: "GLACIER" },
      { key: "deep", body: "x", storageClass: "DEEP_ARCHIVE" },
      {
        key: "it-archive",
        body: "x",
        storageClass: "INTELLIGENT_TIERING",
        intelligentTieringAccessTier: "ARCHIVE_ACCESS",
      },
      { key: "it-frequent", body: "x", storageClass: "INTELLIGENT_TIERING", intelligentTieringAccessTier: "FREQUENT" },
      { key: "ssec", body: "x", encryption: { type: "SSE-C" } },
    ]);
    const huge = await s3Error(
      env.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "h2", CopySource: copySource(bucket, "huge") })),
    );
    expect([huge.name, huge.message]).toEqual([
      "InvalidRequest",
      "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
    ]);
    await env.s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: "exact2", CopySource: copySource(bucket, "exact") }),
    );
    expect((await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "exact2" }))).ContentLength).toBe(
      5 * 1024 ** 3,
    );
    for (const key of ["glacier", "deep", "it-archive"]) {
      const e = await s3Error(
        env.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: `${key}2`, CopySource: copySource(bucket, key) })),
      );
      expect([e.name, e.$metadata.httpStatusCode], key).toEqual(["InvalidObjectState", 403]);
    }
    await env.s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: "it2", CopySource: copySource(bucket, "it-frequent") }),
    );
    const ssec = await s3Error(
      env.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "c2", CopySource: copySource(bucket, "ssec") })),
    );
    expect(ssec.name).toBe("InvalidRequest");
    await env.s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: "c2",
        CopySource: copySource(bucket, "ssec"),
        CopySourceSSECustomerAlgorithm: "AES256",
        CopySourceSSECustomerKey: SANDBOX_SSE_C_KEY.toString("base64"),
      }),
    );
    expect((await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "c2" }))).ServerSideEncryption).toBe(
      "AES256",
    );
  });

  it("evaluates copy-source preconditions with 412 PreconditionFailed", async () => {
    const bucket = await newBucket();
    const put = await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "s", Body: "x" }));
    const src = copySource(bucket, "s");
    const past = new Date(Date.now() - 3_600_000);
    const future = new Date(Date.now() + 3_600_000);
    const failing = [
      { CopySourceIfMatch: '"0000"' },
      { CopySourceIfNoneMatch: put.ETag },
      { CopySourceIfModifiedSince: future },
      { CopySourceIfUnmodifiedSince: past },
    ];
    for (const cond of failing) {
      const e = await s3Error(
        env.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "d", CopySource: src, ...cond })),
      );
      expect([e.name, e.$metadata.httpStatusCode], JSON.stringify(cond)).toEqual(["PreconditionFailed", 412]);
    }
    await env.s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: "d",
        CopySource: src,
        CopySourceIfMatch: put.ETag,
        CopySourceIfUnmodifiedSince: past,
      }),
    );
  });

  it("compares copy-source dates in whole seconds, as Last-Modified and HTTP dates have no finer resolution", async () => {
    const bucket = await newBucket();
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "s", Body: "x" }));
    const lastModified = (await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "s" }))).LastModified;
    if (!lastModified) throw new Error("HeadObject gave no LastModified");
    const src = copySource(bucket, "s");
    // Written in the second the date names, so not modified since it: the copy goes ahead.
    await env.s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: "d", CopySource: src, CopySourceIfUnmodifiedSince: lastModified }),
    );
    const secondBefore = new Date(lastModified.getTime() - 1000);
    const e = await s3Error(
      env.s3.send(
        new CopyObjectCommand({ Bucket: bucket, Key: "d", CopySource: src, CopySourceIfUnmodifiedSince: secondBefore }),
      ),
    );
    expect([e.name, e.$metadata.httpStatusCode]).toEqual(["PreconditionFailed", 412]);
  });

  it("copies a named old version and refuses a delete-marker source", async () => {
    const bucket = await newBucket(true);
    const v1 = await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "one" }));
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "two" }));
    const out = await env.s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: "k", CopySource: copySource(bucket, "k", v1.VersionId) }),
    );
    expect(out.CopySourceVersionId).toBe(v1.VersionId);
    expect(
      await (await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k" }))).Body?.transformToString(),
    ).toBe("one");
  });
});
