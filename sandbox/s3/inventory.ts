import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createGzip } from "node:zlib";
import { ServiceError } from "../http.ts";
import { parseBoolean } from "../wire-values.ts";
import type { EncryptionResolver } from "./encryption.ts";
import { etagFor, md5Hex } from "./encryption.ts";
import { S3Error, s3Errors } from "./errors.ts";
import { type InventoryConfiguration, OPTIONAL_FIELDS } from "./inventory-configuration.ts";
import { parquetColumns, parquetDataFile, parquetFileSchema } from "./inventory-parquet.ts";
import { encodeInventoryKey, inventoryRows } from "./inventory-rows.ts";
import type { ObjectEncryption, S3Bucket, S3Store } from "./store.ts";
import { child, list, malformedXml, text, type XmlNode } from "./xml.ts";

const MAX_CONFIGURATIONS = 1000;

/** Parses and validates a PutBucketInventoryConfiguration body against the id in the query string. */
export function parseInventoryConfiguration(doc: Record<string, unknown>, queryId: string): InventoryConfiguration {
  const root = child(doc, "InventoryConfiguration");
  if (!root) throw malformedXml();
  const id = required(text(root, "Id"));
  if (id !== queryId) {
    throw s3Errors.invalidArgument("The Id in the request body does not match the id query parameter.", "id", queryId);
  }
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id))
    throw s3Errors.invalidArgument("Invalid inventory configuration id", "id", id);
  const dest = child(child(root, "Destination"), "S3BucketDestination");
  if (!dest) throw malformedXml();
  const bucketArn = required(text(dest, "Bucket"));
  if (!/^arn:aws[-a-z]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucketArn)) {
    throw s3Errors.invalidArgument("Invalid bucket ARN.", "Bucket", bucketArn);
  }
  const format = oneOf(text(dest, "Format"), ["CSV", "ORC", "Parquet"] as const);
  const accountId = text(dest, "AccountId");
  if (accountId !== undefined && !/^\d{12}$/.test(accountId)) {
    throw s3Errors.invalidArgument("Invalid account id.", "AccountId", accountId);
  }
  const enc = child(dest, "Encryption");
  const sseKms = child(enc, "SSE-KMS");
  const encryption: InventoryConfiguration["destination"]["encryption"] = sseKms
    ? { type: "SSE-KMS", keyId: required(text(sseKms, "KeyId")) }
    : child(enc, "SSE-S3")
      ? { type: "SSE-S3" }
      : undefined;
  const fields = list(child(root, "OptionalFields"), "Field").map((f) =>
    oneOf(typeof f === "string" ? f : undefined, OPTIONAL_FIELDS),
  );
  return {
    id,
    isEnabled: parseBoolean(required(text(root, "IsEnabled")), malformedXml),
    destination: {
      ...(accountId !== undefined ? { accountId } : {}),
      bucketArn,
      format,
      ...(text(dest, "Prefix") !== undefined ? { prefix: text(dest, "Prefix") } : {}),
      ...(encryption ? { encryption } : {}),
    },
    ...(text(child(root, "Filter"), "Prefix") !== undefined
      ? { filterPrefix: text(child(root, "Filter"), "Prefix") }
      : {}),
    includedObjectVersions: oneOf(text(root, "IncludedObjectVersions"), ["All", "Current"] as const),
    optionalFields: [...new Set(fields)],
    frequency: oneOf(text(child(root, "Schedule"), "Frequency"), ["Daily", "Weekly"] as const),
  };
}

export function putInventoryConfiguration(bucket: S3Bucket, config: InventoryConfiguration): void {
  if (!bucket.inventory.has(config.id) && bucket.inventory.size >= MAX_CONFIGURATIONS) {
    throw new S3Error(
      "TooManyConfigurations",
      400,
      "You are attempting to create a new configuration but have already reached the 1,000-configuration limit.",
    );
  }
  bucket.inventory.set(config.id, config);
}

