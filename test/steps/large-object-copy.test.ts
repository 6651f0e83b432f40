import { createHash, randomBytes } from "node:crypto";
import { CreateKeyCommand } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ObjectChangedDuringCopyError } from "../../contract/errors.ts";
import {
  type LargeCopyTarget,
  type LargeObjectCopyInput,
  LargeObjectCopyOptionsSchema,
} from "../../contract/large-objects.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { reencryptLargeObject } from "../../steps/aws/multipart-copy.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { LargeCopyProgressSchema, progressKey } from "../../steps/domain/large-copy.ts";
import { copyLargeObjects } from "../../steps/handlers/copy-large-objects.ts";
import { type AwsClients, createAwsClients } from "../../steps/runtime/clients.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import type { StepDeps } from "../../steps/runtime/step.ts";
import { sandboxWithClients } from "../support/sandbox.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const WORK = "rekey-work";

let sandbox: Sandbox;
let clients: AwsClients;
let admin: SandboxAdmin;
let kmsKeyArn: string;
let n = 0;

interface Call {
  command: string;
  input: Record<string, unknown>;
}

/** A real S3 client on the sandbox that records every command and can run a hook before one is sent. */
function recordingS3(hook?: (call: Call) => Promise<void>): { s3: S3Client; calls: Call[] } {
  const { s3 } = createAwsClients({
    region: sandbox.identity.region,
    endpoint: sandbox.endpoint,
    credentials: SANDBOX_CREDENTIALS,
    maxAttempts: 1,
  });
  const calls: Call[] = [];
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const call = { command: context.commandName ?? "", input: args.input as Record<string, unknown> };
      calls.push(call);
      if (hook) await hook(call);
      return next(args);
    },
    { step: "initialize", name: "recordCalls" },
  );
  return { s3, calls };
}

const partCopies = (calls: Call[]) => calls.filter((c) => c.command === "UploadPartCopyCommand");
const commands = (calls: Call[], name: string) => calls.filter((c) => c.command === name);

function depsWith(s3: S3Client, now: () => Date = () => new Date()): StepDeps {
  return {
    clients: { ...clients, s3 },
    config: { batchRoleArn: "arn:aws:iam::111122223333:role/rekey-batch" },
    log: silentLogger,
    now,
  };
}

async function newBucket(): Promise<{ bucket: string; run: LargeCopyTarget }> {
  const bucket = `large-${++n}-${Date.now()}`;
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await clients.s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
  );
  return { bucket, run: runFor(bucket, "run-1") };
}

const runFor = (bucket: string, runId: string): LargeCopyTarget => ({
  bucket,
  kmsKeyArn,
  workBucket: WORK,
  progressPrefix: `runs/${bucket}/${runId}/`,
});

async function seedOne(bucket: string, object: Parameters<SandboxAdmin["seed"]>[1][number]) {
  const out = await admin.seed(bucket, [object]);
  const v = out.versions[0];
  if (!v) throw new Error("seed returned no version");
  return v;
}

async function progressOf(run: LargeCopyTarget, key: string) {
  return LargeCopyProgressSchema.parse(
    JSON.parse(await getText(clients.s3, WORK, progressKey(run.progressPrefix, key))),
  );
}

async function tagsOf(bucket: string, key: string, versionId?: string) {
  const out = await clients.s3.send(
    new GetObjectTaggingCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }),
  );
  return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key, t.Value]));
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  ({ sandbox, clients } = await sandboxWithClients());
  admin = new SandboxAdmin(sandbox.endpoint);
  await clients.s3.send(new CreateBucketCommand({ Bucket: WORK }));
  const key = await clients.kms.send(new CreateKeyCommand({ Description: "rekey target" }));
  kmsKeyArn = key.KeyMetadata?.Arn ?? "";
});
afterAll(() => sandbox.close());

