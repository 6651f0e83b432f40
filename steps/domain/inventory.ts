import { pipeline, Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { z } from "zod";
import { InventoryConfigurationError, InventoryFormatError } from "../../contract/errors.ts";
import { percentDecode } from "./percent-decode.ts";

/** Column names S3 Inventory writes into `fileSchema` (aws-facts 1.1, 1.4). Newer ones are tolerated and ignored. */
export const KNOWN_INVENTORY_COLUMNS = [
  "Bucket",
  "Key",
  "VersionId",
  "IsLatest",
  "IsDeleteMarker",
  "Size",
  "LastModifiedDate",
  "ETag",
  "StorageClass",
  "IsMultipartUploaded",
  "ReplicationStatus",
  "EncryptionStatus",
  "ObjectLockRetainUntilDate",
  "ObjectLockMode",
  "ObjectLockLegalHoldStatus",
  "IntelligentTieringAccessTier",
  "BucketKeyStatus",
  "ChecksumAlgorithm",
  "ObjectAccessControlList",
  "ObjectOwner",
  "LifecycleExpirationDate",
  "IntelligentTieringReferenceDate",
  "ObjectLockEventHoldDuration",
  "ObjectLockEventHoldStatus",
] as const;

export type KnownInventoryColumn = (typeof KNOWN_INVENTORY_COLUMNS)[number];
/** A `fileSchema` column; unknown names are kept so that a new AWS field does not break parsing. */
export type InventoryColumn = KnownInventoryColumn | (string & Record<never, never>);

/** Optional fields rekey cannot route without. */
export const REQUIRED_INVENTORY_FIELDS = ["Size", "StorageClass", "EncryptionStatus"] as const;
/** Optional fields that sharpen the report (Bucket Key state, Intelligent-Tiering archive tiers). */
export const RECOMMENDED_INVENTORY_FIELDS = ["BucketKeyStatus", "IntelligentTieringAccessTier"] as const;

export interface InventoryDataFile {
  /** Key of the `.csv.gz` file in the destination bucket. */
  key: string;
  size: number;
  md5: string;
}

export interface InventoryManifest {
  sourceBucket: string;
  destinationBucketArn: string;
  destinationBucket: string;
  version: string;
  /** Start of the scan the inventory reflects. */
  creationTimestamp: Date;
  fileFormat: "CSV";
  columns: InventoryColumn[];
  files: InventoryDataFile[];
}

export type EncryptionStatus =
  | "NOT-SSE"
  | "SSE-S3"
  | "SSE-KMS"
  | "SSE-C"
  | "DSSE-KMS"
  | (string & Record<never, never>);

export interface InventoryRow {
  bucket: string;
  /** Decoded object key, exactly as S3 stores it. */
  key: string;
  /** Absent when the report lists current versions only, and for null versions (written as an empty string). */
  versionId?: string;
  /** True when the report has no IsLatest column (current versions only). */
  isLatest: boolean;
  /** False when the report has no IsDeleteMarker column. */
  isDeleteMarker: boolean;
  size?: number;
  storageClass?: string;
  encryptionStatus?: EncryptionStatus;
  bucketKeyStatus?: "ENABLED" | "DISABLED";
  intelligentTieringAccessTier?: string;
  objectLockMode?: string;
  /** When the retention ends; a date in the past no longer protects the version. */
  objectLockRetainUntilDate?: string;
  /** `On` / `Off` (aws-facts 1.6). */
  objectLockLegalHoldStatus?: string;
  lastModified?: string;
  eTag?: string;
}

const manifestSchema = z.object({
  sourceBucket: z.string().min(1),
  destinationBucket: z.string().min(1),
  version: z.string().min(1),
  // AWS writes epoch milliseconds as a string ("1514944800000"); a number is accepted as the same value.
  creationTimestamp: z.union([z.string().min(1), z.number()]),
  fileFormat: z.string().min(1),
  fileSchema: z.string().min(1),
  files: z.array(
    z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative(),
      MD5checksum: z.string().min(1),
    }),
  ),
});

