/**
 * A generated S3 Inventory CSV data file that compresses like a real one: all versions, every field quoted,
 * URL-encoded UTF-8 keys, random version ids and key names (what makes real inventories cost about 50 gzip bytes
 * a row), 50% NOT-SSE, 30% SSE-S3, 20% SSE-KMS (half with a Bucket Key). The same row count gives the same file: the
 * random bytes come from AES-CTR over zeros with a fixed key.
 */
import { createCipheriv, createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { createGzip } from "node:zlib";
import type { InventoryColumn } from "../steps/domain/inventory.ts";

export const BENCH_BUCKET = "src-bucket";

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

const DIRS = ["logs", "images", "exports", "backups", "reports", "caf\u00e9 menus", "tmp", "data"];
const WORDS = ["part", "object", "file", "chunk", "r\u00e9sum\u00e9", "snapshot", "check \u2713", "a+b"];
const CLASSES = [...Array<string>(16).fill("STANDARD"), "STANDARD_IA", "STANDARD_IA", "GLACIER", "INTELLIGENT_TIERING"];
const RANDOM_BYTES_PER_ROW = 64;
const ROWS_PER_CHUNK = 1000;

/** Encoded as S3 Inventory encodes keys: URL-encoded UTF-8, a space as "+". */
function encodeKey(key: string): string {
  return encodeURIComponent(key).replaceAll("%20", "+");
}

/** Writes `rows` rows, gzipped, to `file`; returns the file's size and MD5 (as manifest.json lists them). */
export async function generateInventory(file: string, rows: number): Promise<{ bytes: number; md5: string }> {
  const gzip = createGzip();
  const out = createWriteStream(file);
  const md5 = createHash("md5");
  let bytes = 0;
  gzip.on("data", (chunk: Buffer) => {
    md5.update(chunk);
    bytes += chunk.length;
  });
  gzip.pipe(out);
  const random = createCipheriv("aes-128-ctr", Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const baseTime = Date.UTC(2024, 0, 1);
  let version = 0;
  let key = "";
  for (let start = 0; start < rows; start += ROWS_PER_CHUNK) {
    const n = Math.min(rows, start + ROWS_PER_CHUNK) - start;
    const r = random.update(Buffer.alloc(n * RANDOM_BYTES_PER_ROW));
    let chunk = "";
    for (let j = 0; j < n; j++) {
      const o = j * RANDOM_BYTES_PER_ROW;
      const b = (i: number): number => r[o + i] ?? 0;
      const versionId = r.toString("base64url", o + 16, o + 40);
      // Several versions of one key in a row, as an all-versions inventory lists them: the first is the latest.
      if (version === 0 || b(40) < 160) {
        version = 0;
        key = `${DIRS[b(58) % DIRS.length]}/${2015 + (b(59) % 10)}/${WORDS[b(60) % WORDS.length]}-${r.toString("hex", o + 54, o + 58)}.parquet`;
      }
      const isLatest = version === 0;
      version += 1;
      const isMarker = !isLatest && b(41) < 8;
      const enc = b(42) % 10;
      const encryption = enc < 5 ? "NOT-SSE" : enc < 8 ? "SSE-S3" : "SSE-KMS";
      const bucketKey = encryption === "SSE-KMS" ? (b(43) < 128 ? "ENABLED" : "DISABLED") : "";
      const storageClass = CLASSES[b(44) % CLASSES.length] ?? "STANDARD";
      const size = b(45) === 0 ? 6_000_000_000 + b(46) : r.readUInt32LE(o + 46) % 50_000_000;
      const modified = new Date(baseTime + (r.readUInt32LE(o + 50) % 63_072_000) * 1000).toISOString();
      const fields = isMarker
        ? [BENCH_BUCKET, encodeKey(key), versionId, "false", "true", "", modified, "", "", ""]
        : [
            BENCH_BUCKET,
            encodeKey(key),
            versionId,
            String(isLatest),
            "false",
            String(size),
            modified,
            storageClass,
            encryption,
            bucketKey,
          ];
      chunk += `"${fields.join('","')}"\n`;
    }
    if (!gzip.write(chunk)) await once(gzip, "drain");
  }
  gzip.end();
  await once(out, "finish");
  return { bytes, md5: md5.digest("hex") };
}
