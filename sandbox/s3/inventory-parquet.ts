import { randomUUID } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quoteIdentifier, quoteLiteral, sharedDuckDb } from "../duckdb.ts";

/**
 * Parquet inventory data files, written by DuckDB: snake_case columns in fileSchema order, typed as the manifest
 * example of https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html shows
 * (`required binary bucket (UTF8)`, `optional boolean is_latest`, `optional int64 size`, `optional int64
 * last_modified_date (TIMESTAMP_MILLIS)`, ...), Snappy-compressed, keys not URL-encoded.
 */
interface ParquetColumn {
  name: string;
  kind: "text" | "boolean" | "int64" | "timestamp";
  required: boolean;
}

const BOOLEAN_FIELDS = new Set(["IsLatest", "IsDeleteMarker", "IsMultipartUploaded"]);
const TIMESTAMP_FIELDS = new Set(["LastModifiedDate", "ObjectLockRetainUntilDate"]);

/** The Parquet columns of a report whose CSV fileSchema is `fields` (Bucket, Key, VersionId, ...). */
export function parquetColumns(fields: string[]): ParquetColumn[] {
  return fields.map((f) => ({
    name: f === "ETag" ? "e_tag" : f.replace(/(?<=[a-z])([A-Z])/g, "_$1").toLowerCase(),
    kind: BOOLEAN_FIELDS.has(f) ? "boolean" : f === "Size" ? "int64" : TIMESTAMP_FIELDS.has(f) ? "timestamp" : "text",
    required: f === "Bucket" || f === "Key",
  }));
}

/** The manifest's fileSchema for Parquet: the file's message type. */
export function parquetFileSchema(columns: ParquetColumn[]): string {
  const field = (c: ParquetColumn) => {
    const type = { text: "binary", boolean: "boolean", int64: "int64", timestamp: "int64" }[c.kind];
    const annotation = c.kind === "text" ? " (UTF8)" : c.kind === "timestamp" ? " (TIMESTAMP_MILLIS)" : "";
    return `${c.required ? "required" : "optional"} ${type} ${c.name}${annotation};`;
  };
  return `message s3.inventory { ${columns.map(field).join(" ")} }`;
}

/** One Parquet data file of `rows` (text values in column order; "" is a value the object does not have). */
export async function parquetDataFile(rows: string[][], columns: ParquetColumn[]): Promise<Buffer> {
  const base = join(tmpdir(), `sandbox-inventory-${randomUUID()}`);
  const json = `${base}.ndjson`;
  const parquet = `${base}.parquet`;
  await writeFile(
    json,
    rows.map((r) => `${JSON.stringify(Object.fromEntries(r.map((v, i) => [`c${i}`, v])))}\n`).join(""),
  );
  const read = `read_json(${quoteLiteral(json)}, format = 'newline_delimited', columns = {${columns
    .map((_, i) => `c${i}: 'VARCHAR'`)
    .join(", ")}})`;
  const select = columns
    .map((c, i) => {
      const v = c.required ? `c${i}` : `NULLIF(c${i}, '')`;
      const typed =
        c.kind === "boolean"
          ? `CAST(${v} AS BOOLEAN)`
          : c.kind === "int64"
            ? `CAST(${v} AS BIGINT)`
            : c.kind === "timestamp"
              ? `CAST(CAST(${v} AS TIMESTAMPTZ) AS TIMESTAMP_MS)`
              : v;
      return `${typed} AS ${quoteIdentifier(c.name)}`;
    })
    .join(", ");
  const connection = await (await sharedDuckDb()).connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    await connection.run(
      `COPY (SELECT ${select} FROM ${read}) TO ${quoteLiteral(parquet)} (FORMAT PARQUET, COMPRESSION SNAPPY)`,
    );
    return await readFile(parquet);
  } finally {
    connection.closeSync();
    await rm(json, { force: true });
    await rm(parquet, { force: true });
  }
}
