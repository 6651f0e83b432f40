import { CreateKeyCommand } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketInventoryConfigurationCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { Plan } from "../../contract/plan.ts";
import { planKeys, type RunContext, RunOptionsSchema } from "../../contract/run-context.ts";
import { planInProcess } from "../../local/plan-in-process.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import type { SeedObject } from "../../sandbox/s3/seed.ts";
import { encodeManifestKey, manifestLine } from "../../steps/domain/batch-manifest.ts";
import { classifyInventoryRow } from "../../steps/domain/classify.ts";
import { type InventoryRow, inventoryRows } from "../../steps/domain/inventory.ts";
import { parseInventoryManifest } from "../../steps/domain/inventory-manifest.ts";
import { createAwsClients } from "../../steps/runtime/clients.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import type { StepDeps } from "../../steps/runtime/step.ts";
import { useSandbox } from "../support/sandbox.ts";

const env = useSandbox();

const FILES = 4;
const ROWS_PER_FILE = 150;
/** Keys with what manifests must encode: spaces, plus, percent, comma, quote, non-ASCII. */
const keyOf = (i: number) => `obj ${String(i).padStart(5, "0")} +%,"\u00e9\u2713`;

/**
 * A real S3 client whose HeadObject calls are counted per inventory data file while in flight. A call of a data file
 * is held until a call of a later file starts, so that a filter that waits for each batch's HEADs before reading on
 * shows one file at a time; the hold ends anyway after 2 s, only so that such a filter ends (and fails the count)
 * instead of hanging.
 */
function countingS3(fileOf: Map<string, number>): {
  s3: S3Client;
  maxFilesInFlight: () => number;
  heads: () => number;
} {
  const { s3 } = createAwsClients({
    region: env.sandbox.identity.region,
    endpoint: env.sandbox.endpoint,
    credentials: SANDBOX_CREDENTIALS,
    maxAttempts: 1,
  });
  const inFlight = new Map<number, number>();
  const held: { file: number; release: () => void }[] = [];
  let latestFile = -1;
  let maxFiles = 0;
  let heads = 0;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "HeadObjectCommand") return next(args);
      const file = fileOf.get((args.input as { Key: string }).Key) ?? -1;
      heads += 1;
      inFlight.set(file, (inFlight.get(file) ?? 0) + 1);
      maxFiles = Math.max(maxFiles, [...inFlight.values()].filter((n) => n > 0).length);
      if (file > latestFile) {
        latestFile = file;
        for (const h of held.splice(0)) h.release();
      }
      try {
        if (file === latestFile && file < FILES - 1) {
          await new Promise<void>((release) => {
            held.push({ file, release });
            setTimeout(release, 2000);
          });
        }
        return await next(args);
      } finally {
        inFlight.set(file, (inFlight.get(file) ?? 1) - 1);
      }
    },
    { step: "initialize", name: "countHeadsPerFile" },
  );
  return { s3, maxFilesInFlight: () => maxFiles, heads: () => heads };
}

async function text(s3: S3Client, bucket: string, key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await got.Body?.transformToString("utf8")) ?? "";
}

/** A bucket of FILES * ROWS_PER_FILE objects and its inventory, delivered in FILES data files. */
async function deliveredInventory() {
  const { s3, kms, admin } = env;
  const id = Date.now();
  const bucket = `pipe-src-${id}`;
  const work = `pipe-work-${id}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new CreateBucketCommand({ Bucket: work }));
  const target = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? "";
  const other = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? "";

  // By i % 10: SSE-KMS with a Bucket Key (0, 1: target key; 2: another key; 3: target key, deleted after the
  // inventory, so HeadObject answers 404), NOT-SSE in three classes (4-6), SSE-S3 (7, 8), SSE-KMS without a Bucket
  // Key (9). Four rows in ten need HeadObject.
  const deleted: string[] = [];
  const underTarget = new Set<string>();
  const objects: SeedObject[] = [];
  for (let i = 0; i < FILES * ROWS_PER_FILE; i++) {
    const key = keyOf(i);
    const kind = i % 10;
    const sseKms = (keyArn: string, bucketKeyEnabled = true) => ({
      type: "SSE-KMS" as const,
      keyArn,
      bucketKeyEnabled,
    });
    const encryption =
      kind <= 1 || kind === 3
        ? sseKms(target)
        : kind === 2
          ? sseKms(other)
          : kind === 9
            ? sseKms(target, false)
            : kind >= 7
              ? { type: "SSE-S3" as const }
              : { type: "NOT-SSE" as const };
    const storageClass = kind === 5 ? "STANDARD_IA" : kind === 6 ? "GLACIER" : "STANDARD";
    if (kind <= 1) underTarget.add(key);
    if (kind === 3) deleted.push(key);
    objects.push({ key, size: 1000 + i, storageClass, encryption });
  }
  await admin.seed(bucket, objects);
  await s3.send(
    new PutBucketInventoryConfigurationCommand({
      Bucket: bucket,
      Id: "pipe",
      InventoryConfiguration: {
        Id: "pipe",
        IsEnabled: true,
        Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${work}`, Format: "CSV", Prefix: "inv" } },
        IncludedObjectVersions: "Current",
        OptionalFields: ["Size", "StorageClass", "EncryptionStatus", "BucketKeyStatus", "LastModifiedDate"],
        Schedule: { Frequency: "Daily" },
      },
    }),
  );
  const delivery = await admin.deliverInventory({
    bucket,
    configurationId: "pipe",
    maxRowsPerFile: ROWS_PER_FILE,
  });
  for (const key of deleted) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

  const manifest = parseInventoryManifest(await text(s3, work, delivery.manifestKey), delivery.manifestKey);
  expect(manifest.files).toHaveLength(FILES);
  return { bucket, work, target, deleted, underTarget, delivery, manifest };
}

