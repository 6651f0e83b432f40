import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { SlicesToPlan } from "../../contract/plan.ts";
import { planKeys, type RunContext, RunOptionsSchema } from "../../contract/run-context.ts";
import type { TallyState } from "../../contract/tally.ts";
import { sliceItems } from "../../local/plan-in-process.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { MAX_SLICES } from "../../steps/domain/slices.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { combinePlan } from "../../steps/handlers/combine-the-plan.ts";
import { sliceInventory } from "../../steps/handlers/slice-the-inventory.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import type { StepDeps } from "../../steps/runtime/step.ts";
import { PLANNING_SLICE_BYTES } from "../../workflow/definition.ts";
import { useSandbox } from "../support/sandbox.ts";

/**
 * Planning a billion-row inventory, simulated: "Slice the inventory" on a manifest.json of 10,000 data files of 5 MB
 * (50 GB compressed, ~50 bytes a row), and "Combine the plan" on that many slices' summaries (each claiming its share
 * of a billion rows) and parts. The data files need not exist: slicing reads only the manifest, and combining reads
 * only what the slices wrote. What matters at that size: the states stay small, the slices bounded, the joins
 * within S3's part limit.
 */
const env = useSandbox();
const BUCKET = "billion-data";
const WORK = "billion-work";
const FILES = 10_000;
const FILE_BYTES = 5_000_000;
const ROWS = 1_000_000_000;
const MAX_STATE_BYTES = 262_144;

function context(): { run: RunContext; deps: StepDeps; manifestKey: string } {
  const { region, accountId } = env.sandbox.identity;
  const run: RunContext = {
    runId: "billion",
    executionId: `arn:aws:states:${region}:${accountId}:execution:rekey:billion`,
    bucket: BUCKET,
    kmsKeyArn: `arn:aws:kms:${region}:${accountId}:key/00000000-0000-0000-0000-00000000beef`,
    region,
    accountId,
    workBucket: WORK,
    source: "inventory",
    engine: "stream",
    runPrefix: `runs/${BUCKET}/billion/`,
    startedAt: new Date().toISOString(),
    options: RunOptionsSchema.parse({}),
  };
  const deps: StepDeps = {
    clients: env.clients,
    config: { batchRoleArn: `arn:aws:iam::${accountId}:role/rekey-batch` },
    log: silentLogger,
    now: () => new Date(),
  };
  return { run, deps, manifestKey: `inventory/${BUCKET}/all/2026-12-01T00-00Z/manifest.json` };
}

/** A slice's tally: a few objects of every route, scaled to `rows` by multiplying every count and byte sum. */
function sliceTally(rows: number): TallyState {
  const t = new RunTally();
  const size = { size: 1_000 };
  for (let i = 0; i < 5; i++)
    t.recordClassification({ kind: "copy", storageClass: "STANDARD" }, { key: `c${i}`, ...size });
  for (let i = 0; i < 3; i++) t.recordClassification({ kind: "update-encryption" }, { key: `u${i}`, ...size });
  t.recordClassification({ kind: "skipped", reason: "archived", detail: "archived" }, { key: "s", ...size });
  t.recordClassification({ kind: "not-current", reason: "noncurrent-version" }, { key: "n", ...size });
  const state = t.toJSON();
  const factor = rows / state.seen.count;
  const scale = (value: unknown): unknown => {
    if (Array.isArray(value)) return value;
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === "sampleLimit" ? v : scale(v)]));
    }
    return typeof value === "number" ? value * factor : value;
  };
  return scale(state) as TallyState;
}

