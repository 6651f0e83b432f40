import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RekeyClients, rekeyClients } from "../../local/sandbox-clients.ts";
import { encodeInventoryKey } from "../../sandbox/s3/inventory-rows.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { queryInventory } from "../../steps/aws/inventory-athena.ts";
import { getBytes } from "../../steps/aws/s3-io.ts";
import { decodeManifestKey } from "../../steps/domain/batch-manifest.ts";
import { type Classification, classifyInventoryRow, needsKeyCheck } from "../../steps/domain/classify.ts";
import { type InventoryColumn, type InventoryRow, inventoryRowBatches } from "../../steps/domain/inventory.ts";
import { parseInventoryManifest } from "../../steps/domain/inventory-manifest.ts";
import { inventoryTable, planColumns } from "../../steps/domain/inventory-queries.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import type { AthenaConfig } from "../../steps/runtime/step.ts";
import { athenaWorkGroupWithDatabase } from "../support/athena.ts";

/**
 * The athena engine's routes (steps/domain/inventory-routes.ts) decide every row as classifyInventoryRow does: an
 * inventory delivery written by hand, with every branch of the classification (encryptions, storage classes and
 * Intelligent-Tiering tiers, Object Lock retentions running, ended and unreadable, legal holds, Bucket Key statuses,
 * missing values, keys with reserved and non-ASCII characters and keys too long for a manifest, other versions), is
 * routed by the sandbox's Athena, and each key's route read back from the files Athena wrote is compared with
 * classifyInventoryRow's verdict on the same row.
 */

const BUCKET = "routes-source";
const DESTINATION = "routes-inventory";
const WORK = "routes-work";
const athena: AthenaConfig = { workGroup: "rekey-routes", database: "rekey_routes" };
const CREATED = new Date("2026-06-01T12:00:00.000Z");
const FUTURE = "2031-01-01T00:00:00.000Z";
const PAST = "2026-05-01T00:00:00.000Z";
const COLUMNS: InventoryColumn[] = [
  "Bucket",
  "Key",
  "VersionId",
  "IsLatest",
  "IsDeleteMarker",
  "Size",
  "LastModifiedDate",
  "ETag",
  "StorageClass",
  "EncryptionStatus",
  "ObjectLockRetainUntilDate",
  "ObjectLockMode",
  "ObjectLockLegalHoldStatus",
  "IntelligentTieringAccessTier",
  "BucketKeyStatus",
];

const ENCRYPTIONS = ["NOT-SSE", "SSE-S3", "SSE-KMS", "SSE-C", "DSSE-KMS", "", "SSE-UNKNOWN"];
const CLASSES: [string, string][] = [
  ["STANDARD", ""],
  ["STANDARD_IA", ""],
  ["GLACIER", ""],
  ["DEEP_ARCHIVE", ""],
  ["INTELLIGENT_TIERING", "ARCHIVE_ACCESS"],
  ["INTELLIGENT_TIERING", "FREQUENT"],
  ["REDUCED_REDUNDANCY", ""],
  ["", ""],
];
/** [mode, retain until, legal hold] */
const LOCKS: [string, string, string][] = [
  ["", "", ""],
  ["COMPLIANCE", FUTURE, "OFF"],
  ["COMPLIANCE", PAST, "OFF"],
  ["GOVERNANCE", FUTURE, ""],
  ["GOVERNANCE", PAST, "ON"],
  ["GOVERNANCE", "not a date", ""],
];
const BUCKET_KEYS = ["", "ENABLED", "DISABLED"];
const SIZES = ["10", String(6 * 1024 ** 3), ""];
const KEY_SHAPES = [
  (i: number) => `plain/${i}.txt`,
  (i: number) => `odd/a b+c*d~e!'(f)%g,h"i/é 日本/${i}`,
  (i: number) => `long/${"é".repeat(200)}/${i}`,
];

