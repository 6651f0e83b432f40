import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { awsCliEnv, newTestBucket, useSandbox } from "../support/sandbox.ts";

const hasAwsCli = spawnSync("aws", ["--version"], { encoding: "utf8" }).status === 0;

describe("ListMultipartUploads", () => {
  const env = useSandbox();

  async function startUploads(bucket: string, keys: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const Key of keys) {
      const out = await env.s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key, StorageClass: "STANDARD_IA" }),
      );
      ids.push(out.UploadId ?? "");
    }
    return ids;
  }

  it("lists uploads in progress by key and initiation, and forgets aborted ones", async () => {
    const bucket = await newTestBucket(env.s3, "mpu-list");
    const ids = await startUploads(bucket, ["b/big.bin", "a/one.bin", "b/big.bin"]);
    const listed = await env.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(listed.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
      ["a/one.bin", ids[1]],
      ["b/big.bin", ids[0]],
      ["b/big.bin", ids[2]],
    ]);
    expect(listed.Uploads?.[0]).toMatchObject({ StorageClass: "STANDARD_IA", Initiated: expect.any(Date) });
    expect(listed.IsTruncated).toBe(false);

    await env.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: "a/one.bin", UploadId: ids[1] }));
    const after = await env.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(after.Uploads?.map((u) => u.UploadId)).toEqual([ids[0], ids[2]]);
  });

  it("pages with key and upload-id markers, and rolls keys into common prefixes with a delimiter", async () => {
    const bucket = await newTestBucket(env.s3, "mpu-page");
    const ids = await startUploads(bucket, ["k1", "k2", "k2", "dir/x", "dir/y"]);
    const first = await env.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, MaxUploads: 3 }));
    expect(first.Uploads?.map((u) => u.Key)).toEqual(["dir/x", "dir/y", "k1"]);
    expect(first).toMatchObject({ IsTruncated: true, NextKeyMarker: "k1", NextUploadIdMarker: ids[0] });
    const second = await env.s3.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        KeyMarker: first.NextKeyMarker,
        UploadIdMarker: first.NextUploadIdMarker,
      }),
    );
    expect(second.Uploads?.map((u) => u.UploadId)).toEqual([ids[1], ids[2]]);
    expect(second.IsTruncated).toBe(false);

    const grouped = await env.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Delimiter: "/" }));
    expect(grouped.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["dir/"]);
    expect(grouped.Uploads?.map((u) => u.Key)).toEqual(["k1", "k2", "k2"]);
    const underDir = await env.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "dir/" }));
    expect(underDir.Uploads?.map((u) => u.Key)).toEqual(["dir/x", "dir/y"]);
  });

  it.runIf(hasAwsCli)(
    "answers the command rekey stop tells operators to run (aws s3api list-multipart-uploads)",
    async () => {
      const bucket = await newTestBucket(env.s3, "mpu-cli");
      const [id] = await startUploads(bucket, ["left/behind.bin"]);
      const args = ["s3api", "list-multipart-uploads", "--bucket", bucket, "--endpoint-url", env.sandbox.endpoint];
      // Asynchronously: the sandbox answering the CLI runs in this process.
      const out = await promisify(execFile)("aws", [...args, "--output", "json"], { env: awsCliEnv(env.sandbox) });
      expect(JSON.parse(out.stdout).Uploads).toEqual([
        expect.objectContaining({ Key: "left/behind.bin", UploadId: id }),
      ]);
    },
  );
});
