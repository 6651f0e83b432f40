import { CreateKeyCommand, DisableKeyCommand } from "@aws-sdk/client-kms";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  UpdateObjectEncryptionCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { AdminObjectVersion } from "../../sandbox/s3/admin.ts";
import type { SeedObject } from "../../sandbox/s3/seed.ts";
import { newTestBucket, s3Error, useSandbox } from "../support/sandbox.ts";

const env = useSandbox();

const newBucket = (opts: { versioned?: boolean; objectLock?: boolean } = {}) => newTestBucket(env.s3, "uoe", opts);

async function newKey(): Promise<string> {
  const out = await env.kms.send(new CreateKeyCommand({ Description: "uoe" }));
  const arn = out.KeyMetadata?.Arn;
  if (!arn) throw new Error("no key ARN");
  return arn;
}

function update(bucket: string, key: string, keyArn: string, bucketKey?: boolean, versionId?: string) {
  return env.s3.send(
    new UpdateObjectEncryptionCommand({
      Bucket: bucket,
      Key: key,
      ...(versionId ? { VersionId: versionId } : {}),
      ObjectEncryption: {
        SSEKMS: { KMSKeyArn: keyArn, ...(bucketKey !== undefined ? { BucketKeyEnabled: bucketKey } : {}) },
      },
    }),
  );
}

async function seedOne(bucket: string, o: SeedObject): Promise<string> {
  const out = await env.admin.seed(bucket, [o]);
  return out.versions[0]?.versionId ?? "";
}

/** Everything UpdateObjectEncryption must keep, as the SDK and the admin API see it. */
async function attributes(bucket: string, key: string, versionId?: string) {
  const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  const tags = await env.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return {
    storageClass: head.StorageClass ?? "STANDARD",
    lastModified: head.LastModified?.toISOString(),
    etag: head.ETag,
    contentType: head.ContentType,
    contentLength: head.ContentLength,
    metadata: head.Metadata,
    tags: tags.TagSet,
  };
}

/**
 * THE version assumption (sandbox/ASSUMPTIONS.md, "UpdateObjectEncryption and versions"), asserted in one place:
 * in place (same version ids, same count), or, when the switch (sandbox/behaviours.ts) says so and the bucket is versioned, one new
 * current version on top of the unchanged ones.
 */
function expectVersionBehaviour(
  before: AdminObjectVersion[],
  after: AdminObjectVersion[],
  updatedVersionId: string,
  versioned: boolean,
) {
  if (env.sandbox.behaviours.updateObjectEncryptionCreatesVersion && versioned) {
    expect(after.length).toBe(before.length + 1);
    expect(after[0]?.versionId).not.toBe(updatedVersionId);
    expect(after.slice(1).map((v) => v.versionId)).toEqual(before.map((v) => v.versionId));
  } else {
    expect(after.map((v) => v.versionId)).toEqual(before.map((v) => v.versionId));
    expect(after.find((v) => v.versionId === updatedVersionId)?.encryption.type).toBe("SSE-KMS");
  }
}

