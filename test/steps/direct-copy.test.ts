import { CreateKeyCommand } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LargeCopyTarget } from "../../contract/large-objects.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { copyLargeObjects } from "../../steps/handlers/copy-large-objects.ts";
import { type AwsClients, createAwsClients } from "../../steps/runtime/clients.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import type { StepDeps } from "../../steps/runtime/step.ts";
import { sandboxWithClients } from "../support/sandbox.ts";

/**
 * "Copy objects directly" with objects up to 5 GiB (keys a Batch manifest cannot carry): one CopyObject guarded by
 * the source ETag, keeping metadata, content type, tags and storage class, checked against the source afterwards.
 */
const WORK = "direct-work";
/** 512 two-byte characters: a legal 1,024-byte key, 3,072 characters once percent-encoded for a manifest. */
const LONG_KEY = "é".repeat(512);

let sandbox: Sandbox;
let clients: AwsClients;
let admin: SandboxAdmin;
let kmsKeyArn: string;
let n = 0;

beforeAll(async () => {
  ({ sandbox, clients } = await sandboxWithClients());
  admin = new SandboxAdmin(sandbox.endpoint);
  await clients.s3.send(new CreateBucketCommand({ Bucket: WORK }));
  kmsKeyArn = (await clients.kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? "";
});
afterAll(() => sandbox.close());

/** A real S3 client that runs `before` ahead of every command it sends, with the command's name. */
function s3With(before: (command: string) => Promise<void>): { s3: S3Client; sent: string[] } {
  const { s3 } = createAwsClients({
    region: sandbox.identity.region,
    endpoint: sandbox.endpoint,
    credentials: SANDBOX_CREDENTIALS,
    maxAttempts: 1,
  });
  const sent: string[] = [];
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName ?? "");
      await before(context.commandName ?? "");
      return next(args);
    },
    { step: "initialize", name: "beforeEach" },
  );
  return { s3, sent };
}

const deps = (s3: S3Client): StepDeps => ({
  clients: { ...clients, s3 },
  config: { batchRoleArn: "arn:aws:iam::111122223333:role/rekey-batch" },
  log: silentLogger,
  now: () => new Date(),
});

async function versionedBucket(): Promise<{ bucket: string; target: LargeCopyTarget }> {
  const bucket = `direct-${++n}-${Date.now()}`;
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await clients.s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
  );
  return { bucket, target: { bucket, kmsKeyArn, workBucket: WORK, progressPrefix: `runs/${bucket}/r/` } };
}

describe("copying an object of at most 5 GiB directly", () => {
  it("re-encrypts a 1,024-byte key with one CopyObject, keeping metadata, type, tags and class", async () => {
    const { bucket, target } = await versionedBucket();
    const seeded = await admin.seed(bucket, [
      {
        key: LONG_KEY,
        body: "payload",
        contentType: "text/csv",
        metadata: { owner: "team-a" },
        tags: { project: "p1" },
        storageClass: "STANDARD_IA",
        encryption: { type: "NOT-SSE" },
      },
    ]);
    const { s3, sent } = s3With(async () => undefined);

    const result = await copyLargeObjects(
      { target, objects: [{ key: LONG_KEY, size: 7, why: "key-too-long-for-manifest" }] },
      deps(s3),
    );

    expect(result).toMatchObject({ done: true, counts: { reencrypted: 1, failed: 0 } });
    expect(result.reencryptedBy).toEqual({ "copy-object": 1, multipart: 0 });
    expect(sent.filter((c) => c === "CopyObjectCommand")).toHaveLength(1);
    expect(sent).not.toContain("CreateMultipartUploadCommand");
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: LONG_KEY }));
    expect(head).toMatchObject({
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: kmsKeyArn,
      BucketKeyEnabled: true,
      ContentType: "text/csv",
      Metadata: { owner: "team-a" },
      StorageClass: "STANDARD_IA",
    });
    expect(head.VersionId).not.toBe(seeded.versions[0]?.versionId);
    const tags = await clients.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: LONG_KEY }));
    expect(tags.TagSet).toEqual([{ Key: "project", Value: "p1" }]);
    const batch = JSON.parse(await getText(clients.s3, WORK, result.batchKey));
    expect(batch.copiedWithCopyObject).toEqual([LONG_KEY]);
  });

  it("copies nothing over a write that lands between HeadObject and CopyObject (ETag guard)", async () => {
    const { bucket, target } = await versionedBucket();
    await admin.seed(bucket, [{ key: LONG_KEY, body: "old", encryption: { type: "NOT-SSE" } }]);
    let written = false;
    const { s3 } = s3With(async (command) => {
      if (command !== "CopyObjectCommand" || written) return;
      written = true;
      await clients.s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: LONG_KEY, Body: "newer", ServerSideEncryption: "AES256" }),
      );
    });

    const result = await copyLargeObjects({ target, objects: [{ key: LONG_KEY, size: 3 }] }, deps(s3));

    expect(result.counts).toMatchObject({ reencrypted: 0, "changed-during-copy": 1 });
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: LONG_KEY }));
    // The newer write stays as its writer made it; the independent check reports it.
    expect(head).toMatchObject({ ServerSideEncryption: "AES256", ContentLength: 5 });
  });
});