export function inventoryConfigurationXml(c: InventoryConfiguration): XmlNode {
  const enc = c.destination.encryption;
  return {
    Destination: {
      S3BucketDestination: {
        AccountId: c.destination.accountId,
        Bucket: c.destination.bucketArn,
        Format: c.destination.format,
        Prefix: c.destination.prefix,
        Encryption: enc ? (enc.type === "SSE-KMS" ? { "SSE-KMS": { KeyId: enc.keyId } } : { "SSE-S3": {} }) : undefined,
      },
    },
    IsEnabled: c.isEnabled,
    Filter: c.filterPrefix !== undefined ? { Prefix: c.filterPrefix } : undefined,
    Id: c.id,
    IncludedObjectVersions: c.includedObjectVersions,
    OptionalFields: c.optionalFields.length ? { Field: c.optionalFields } : undefined,
    Schedule: { Frequency: c.frequency },
  };
}

function required(v: string | undefined): string {
  if (v === undefined || v === "") throw malformedXml();
  return v;
}

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === v);
  if (found === undefined) throw malformedXml();
  return found;
}

// ---------------------------------------------------------------------------------------------------------
// Delivery

export interface DeliveryResult {
  destinationBucket: string;
  manifestKey: string;
  checksumKey: string;
  symlinkKey: string;
  creationTimestamp: string;
  dataFiles: { key: string; size: number; MD5checksum: string; rows: number }[];
  rows: number;
}

export const DEFAULT_MAX_ROWS_PER_FILE = 100_000;

/** Thrown for delivery requests the sandbox cannot serve (not an S3 API error: the admin API reports it). */
export class InventoryDeliveryError extends ServiceError {
  constructor(code: string, message: string) {
    super(code, 400, message);
    this.name = "InventoryDeliveryError";
  }
}

/**
 * Writes one S3 Inventory report for `sourceBucket` per its configuration into the destination bucket, in the
 * layout of https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html: data files, manifest.json, manifest.checksum and
 * the Hive symlink.txt.
 */
export async function deliverInventory(
  store: S3Store,
  encryption: EncryptionResolver,
  sourceBucketName: string,
  configurationId: string,
  requested: Date,
  maxRowsPerFile = DEFAULT_MAX_ROWS_PER_FILE,
): Promise<DeliveryResult> {
  const delivery = openDelivery(store, encryption, sourceBucketName, configurationId, maxRowsPerFile);
  // The rows are read, and the files made, before anything is written: the awaits below let other requests in.
  const files: DataFile[] = [];
  for (const rows of chunkRows(inventoryRows(delivery.source, delivery.config), maxRowsPerFile)) {
    files.push(await delivery.makeDataFile(rows));
  }
  for (const f of files) delivery.writeDataFile(f);
  return delivery.finish(requested);
}

/** A data file made but not yet written. */
export interface DataFile {
  body: Buffer;
  rows: number;
  key: string;
}

/**
 * One report being delivered: its data files are made (makeDataFile) and written (writeDataFile) by the caller, in
 * its own order; finish writes manifest.json, manifest.checksum and symlink.txt for the files written.
 */
export interface OpenDelivery {
  source: S3Bucket;
  config: InventoryConfiguration;
  /** CSV files are compressed as `rows` are drawn, so only the compressed file is held; Parquet ones hold the rows. */
  makeDataFile(rows: Iterable<string[]>): Promise<DataFile>;
  writeDataFile(file: DataFile): void;
  finish(requested: Date): DeliveryResult;
}