describe("UpdateObjectEncryption: supported changes keep data and attributes", () => {
  it("SSE-S3 → SSE-KMS with Bucket Key: 200, no data or attribute change, the chosen version behaviour", async () => {
    const bucket = await newBucket({ versioned: true });
    const keyArn = await newKey();
    const put = await env.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "docs/a.txt",
        Body: "hello update",
        ContentType: "text/plain",
        Metadata: { owner: "team-a" },
        Tagging: "env=prod&tier=1",
        StorageClass: "STANDARD_IA",
        ServerSideEncryption: "AES256",
      }),
    );
    const versionId = put.VersionId ?? "";
    const before = await attributes(bucket, "docs/a.txt");
    const versionsBefore = await env.admin.versions(bucket, "docs/");
    await new Promise((r) => setTimeout(r, 1100)); // a rewrite would now get a later LastModified

    const out = await update(bucket, "docs/a.txt", keyArn, true);
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.RequestCharged).toBeUndefined();

    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "docs/a.txt" }));
    expect(head.ServerSideEncryption).toBe("aws:kms");
    expect(head.SSEKMSKeyId).toBe(keyArn);
    expect(head.BucketKeyEnabled).toBe(true);
    expect(await attributes(bucket, "docs/a.txt")).toEqual(before);
    expect(before.storageClass).toBe("STANDARD_IA");
    const body = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "docs/a.txt" }));
    expect(await body.Body?.transformToString()).toBe("hello update");
    expectVersionBehaviour(versionsBefore, await env.admin.versions(bucket, "docs/"), versionId, true);
  });

  it("SSE-KMS under another key → the target key, for a GLACIER object, without a restore", async () => {
    const bucket = await newBucket();
    const oldKey = await newKey();
    const newKeyArn = await newKey();
    await seedOne(bucket, {
      key: "cold/x.bin",
      body: "frozen",
      storageClass: "GLACIER",
      metadata: { origin: "archive" },
      tags: { keep: "yes" },
      lastModified: "2021-03-04T05:06:07Z",
      encryption: { type: "SSE-KMS", keyArn: oldKey, bucketKeyEnabled: false },
    });
    const before = await attributes(bucket, "cold/x.bin");
    const versionsBefore = await env.admin.versions(bucket, "cold/");

    await update(bucket, "cold/x.bin", newKeyArn, true);

    const after = await env.admin.versions(bucket, "cold/");
    expect(after[0]?.encryption).toEqual({ type: "SSE-KMS", keyArn: newKeyArn, bucketKeyEnabled: true });
    expect(await attributes(bucket, "cold/x.bin")).toEqual(before);
    expect(before).toMatchObject({ storageClass: "GLACIER", lastModified: "2021-03-04T05:06:07.000Z" });
    // Still archived: no restore happened.
    expect((await s3Error(env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "cold/x.bin" })))).name).toBe(
      "InvalidObjectState",
    );
    expectVersionBehaviour(versionsBefore, after, versionsBefore[0]?.versionId ?? "", false);
  });

  it("SSE-KMS without Bucket Key → with Bucket Key under the same key; BucketKeyEnabled defaults to false", async () => {
    const bucket = await newBucket({ versioned: true });
    const keyArn = await newKey();
    const versionId = await seedOne(bucket, {
      key: "k",
      body: "data",
      encryption: { type: "SSE-KMS", keyArn, bucketKeyEnabled: false },
    });
    const before = await attributes(bucket, "k");
    const versionsBefore = await env.admin.versions(bucket, "k");
    await update(bucket, "k", keyArn, true);
    expect((await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" }))).BucketKeyEnabled).toBe(true);
    expect(await attributes(bucket, "k")).toEqual(before);
    expectVersionBehaviour(versionsBefore, await env.admin.versions(bucket, "k"), versionId, true);

    const other = await newKey();
    await update(bucket, "k", other);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" }));
    expect([head.SSEKMSKeyId, head.BucketKeyEnabled]).toEqual([other, undefined]);
  });

  it("VersionId addresses a noncurrent version and leaves the current one alone", async () => {
    const bucket = await newBucket({ versioned: true });
    const keyArn = await newKey();
    const old = await seedOne(bucket, { key: "v", body: "1", encryption: { type: "SSE-S3" } });
    const current = await seedOne(bucket, { key: "v", body: "2", encryption: { type: "SSE-S3" } });
    await update(bucket, "v", keyArn, true, old);
    const versions = await env.admin.versions(bucket, "v");
    expect(versions.find((v) => v.versionId === old)?.encryption.type).toBe("SSE-KMS");
    expect(versions.find((v) => v.versionId === current)?.encryption.type).toBe("SSE-S3");
  });
});

