import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { newTestBucket, s3Error, useSandbox } from "../support/sandbox.ts";

/**
 * Conditional writes and deletes as sandbox/S3.md describes them (AWS:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html).
 */
const env = useSandbox();
const newBucket = (versioned = false) => newTestBucket(env.s3, "conditional", { versioned });
const put = (Bucket: string, Key: string, Body: string, extra: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
  env.s3.send(new PutObjectCommand({ Bucket, Key, Body, ...extra }));
const read = async (Bucket: string, Key: string) =>
  (await env.s3.send(new GetObjectCommand({ Bucket, Key }))).Body?.transformToString();

describe("PutObject If-None-Match: *", () => {
  it.each([false, true])(
    "creates a missing key once; the second write is 412 and changes nothing (versioned %s)",
    async (versioned) => {
      const bucket = await newBucket(versioned);
      await put(bucket, "lock", "first", { IfNoneMatch: "*" });
      const err = await s3Error(put(bucket, "lock", "second", { IfNoneMatch: "*" }));
      expect(err.name).toBe("PreconditionFailed");
      expect(err.$metadata.httpStatusCode).toBe(412);
      expect(await read(bucket, "lock")).toBe("first");
      const versions = await env.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: "lock" }));
      expect(versions.Versions).toHaveLength(1);
    },
  );

  it("of many writes started at once, exactly one succeeds", async () => {
    const bucket = await newBucket(true);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => put(bucket, "lock", `writer ${i}`, { IfNoneMatch: "*" })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected")
        expect((r.reason as Error).name).toMatch(/^(PreconditionFailed|ConditionalRequestConflict)$/);
    }
  });

  it("succeeds over a delete marker: the current version is no object", async () => {
    const bucket = await newBucket(true);
    await put(bucket, "lock", "old");
    await env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "lock" }));
    await put(bucket, "lock", "new", { IfNoneMatch: "*" });
    expect(await read(bucket, "lock")).toBe("new");
  });

  it("takes only *", async () => {
    const bucket = await newBucket();
    const err = await s3Error(put(bucket, "k", "x", { IfNoneMatch: '"abc"' }));
    expect(err.$metadata.httpStatusCode).toBe(501);
  });
});

describe("PutObject If-Match", () => {
  it("overwrites only the ETag it names: 412 for another, 404 NoSuchKey without an object", async () => {
    const bucket = await newBucket(true);
    const first = await put(bucket, "lock", "first");
    const second = await put(bucket, "lock", "second", { IfMatch: first.ETag as string });
    expect(await read(bucket, "lock")).toBe("second");
    const stale = await s3Error(put(bucket, "lock", "third", { IfMatch: first.ETag as string }));
    expect(stale.name).toBe("PreconditionFailed");
    expect(stale.$metadata.httpStatusCode).toBe(412);
    expect(await read(bucket, "lock")).toBe("second");
    await put(bucket, "lock", "fourth", { IfMatch: (second.ETag as string).replace(/"/g, "") });
    const missing = await s3Error(put(bucket, "absent", "x", { IfMatch: first.ETag as string }));
    expect(missing.name).toBe("NoSuchKey");
    expect(missing.$metadata.httpStatusCode).toBe(404);
  });

  it("of two writers holding the same ETag, exactly one succeeds", async () => {
    const bucket = await newBucket();
    const { ETag } = await put(bucket, "lock", "held by a stopped run");
    const results = await Promise.allSettled(
      ["a", "b"].map((who) => put(bucket, "lock", who, { IfMatch: ETag as string })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });
});

describe("CompleteMultipartUpload conditions", () => {
  async function upload(bucket: string, key: string) {
    const { UploadId } = await env.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = await env.s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: "only part" }),
    );
    return {
      complete: (extra: { IfNoneMatch?: string; IfMatch?: string }) =>
        env.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
            ...extra,
          }),
        ),
    };
  }

  it("If-None-Match: * completes on a missing key and is 412 on an existing one", async () => {
    const bucket = await newBucket();
    await (await upload(bucket, "new")).complete({ IfNoneMatch: "*" });
    expect(await read(bucket, "new")).toBe("only part");
    await put(bucket, "taken", "already here");
    const err = await s3Error((await upload(bucket, "taken")).complete({ IfNoneMatch: "*" }));
    expect(err.$metadata.httpStatusCode).toBe(412);
    expect(await read(bucket, "taken")).toBe("already here");
  });

  it("If-Match completes over the ETag it names and is 412 over another", async () => {
    const bucket = await newBucket();
    const { ETag } = await put(bucket, "k", "v1");
    const ok = await upload(bucket, "k");
    const stale = await upload(bucket, "k");
    await ok.complete({ IfMatch: ETag as string });
    const err = await s3Error(stale.complete({ IfMatch: ETag as string }));
    expect(err.$metadata.httpStatusCode).toBe(412);
  });

  it("is 409 ConditionalRequestConflict when the key changed during the upload although the condition holds", async () => {
    const bucket = await newBucket();
    const pending = await upload(bucket, "k");
    await put(bucket, "k", "written and deleted meanwhile");
    await env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "k" }));
    const err = await s3Error(pending.complete({ IfNoneMatch: "*" }));
    expect(err.name).toBe("ConditionalRequestConflict");
    expect(err.$metadata.httpStatusCode).toBe(409);
  });
});

describe("DeleteObject If-Match", () => {
  it("deletes only the ETag it names: 412 for another, 404 NoSuchKey without an object, * for any object", async () => {
    const bucket = await newBucket(true);
    const first = await put(bucket, "lock", "first");
    await put(bucket, "lock", "second");
    const stale = await s3Error(
      env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "lock", IfMatch: first.ETag as string })),
    );
    expect(stale.$metadata.httpStatusCode).toBe(412);
    expect(await read(bucket, "lock")).toBe("second");
    await env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "lock", IfMatch: "*" }));
    const gone = await s3Error(env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "lock", IfMatch: "*" })));
    expect(gone.name).toBe("NoSuchKey");
    expect(gone.$metadata.httpStatusCode).toBe(404);
  });

  it("DeleteObjects reports an entry whose ETag does not match as an error and deletes the rest", async () => {
    const bucket = await newBucket();
    const a = await put(bucket, "a", "a");
    await put(bucket, "b", "b");
    const out = await env.s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: {
          Objects: [
            { Key: "a", ETag: a.ETag },
            { Key: "b", ETag: a.ETag },
          ],
        },
      }),
    );
    expect(out.Deleted?.map((d) => d.Key)).toEqual(["a"]);
    expect(out.Errors).toEqual([expect.objectContaining({ Key: "b", Code: "PreconditionFailed" })]);
    expect(await read(bucket, "b")).toBe("b");
  });
});

describe("CopyObject conditions", () => {
  it("are refused, not ignored", async () => {
    const bucket = await newBucket();
    await put(bucket, "src", "x");
    const err = await s3Error(
      env.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "dst", CopySource: `${bucket}/src`, IfNoneMatch: "*" })),
    );
    expect(err.$metadata.httpStatusCode).toBe(501);
  });
});
