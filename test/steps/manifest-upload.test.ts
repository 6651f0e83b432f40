import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxClients } from "../../sandbox/sdk-clients.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { LineUpload, PART_BYTES } from "../../steps/aws/manifest-upload.ts";
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

  it("writes every byte across a part boundary, a multi-byte character split between the parts", async () => {
    const s3 = sandboxClients({ endpoint: sandbox.endpoint, region: sandbox.identity.region }).s3;
    const partSizes: number[] = [];
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const body = (args.input as { Body?: unknown }).Body;
        if (context.commandName === "UploadPartCommand" && body instanceof Uint8Array) partSizes.push(body.length);
        return next(args);
      },
      { step: "initialize", name: "countPartBytes" },
    );
    // Lines of 100 bytes up to 2 bytes short of a part; then a line of 3-byte characters, so the part boundary
    // falls inside its first character; then a line longer than a whole part, and a short last one.
    const filler = `${"a".repeat(99)}\n`;
    const written = Array.from({ length: Math.floor((PART_BYTES - 2) / 100) }, () => filler);
    written.push("b".repeat((PART_BYTES - 2) % 100));
    written.push("\u2713\u00e9 key with a check mark\n", `${"\u00e9".repeat(PART_BYTES / 2 + 7)}\n`, "last,line\n");
    const upload = new LineUpload(s3, "work", "boundary.csv", "text/csv");
    for (const line of written) await upload.write(line);
    const etag = await upload.finish();

    const expected = Buffer.from(written.join(""), "utf8");
    expect(partSizes.slice(0, -1)).toEqual([PART_BYTES, PART_BYTES]);
    expect(partSizes.reduce((a, b) => a + b, 0)).toBe(expected.length);
    expect(etag).toMatch(/-3"$/);
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: "work", Key: "boundary.csv" }));
    const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
    expect(bytes.length).toBe(expected.length);
    expect(bytes.equals(expected)).toBe(true);
    expect(upload.lines).toBe(written.length);
  });

  it("writes a small object with one PutObject, byte for byte", async () => {
    const written = ["bucket,caf%C3%A9\n", "bucket,\u00e9t\u00e9 \u2713\n", ""];
    const upload = new LineUpload(clients.s3, "work", "small.csv", "text/csv");
    for (const line of written) await upload.write(line);
    const etag = await upload.finish();
    expect(etag).not.toMatch(/-\d+"$/);
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: "work", Key: "small.csv" }));
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(Buffer.from(written.join("")))).toBe(
      true,
    );
  });

  it("aborts a multipart upload after parts went up: no object, no parts, and no more writes", async () => {
    const upload = new LineUpload(clients.s3, "work", "aborted-after-parts.csv", "text/csv");
    // Two whole parts and a little more.
    const line = `${"z".repeat(1023)}\n`;
    for (let i = 0; i < (2 * PART_BYTES) / 1024 + 10; i++) await upload.write(line);
    const uploads = sandbox.s3.store.bucket("work").uploads;
    expect([...uploads.values()].some((u) => u.key === "aborted-after-parts.csv")).toBe(true);
    await upload.abort();
    await upload.abort();
    expect([...uploads.values()].some((u) => u.key === "aborted-after-parts.csv")).toBe(false);
    await expect(
      clients.s3.send(new HeadObjectCommand({ Bucket: "work", Key: "aborted-after-parts.csv" })),
    ).rejects.toMatchObject({ name: "NotFound" });
    await expect(upload.write(line)).rejects.toMatchObject({ name: "InvariantViolatedError" });
  });

  it("continues a suspended upload in another invocation; a part sent after the save is sent again and replaced", async () => {
    const first = new LineUpload(clients.s3, "work", "resumed.csv", "text/csv");
    for (const line of lines) await first.write(line);
    // One 8 MiB part is up; the rest of the 9 MiB waits in the buffer.
    const { saved, tail } = first.suspend();
    expect(saved.parts).toHaveLength(1);
    expect(saved.lines).toBe(lines.length);
    expect(tail.length).toBe(Buffer.byteLength(lines.join("")) - PART_BYTES);
    await first.abort(); // a suspended upload is left for the step that resumes it
    expect(sandbox.s3.store.bucket("work").uploads.size).toBe(1);

    const more = (tag: string) => Array.from({ length: 80_000 }, (_, i) => `bucket,${tag}/${i}/${"y".repeat(80)}\n`);
    // An invocation that continued, sent part 2, and crashed before saving again.
    const crashed = LineUpload.resume(clients.s3, "work", "resumed.csv", "text/csv", undefined, saved, tail);
    for (const line of more("lost")) await crashed.write(line);
    // Its retry continues from the same save, with other lines: part 2 is sent again.
    const retried = LineUpload.resume(clients.s3, "work", "resumed.csv", "text/csv", undefined, saved, tail);
    for (const line of more("kept")) await retried.write(line);
    await retried.finish();
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: "work", Key: "resumed.csv" }));
    expect(await got.Body?.transformToString()).toBe(lines.join("") + more("kept").join(""));
    expect(retried.lines).toBe(lines.length + 80_000);
  });

  it("continues an upload that had not reached a part from its saved bytes alone", async () => {
    const first = new LineUpload(clients.s3, "work", "small-resumed.csv", "text/csv");
    await first.write("a,b\n");
    const { saved, tail } = first.suspend();
    expect(saved.uploadId).toBeUndefined();
    await expect(first.write("c,d\n")).rejects.toThrow(/suspended/);
    const resumed = LineUpload.resume(clients.s3, "work", "small-resumed.csv", "text/csv", undefined, saved, tail);
    await resumed.write("c,d\n");
    await resumed.finish();
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: "work", Key: "small-resumed.csv" }));
    expect(await got.Body?.transformToString()).toBe("a,b\nc,d\n");
  });
});
