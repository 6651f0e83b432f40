import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { SandboxAdminError } from "../../sandbox/admin-client.ts";
import { newTestBucket, useSandbox } from "../support/sandbox.ts";

const env = useSandbox();
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const etagOf = async (Bucket: string, Key: string) =>
  (await env.s3.send(new HeadObjectCommand({ Bucket, Key }))).ETag ?? "";

describe("declared-size objects carry a content identity that their ETag shows", () => {
  it("an overwrite with another object of the same size changes the ETag, as on AWS", async () => {
    const bucket = await newTestBucket(env.s3, "declared", { versioned: true });
    const big = { key: "big.bin", size: 6 * GiB, encryption: { type: "NOT-SSE" } } as const;
    const first = await env.admin.seed(bucket, [big]);
    const before = await etagOf(bucket, "big.bin");
    expect(before).toMatch(/^"[0-9a-f]{32}-768"$/);
    expect(first.versions[0]?.etag).toBe(before);
    await env.admin.seed(bucket, [big]);
    const after = await etagOf(bucket, "big.bin");
    expect(after).toMatch(/^"[0-9a-f]{32}-768"$/);
    expect(after).not.toBe(before);
    const listed = await env.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    expect(listed.Versions?.map((v) => v.ETag)).toEqual([after, before]);
  });

  it("the same contentSeed and size give the same ETag; another seed, another ETag", async () => {
    const bucket = await newTestBucket(env.s3, "declared-seed");
    await env.admin.seed(bucket, [
      { key: "a", size: 7 * GiB, contentSeed: "v1" },
      { key: "b", size: 7 * GiB, contentSeed: "v1" },
      { key: "c", size: 7 * GiB, contentSeed: "v2" },
    ]);
    const [a, b, c] = [await etagOf(bucket, "a"), await etagOf(bucket, "b"), await etagOf(bucket, "c")];
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it("`parts` gives the multipart ETag form to an object of any size", async () => {
    const bucket = await newTestBucket(env.s3, "declared-parts");
    await env.admin.seed(bucket, [
      { key: "mp", size: 100 * MiB, parts: 3, encryption: { type: "SSE-S3" } },
      { key: "single", size: 100 * MiB, encryption: { type: "SSE-S3" } },
    ]);
    expect(await etagOf(bucket, "mp")).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(await etagOf(bucket, "single")).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it("a part copied from changed content differs, so a resumed copy can tell", async () => {
    const bucket = await newTestBucket(env.s3, "declared-copy");
    const partEtag = async (contentSeed: string) => {
      await env.admin.seed(bucket, [{ key: "src", size: 6 * GiB, contentSeed }]);
      const { UploadId } = await env.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "dst" }));
      const part = await env.s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: "dst",
          UploadId,
          PartNumber: 1,
          CopySource: `${bucket}/src`,
          CopySourceRange: `bytes=0-${GiB - 1}`,
        }),
      );
      const etag = part.CopyPartResult?.ETag ?? "";
      await env.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: "dst",
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] },
        }),
      );
      return etag;
    };
    const one = await partEtag("one");
    expect(await partEtag("one")).toBe(one);
    expect(await partEtag("two")).not.toBe(one);
  });

  it("refuses contentSeed or parts on an object given with data, and parts over 5 GiB each", async () => {
    const bucket = await newTestBucket(env.s3, "declared-bad");
    for (const bad of [
      { key: "k", body: "x", contentSeed: "s" },
      { key: "k", body: "x", parts: 2 },
      { key: "k", size: 11 * GiB, parts: 2 },
    ]) {
      await expect(env.admin.seed(bucket, [bad])).rejects.toBeInstanceOf(SandboxAdminError);
    }
  });
});
