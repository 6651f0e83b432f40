import { randomBytes } from "node:crypto";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { joinObjects } from "../../steps/aws/join-objects.ts";
import { MIN_PART_BYTES } from "../../steps/domain/concatenation.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { sandboxWithClients } from "../support/sandbox.ts";

const MiB = 1024 * 1024;

describe("joinObjects", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;

  beforeAll(async () => {
    ({ sandbox, clients } = await sandboxWithClients());
    admin = new SandboxAdmin(sandbox.endpoint);
    await clients.s3.send(new CreateBucketCommand({ Bucket: "work" }));
  });
  afterAll(async () => {
    await sandbox.close();
  });

  async function put(key: string, body: Buffer) {
    await clients.s3.send(new PutObjectCommand({ Bucket: "work", Key: key, Body: body }));
    return { key, size: body.length };
  }

  async function bytesOf(key: string): Promise<Buffer> {
    const out = await clients.s3.send(new GetObjectCommand({ Bucket: "work", Key: key }));
    return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
  }

  it("writes the header and every source's bytes in order, copying the large ones in S3", async () => {
    const bodies = [randomBytes(3), randomBytes(6 * MiB), Buffer.alloc(0), randomBytes(2 * MiB), randomBytes(11 * MiB)];
    const sources = [];
    for (const [i, body] of bodies.entries()) sources.push(await put(`parts/${i}.csv`, body));
    const [copies] = await admin.addFaults({ service: "s3", operation: "UploadPartCopy", bucket: "work", share: 0 });
    const [reads] = await admin.addFaults({ service: "s3", operation: "GetObject", bucket: "work", share: 0 });
    const head = "bucket,key,reason\n";
    const joined = await joinObjects(
      clients.s3,
      { bucket: "work", key: "joined.csv", contentType: "text/csv", serverSideEncryption: "AES256" },
      head,
      sources,
    );
    const faults = await admin.faults();
    await admin.clearFaults();
    const expected = Buffer.concat([Buffer.from(head), ...bodies]);
    expect(joined.bytes).toBe(expected.length);
    expect((await bytesOf("joined.csv")).equals(expected)).toBe(true);
    expect(joined.etag).toMatch(/-\d+"$/);
    const stored = await clients.s3.send(new HeadObjectCommand({ Bucket: "work", Key: "joined.csv" }));
    expect(stored.ServerSideEncryption).toBe("AES256");
    expect(stored.ContentType).toBe("text/csv");
    // Part 1: head, the 3 bytes and the 6 MiB source's first 5 MiB - 21 (2 reads). Part 2: the rest of it, the
    // 2 MiB source and the 11 MiB source's start, up to 5 MiB (3 reads). Part 3: the 11 MiB source's other 9 MiB,
    // copied by S3.
    expect(faults.find((f) => f.id === copies?.id)?.matched).toBe(1);
    expect(faults.find((f) => f.id === reads?.id)?.matched).toBe(5);
    expect(sandbox.s3.store.bucket("work").uploads.size).toBe(0);
  });

  it("writes a small join with one PutObject, and an empty one as an empty object", async () => {
    const a = await put("small/a", Buffer.from("a,1\n"));
    const b = await put("small/b", Buffer.from("b,2\n"));
    const joined = await joinObjects(clients.s3, { bucket: "work", key: "small.csv", contentType: "text/csv" }, "h\n", [
      a,
      b,
    ]);
    expect((await bytesOf("small.csv")).toString()).toBe("h\na,1\nb,2\n");
    expect(joined.etag).not.toMatch(/-\d+"$/);
    await joinObjects(clients.s3, { bucket: "work", key: "empty.csv", contentType: "text/csv" }, "", []);
    expect((await bytesOf("empty.csv")).length).toBe(0);
  });

  it("aborts its multipart upload when a part fails, leaving the earlier object as it was", async () => {
    await put("target.csv", Buffer.from("before\n"));
    const big = await put("big/0", randomBytes(MIN_PART_BYTES + 1));
    const small = await put("big/1", randomBytes(10));
    await admin.addFaults({
      service: "s3",
      operation: "UploadPartCopy",
      bucket: "work",
      count: 5,
      error: { code: "AccessDenied", status: 403, message: "Access Denied" },
    });
    try {
      await expect(
        joinObjects(clients.s3, { bucket: "work", key: "target.csv", contentType: "text/csv" }, "", [big, small]),
      ).rejects.toThrow();
    } finally {
      await admin.clearFaults();
    }
    expect((await bytesOf("target.csv")).toString()).toBe("before\n");
    expect(sandbox.s3.store.bucket("work").uploads.size).toBe(0);
  });
});
