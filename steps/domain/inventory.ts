import { pipeline, Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { InventoryFormatError } from "../../contract/errors.ts";
import { percentDecode } from "./percent-decode.ts";

/**
 * The rows of an S3 Inventory CSV data file. Column names S3 Inventory writes into `fileSchema`
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html); newer ones are tolerated and
 * ignored. The delivery's manifest.json is read by steps/domain/inventory-manifest.ts.
 */
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
  /**
   * Read with `keys: "either"` only, when the key as written is not the same text once decoded: the key as
   * written, which may be the real key if the file holds keys unencoded.
   */
  keyAsWritten?: string;
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
  /** `On` / `Off`. */
  objectLockLegalHoldStatus?: string;
  lastModified?: string;
  eTag?: string;
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

/** Form-style decoding of an inventory CSV key (URL-encoded, `+` is a space); undefined when malformed. */
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
  /**
   * "encoded": keys are URL-encoded, as S3 Inventory writes them. "either": they may also be written as they are
   * (a generated manifest: AWS does not say); a key that does not decode is taken as written, and one that
   * decodes to other text carries `keyAsWritten` for the caller to decide.
   */
  keys: "encoded" | "either" = "encoded",
  /**
   * How the rows arrive: gzipped CSV as S3 Inventory writes it (the default), or plain CSV, such as S3 Select's
   * Records and Athena's result file; `header` skips a first line of column names (Athena's results have one).
   */
  text: { compression: "gzip" | "none"; header?: boolean } = { compression: "gzip" },
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
  if (text.compression === "gzip") pipeline(input, gunzip, () => {});
  const decoded = text.compression === "gzip" ? gunzip : input;
  decoded.setEncoding("utf8");

  let lineNo = 0;
  let headerLeft = text.header === true;
  let carry = "";
  const fail = (problem: string, fix: string, cause?: unknown): InventoryFormatError =>
    new InventoryFormatError(problem, { file: source, line: lineNo, fix, ...(cause === undefined ? {} : { cause }) });

  const toRow = (line: string): InventoryRow | undefined => {
    if (line.length > 0 && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (line.length === 0) return undefined;
    if (headerLeft) {
      headerLeft = false;
      return undefined;
    }
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
    return buildRow(f, ix, keys, fail);
  };

  try {
    for await (const chunk of decoded as AsyncIterable<string>) {
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
    if (decoded !== gunzip) input.destroy();
  }
  if (carry.length > 0) {
    lineNo += 1;
    const row = toRow(carry);
    if (row) yield [row];
  }
}

/**
 * One row from its fields in the manifest's column order: CSV text, or a columnar file's values written as CSV text.
 * `keys` as inventoryRowBatches takes it, or "raw": the key is written as it is (Parquet and ORC do not encode it).
 */
function buildRow(
  f: readonly string[],
  ix: ColumnIndexes,
  keys: "encoded" | "either" | "raw",
  fail: (problem: string, fix: string) => InventoryFormatError,
): InventoryRow {
  const rawKey = f[ix.key] ?? "";
  const decoded = keys === "raw" ? rawKey : decodeInventoryKey(rawKey);
  const key = decoded === undefined && keys === "either" ? rawKey : decoded;
  const keyAsWritten = keys === "either" && decoded !== undefined && decoded !== rawKey ? rawKey : undefined;
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
    keyAsWritten,
    versionId: optional(f, ix.versionId),
    isLatest,
    isDeleteMarker,
    size,
    storageClass: optional(f, ix.storageClass),
    encryptionStatus: optional(f, ix.encryptionStatus),
    bucketKeyStatus,
    intelligentTieringAccessTier: optional(f, ix.intelligentTieringAccessTier),
    objectLockMode: optional(f, ix.objectLockMode),
    objectLockRetainUntilDate: dateOf(optional(f, ix.objectLockRetainUntilDate)),
    objectLockLegalHoldStatus: optional(f, ix.objectLockLegalHoldStatus),
    lastModified: dateOf(optional(f, ix.lastModified)),
    eTag: optional(f, ix.eTag),
  };
}

/**
 * Rows of a columnar data file (Parquet) from its values, each row's values in the manifest's column order written as
 * the CSV would write them ("" for a value the object does not have), keys as they are. `position` (the row's number
 * in the file) names the row in errors.
 */
export function columnarRowReader(
  columns: readonly InventoryColumn[],
  source: string,
): (fields: readonly string[], position: number) => InventoryRow {
  const ix = indexColumns(columns);
  if (ix.bucket < 0 || ix.key < 0) {
    throw new InventoryFormatError("the column list has no Bucket or Key column.", {
      file: source,
      fix: "Pass the columns parsed from the delivery's manifest.json fileSchema.",
    });
  }
  return (fields, position) => {
    if (fields.length !== ix.count) {
      throw new InventoryFormatError(
        `row ${position} has ${fields.length} value(s) but manifest.json fileSchema lists ${ix.count} column(s).`,
        { file: source, fix: CORRUPT_FIX },
      );
    }
    return buildRow(
      fields,
      ix,
      "raw",
      (problem, fix) => new InventoryFormatError(`row ${position}: ${problem}`, { file: source, fix }),
    );
  };
}

const CORRUPT_FIX =
  "The data file does not match its manifest.json or is corrupt; download it again, or wait for the next inventory delivery.";

function optional(fields: readonly string[], index: number): string | undefined {
  if (index < 0) return undefined;
  const v = fields[index];
  return v === undefined || v === "" ? undefined : v;
}

/**
 * A date as CSV inventories write it (ISO 8601). Parquet and ORC inventories hold epoch milliseconds, which the
 * athena engine reads as digits (steps/domain/inventory-queries.ts): those become the same ISO text.
 */
function dateOf(value: string | undefined): string | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return value;
  return new Date(Number(value)).toISOString();
}