/** Runs the step as its Lambda function would, with `s3` for its S3 client. */
async function runStep(s3: S3Client, inv: Awaited<ReturnType<typeof deliveredInventory>>): Promise<Plan> {
  const { sandbox } = env;
  const runId = `pipe-${Date.now()}`;
  const run: RunContext = {
    runId,
    executionId: `arn:aws:states:${sandbox.identity.region}:${sandbox.identity.accountId}:execution:rekey:${runId}`,
    bucket: inv.bucket,
    kmsKeyArn: inv.target,
    region: sandbox.identity.region,
    accountId: sandbox.identity.accountId,
    workBucket: inv.work,
    source: "inventory",
    runPrefix: `runs/${inv.bucket}/${runId}/`,
    startedAt: new Date().toISOString(),
    options: RunOptionsSchema.parse({}),
  };
  const deps: StepDeps = {
    clients: { ...env.clients, s3 },
    config: { batchRoleArn: `arn:aws:iam::${sandbox.identity.accountId}:role/rekey-batch` },
    log: silentLogger,
    now: () => new Date(),
  };
  const inventory = {
    found: true as const,
    bucket: inv.work,
    manifestKey: inv.delivery.manifestKey,
    creationTimestamp: String(inv.manifest.creationTimestamp.getTime()),
  };
  return (await planInProcess({ run, inventory }, deps)).plan;
}

describe("Filter inventory and write manifests: HeadObject calls across batches", () => {
  it("keeps HEADs of several data files in flight and writes the same files as a filter that waits for each batch", async () => {
    const { s3 } = env;
    const inv = await deliveredInventory();
    const { bucket, work, deleted, underTarget, manifest } = inv;

    // The filter that waits for each batch, written out: every row in file order, classified with what HeadObject
    // answers, each route's lines in that order.
    const fileOf = new Map<string, number>();
    const expected = new Map<string, string>();
    const append = (file: string, line: string) => expected.set(file, (expected.get(file) ?? "") + line);
    for (const [n, file] of manifest.files.entries()) {
      const got = await s3.send(new GetObjectCommand({ Bucket: work, Key: file.key }));
      for await (const row of inventoryRows(got.Body as AsyncIterable<Buffer>, manifest.columns, file.key)) {
        fileOf.set(row.key, n);
        const result = classifyInventoryRow(row, {
          sseKmsKeyIsTarget: (r: InventoryRow) => (deleted.includes(r.key) ? undefined : underTarget.has(r.key)),
          now: new Date(),
        });
        if (result.kind === "copy") append(`copy:${result.storageClass}`, manifestLine(bucket, row.key));
        if (result.kind === "update-encryption") append("update", manifestLine(bucket, row.key));
        if (result.kind === "skipped") {
          append(
            "skipped",
            `${bucket},${encodeManifestKey(row.key)},${result.reason},${row.storageClass ?? ""},${row.encryptionStatus ?? ""},${row.size ?? ""}\n`,
          );
        }
      }
    }

    const counting = countingS3(fileOf);
    const plan = await runStep(counting.s3, inv);

    expect(counting.heads()).toBe((FILES * ROWS_PER_FILE * 4) / 10);
    expect(counting.maxFilesInFlight()).toBeGreaterThanOrEqual(2);

    const written = new Map<string, string>();
    for (const m of plan.manifests) {
      written.set(m.operation === "copy" ? `copy:${m.storageClass}` : "update", await text(s3, work, m.key));
    }
    const skipped = await text(s3, work, planKeys(plan.planPrefix).skipped);
    written.set("skipped", skipped.slice(skipped.indexOf("\n") + 1));
    expect([...written.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, lines] of expected) expect(written.get(name), name).toBe(lines);
    // Each route holds rows of every file, so the comparison covers the order across files too.
    expect(expected.get("copy:STANDARD")?.split("\n").length).toBeGreaterThan(FILES);
  });

  it("fails the step with the error of a HeadObject call refused mid-way, leaving no plan and no upload open", async () => {
    const { s3, sandbox } = env;
    const inv = await deliveredInventory();
    // One object of the third data file: HEADs of earlier files are answered, later ones are in flight or queued.
    const refused = keyOf(2 * ROWS_PER_FILE + 10);
    sandbox.faults.add([
      { service: "s3", operation: "HeadObject", bucket: inv.bucket, key: refused, count: 1, error: "accessDenied" },
    ]);
    const { s3: stepS3 } = createAwsClients({
      region: sandbox.identity.region,
      endpoint: sandbox.endpoint,
      credentials: SANDBOX_CREDENTIALS,
      maxAttempts: 1,
    });
    await expect(runStep(stepS3, inv)).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    const left = await s3.send(new ListObjectsV2Command({ Bucket: inv.work, Prefix: "plans/" }));
    // Only what Slice the inventory wrote (how the delivery is read, the slices), which a retry reuses: no plan.json,
    // no part of any file.
    expect((left.Contents ?? []).map((o) => o.Key?.replace(/^.*\//, "")).sort()).toEqual([
      "delivery.json",
      "slices.json",
    ]);
    expect(sandbox.s3.store.bucket(inv.work).uploads.size).toBe(0);
  });
});