/** Every combination once, with some other versions and delete markers among them. */
function inventoryLines(): string[][] {
  const rows: string[][] = [];
  let i = 0;
  for (const enc of ENCRYPTIONS)
    for (const [storageClass, tier] of CLASSES)
      for (const [mode, until, hold] of LOCKS)
        for (const bucketKey of BUCKET_KEYS)
          for (const size of SIZES) {
            const key = KEY_SHAPES[i % KEY_SHAPES.length]?.(i) ?? "";
            const latest = i % 11 === 0 ? "false" : "true";
            const marker = i % 13 === 0 ? "true" : "false";
            rows.push([
              BUCKET,
              encodeInventoryKey(key),
              `v${i}`,
              latest,
              marker,
              size,
              "2026-01-01T00:00:00.000Z",
              `etag${i}`,
              storageClass,
              enc,
              until,
              mode,
              hold,
              tier,
              bucketKey,
            ]);
            i++;
          }
  return rows;
}

let sandbox: Sandbox;
let clients: RekeyClients;
let manifestKey: string;
let rows: InventoryRow[];

beforeAll(async () => {
  sandbox = await startSandbox();
  clients = rekeyClients(sandbox);
  for (const Bucket of [DESTINATION, WORK]) await clients.s3.send(new CreateBucketCommand({ Bucket }));
  const csv = inventoryLines()
    .map((fields) => `${fields.map((f) => `"${f.replaceAll('"', '""')}"`).join(",")}\n`)
    .join("");
  const data = gzipSync(Buffer.from(csv, "utf8"));
  const folder = `inv/${BUCKET}/config`;
  const dataKey = `${folder}/data/routes.csv.gz`;
  manifestKey = `${folder}/2026-06-01T12-00Z/manifest.json`;
  const manifest = {
    sourceBucket: BUCKET,
    destinationBucket: `arn:aws:s3:::${DESTINATION}`,
    version: "2016-11-30",
    creationTimestamp: String(CREATED.getTime()),
    fileFormat: "CSV",
    fileSchema: COLUMNS.join(", "),
    files: [{ key: dataKey, size: data.length, MD5checksum: createHash("md5").update(data).digest("hex") }],
  };
  const put = (Key: string, Body: string | Buffer) =>
    clients.s3.send(new PutObjectCommand({ Bucket: DESTINATION, Key, Body }));
  await put(dataKey, data);
  await put(manifestKey, JSON.stringify(manifest));
  await put(`${folder}/hive/dt=2026-06-01-12-00/symlink.txt`, `s3://${DESTINATION}/${dataKey}\n`);
  rows = [];
  for await (const batch of inventoryRowBatches(Readable.from([data]), COLUMNS, dataKey)) rows.push(...batch);
  await athenaWorkGroupWithDatabase(clients.athena, athena, `s3://${WORK}/athena-results/`);
}, 120_000);

afterAll(async () => {
  await sandbox?.close();
});

/**
 * What a route is called in the files Athena writes. The multipart copies' list and the keys too long for a manifest
 * are left to the step (which classifies them with classifyInventoryRow).
 */
function routeOf(c: Classification): string {
  switch (c.kind) {
    case "copy":
      return `copy.${c.storageClass}`;
    case "update-encryption":
      return "update-encryption";
    case "skipped":
      return c.reason === "key-too-long-for-manifest" ? "step" : `skipped.${c.reason}`;
    case "large-copy":
      return "step";
    default:
      return c.kind;
  }
}

async function gunzipped(bucket: string, key: string): Promise<string> {
  return gunzipSync(await getBytes(clients.s3, bucket, key)).toString("utf8");
}

describe.each([true, false])("Athena's routes with key checks %s", (checkKeys) => {
  it("route every row as classifyInventoryRow does, and count what they route", async () => {
    const manifest = parseInventoryManifest(JSON.stringify(await readManifest()), manifestKey);
    const table = inventoryTable(athena.database, DESTINATION, manifestKey, manifest.columns, "CSV");
    const queried = await queryInventory(clients.athena, clients.s3, athena, table, `plans/routes-${checkKeys}/`, {
      bucket: BUCKET,
      now: CREATED,
      checkKeys,
    });
    const routed = new Map<string, string>();
    const stepRows: InventoryRow[] = [];
    const skippedLines: string[] = [];
    for (const file of queried.files) {
      if (file.part === undefined) {
        const body = Readable.from([await getBytes(clients.s3, file.bucket, file.key)]);
        for await (const batch of inventoryRowBatches(body, planColumns(COLUMNS), file.key)) stepRows.push(...batch);
        continue;
      }
      for (const line of (await gunzipped(file.bucket, file.key)).split("\n").filter((l) => l !== "")) {
        const [bucket, encodedKey = "", reason] = line.split(",");
        expect(bucket).toBe(BUCKET);
        const key = decodeManifestKey(encodedKey);
        expect(routed.has(key), key).toBe(false);
        routed.set(key, file.part === "skipped" ? `skipped.${reason}` : file.part);
        if (file.part === "skipped") skippedLines.push(line);
      }
    }
    for (const row of stepRows) {
      expect(routed.has(row.key), row.key).toBe(false);
      routed.set(row.key, "step");
    }

    const expected = new Map<string, string>();
    const tally = new RunTally();
    const notCurrent: Record<string, { count: number; bytes: number }> = {};
    const updatesFrom = { sseS3: { objects: 0, bytes: 0 }, sseKms: { objects: 0, bytes: 0 } };
    let keyChecksSkipped = 0;
    for (const row of rows) {
      const verdict = classifyInventoryRow(row, {
        now: CREATED,
        sseKmsKeyIsTarget: () => (checkKeys ? undefined : false),
      });
      if (verdict.kind === "not-current") {
        const slot = notCurrent[verdict.reason] ?? { count: 0, bytes: 0 };
        notCurrent[verdict.reason] = { count: slot.count + 1, bytes: slot.bytes + (row.size ?? 0) };
        continue;
      }
      const route = checkKeys && needsKeyCheck(row) ? "step" : routeOf(verdict);
      expected.set(row.key, route);
      if (route === "step") continue;
      tally.recordClassification(verdict, row);
      if (needsKeyCheck(row)) keyChecksSkipped += 1;
      if (verdict.kind === "update-encryption") {
        const from = row.encryptionStatus === "SSE-S3" ? updatesFrom.sseS3 : updatesFrom.sseKms;
        from.objects += 1;
        from.bytes += row.size ?? 0;
      }
    }
    // Every kind of route is exercised.
    const kinds = new Set(expected.values());
    for (const kind of ["copy.STANDARD", "update-encryption", "step", "skipped.archived", "skipped.missing-columns"]) {
      expect(kinds).toContain(kind);
    }
    expect(kinds.size).toBeGreaterThan(12);
    const differences = [...expected].filter(([key, route]) => routed.get(key) !== route);
    expect(differences.map(([key, route]) => `${key.slice(0, 40)}: ${route} ≠ ${routed.get(key)}`)).toEqual([]);
    expect(routed.size).toBe(expected.size);

    const counted = queried.routed;
    expect(counted?.tally).toEqual(tally.toJSON());
    expect(counted?.stepRows).toBe(stepRows.length);
    expect(counted?.updatesFrom).toEqual(updatesFrom);
    expect(counted?.keyChecksSkipped).toBe(keyChecksSkipped);
    expect(keyChecksSkipped > 0).toBe(!checkKeys);
    expect(queried.notCurrent.byReason).toEqual(notCurrent);
    // skipped.csv's line: bucket, key, reason, storage class, encryption and size as the inventory lists them.
    const odd = rows.find((r) => r.key.startsWith("odd/") && expected.get(r.key)?.startsWith("skipped."));
    expect(odd).toBeDefined();
    expect(skippedLines).toContain(
      [
        BUCKET,
        encodeURIComponent(odd?.key ?? "")
          .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
          .replaceAll("%2F", "/"),
        expected.get(odd?.key ?? "")?.slice("skipped.".length),
        odd?.storageClass ?? "",
        odd?.encryptionStatus ?? "",
        odd?.size ?? "",
      ].join(","),
    );
  }, 120_000);
});

async function readManifest(): Promise<unknown> {
  return JSON.parse((await getBytes(clients.s3, DESTINATION, manifestKey)).toString("utf8"));
}