const BUCKET_ARN = /^arn:[a-z0-9-]+:s3:::([^/]+)$/;

function manifestProblem(manifestKey: string, problem: string, fix: string, cause?: unknown): InventoryFormatError {
  return new InventoryFormatError(problem, { file: manifestKey, fix, ...(cause === undefined ? {} : { cause }) });
}

/** Reads an S3 Inventory `manifest.json` (aws-facts 1.4). `manifestKey` names the file in errors. */
export function parseInventoryManifest(jsonText: string, manifestKey: string): InventoryManifest {
  let json: unknown;
  try {
    json = JSON.parse(jsonText);
  } catch (cause) {
    throw manifestProblem(
      manifestKey,
      "manifest.json is not valid JSON.",
      "Check that the key points at the inventory's manifest.json and that the object is complete; if S3 wrote it incompletely, wait for the next delivery.",
      cause,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw manifestProblem(
      manifestKey,
      `manifest.json does not have the S3 Inventory shape (${issues}).`,
      "Point rekey at the manifest.json of an S3 Inventory delivery (…/<source-bucket>/<config-id>/<YYYY-MM-DDTHH-MMZ>/manifest.json).",
    );
  }
  const m = parsed.data;
  if (m.fileFormat !== "CSV") {
    throw new InventoryConfigurationError(
      `${manifestKey}: the inventory is delivered as ${m.fileFormat}; the stream filter reads CSV only.`,
      {
        fix: "Change the inventory configuration's Destination Format to CSV and wait for the next delivery, or run with candidate source 'athena', which reads any format.",
      },
    );
  }
  const arn = BUCKET_ARN.exec(m.destinationBucket);
  const destinationBucket = arn?.[1];
  if (destinationBucket === undefined) {
    throw manifestProblem(
      manifestKey,
      `destinationBucket "${m.destinationBucket}" is not a bucket ARN (arn:aws:s3:::name).`,
      "Check that the file is an S3 Inventory manifest.json; S3 always writes the destination as a bucket ARN.",
    );
  }
  const millis = typeof m.creationTimestamp === "number" ? m.creationTimestamp : Number(m.creationTimestamp);
  const creationTimestamp = new Date(millis);
  if (
    !Number.isSafeInteger(millis) ||
    millis <= 0 ||
    Number.isNaN(creationTimestamp.getTime()) ||
    (typeof m.creationTimestamp === "string" && !/^\d+$/.test(m.creationTimestamp))
  ) {
    throw manifestProblem(
      manifestKey,
      `creationTimestamp "${m.creationTimestamp}" is not epoch milliseconds.`,
      "Check that the file is an S3 Inventory manifest.json; S3 writes creationTimestamp as epoch milliseconds in a string.",
    );
  }
  const columns = m.fileSchema.split(",").map((c) => c.trim());
  const seen = new Set<string>();
  for (const column of columns) {
    if (column === "" || seen.has(column)) {
      throw manifestProblem(
        manifestKey,
        `fileSchema "${m.fileSchema}" has an empty or repeated column name.`,
        "Check that the file is an S3 Inventory CSV manifest.json; its fileSchema lists each column once, separated by ', '.",
      );
    }
    seen.add(column);
  }
  for (const needed of ["Bucket", "Key"]) {
    if (!seen.has(needed)) {
      throw manifestProblem(
        manifestKey,
        `fileSchema "${m.fileSchema}" has no ${needed} column.`,
        "Check that the file is an S3 Inventory CSV manifest.json; every inventory has Bucket and Key columns.",
      );
    }
  }
  return {
    sourceBucket: m.sourceBucket,
    destinationBucketArn: m.destinationBucket,
    destinationBucket,
    version: m.version,
    creationTimestamp,
    fileFormat: "CSV",
    columns,
    files: m.files.map((f) => ({ key: f.key, size: f.size, md5: f.MD5checksum })),
  };
}

/** The columns of `needed` that the inventory lacks, in `needed` order. */
export function missingColumns(
  columns: readonly InventoryColumn[],
  needed: readonly InventoryColumn[],
): InventoryColumn[] {
  const have = new Set(columns);
  return needed.filter((c) => !have.has(c));
}

/** Throws InventoryConfigurationError when the inventory lacks any of `needed`. */
export function requireColumns(
  columns: readonly InventoryColumn[],
  needed: readonly InventoryColumn[] = REQUIRED_INVENTORY_FIELDS,
): void {
  const missing = missingColumns(columns, needed);
  if (missing.length > 0) {
    throw new InventoryConfigurationError(
      `The inventory lacks the field(s) ${missing.join(", ")}, which rekey needs to decide what each object needs.`,
      {
        fix: `Add ${missing.join(", ")} to the inventory configuration's OptionalFields (rekey also recommends ${RECOMMENDED_INVENTORY_FIELDS.join(", ")}), then wait for a delivery made after the change.`,
      },
    );
  }
}

/**
 * A line longer than this cannot be an inventory row (keys are at most 1,024 bytes, ×3 when encoded, and the
 * other fields are short; the ACL field is the largest). Without a bound a file with no newlines would be
 * buffered whole.
 */
const MAX_LINE_CHARS = 1 << 20;

interface ColumnIndexes {
  count: number;
  bucket: number;
  key: number;
  versionId: number;
  isLatest: number;
  isDeleteMarker: number;
  size: number;
  storageClass: number;
  encryptionStatus: number;
  bucketKeyStatus: number;
  intelligentTieringAccessTier: number;
  objectLockMode: number;
  objectLockRetainUntilDate: number;
  objectLockLegalHoldStatus: number;
  lastModified: number;
  eTag: number;
}

function indexColumns(columns: readonly InventoryColumn[]): ColumnIndexes {
  const at = (name: KnownInventoryColumn): number => columns.indexOf(name);
  return {
    count: columns.length,
    bucket: at("Bucket"),
    key: at("Key"),
    versionId: at("VersionId"),
    isLatest: at("IsLatest"),
    isDeleteMarker: at("IsDeleteMarker"),
    size: at("Size"),
    storageClass: at("StorageClass"),
    encryptionStatus: at("EncryptionStatus"),
    bucketKeyStatus: at("BucketKeyStatus"),
    intelligentTieringAccessTier: at("IntelligentTieringAccessTier"),
    objectLockMode: at("ObjectLockMode"),
    objectLockRetainUntilDate: at("ObjectLockRetainUntilDate"),
    objectLockLegalHoldStatus: at("ObjectLockLegalHoldStatus"),
    lastModified: at("LastModifiedDate"),
    eTag: at("ETag"),
  };
}

/**
 * Splits one CSV line into fields. Fast path for S3 Inventory's every-field-quoted lines: jump from quote to
 * quote with indexOf. Inside a field the first quote found is either its closing quote (then `,"` or the end
 * of the line follows) or the first of a doubled `""`; anything but the former goes to the full parser, so
 * the fast path never mis-splits a value holding `","`.
 */
export function splitInventoryLine(line: string): string[] | undefined {
  const n = line.length;
  if (n === 0 || line.charCodeAt(0) !== 34) return splitCsvLineSlow(line);
  const fields: string[] = [];
  let open = 0;
  for (;;) {
    const close = line.indexOf('"', open + 1);
    if (close < 0) return undefined;
    if (close === n - 1) {
      fields.push(line.slice(open + 1, close));
      return fields;
    }
    if (line.charCodeAt(close + 1) !== 44 || close + 2 >= n || line.charCodeAt(close + 2) !== 34) {
      return splitCsvLineSlow(line);
    }
    fields.push(line.slice(open + 1, close));
    open = close + 2;
  }
}

/** RFC 4180 fields of one line; undefined when a quote is unbalanced or stray. */
function splitCsvLineSlow(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    if (i < n && line.charCodeAt(i) === 34) {
      let value = "";
      let start = i + 1;
      i = start;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        if (q + 1 < n && line.charCodeAt(q + 1) === 34) {
          value += `${line.slice(start, q)}"`;
          i = q + 2;
          start = i;
          continue;
        }
        value += line.slice(start, q);
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === n) return fields;
      if (line.charCodeAt(i) !== 44) return undefined;
      i += 1;
    } else {
      const comma = line.indexOf(",", i);
      const end = comma < 0 ? n : comma;
      const value = line.slice(i, end);
      if (value.includes('"')) return undefined;
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

/** Form-style decoding of an inventory CSV key (`+` is a space, aws-facts 1.5); undefined when malformed. */
export function decodeInventoryKey(encoded: string): string | undefined {
  return percentDecode(encoded, true);
}

function parseBoolean(value: string): boolean | undefined {
  if (value === "true") return true;
  if (value === "false") return false;
  const lower = value.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  return undefined;
}

/**
 * Rows of one gzipped inventory CSV data file, in file order. Memory stays flat: the gunzip stream is pulled
 * only as fast as the consumer takes rows, and at most one partial line is held between chunks.
 * `source` (the data file's key) names the file in errors.
 */
export async function* inventoryRows(
  gzipped: Readable | AsyncIterable<Buffer>,
  columns: readonly InventoryColumn[],
  source: string,
): AsyncGenerator<InventoryRow, void, undefined> {
  for await (const batch of inventoryRowBatches(gzipped, columns, source)) yield* batch;
}

/**
 * The same rows as inventoryRows, one array per decompressed chunk (a few hundred rows). An async generator
 * pays a promise round trip per yield; a filter that handles millions of rows should use this form.
 */
export async function* inventoryRowBatches(
  gzipped: Readable | AsyncIterable<Buffer>,
  columns: readonly InventoryColumn[],
  source: string,
): AsyncGenerator<InventoryRow[], void, undefined> {
  const ix = indexColumns(columns);
  if (ix.bucket < 0 || ix.key < 0) {
    throw new InventoryFormatError("the column list has no Bucket or Key column.", {
      file: source,
      fix: "Pass the columns parsed from the delivery's manifest.json fileSchema.",
    });
  }
  const input = gzipped instanceof Readable ? gzipped : Readable.from(gzipped);
  const gunzip = createGunzip();
  // A failing read (e.g. a reset S3 connection) is not a format problem and may be worth a retry, so it is
  // rethrown as it is rather than as InventoryFormatError.
  let inputError: unknown;
  input.once("error", (e) => {
    inputError = e;
  });
  // pipeline forwards an input error into gunzip and destroys the input when the consumer stops early.
  pipeline(input, gunzip, () => {});
  gunzip.setEncoding("utf8");

  let lineNo = 0;
  let carry = "";
  const fail = (problem: string, fix: string, cause?: unknown): InventoryFormatError =>
    new InventoryFormatError(problem, { file: source, line: lineNo, fix, ...(cause === undefined ? {} : { cause }) });

  const toRow = (line: string): InventoryRow | undefined => {
    if (line.length > 0 && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (line.length === 0) return undefined;
    const f = splitInventoryLine(line);
    if (f === undefined) {
      throw fail(
        "the line is not valid quoted CSV (unbalanced or stray double quote).",
        "The data file is corrupt or truncated; download it again, or wait for the next inventory delivery.",
      );
    }
    if (f.length !== ix.count) {
      throw fail(
        `the line has ${f.length} field(s) but manifest.json fileSchema lists ${ix.count} column(s).`,
        "Read each data file with the fileSchema of the manifest.json that lists it; if they match, the file is corrupt: wait for the next delivery.",
      );
    }
    const rawKey = f[ix.key] ?? "";
    const key = decodeInventoryKey(rawKey);
    if (key === undefined) {
      throw fail(
        `the key "${rawKey}" has an invalid percent-encoding.`,
        "The data file is corrupt; download it again or wait for the next inventory delivery.",
      );
    }
    let isLatest = true;
    if (ix.isLatest >= 0) {
      const b = parseBoolean(f[ix.isLatest] ?? "");
      if (b === undefined) throw fail(`IsLatest is "${f[ix.isLatest]}", expected true or false.`, CORRUPT_FIX);
      isLatest = b;
    }
    let isDeleteMarker = false;
    if (ix.isDeleteMarker >= 0) {
      const b = parseBoolean(f[ix.isDeleteMarker] ?? "");
      if (b === undefined) {
        throw fail(`IsDeleteMarker is "${f[ix.isDeleteMarker]}", expected true or false.`, CORRUPT_FIX);
      }
      isDeleteMarker = b;
    }
    let size: number | undefined;
    if (ix.size >= 0) {
      const s = f[ix.size] ?? "";
      if (s !== "") {
        size = Number(s);
        if (!Number.isSafeInteger(size) || size < 0) throw fail(`Size is "${s}", expected a byte count.`, CORRUPT_FIX);
      }
    }
    let bucketKeyStatus: "ENABLED" | "DISABLED" | undefined;
    if (ix.bucketKeyStatus >= 0) {
      const s = f[ix.bucketKeyStatus] ?? "";
      if (s !== "") {
        const u = s.toUpperCase();
        if (u !== "ENABLED" && u !== "DISABLED") {
          throw fail(`BucketKeyStatus is "${s}", expected ENABLED or DISABLED.`, CORRUPT_FIX);
        }
        bucketKeyStatus = u;
      }
    }
    return {
      bucket: f[ix.bucket] ?? "",
      key,
      versionId: optional(f, ix.versionId),
      isLatest,
      isDeleteMarker,
      size,
      storageClass: optional(f, ix.storageClass),
      encryptionStatus: optional(f, ix.encryptionStatus),
      bucketKeyStatus,
      intelligentTieringAccessTier: optional(f, ix.intelligentTieringAccessTier),
      objectLockMode: optional(f, ix.objectLockMode),
      objectLockRetainUntilDate: optional(f, ix.objectLockRetainUntilDate),
      objectLockLegalHoldStatus: optional(f, ix.objectLockLegalHoldStatus),
      lastModified: optional(f, ix.lastModified),
      eTag: optional(f, ix.eTag),
    };
  };

  try {
    for await (const chunk of gunzip as AsyncIterable<string>) {
      const batch: InventoryRow[] = [];
      let start = 0;
      let nl = chunk.indexOf("\n");
      if (nl >= 0 && carry.length > 0) {
        lineNo += 1;
        const row = toRow(carry + chunk.slice(0, nl));
        carry = "";
        if (row) batch.push(row);
        start = nl + 1;
        nl = chunk.indexOf("\n", start);
      }
      while (nl >= 0) {
        lineNo += 1;
        const row = toRow(chunk.slice(start, nl));
        if (row) batch.push(row);
        start = nl + 1;
        nl = chunk.indexOf("\n", start);
      }
      carry = start === 0 ? carry + chunk : chunk.slice(start);
      if (batch.length > 0) yield batch;
      if (carry.length > MAX_LINE_CHARS) {
        lineNo += 1;
        throw fail(`a line is longer than ${MAX_LINE_CHARS} characters.`, CORRUPT_FIX);
      }
    }
  } catch (cause) {
    if (cause instanceof InventoryFormatError || (inputError !== undefined && cause === inputError)) throw cause;
    lineNo += 1;
    throw fail(
      `cannot decompress the data file (${cause instanceof Error ? cause.message : String(cause)}).`,
      "The .csv.gz file is damaged or truncated; check its size against manifest.json files[].size, download it again, or wait for the next inventory delivery.",
      cause,
    );
  } finally {
    gunzip.destroy();
  }
  if (carry.length > 0) {
    lineNo += 1;
    const row = toRow(carry);
    if (row) yield [row];
  }
}

const CORRUPT_FIX =
  "The data file does not match its manifest.json or is corrupt; download it again, or wait for the next inventory delivery.";

function optional(fields: readonly string[], index: number): string | undefined {
  if (index < 0) return undefined;
  const v = fields[index];
  return v === undefined || v === "" ? undefined : v;
}