/** Checks the configuration and destination of a delivery, and returns what writes its files. */
export function openDelivery(
  store: S3Store,
  encryption: EncryptionResolver,
  sourceBucketName: string,
  configurationId: string,
  maxRowsPerFile: number,
): OpenDelivery {
  const source = store.bucket(sourceBucketName);
  const config = source.inventory.get(configurationId);
  if (!config) throw s3Errors.noSuchConfiguration();
  const format = config.destination.format;
  if (format === "ORC") {
    // No maintained JavaScript library writes ORC, and DuckDB does not.
    throw new InventoryDeliveryError(
      "UnsupportedInventoryFormat",
      `The sandbox delivers CSV and Parquet inventory reports; configuration ${configurationId} asks for ORC.`,
    );
  }
  if (!Number.isInteger(maxRowsPerFile) || maxRowsPerFile < 1) {
    throw new InventoryDeliveryError("InvalidMaxRowsPerFile", "maxRowsPerFile must be a positive integer.");
  }
  const destName = config.destination.bucketArn.replace(/^arn:aws[-a-z]*:s3:::/, "");
  const dest = store.findBucket(destName);
  if (!dest) {
    throw new InventoryDeliveryError(
      "NoSuchDestinationBucket",
      `The inventory destination bucket ${destName} does not exist.`,
    );
  }
  const base = `${config.destination.prefix !== undefined ? `${config.destination.prefix}/` : ""}${source.name}/${config.id}`;
  const fileEncryption = reportEncryption(config, dest, encryption);
  const schema = fileSchema(config);
  const parquet = parquetColumns(schema);
  const dataFiles: DeliveryResult["dataFiles"] = [];
  const parquetOf = async (rows: string[][]) => ({ body: await parquetDataFile(rows, parquet), count: rows.length });

  return {
    source,
    config,
    async makeDataFile(rows) {
      const { body, count } = format === "CSV" ? await csvDataFile(rows) : await parquetOf([...rows]);
      return {
        body,
        rows: count,
        key: `${base}/data/${randomUUID()}.${format === "CSV" ? "csv.gz" : "parquet"}`,
      };
    },
    writeDataFile(f) {
      writeReportObject(
        store,
        destName,
        f.key,
        f.body,
        format === "CSV" ? "application/x-gzip" : "application/octet-stream",
        fileEncryption,
      );
      dataFiles.push({ key: f.key, size: f.body.length, MD5checksum: md5Hex(f.body), rows: f.rows });
    },
    finish(requested) {
      const creation = nextFreeMinute(dest, base, requested);
      const manifest = {
        sourceBucket: source.name,
        destinationBucket: config.destination.bucketArn,
        version: "2016-11-30",
        creationTimestamp: String(creation.getTime()),
        fileFormat: format,
        fileSchema: format === "CSV" ? schema.join(", ") : parquetFileSchema(parquet),
        files: dataFiles.map((f) => ({ key: f.key, size: f.size, MD5checksum: f.MD5checksum })),
      };
      const manifestBody = Buffer.from(JSON.stringify(manifest), "utf8");
      const folder = `${base}/${folderTimestamp(creation)}`;
      const manifestKey = `${folder}/manifest.json`;
      const checksumKey = `${folder}/manifest.checksum`;
      const symlinkKey = `${base}/hive/dt=${hiveTimestamp(creation)}/symlink.txt`;
      writeReportObject(store, destName, manifestKey, manifestBody, "application/json", fileEncryption);
      writeReportObject(
        store,
        destName,
        checksumKey,
        Buffer.from(md5Hex(manifestBody), "utf8"),
        "text/plain",
        fileEncryption,
      );
      const symlink = dataFiles.map((f) => `s3://${destName}/${f.key}\n`).join("");
      writeReportObject(store, destName, symlinkKey, Buffer.from(symlink, "utf8"), "text/plain", fileEncryption);
      return {
        destinationBucket: destName,
        manifestKey,
        checksumKey,
        symlinkKey,
        creationTimestamp: manifest.creationTimestamp,
        dataFiles,
        rows: dataFiles.reduce((n, f) => n + f.rows, 0),
      };
    },
  };
}

/** A CSV data file (gzippedCsv) in one buffer. */
async function csvDataFile(rows: Iterable<string[]>): Promise<{ body: Buffer; count: number }> {
  const out: Buffer[] = [];
  const count = await gzippedCsv(rows, (chunk) => out.push(chunk));
  return { body: Buffer.concat(out), count };
}

