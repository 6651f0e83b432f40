import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../sandbox/server.ts";
import { LineUpload } from "../../steps/aws/manifest-upload.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { sandboxWithClients } from "../support/sandbox.ts";

describe("LineUpload", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  // 9 MiB of lines: more than one 8 MiB part, so the upload goes multipart.
  const lines = Array.from(
    { length: 90_000 },
    (_, i) => `bucket,key/${String(i).padStart(8, "0")}/${"x".repeat(80)}\n`,
  );

  beforeAll(async () => {
    ({ sandbox, clients } = await sandboxWithClients());
    await clients.s3.send(new CreateBucketCommand({ Bucket: "work" }));
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it("streams lines into one object, multipart once it outgrows a part", async () => {
    const upload = new LineUpload(clients.s3, "work", "big.csv", "text/csv");
    for (const line of lines) await upload.write(line);
    const etag = await upload.finish();
    expect(etag).toMatch(/-2"$/);
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: "work", Key: "big.csv" }));
    expect(await got.Body?.transformToString()).toBe(lines.join(""));
    expect(upload.lines).toBe(lines.length);
  });

  it("leaves neither an object nor an open multipart upload behind when aborted", async () => {
    const upload = new LineUpload(clients.s3, "work", "aborted.csv", "text/csv");
    for (const line of lines) await upload.write(line);
    expect(sandbox.s3.store.bucket("work").uploads.size).toBe(1);
    await upload.abort();
    expect(sandbox.s3.store.bucket("work").uploads.size).toBe(0);
    await expect(clients.s3.send(new HeadObjectCommand({ Bucket: "work", Key: "aborted.csv" }))).rejects.toMatchObject({
      name: "NotFound",
    });
  });
});
