import { createCipheriv, createHash } from "node:crypto";
import type { EncryptionResolver } from "./encryption.ts";
import { DEFAULT_MAX_ROWS_PER_FILE, type DeliveryResult, InventoryDeliveryError, openDelivery } from "./inventory.ts";
import type { InventoryConfiguration } from "./inventory-configuration.ts";
import { inventoryRow, optionalFieldsOf } from "./inventory-rows.ts";
import type { ObjectEncryption, ObjectVersion, S3Store, StorageClass } from "./store.ts";

/**
 * A synthetic inventory: the report S3 would deliver for a bucket of `rows` rows, written per the bucket's real
 * inventory configuration by the real delivery's writers (sandbox/s3/inventory.ts), of objects that exist only in
 * the report. For measuring inventory readers at scale without holding millions of objects: one data file's rows
 * are in memory at a time, and only the report's files are stored.
 *
 * The rows compress like a real inventory's (about 50 gzip bytes a row in CSV): random version ids, key names,
 * sizes and dates; every version listed (the newest first), some noncurrent, some delete markers; keys of 60-100
 * characters, some with `+ % , "`, spaces and non-ASCII. The same seed, mix, configuration and row count give the
 * same rows; the random bytes are AES-CTR over zeros keyed by the seed.
 */

/** Shares of rows (noncurrent, deleteMarkers) and of objects (the encryption mix, bucketKeyDisabled of SSE-KMS). */
export interface SyntheticMix {
  /** Rows that are noncurrent versions of the key above them (for IncludedObjectVersions "All"). */
  noncurrent: number;
  /** Rows that are delete markers: the latest version of a deleted key, or a noncurrent one. */
  deleteMarkers: number;
  notSse: number;
  sseS3: number;
  sseKms: number;
  /** Of SSE-KMS objects, those without a Bucket Key. */
  bucketKeyDisabled: number;
}

export const DEFAULT_SYNTHETIC_MIX: SyntheticMix = {
  noncurrent: 0.1,
  deleteMarkers: 0.02,
  notSse: 0.5,
  sseS3: 0.3,
  sseKms: 0.2,
  bucketKeyDisabled: 0.5,
};

export interface SyntheticInventoryRequest {
  bucket: string;
  configurationId: string;
  rows: number;
  maxRowsPerFile?: number | undefined;
  seed?: number | undefined;
  mix?: Partial<SyntheticMix> | undefined;
}

/**
 * Writes a synthetic report of `rows` rows for the bucket's inventory configuration `configurationId` (its
 * destination, prefix, format, IncludedObjectVersions and OptionalFields), answering as deliverInventory does.
 */
export async function deliverSyntheticInventory(
  store: S3Store,
  encryption: EncryptionResolver,
  request: SyntheticInventoryRequest,
  requested: Date,
): Promise<DeliveryResult> {
  const maxRowsPerFile = request.maxRowsPerFile ?? DEFAULT_MAX_ROWS_PER_FILE;
  if (!Number.isSafeInteger(request.rows) || request.rows < 0) {
    throw new InventoryDeliveryError("InvalidRows", "rows must be a non-negative integer.");
  }
  const mix = { ...DEFAULT_SYNTHETIC_MIX, ...request.mix };
  const delivery = openDelivery(store, encryption, request.bucket, request.configurationId, maxRowsPerFile);
  const rows = syntheticRows(delivery.source.name, delivery.config, request.rows, request.seed ?? 1, mix);
  // Each file is written as soon as it is made, and a CSV file is compressed as its rows are made: memory holds
  // the compressed files (as the store does), not the rows.
  let written = 0;
  do {
    const file = await delivery.makeDataFile(take(rows, Math.min(maxRowsPerFile, request.rows - written)));
    delivery.writeDataFile(file);
    written += file.rows;
  } while (written < request.rows && written > 0);
  return delivery.finish(requested);
}

/** The next `n` rows of `rows`, leaving the rest to the next call. */
function* take<T>(rows: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const next = rows.next();
    if (next.done) return;
    yield next.value;
  }
}

const DIRS = [
  "customer-uploads/originals",
  "logs/application/eu-west-1",
  "images/originals/full-size",
  "exports/finance/ledger",
  "backups/db-snapshots/daily",
  "reports/quarterly/published",
  "caf\u00e9 menus/archive/scans",
  "data/warehouse/partitions",
];
const WORDS = [
  "invoice-copy",
  "object-data",
  "thumbnail-large",
  "chunk-segment",
  "r\u00e9sum\u00e9-final",
  "snapshot-full",
  "statement-monthly",
  "part-export",
];
const SPECIAL = [" (copy)", "+plus", "100%", "a,b", 'say "hi"', "na\u00efve-\u65e5\u672c", " \u00fcber", "~tilde"];
const EXTENSIONS = ["parquet", "json.gz", "jpg", "pdf", "csv", "log"];
const CLASSES: StorageClass[] = [
  ...Array<StorageClass>(16).fill("STANDARD"),
  "STANDARD_IA",
  "STANDARD_IA",
  "GLACIER",
  "INTELLIGENT_TIERING",
];
const RANDOM_BYTES_PER_ROW = 80;
const ROWS_PER_DRAW = 1000;
const MAX_VERSIONS = 50;
const BASE_TIME = Date.UTC(2019, 0, 1);
const SPAN_SECONDS = 6 * 365 * 86_400;
const KMS_KEY = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-00000000face";
const EMPTY = Object.freeze({}) as Record<string, string>;