describe("UpdateObjectEncryption: refusals", () => {
  it("refuses NOT-SSE, DSSE-KMS and SSE-C sources with InvalidRequest (400)", async () => {
    const bucket = await newBucket();
    const keyArn = await newKey();
    await env.admin.seed(bucket, [
      { key: "plain", body: "p", encryption: { type: "NOT-SSE" } },
      { key: "dsse", body: "d", encryption: { type: "DSSE-KMS", keyArn } },
      { key: "ssec", body: "c", encryption: { type: "SSE-C" } },
    ]);
    const plain = await s3Error(update(bucket, "plain", keyArn, true));
    expect([plain.name, plain.$metadata.httpStatusCode]).toEqual(["InvalidRequest", 400]);
    expect(plain.message).toMatch(/unencrypted source objects/);
    for (const key of ["dsse", "ssec"]) {
      const e = await s3Error(update(bucket, key, keyArn, true));
      expect([e.name, e.$metadata.httpStatusCode]).toEqual(["InvalidRequest", 400]);
      expect(e.message).toMatch(/DSSE-KMS or SSE-C/);
    }
    expect((await env.admin.versions(bucket)).map((v) => v.encryption.type)).toEqual(["DSSE-KMS", "NOT-SSE", "SSE-C"]);
  });

  it("needs a full key ARN: key ids and alias ARNs are InvalidRequest (400)", async () => {
    const bucket = await newBucket();
    const keyArn = await newKey();
    await seedOne(bucket, { key: "k", body: "x", encryption: { type: "SSE-S3" } });
    const keyId = keyArn.split("/")[1] ?? "";
    const aliasArn = keyArn.replace(/key\/.*$/, "alias/aws/s3");
    for (const ref of [keyId, aliasArn, "alias/aws/s3"]) {
      const e = await s3Error(update(bucket, "k", ref));
      expect([e.name, e.$metadata.httpStatusCode]).toEqual(["InvalidRequest", 400]);
      expect(e.message).toMatch(/valid AWS KMS key Amazon Resource Name/);
    }
  });

  it("refuses SSE-S3 (or any other) target type with InvalidRequest (400)", async () => {
    const bucket = await newBucket();
    await seedOne(bucket, { key: "k", body: "x", encryption: { type: "SSE-S3" } });
    const keyArn = await newKey();
    const command = new UpdateObjectEncryptionCommand({
      Bucket: bucket,
      Key: "k",
      ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn } },
    });
    // The SDK's union has only SSEKMS; send the body a client asking for SSE-S3 would send.
    command.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body?: unknown; headers: Record<string, string> };
        request.body = `<ObjectEncryption xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><SSE-S3/></ObjectEncryption>`;
        delete request.headers["content-length"];
        for (const h of Object.keys(request.headers)) if (h.startsWith("x-amz-checksum-")) delete request.headers[h];
        return next(args);
      },
      { step: "finalizeRequest", priority: "high" },
    );
    const e = await s3Error(env.s3.send(command));
    expect([e.name, e.$metadata.httpStatusCode]).toEqual(["InvalidRequest", 400]);
    expect(e.message).toMatch(/valid new encryption type/);
  });

  it("fails unknown, disabled and other-region keys like SSE-KMS writes; other-account keys are AccessDenied", async () => {
    const bucket = await newBucket();
    await seedOne(bucket, { key: "k", body: "x", encryption: { type: "SSE-S3" } });
    const keyArn = await newKey();
    const unknown = keyArn.replace(/key\/.*$/, "key/11111111-2222-3333-4444-555555555555");
    const e1 = await s3Error(update(bucket, "k", unknown));
    expect([e1.name, e1.$metadata.httpStatusCode]).toEqual(["KMS.NotFoundException", 400]);
    const e2 = await s3Error(update(bucket, "k", keyArn.replace(env.sandbox.identity.region, "eu-west-3")));
    expect([e2.name, e2.message]).toEqual(["KMS.NotFoundException", "Invalid arn eu-west-3"]);
    const e3 = await s3Error(update(bucket, "k", keyArn.replace(env.sandbox.identity.accountId, "999999999999")));
    expect([e3.name, e3.$metadata.httpStatusCode]).toEqual(["AccessDenied", 403]);
    const disabled = await newKey();
    await env.kms.send(new DisableKeyCommand({ KeyId: disabled }));
    const e4 = await s3Error(update(bucket, "k", disabled));
    expect([e4.name, e4.$metadata.httpStatusCode]).toEqual(["KMS.DisabledException", 400]);
    expect((await env.admin.versions(bucket, "k"))[0]?.encryption).toEqual({ type: "SSE-S3" });
  });

  it("answers NoSuchKey (404) for missing keys and keys whose latest version is a delete marker", async () => {
    const bucket = await newBucket({ versioned: true });
    const keyArn = await newKey();
    const e1 = await s3Error(update(bucket, "missing", keyArn));
    expect([e1.name, e1.$metadata.httpStatusCode]).toEqual(["NoSuchKey", 404]);
    await seedOne(bucket, { key: "gone", body: "x", encryption: { type: "SSE-S3" } });
    await env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "gone" }));
    const e2 = await s3Error(update(bucket, "gone", keyArn));
    expect([e2.name, e2.$metadata.httpStatusCode]).toEqual(["NoSuchKey", 404]);
  });
});

describe("UpdateObjectEncryption and Object Lock", () => {
  const future = () => new Date(Date.now() + 86_400_000).toISOString();

  it("refuses compliance-mode objects with AccessDenied (403)", async () => {
    const bucket = await newBucket({ objectLock: true });
    const keyArn = await newKey();
    await seedOne(bucket, {
      key: "c",
      body: "x",
      encryption: { type: "SSE-S3" },
      objectLock: { mode: "COMPLIANCE", retainUntil: future() },
    });
    const e = await s3Error(update(bucket, "c", keyArn, true));
    expect([e.name, e.$metadata.httpStatusCode]).toEqual(["AccessDenied", 403]);
    expect(e.message).toMatch(/protected by S3 Object Lock/);
    expect((await env.admin.versions(bucket, "c"))[0]?.encryption).toEqual({ type: "SSE-S3" });
  });

  it("refuses governance retention until it is removed, and a legal hold until it is OFF", async () => {
    const bucket = await newBucket({ objectLock: true });
    const keyArn = await newKey();
    const gov = await seedOne(bucket, {
      key: "g",
      body: "x",
      encryption: { type: "SSE-S3" },
      objectLock: { mode: "GOVERNANCE", retainUntil: future() },
    });
    expect((await s3Error(update(bucket, "g", keyArn))).name).toBe("AccessDenied");
    await env.s3.send(
      new PutObjectRetentionCommand({
        Bucket: bucket,
        Key: "g",
        VersionId: gov,
        Retention: {},
        BypassGovernanceRetention: true,
      }),
    );
    await update(bucket, "g", keyArn);
    expect((await env.admin.versions(bucket, "g"))[0]?.encryption.type).toBe("SSE-KMS");

    await seedOne(bucket, {
      key: "h",
      body: "x",
      encryption: { type: "SSE-S3" },
      objectLock: { mode: "GOVERNANCE", retainUntil: "2020-01-01T00:00:00Z", legalHold: true },
    });
    expect((await s3Error(update(bucket, "h", keyArn))).name).toBe("AccessDenied");
    await env.s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: "h", LegalHold: { Status: "OFF" } }));
    await update(bucket, "h", keyArn); // expired retention no longer protects
    expect((await env.admin.versions(bucket, "h"))[0]?.encryption.type).toBe("SSE-KMS");
  });
});