describe("planning a simulated billion-row inventory", () => {
  let slicing: SlicesToPlan;

  it("slices 10,000 data files into a bounded number of slices, the state a few hundred bytes", async () => {
    const { run, deps, manifestKey } = context();
    for (const Bucket of [BUCKET, WORK]) await env.clients.s3.send(new CreateBucketCommand({ Bucket }));
    const manifest = {
      sourceBucket: BUCKET,
      destinationBucket: `arn:aws:s3:::${WORK}`,
      version: "2016-11-30",
      creationTimestamp: "1764547200000",
      fileFormat: "CSV",
      fileSchema:
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, EncryptionStatus, BucketKeyStatus",
      files: Array.from({ length: FILES }, (_, i) => ({
        key: `inventory/${BUCKET}/all/data/${String(i).padStart(5, "0")}.csv.gz`,
        size: FILE_BYTES,
        MD5checksum: "0123456789abcdef0123456789abcdef",
      })),
    };
    await env.clients.s3.send(new PutObjectCommand({ Bucket: WORK, Key: manifestKey, Body: JSON.stringify(manifest) }));
    const inventory = {
      found: true as const,
      bucket: WORK,
      manifestKey,
      creationTimestamp: manifest.creationTimestamp,
    };
    const result = await sliceInventory.run({ run, inventory, sliceTargetBytes: PLANNING_SLICE_BYTES }, deps);
    if (result.stored || "querying" in result) throw new Error("a new work bucket has no stored plan");
    slicing = result;
    expect(JSON.stringify(slicing).length).toBeLessThan(1_000);
    expect(slicing.files).toBe(FILES);
    // 50 GB in slices of 512 MiB: 94 slices (whole files of 5 MB, 107 to a slice).
    expect(slicing.slices).toBe(Math.ceil(FILES / Math.floor(PLANNING_SLICE_BYTES / FILE_BYTES)));
    expect(slicing.slices).toBeLessThanOrEqual(MAX_SLICES);
    const items = await sliceItems(slicing, run, deps);
    expect(items).toHaveLength(slicing.slices);
    expect(items.at(-1)?.to).toBe(FILES);
    // The Map reads its items from the work bucket, not from the state.
    expect(JSON.stringify(items).length).toBeGreaterThan(1_000);
  }, 60_000);

  it("combines that many slices into one plan of a billion rows, the state small and the joins within S3's limits", async () => {
    const { run, deps, manifestKey } = context();
    const keys = planKeys(slicing.planPrefix);
    // Whole multiples of the ten objects sliceTally records: the total is a billion, give or take a few hundred.
    const perSlice = 10 * Math.round(ROWS / slicing.slices / 10);
    const near = (value: number | undefined, expected: number) =>
      expect(Math.abs((value ?? 0) - expected) / expected).toBeLessThan(1e-5);
    for (let i = 0; i < slicing.slices; i++) {
      const slice = keys.slice(i);
      const put = (Key: string, Body: string) => env.clients.s3.send(new PutObjectCommand({ Bucket: WORK, Key, Body }));
      await put(slice.manifest("STANDARD"), `${BUCKET},copy-${i}-a\n${BUCKET},copy-${i}-b\n`);
      await put(slice.updateManifest, `${BUCKET},update-${i}\n`);
      await put(slice.skipped, `${BUCKET},skipped-${i},archived,GLACIER,NOT-SSE,1000\n`);
      await put(
        slice.plan,
        JSON.stringify({
          slice: i,
          tally: sliceTally(perSlice),
          updatesFrom: { sseS3: { objects: (perSlice / 10) * 3, bytes: 0 }, sseKms: { objects: 0, bytes: 0 } },
          largeByClass: {},
          headsSent: 0,
          keyChecksSkipped: 0,
        }),
      );
    }
    const inventory = { found: true as const, bucket: WORK, manifestKey, creationTimestamp: "1764547200000" };
    const plan = await combinePlan.run({ run, inventory, slicing }, deps);
    expect(JSON.stringify(plan).length).toBeLessThan(MAX_STATE_BYTES / 16);
    const copies = plan.manifests.find((m) => m.operation === "copy");
    near(copies?.objects, ROWS / 2);
    near(plan.manifests.find((m) => m.operation === "update-encryption")?.objects, ROWS * 0.3);
    // Every slice's lines, in slice order.
    const lines = (await getText(env.clients.s3, WORK, copies?.key ?? "")).trimEnd().split("\n");
    expect(lines).toHaveLength(2 * slicing.slices);
    expect(lines.at(-1)).toBe(`${BUCKET},copy-${slicing.slices - 1}-b`);
    const skipped = (await getText(env.clients.s3, WORK, keys.skipped)).split("\n");
    expect(skipped[0]).toBe("bucket,key,reason,storage_class,encryption_status,size");
    const stored = JSON.parse(await getText(env.clients.s3, WORK, plan.planKey)) as { tally: TallyState };
    near(stored.tally.seen.count, ROWS);
    // The estimate prices a billion objects listed and 800 million operations.
    expect(plan.estimate?.text).toMatch(/S3 Inventory objects listed: 1,000,000,\d{3} /);
    expect(plan.estimate?.text).toMatch(/Batch Operations object operations: 800,000,\d{3} /);
    // The slices are gone once plan.json holds them.
    const left = await env.clients.s3.send(new ListObjectsV2Command({ Bucket: WORK, Prefix: keys.slicesPrefix }));
    expect(left.KeyCount ?? 0).toBe(0);
  }, 120_000);
});