/**
 * The report's rows, in fileSchema order with keys as they are (inventoryRow, as a real delivery makes them), until
 * `count` rows have been given: a "Current" configuration skips the noncurrent versions and delete markers made.
 */
export function* syntheticRows(
  bucketName: string,
  config: InventoryConfiguration,
  count: number,
  seed: number,
  mix: SyntheticMix,
): Generator<string[], void, undefined> {
  const optional = optionalFieldsOf(config);
  const cipherKey = createHash("sha256").update(`sandbox-synthetic-inventory:${seed}`).digest().subarray(0, 16);
  const random = createCipheriv("aes-128-ctr", cipherKey, Buffer.alloc(16, 0));
  const encTotal = mix.notSse + mix.sseS3 + mix.sseKms;
  if (!(encTotal > 0)) throw new InventoryDeliveryError("InvalidMix", "notSse + sseS3 + sseKms must be above 0.");
  const share = (r: Buffer, at: number) => r.readUInt16LE(at) / 65_536;
  let given = 0;
  let key = "";
  let versions = 0;
  let modified = BASE_TIME;
  while (given < count) {
    const r = random.update(Buffer.alloc(ROWS_PER_DRAW * RANDOM_BYTES_PER_ROW));
    for (let o = 0; o < r.length && given < count; o += RANDOM_BYTES_PER_ROW) {
      const b = (i: number): number => r[o + i] ?? 0;
      // Versions of one key follow each other, the newest first, as an all-versions inventory lists them.
      const noncurrent = versions > 0 && versions < MAX_VERSIONS && share(r, o) < mix.noncurrent;
      if (!noncurrent) {
        versions = 0;
        modified = BASE_TIME + (r.readUInt32LE(o + 14) % SPAN_SECONDS) * 1000;
        key = keyName(r, o, b, new Date(modified));
      } else {
        modified -= (1 + (r.readUInt32LE(o + 14) % 2_592_000)) * 1000;
      }
      const isLatest = versions === 0;
      versions += 1;
      const isDeleteMarker = share(r, o + 2) < mix.deleteMarkers;
      const e = share(r, o + 4) * encTotal;
      const encryption: ObjectEncryption =
        e < mix.notSse
          ? { type: "NOT-SSE" }
          : e < mix.notSse + mix.sseS3
            ? { type: "SSE-S3" }
            : { type: "SSE-KMS", keyArn: KMS_KEY, bucketKeyEnabled: share(r, o + 6) >= mix.bucketKeyDisabled };
      const multipart = b(55) < 32;
      const version: ObjectVersion = {
        key,
        versionId: r.toString("base64url", o + 18, o + 42),
        isDeleteMarker,
        size: isDeleteMarker ? 0 : b(9) === 0 ? 6_000_000_000 + b(10) : r.readUInt32LE(o + 10) % 50_000_000,
        etag: `"${r.toString("hex", o + 64, o + 80)}${multipart ? `-${1 + (b(56) % 64)}` : ""}"`,
        lastModified: new Date(modified),
        content: EMPTY,
        metadata: EMPTY,
        tags: EMPTY,
        storageClass: CLASSES[b(8) % CLASSES.length] ?? "STANDARD",
        encryption,
        acl: "private",
        ...(multipart ? { partsCount: 1 + (b(56) % 64) } : {}),
      };
      const row = inventoryRow(bucketName, version, isLatest, config, optional);
      if (row) {
        given += 1;
        yield row;
      }
    }
  }
}

/** A key of about 60-100 characters: folders, a month, a word, 12 random hex digits, now and then a special part. */
function keyName(r: Buffer, o: number, b: (i: number) => number, when: Date): string {
  const month = when.toISOString().slice(0, 7).replace("-", "/");
  const special = b(54) < 24 ? (SPECIAL[b(57) % SPECIAL.length] ?? "") : "";
  const tenant = String(b(43) % 32).padStart(4, "0");
  return `${DIRS[b(42) % DIRS.length]}/tenant-${tenant}/${month}/${WORDS[b(44) % WORDS.length]}-${r.toString("hex", o + 45, o + 51)}${special}.${EXTENSIONS[b(53) % EXTENSIONS.length]}`;
}