/**
 * A CSV data file's bytes, handed to `onChunk` as they are compressed: gzip, no header, every field quoted, keys
 * URL-encoded (rows as inventoryRows gives them). Text is made and compressed 64 KiB at a time, so a file of any
 * length costs only its compressed bytes. Returns the row count.
 */
export async function gzippedCsv(rows: Iterable<string[]>, onChunk: (chunk: Buffer) => void): Promise<number> {
  const gzip = createGzip();
  gzip.on("data", onChunk);
  const ended = once(gzip, "end");
  let text = "";
  let count = 0;
  for (const r of rows) {
    text += csvLine([r[0] ?? "", encodeInventoryKey(r[1] ?? ""), ...r.slice(2)]);
    count += 1;
    if (text.length >= 65_536) {
      if (!gzip.write(text)) await once(gzip, "drain");
      text = "";
    }
  }
  gzip.end(text);
  await ended;
  return count;
}

/** Column names in fileSchema order: Bucket, Key, the version columns for "All", then the chosen optional fields. */
export function fileSchema(config: InventoryConfiguration): string[] {
  const versionColumns = config.includedObjectVersions === "All" ? ["VersionId", "IsLatest", "IsDeleteMarker"] : [];
  const optional = OPTIONAL_FIELDS.filter((f) => config.optionalFields.includes(f));
  return ["Bucket", "Key", ...versionColumns, ...optional];
}

function csvLine(fields: string[]): string {
  return `"${fields.map((f) => (f.includes('"') ? f.replace(/"/g, '""') : f)).join('","')}"\n`;
}

function chunkRows(rows: Iterable<string[]>, max: number): string[][][] {
  const chunks: string[][][] = [];
  let current: string[][] = [];
  for (const row of rows) {
    current.push(row);
    if (current.length === max) {
      chunks.push(current);
      current = [];
    }
  }
  if (current.length > 0 || chunks.length === 0) chunks.push(current);
  return chunks;
}

/** Report files get the configuration's encryption, else the destination bucket's default, as a PutObject would. */
function reportEncryption(
  config: InventoryConfiguration,
  dest: S3Bucket,
  resolver: EncryptionResolver,
): ObjectEncryption {
  const enc = config.destination.encryption;
  if (enc?.type === "SSE-S3") return { type: "SSE-S3" };
  if (enc?.type === "SSE-KMS")
    return { type: "SSE-KMS", keyArn: resolver.resolveKey(enc.keyId), bucketKeyEnabled: false };
  return resolver.fromDefault(dest.defaultEncryption, undefined);
}

function writeReportObject(
  store: S3Store,
  bucket: string,
  key: string,
  body: Buffer,
  contentType: string,
  encryption: ObjectEncryption,
): void {
  store.writeObject(bucket, {
    key,
    body,
    size: body.length,
    etag: etagFor(md5Hex(body), encryption),
    content: { contentType },
    metadata: {},
    tags: {},
    storageClass: "STANDARD",
    encryption,
    acl: "private",
  });
}

/**
 * S3 delivers a configuration's report at most daily, each in a folder named by its minute; a delivery asked for in
 * a minute that already has one is dated the next free minute (sandbox/ASSUMPTIONS.md), not written over it.
 */
function nextFreeMinute(dest: S3Bucket, base: string, requested: Date): Date {
  let at = requested;
  while (dest.versionsOf(`${base}/${folderTimestamp(at)}/manifest.json`).length > 0) {
    at = new Date(at.getTime() + 60_000);
  }
  return at;
}

/** `YYYY-MM-DDTHH-MMZ`, the folder of manifest.json. */
export function folderTimestamp(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 10)}T${iso.slice(11, 13)}-${iso.slice(14, 16)}Z`;
}

/** `YYYY-MM-DD-HH-MM`, the Hive partition value. */
export function hiveTimestamp(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 10)}-${iso.slice(11, 13)}-${iso.slice(14, 16)}`;
}
