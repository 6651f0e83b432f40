/**
 * A generated S3 Inventory CSV data file that compresses like a real one, made by the sandbox's synthetic
 * inventory (sandbox/s3/inventory-synthetic.ts: all versions, every field quoted, URL-encoded UTF-8 keys, random
 * version ids and key names, 50% NOT-SSE, 30% SSE-S3, 20% SSE-KMS, half of those without a Bucket Key) and
 * written by its CSV writer. The same row count gives the same file.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { gzippedCsv } from "../sandbox/s3/inventory.ts";
import type { InventoryConfiguration } from "../sandbox/s3/inventory-configuration.ts";
import { DEFAULT_SYNTHETIC_MIX, syntheticRows } from "../sandbox/s3/inventory-synthetic.ts";
import type { InventoryColumn } from "../steps/domain/inventory.ts";

export const BENCH_BUCKET = "src-bucket";

/** The configuration the file is a report of; its fileSchema is COLUMNS. */
const CONFIGURATION: InventoryConfiguration = {
  id: "bench",
  isEnabled: true,
  destination: { bucketArn: "arn:aws:s3:::inventory-destination", format: "CSV" },
  includedObjectVersions: "All",
  optionalFields: ["Size", "LastModifiedDate", "StorageClass", "EncryptionStatus", "BucketKeyStatus"],
  frequency: "Daily",
};

export const COLUMNS: InventoryColumn[] = [
  "Bucket",
  "Key",
  "VersionId",
  "IsLatest",
  "IsDeleteMarker",
  "Size",
  "LastModifiedDate",
  "StorageClass",
  "EncryptionStatus",
  "BucketKeyStatus",
];

/** Writes `rows` rows, gzipped, to `file`; returns the file's size and MD5 (as manifest.json lists them). */
export async function generateInventory(file: string, rows: number): Promise<{ bytes: number; md5: string }> {
  const out = createWriteStream(file);
  const md5 = createHash("md5");
  let bytes = 0;
  await gzippedCsv(syntheticRows(BENCH_BUCKET, CONFIGURATION, rows, 1, DEFAULT_SYNTHETIC_MIX), (chunk) => {
    md5.update(chunk);
    bytes += chunk.length;
    out.write(chunk);
  });
  out.end();
  await once(out, "finish");
  return { bytes, md5: md5.digest("hex") };
}

/**
 * Gunzips a data file and counts its lines: the floor of any filter of it. Lines are counted so the baseline's
 * rows/s compares like with like; memchr-speed, negligible next to inflate.
 */
export async function gunzippedLines(source: NodeJS.ReadableStream): Promise<number> {
  let rows = 0;
  for await (const chunk of source.pipe(createGunzip()) as AsyncIterable<Buffer>) {
    let at = chunk.indexOf(10);
    while (at >= 0) {
      rows += 1;
      at = chunk.indexOf(10, at + 1);
    }
  }
  return rows;
}