describe("copyLargeObjects", () => {
  let bucket: string;
  let run: LargeCopyTarget;
  beforeEach(async () => {
    ({ bucket, run } = await newBucket());
  });

  describe("a 6 GiB object", () => {
    const key = "archives/2024/six gib+.tar";
    const metadata = { owner: "team-a", "source-system": "etl" };
    const tags = { project: "apollo", "cost center": "a b&c=d" };

    it("ends SSE-KMS with Bucket Key under the target key, keeping size, metadata, type, tags and class", async () => {
      const seeded = await seedOne(bucket, {
        key,
        size: 6 * GiB,
        storageClass: "STANDARD_IA",
        contentType: "application/x-tar",
        metadata,
        tags,
        encryption: { type: "NOT-SSE" },
      });
      const { s3, calls } = recordingS3();

      const result = await copyLargeObjects(
        { target: run, objects: [{ key, size: 6 * GiB, etag: seeded.etag, storageClass: "STANDARD_IA" }] },
        depsWith(s3),
      );

      expect(result).toMatchObject({ done: true, total: 1, processed: 1, problems: [], problemsOmitted: 0 });
      expect(result.counts).toEqual({
        reencrypted: 1,
        "already-compliant": 0,
        "changed-during-copy": 0,
        gone: 0,
        skipped: 0,
        failed: 0,
      });
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head).toMatchObject({
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: kmsKeyArn,
        BucketKeyEnabled: true,
        ContentLength: 6 * GiB,
        ContentType: "application/x-tar",
        StorageClass: "STANDARD_IA",
        Metadata: metadata,
      });
      expect(head.VersionId).not.toBe(seeded.versionId);
      expect(await tagsOf(bucket, key)).toEqual(tags);
      // The version copied is untouched: still unencrypted, same ETag, same tags.
      const old = await clients.s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: seeded.versionId }),
      );
      expect(old.ServerSideEncryption).toBeUndefined();
      expect(old.ETag).toBe(seeded.etag);
      expect(await tagsOf(bucket, key, seeded.versionId)).toEqual(tags);
      expect((await admin.versions(bucket, key)).length).toBe(2);

      // 12 parts of 512 MiB, each guarded by the source ETag, naming the current version (no version id).
      const parts = partCopies(calls);
      expect(parts.map((c) => c.input.PartNumber)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      for (const p of parts) {
        expect(p.input.CopySourceIfMatch).toBe(seeded.etag);
        expect(p.input.CopySource).toBe(`${bucket}/${encodeURIComponent(key)}`);
      }
      expect(parts[11]?.input.CopySourceRange).toBe(`bytes=${11 * 512 * MiB}-${6 * GiB - 1}`);
      const [create] = commands(calls, "CreateMultipartUploadCommand");
      expect(create?.input).toMatchObject({
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: kmsKeyArn,
        BucketKeyEnabled: true,
        StorageClass: "STANDARD_IA",
        ContentType: "application/x-tar",
        Metadata: metadata,
      });
      const [completeCall] = commands(calls, "CompleteMultipartUploadCommand");
      expect(completeCall?.input.IfMatch).toBe(seeded.etag);
      expect(sandbox.s3.store.bucket(bucket).uploads.size).toBe(0);
      expect(await progressOf(run, key)).toMatchObject({ state: "settled", outcome: { outcome: "reencrypted" } });
    });

    it("is left alone by a re-run, in the same run or a new one", async () => {
      const seeded = await seedOne(bucket, { key, size: 6 * GiB, metadata, tags, encryption: { type: "NOT-SSE" } });
      const input: LargeObjectCopyInput = { target: run, objects: [{ key, size: 6 * GiB, etag: seeded.etag }] };
      await copyLargeObjects(input, depsWith(clients.s3));
      const versions = (await admin.versions(bucket, key)).length;

      const again = recordingS3();
      const sameRun = await copyLargeObjects(input, depsWith(again.s3));
      expect(sameRun).toMatchObject({ done: true, counts: { reencrypted: 1, "already-compliant": 0 } });
      expect(again.calls.filter((c) => c.input.Bucket === bucket)).toEqual([]);

      const next = recordingS3();
      const newRun = await copyLargeObjects({ ...input, target: runFor(bucket, "run-2") }, depsWith(next.s3));
      expect(newRun).toMatchObject({ done: true, counts: { reencrypted: 0, "already-compliant": 1 } });
      expect(commands(next.calls, "CreateMultipartUploadCommand")).toEqual([]);
      expect(partCopies(next.calls)).toEqual([]);
      expect((await admin.versions(bucket, key)).length).toBe(versions);
    });

    it("stops at the deadline and resumes the same upload without copying a part twice", async () => {
      const seeded = await seedOne(bucket, { key, size: 6 * GiB, tags, encryption: { type: "NOT-SSE" } });
      const input: LargeObjectCopyInput = {
        target: run,
        objects: [{ key, size: 6 * GiB, etag: seeded.etag }],
        deadlineMs: Date.parse("2030-01-01T00:10:00Z"),
        options: { partConcurrency: 1 },
      };
      const early = new Date("2030-01-01T00:00:00Z");
      const late = new Date("2030-01-01T00:09:30Z"); // inside the 60 s margin
      const first = recordingS3();
      // The clock reads "late" once three parts have been copied.
      const firstResult = await copyLargeObjects(
        input,
        depsWith(first.s3, () => (partCopies(first.calls).length >= 3 ? late : early)),
      );

      expect(firstResult).toMatchObject({ done: false, processed: 0, total: 1 });
      const paused = await progressOf(run, key);
      expect(paused).toMatchObject({ state: "copying", invocations: 1 });
      expect(paused.parts.map((p) => p.partNumber)).toEqual([1, 2, 3]);
      expect(sandbox.s3.store.bucket(bucket).uploads.get(paused.uploadId)?.parts.size).toBe(3);
      expect((await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).VersionId).toBe(
        seeded.versionId,
      );

      const second = recordingS3();
      const secondResult = await copyLargeObjects(
        input,
        depsWith(second.s3, () => early),
      );

      expect(secondResult).toMatchObject({ done: true, processed: 1, counts: { reencrypted: 1 } });
      expect(commands(second.calls, "CreateMultipartUploadCommand")).toEqual([]);
      const copied = [...partCopies(first.calls), ...partCopies(second.calls)].map((c) => c.input.PartNumber);
      expect(copied).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      for (const c of [...partCopies(second.calls), ...commands(second.calls, "CompleteMultipartUploadCommand")]) {
        expect(c.input.UploadId).toBe(paused.uploadId);
      }
      const [completeCall] = commands(second.calls, "CompleteMultipartUploadCommand");
      const completedParts = (completeCall?.input.MultipartUpload as { Parts: { PartNumber: number }[] } | undefined)
        ?.Parts;
      expect(completedParts?.map((p) => p.PartNumber)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(await progressOf(run, key)).toMatchObject({
        uploadId: paused.uploadId,
        invocations: 2,
        outcome: { outcome: "reencrypted" },
      });
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head).toMatchObject({ ServerSideEncryption: "aws:kms", BucketKeyEnabled: true, ContentLength: 6 * GiB });
      expect(await tagsOf(bucket, key)).toEqual(tags);
    });
  });

  describe("a 12 MiB object with real bytes in 5 MiB parts", () => {
    const key = "data/real.bin";
    const body = randomBytes(12 * MiB);
    const options = { partBytes: 5 * MiB, partConcurrency: 1, singleCopyMaxBytes: 0 };

    it("keeps its exact bytes", async () => {
      const seeded = await seedOne(bucket, {
        key,
        bodyBase64: body.toString("base64"),
        contentType: "application/octet-stream",
        metadata: { checksum: sha256(body) },
        encryption: { type: "NOT-SSE" },
      });
      const { s3, calls } = recordingS3();

      const result = await copyLargeObjects(
        { target: run, objects: [{ key, size: body.length }], options },
        depsWith(s3),
      );

      expect(result.counts.reencrypted).toBe(1);
      expect(partCopies(calls).map((c) => c.input.CopySourceRange)).toEqual([
        `bytes=0-${5 * MiB - 1}`,
        `bytes=${5 * MiB}-${10 * MiB - 1}`,
        `bytes=${10 * MiB}-${12 * MiB - 1}`,
      ]);
      const got = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(got).toMatchObject({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: kmsKeyArn, BucketKeyEnabled: true });
      const bytes = await got.Body?.transformToByteArray();
      expect(bytes?.length).toBe(body.length);
      expect(sha256(bytes ?? new Uint8Array())).toBe(sha256(body));
      expect(got.Metadata).toEqual({ checksum: sha256(body) });
      expect(got.VersionId).not.toBe(seeded.versionId);
    });

    it("abandons the copy when the object is overwritten between parts, keeping the newer write", async () => {
      await seedOne(bucket, { key, bodyBase64: body.toString("base64"), encryption: { type: "NOT-SSE" } });
      let newer: { versionId: string; etag: string } | undefined;
      const { s3, calls } = recordingS3(async (call) => {
        if (call.command === "UploadPartCopyCommand" && call.input.PartNumber === 2 && !newer) {
          newer = await seedOne(bucket, { key, body: "newer data", encryption: { type: "NOT-SSE" } });
        }
      });

      const result = await copyLargeObjects(
        { target: run, objects: [{ key, size: body.length }], options },
        depsWith(s3),
      );

      expect(result.counts).toMatchObject({ "changed-during-copy": 1, reencrypted: 0, failed: 0 });
      expect(result.problems).toEqual([
        { key, outcome: "changed-during-copy", reason: expect.stringMatching(/overwritten during the copy/) },
      ]);
      // Part 2's ETag guard failed; part 3 was never started.
      expect(partCopies(calls).map((c) => c.input.PartNumber)).toEqual([1, 2]);
      expect(commands(calls, "CompleteMultipartUploadCommand")).toEqual([]);
      expect(commands(calls, "AbortMultipartUploadCommand")).toHaveLength(1);
      expect(sandbox.s3.store.bucket(bucket).uploads.size).toBe(0);
      const current = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(current.VersionId).toBe(newer?.versionId);
      expect(current.ETag).toBe(newer?.etag);
      expect(await current.Body?.transformToString()).toBe("newer data");
      expect((await admin.versions(bucket, key)).length).toBe(2);
      expect(await progressOf(run, key)).toMatchObject({
        state: "settled",
        outcome: { outcome: "changed-during-copy" },
      });
    });

    it("rejects with ObjectChangedDuringCopyError when called for one object", async () => {
      await seedOne(bucket, { key, bodyBase64: body.toString("base64"), encryption: { type: "NOT-SSE" } });
      let overwritten = false;
      const { s3 } = recordingS3(async (call) => {
        if (call.command === "UploadPartCopyCommand" && call.input.PartNumber === 3 && !overwritten) {
          overwritten = true;
          await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "replaced" }));
        }
      });

      await expect(
        reencryptLargeObject(
          { key, size: body.length },
          { target: run, options: LargeObjectCopyOptionsSchema.parse(options), deadline: undefined },
          depsWith(s3),
        ),
      ).rejects.toBeInstanceOf(ObjectChangedDuringCopyError);
      expect(sandbox.s3.store.bucket(bucket).uploads.size).toBe(0);
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentLength).toBe("replaced".length);
    });

    it("keeps the upload through a transient failure, and adopts parts the saved progress missed", async () => {
      await seedOne(bucket, { key, bodyBase64: body.toString("base64"), encryption: { type: "NOT-SSE" } });
      const flaky = recordingS3(async (call) => {
        if (call.command === "UploadPartCopyCommand" && call.input.PartNumber === 3) {
          throw Object.assign(new Error("Please reduce your request rate."), {
            name: "SlowDown",
            $metadata: { httpStatusCode: 503 },
          });
        }
      });
      const input: LargeObjectCopyInput = { target: run, objects: [{ key, size: body.length }], options };

      await expect(copyLargeObjects(input, depsWith(flaky.s3))).rejects.toMatchObject({ name: "SlowDown" });
      const saved = await progressOf(run, key);
      expect(saved.parts.map((p) => p.partNumber)).toEqual([1, 2]);
      expect(sandbox.s3.store.bucket(bucket).uploads.get(saved.uploadId)?.parts.size).toBe(2);
      // As if the invocation had died before saving: the file knows the upload but none of its parts.
      await clients.s3.send(
        new PutObjectCommand({
          Bucket: WORK,
          Key: progressKey(run.progressPrefix, key),
          Body: JSON.stringify({ ...saved, parts: [] }),
        }),
      );

      const retry = recordingS3();
      const result = await copyLargeObjects(input, depsWith(retry.s3));

      expect(result.counts.reencrypted).toBe(1);
      expect(partCopies(retry.calls).map((c) => c.input.PartNumber)).toEqual([3]);
      expect(commands(retry.calls, "CreateMultipartUploadCommand")).toEqual([]);
      const got = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(sha256((await got.Body?.transformToByteArray()) ?? new Uint8Array())).toBe(sha256(body));
    });

    it("reports a write that lands between the last check and the completion", async () => {
      // CompleteMultipartUpload's If-Match refuses this completion (412), on AWS and in the sandbox
      // (sandbox/S3.md, "Conditional writes and deletes"); nothing lands over the newer write.
      await seedOne(bucket, {
        key,
        bodyBase64: body.toString("base64"),
        encryption: { type: "NOT-SSE" },
      });
      let newer: { versionId: string } | undefined;
      const { s3 } = recordingS3(async (call) => {
        if (call.command === "CompleteMultipartUploadCommand" && !newer) {
          newer = await seedOne(bucket, { key, body: "racing write", encryption: { type: "NOT-SSE" } });
        }
      });

      const result = await copyLargeObjects(
        { target: run, objects: [{ key, size: body.length }], options },
        depsWith(s3),
      );

      expect(result.counts["changed-during-copy"]).toBe(1);
      expect(result.problems[0]?.reason).toMatch(/overwritten during the copy/);
      const current = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(current.VersionId).toBe(newer?.versionId);
      const progress = await progressOf(run, key);
      expect(progress.outcome).toMatchObject({ outcome: "changed-during-copy" });
    });
  });

  it("re-encrypts in an unversioned bucket, where the copy replaces the only version", async () => {
    const plain = `large-unversioned-${++n}-${Date.now()}`;
    await clients.s3.send(new CreateBucketCommand({ Bucket: plain }));
    const body = randomBytes(11 * MiB);
    await seedOne(plain, {
      key: "k",
      bodyBase64: body.toString("base64"),
      contentType: "image/png",
      tags: { a: "1" },
      storageClass: "ONEZONE_IA",
      encryption: { type: "NOT-SSE" },
    });

    const result = await copyLargeObjects(
      {
        target: runFor(plain, "run-1"),
        objects: [{ key: "k", size: body.length }],
        options: { partBytes: 5 * MiB, singleCopyMaxBytes: 0 },
      },
      depsWith(clients.s3),
    );

    expect(result.counts.reencrypted).toBe(1);
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: plain, Key: "k" }));
    expect(got).toMatchObject({
      ServerSideEncryption: "aws:kms",
      BucketKeyEnabled: true,
      ContentType: "image/png",
      StorageClass: "ONEZONE_IA",
    });
    expect(sha256((await got.Body?.transformToByteArray()) ?? new Uint8Array())).toBe(sha256(body));
    expect(await tagsOf(plain, "k")).toEqual({ a: "1" });
  });

  it("settles every listed object in one outcome, reading the list from the work bucket", async () => {
    const compliant = await seedOne(bucket, {
      key: "ok",
      size: 6 * GiB,
      encryption: { type: "SSE-KMS", keyArn: kmsKeyArn, bucketKeyEnabled: true },
    });
    await seedOne(bucket, { key: "cold", size: 6 * GiB, storageClass: "GLACIER", encryption: { type: "NOT-SSE" } });
    await seedOne(bucket, { key: "deleted", size: 6 * GiB, encryption: { type: "NOT-SSE" } });
    await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "deleted" }));
    await seedOne(bucket, { key: "sse-s3", size: 6 * GiB, encryption: { type: "SSE-S3" } });
    const listKey = `runs/${bucket}/run-1/large-objects.jsonl`;
    const lines = ["ok", "cold", "deleted", "sse-s3", "ok"].map((key) => JSON.stringify({ key, size: 6 * GiB }));
    await clients.s3.send(new PutObjectCommand({ Bucket: WORK, Key: listKey, Body: `${lines.join("\n")}\n` }));

    const result = await copyLargeObjects({ target: run, objects: { listKey } }, depsWith(clients.s3));

    expect(result).toMatchObject({
      done: true,
      total: 4,
      processed: 4,
      counts: { reencrypted: 1, "already-compliant": 1, gone: 1, skipped: 1, failed: 0, "changed-during-copy": 0 },
    });
    expect(result.problems).toEqual([{ key: "cold", outcome: "skipped", reason: expect.stringMatching(/GLACIER/) }]);
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "ok" }));
    expect(head.VersionId).toBe(compliant.versionId);
    const batch = JSON.parse(await getText(clients.s3, WORK, result.batchKey));
    expect(batch).toMatchObject({ nextIndex: 4, total: 4 });
  });
});
