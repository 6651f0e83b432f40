import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  CreateBucketCommand,
  GetObjectCommand,
  type InventoryConfiguration,
  ListObjectVersionsCommand,
  PutBucketInventoryConfigurationCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { type RunContext, RunOptionsSchema } from "../../contract/run-context.ts";
import { planInProcess } from "../../local/plan-in-process.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { SandboxAdminError } from "../../sandbox/admin-client.ts";
import type { DeliveryResult } from "../../sandbox/s3/inventory.ts";
import { type InventoryRow, inventoryRows } from "../../steps/domain/inventory.ts";
import { parseInventoryManifest } from "../../steps/domain/inventory-manifest.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { useSandbox } from "../support/sandbox.ts";

/**
 * The synthetic inventory delivery (POST /_sandbox/s3/inventory/synthetic): a report of N rows per the bucket's
 * real inventory configuration, of objects that exist only in the report, read back with rekey's own parser and
 * planned by the real step.
 */

const env = useSandbox();
let n = 0;

const FIELDS: InventoryConfiguration["OptionalFields"] = [
  "BucketKeyStatus",
  "Size",
  "EncryptionStatus",
  "StorageClass",
  "ETag",
  "LastModifiedDate",
  "IsMultipartUploaded",
];

async function configured(
  overrides: Partial<InventoryConfiguration> = {},
  format: "CSV" | "Parquet" = "CSV",
): Promise<{ src: string; dest: string; id: string }> {
  const id = "synthetic";
  const src = `syn-src-${++n}`;
  const dest = `syn-dest-${n}`;
  await env.s3.send(new CreateBucketCommand({ Bucket: src }));
  await env.s3.send(new CreateBucketCommand({ Bucket: dest }));
  await env.s3.send(
    new PutBucketInventoryConfigurationCommand({
      Bucket: src,
      Id: id,
      InventoryConfiguration: {
        Id: id,
        IsEnabled: true,
        Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${dest}`, Format: format, Prefix: "inv" } },
        IncludedObjectVersions: "All",
        OptionalFields: FIELDS,
        Schedule: { Frequency: "Daily" },
        ...overrides,
      },
    }),
  );
  return { src, dest, id };
}

async function bytesOf(bucket: string, key: string): Promise<Buffer> {
  const got = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
}

/** Every row of the delivery, read with rekey's inventory parser and the columns its manifest.json names. */
async function parsedRows(delivery: DeliveryResult): Promise<InventoryRow[]> {
  const text = (await bytesOf(delivery.destinationBucket, delivery.manifestKey)).toString("utf8");
  const manifest = parseInventoryManifest(text, delivery.manifestKey);
  const rows: InventoryRow[] = [];
  for (const f of manifest.files) {
    const body = Readable.from([await bytesOf(delivery.destinationBucket, f.key)]);
    for await (const row of inventoryRows(body, manifest.columns, f.key)) rows.push(row);
  }
  return rows;
}

const share = (rows: InventoryRow[], p: (r: InventoryRow) => boolean) => rows.filter(p).length / rows.length;

describe("synthetic inventory delivery", () => {
  it("writes data files, manifest.json, manifest.checksum and symlink.txt as a real delivery does", async () => {
    const { src, dest, id } = await configured();
    const delivery = await env.admin.deliverSyntheticInventory({
      bucket: src,
      configurationId: id,
      rows: 2_500,
      maxRowsPerFile: 1_000,
      seed: 7,
    });

    expect(delivery.rows).toBe(2_500);
    expect(delivery.dataFiles.map((f) => f.rows)).toEqual([1_000, 1_000, 500]);
    expect(delivery.manifestKey).toMatch(
      new RegExp(`^inv/${src}/${id}/\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\dZ/manifest\\.json$`),
    );
    const manifestBody = await bytesOf(dest, delivery.manifestKey);
    const manifest = JSON.parse(manifestBody.toString("utf8"));
    expect(manifest).toMatchObject({
      sourceBucket: src,
      destinationBucket: `arn:aws:s3:::${dest}`,
      version: "2016-11-30",
      creationTimestamp: delivery.creationTimestamp,
      fileFormat: "CSV",
      fileSchema:
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, EncryptionStatus, BucketKeyStatus",
    });
    expect(manifest.files).toEqual(delivery.dataFiles.map(({ rows: _, ...f }) => f));
    for (const f of delivery.dataFiles) {
      expect(f.key).toMatch(new RegExp(`^inv/${src}/${id}/data/[0-9a-f-]{36}\\.csv\\.gz$`));
      const body = await bytesOf(dest, f.key);
      expect(body.length).toBe(f.size);
      expect(createHash("md5").update(body).digest("hex")).toBe(f.MD5checksum);
    }
    const checksum = (await bytesOf(dest, delivery.checksumKey)).toString("utf8");
    expect(checksum).toBe(createHash("md5").update(manifestBody).digest("hex"));
    expect(delivery.symlinkKey).toMatch(
      new RegExp(`^inv/${src}/${id}/hive/dt=\\d{4}-\\d\\d-\\d\\d-\\d\\d-\\d\\d/symlink\\.txt$`),
    );
    const symlink = (await bytesOf(dest, delivery.symlinkKey)).toString("utf8");
    expect(symlink).toBe(delivery.dataFiles.map((f) => `s3://${dest}/${f.key}\n`).join(""));

    // Only the report's files are objects: the source bucket stays empty.
    const versions = await env.s3.send(new ListObjectVersionsCommand({ Bucket: src }));
    expect(versions.Versions ?? []).toEqual([]);
    expect(versions.DeleteMarkers ?? []).toEqual([]);
  });

  it("gives rows rekey's parser reads: every version, the documented mix, realistic keys", async () => {
    const { src, id } = await configured();
    const delivery = await env.admin.deliverSyntheticInventory({ bucket: src, configurationId: id, rows: 4_000 });
    const rows = await parsedRows(delivery);

    expect(rows).toHaveLength(4_000);
    expect(rows.every((r) => r.bucket === src && r.versionId?.length === 32)).toBe(true);
    expect(share(rows, (r) => !r.isLatest)).toBeGreaterThan(0.07);
    expect(share(rows, (r) => !r.isLatest)).toBeLessThan(0.13);
    expect(share(rows, (r) => r.isDeleteMarker)).toBeGreaterThan(0.01);
    expect(share(rows, (r) => r.isDeleteMarker)).toBeLessThan(0.03);
    const objects = rows.filter((r) => !r.isDeleteMarker);
    expect(share(objects, (r) => r.encryptionStatus === "NOT-SSE")).toBeCloseTo(0.5, 1);
    expect(share(objects, (r) => r.encryptionStatus === "SSE-S3")).toBeCloseTo(0.3, 1);
    expect(share(objects, (r) => r.encryptionStatus === "SSE-KMS")).toBeCloseTo(0.2, 1);
    const kms = objects.filter((r) => r.encryptionStatus === "SSE-KMS");
    expect(new Set(kms.map((r) => r.bucketKeyStatus))).toEqual(new Set(["ENABLED", "DISABLED"]));
    expect(share(objects, (r) => r.storageClass === "STANDARD")).toBeGreaterThan(0.7);
    // Versions of a key follow the latest one.
    for (const [i, r] of rows.entries()) if (!r.isLatest) expect(r.key).toBe(rows[i - 1]?.key);
    const keys = [...new Set(rows.map((r) => r.key))];
    expect(keys.every((k) => k.length >= 60 && k.length <= 100)).toBe(true);
    for (const special of ["+", "%", ",", '"', " ", "\u00e9", "\u65e5"]) {
      expect(
        keys.some((k) => k.includes(special)),
        special,
      ).toBe(true);
    }
  });

  it("is deterministic for a seed and differs between seeds", async () => {
    const { src, id } = await configured();
    const request = { bucket: src, configurationId: id, rows: 1_500, maxRowsPerFile: 700, seed: 42 };
    const first = await env.admin.deliverSyntheticInventory(request);
    const again = await env.admin.deliverSyntheticInventory(request);
    const other = await env.admin.deliverSyntheticInventory({ ...request, seed: 43 });

    const sums = (d: DeliveryResult) => d.dataFiles.map((f) => `${f.MD5checksum} ${f.size} ${f.rows}`);
    expect(sums(again)).toEqual(sums(first));
    expect(again.manifestKey).not.toBe(first.manifestKey);
    expect(sums(other)).not.toEqual(sums(first));
  });

  it("follows the configuration: current versions only, mix as asked", async () => {
    const { src, id } = await configured({ IncludedObjectVersions: "Current" });
    const delivery = await env.admin.deliverSyntheticInventory({
      bucket: src,
      configurationId: id,
      rows: 1_000,
      mix: { notSse: 0, sseS3: 0, sseKms: 1, bucketKeyDisabled: 1 },
    });
    const rows = await parsedRows(delivery);

    expect(rows).toHaveLength(1_000);
    expect(rows.every((r) => r.isLatest && !r.isDeleteMarker && r.versionId === undefined)).toBe(true);
    expect(new Set(rows.map((r) => `${r.encryptionStatus} ${r.bucketKeyStatus}`))).toEqual(
      new Set(["SSE-KMS DISABLED"]),
    );
  });

  it("writes Parquet reports through the Parquet writer", async () => {
    const { src, dest, id } = await configured({}, "Parquet");
    const delivery = await env.admin.deliverSyntheticInventory({ bucket: src, configurationId: id, rows: 300 });
    const manifest = JSON.parse((await bytesOf(dest, delivery.manifestKey)).toString("utf8"));

    expect(manifest.fileFormat).toBe("Parquet");
    expect(manifest.fileSchema).toMatch(/^message s3\.inventory \{ required binary bucket \(UTF8\);/);
    const body = await bytesOf(dest, delivery.dataFiles[0]?.key ?? "");
    expect(body.subarray(0, 4).toString("latin1")).toBe("PAR1");
  });

  it("refuses a bad request and an unknown configuration", async () => {
    const { src, id } = await configured();
    const bad = await env.admin
      .deliverSyntheticInventory({ bucket: src, configurationId: id, rows: -1 })
      .catch((e) => e);
    expect(bad).toBeInstanceOf(SandboxAdminError);
    expect((bad as SandboxAdminError).code).toBe("InvalidAdminRequest");
    const unknown = await env.admin
      .deliverSyntheticInventory({ bucket: src, configurationId: "nope", rows: 1 })
      .catch((e) => e);
    expect((unknown as SandboxAdminError).code).toBe("NoSuchConfiguration");
  });

  it("is planned by the real step: every row seen, versions and delete markers counted", async () => {
    const { src, id } = await configured();
    const delivery = await env.admin.deliverSyntheticInventory({ bucket: src, configurationId: id, rows: 3_000 });
    const rows = await parsedRows(delivery);
    const work = `syn-work-${n}`;
    await env.s3.send(new CreateBucketCommand({ Bucket: work }));
    const { region, accountId } = env.sandbox.identity;
    const run: RunContext = {
      runId: "synthetic",
      executionId: `arn:aws:states:${region}:${accountId}:execution:rekey:synthetic`,
      bucket: src,
      kmsKeyArn: `arn:aws:kms:${region}:${accountId}:key/00000000-0000-0000-0000-00000000beef`,
      region,
      accountId,
      workBucket: work,
      source: "inventory",
      engine: "stream",
      runPrefix: `runs/${src}/synthetic/`,
      startedAt: new Date().toISOString(),
      options: RunOptionsSchema.parse({}),
    };
    const inventory = {
      found: true as const,
      bucket: delivery.destinationBucket,
      manifestKey: delivery.manifestKey,
      creationTimestamp: delivery.creationTimestamp,
    };
    const { plan } = await planInProcess(
      { run, inventory },
      {
        clients: rekeyClients(env.sandbox),
        config: { batchRoleArn: `arn:aws:iam::${accountId}:role/rekey-batch` },
        log: silentLogger,
        now: () => new Date(),
      },
    );
    const stored = JSON.parse((await bytesOf(work, plan.planKey)).toString("utf8"));

    expect(stored.tally.seen.count).toBe(3_000);
    // Every delete marker, latest or not, is counted as one; noncurrent versions are the other rows not latest.
    expect(stored.tally.notCurrent["delete-marker"].count).toBe(rows.filter((r) => r.isDeleteMarker).length);
    expect(stored.tally.notCurrent["noncurrent-version"].count).toBe(
      rows.filter((r) => !r.isLatest && !r.isDeleteMarker).length,
    );
    const planned = plan.manifests.reduce((sum, m) => sum + m.objects, 0);
    const current = rows.filter((r) => r.isLatest && !r.isDeleteMarker);
    const toChange = current.filter(
      (r) =>
        r.encryptionStatus === "NOT-SSE" ||
        r.encryptionStatus === "SSE-S3" ||
        (r.encryptionStatus === "SSE-KMS" && r.bucketKeyStatus === "DISABLED"),
    );
    // NOT-SSE in GLACIER is skipped, and NOT-SSE over 5 GiB goes to the large-object list.
    expect(planned).toBeGreaterThan(0.8 * toChange.length);
    expect(planned).toBeLessThanOrEqual(toChange.length);
  }, 60_000);
});
