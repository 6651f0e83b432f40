import { createHash } from "node:crypto";
import { InventoryFormatError } from "../../contract/errors.ts";
import type { NotCurrentReason } from "../../contract/reasons.ts";
import type { CountAndBytes } from "../../contract/tally.ts";
import type { InventoryFileFormat } from "./engine-choice.ts";
import type { InventoryColumn } from "./inventory.ts";

/**
 * The queries the select and athena engines send (contract/engines.ts). Both push down the same work: the current
 * versions come back, with only the columns planning reads, and every other version is counted where it is stored.
 * The rows that come back are classified by the same code as the stream engine's (steps/domain/classify.ts), so
 * every engine plans the same objects the same way.
 */

/** Columns planning reads; the others (the ACL above all, the longest field) stay in S3. */
const PLAN_COLUMNS: ReadonlySet<InventoryColumn> = new Set([
  "Bucket",
  "Key",
  "VersionId",
  "Size",
  "LastModifiedDate",
  "ETag",
  "StorageClass",
  "EncryptionStatus",
  "BucketKeyStatus",
  "IntelligentTieringAccessTier",
  "ObjectLockMode",
  "ObjectLockRetainUntilDate",
  "ObjectLockLegalHoldStatus",
]);

/**
 * The columns an engine's query returns, in fileSchema order. IsLatest and IsDeleteMarker are left out: every row
 * returned is a current version, which is what a row without them reads as (steps/domain/inventory.ts).
 */
export function planColumns(columns: readonly InventoryColumn[]): InventoryColumn[] {
  return columns.filter((c) => PLAN_COLUMNS.has(c));
}

/** A column as the engine's SQL names it. */
export type ColumnRef = (column: InventoryColumn) => string;

/** `_N`, S3 Select's name for the Nth field of a CSV record without a header. */
function selectColumn(columns: readonly InventoryColumn[]): ColumnRef {
  return (column) => `s._${columns.indexOf(column) + 1}`;
}

/**
 * The Athena column name AWS's inventory DDL uses for a fileSchema field (IsLatest → is_latest, ETag → e_tag),
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-athena-query.html.
 */
export function athenaColumnName(column: InventoryColumn): string {
  return column
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

/** An Athena column as text: Parquet and ORC columns may be boolean or bigint; a CSV table's are strings already. */
export const athenaText: ColumnRef = (column) => `CAST("${athenaColumnName(column)}" AS varchar)`;

/**
 * An Athena column as the query returns it for planning: as the CSV inventory wrote it. Parquet and ORC keys are
 * not URL-encoded; url_encode gives the form encoding CSV keys have (space as `+`), which the parser decodes.
 */
export function athenaSelected(format: InventoryFileFormat): ColumnRef {
  return (column) => (column === "Key" && format !== "CSV" ? `url_encode("key")` : `"${athenaColumnName(column)}"`);
}

/** Conditions on the version flags; undefined when the inventory has no such column (current versions only). */
export function flags(columns: readonly InventoryColumn[], ref: ColumnRef) {
  const has = (c: InventoryColumn) => columns.includes(c);
  const deleteMarker = has("IsDeleteMarker") ? `LOWER(${ref("IsDeleteMarker")})` : undefined;
  const latest = has("IsLatest") ? `LOWER(${ref("IsLatest")})` : undefined;
  const conditions: string[] = [];
  if (deleteMarker) conditions.push(`${deleteMarker} = 'false'`);
  if (latest) conditions.push(`${latest} = 'true'`);
  return { deleteMarker, latest, current: conditions.length > 0 ? conditions.join(" AND ") : undefined };
}

function currentRows(
  columns: readonly InventoryColumn[],
  ref: ColumnRef,
  from: string,
  where: string[],
  selected: ColumnRef = ref,
): string {
  const { current } = flags(columns, ref);
  const conditions = [...where, ...(current ? [current] : [])];
  const list = planColumns(columns).map(selected).join(", ");
  return `SELECT ${list} FROM ${from}${conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : ""}`;
}

/**
 * Counts and bytes of the versions that are not current, by reason, and of rows whose flags are neither true nor
 * false (a broken file: the stream engine refuses the same rows). Undefined when the inventory lists current
 * versions only. The reasons are decided in classifyInventoryRow's order: a delete marker first, then not latest.
 */
function notCurrentCounts(
  columns: readonly InventoryColumn[],
  ref: ColumnRef,
  from: string,
  where: string[],
  sizeType: string,
): string | undefined {
  const { deleteMarker, latest } = flags(columns, ref);
  if (!deleteMarker && !latest) return undefined;
  const size = columns.includes("Size") ? `CAST(NULLIF(${ref("Size")}, '') AS ${sizeType})` : "0";
  const isMarker = deleteMarker ? `${deleteMarker} = 'true'` : "FALSE";
  const isNoncurrent = `${deleteMarker ? `${deleteMarker} = 'false'` : "TRUE"} AND ${latest ? `${latest} = 'false'` : "FALSE"}`;
  const bad = [deleteMarker, latest]
    .filter((f) => f !== undefined)
    .map((f) => `${f} NOT IN ('true', 'false')`)
    .join(" OR ");
  const parts = [
    `SUM(CASE WHEN ${isMarker} THEN 1 ELSE 0 END)`,
    `SUM(CASE WHEN ${isMarker} THEN ${size} ELSE 0 END)`,
    `SUM(CASE WHEN ${isNoncurrent} THEN 1 ELSE 0 END)`,
    `SUM(CASE WHEN ${isNoncurrent} THEN ${size} ELSE 0 END)`,
    `SUM(CASE WHEN ${bad} THEN 1 ELSE 0 END)`,
  ];
  return `SELECT ${parts.join(", ")} FROM ${from}${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""}`;
}

/** S3 Select over one CSV data file (no header; `s._N` by fileSchema position): the current versions. */
export function selectCurrentRowsSql(columns: readonly InventoryColumn[]): string {
  return currentRows(columns, selectColumn(columns), "S3Object s", []);
}

/** S3 Select over one CSV data file: its other versions counted (notCurrentFromCounts reads the answer). */
export function selectNotCurrentSql(columns: readonly InventoryColumn[]): string | undefined {
  return notCurrentCounts(columns, selectColumn(columns), "S3Object s", [], "INT");
}

export interface NotCurrentCounts {
  byReason: Partial<Record<NotCurrentReason, CountAndBytes>>;
}

/**
 * Reads the one record notCurrentCounts' query answers (five numbers; an empty field where a sum had no rows).
 * `source` names the file or query in errors.
 */
export function notCurrentFromCounts(fields: readonly (string | undefined)[], source: string): NotCurrentCounts {
  const numbers = fields.map((f) => (f === undefined || f === "" ? 0 : Number(f)));
  if (numbers.length !== 5 || numbers.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new InventoryFormatError(`the count of versions that are not current reads "${fields.join(",")}".`, {
      file: source,
      fix: "This is a bug in how rekey reads the engine's answer; run with engine stream and report it.",
    });
  }
  const [markers = 0, markerBytes = 0, noncurrent = 0, noncurrentBytes = 0, bad = 0] = numbers;
  if (bad > 0) {
    throw new InventoryFormatError(`${bad} row(s) have an IsLatest or IsDeleteMarker that is neither true nor false.`, {
      file: source,
      fix: "The data files do not match their manifest.json or are corrupt; wait for the next inventory delivery.",
    });
  }
  const byReason: NotCurrentCounts["byReason"] = {};
  if (markers > 0) byReason["delete-marker"] = { count: markers, bytes: markerBytes };
  if (noncurrent > 0) byReason["noncurrent-version"] = { count: noncurrent, bytes: noncurrentBytes };
  return { byReason };
}

/** The Athena table over one inventory configuration's deliveries, and the partition of one delivery. */
export interface InventoryTable {
  database: string;
  /** Named by its location and columns, so a delivery with other columns gets a table of its own. */
  name: string;
  /** `s3://<destination>/<prefix>/<source bucket>/<configuration id>/hive/` */
  location: string;
  /** The delivery's `dt` partition: its folder's timestamp as `YYYY-MM-DD-HH-MM`. */
  dt: string;
  columns: InventoryColumn[];
  format: InventoryFileFormat;
}

const DELIVERY = /^(.*\/)?(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})Z\/manifest\.json$/;

/**
 * The table and partition for a delivery's manifest.json (`<prefix>/<bucket>/<config>/<YYYY-MM-DDTHH-MMZ>/manifest.json`);
 * S3 lists each delivery's data files in `<prefix>/<bucket>/<config>/hive/dt=<YYYY-MM-DD-HH-MM>/symlink.txt`
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html).
 */
export function inventoryTable(
  database: string,
  destinationBucket: string,
  manifestKey: string,
  columns: readonly InventoryColumn[],
  format: InventoryFileFormat = "CSV",
): InventoryTable {
  const m = DELIVERY.exec(manifestKey);
  if (!m) {
    throw new InventoryFormatError("the manifest is not in an S3 Inventory delivery folder (…/YYYY-MM-DDTHH-MMZ/).", {
      file: manifestKey,
      fix: "The athena engine reads S3 Inventory deliveries only; run with engine stream for other manifests.",
    });
  }
  const [, configFolder = "", day, hour, minute] = m;
  const location = `s3://${destinationBucket}/${configFolder}hive/`;
  const digest = createHash("sha256")
    .update(`${location}\n${format}\n${columns.join(",")}`)
    .digest("hex")
    .slice(0, 16);
  return {
    database,
    name: `rekey_inventory_${digest}`,
    location,
    dt: `${day}-${hour}-${minute}`,
    columns: [...columns],
    format,
  };
}

/** `'...'` with quotes doubled: a Trino string literal. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Columns a Parquet or ORC inventory types other than as text (the booleans, and int64 sizes and dates). */
const COLUMNAR_TYPES: ReadonlyMap<InventoryColumn, string> = new Map([
  ["IsLatest", "boolean"],
  ["IsDeleteMarker", "boolean"],
  ["IsMultipartUploaded", "boolean"],
  ["Size", "bigint"],
  // Epoch milliseconds (TIMESTAMP_MILLIS): read as digits, which the parser turns into the CSV's ISO text.
  ["LastModifiedDate", "bigint"],
  ["ObjectLockRetainUntilDate", "bigint"],
]);

const SERDES: Record<InventoryFileFormat, string[]> = {
  CSV: ["ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'"],
  Parquet: ["ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'"],
  ORC: ["ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.orc.OrcSerde'"],
};

/**
 * AWS's inventory DDL (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-athena-query.html),
 * over the `hive/` symlinks with `dt` projected. A CSV table has every column a string, so rows come back exactly as
 * the inventory wrote them and the stream engine's parser reads them. IF NOT EXISTS: the same statement on a retried
 * step changes nothing.
 */
export function inventoryTableDdl(table: InventoryTable): string {
  const typeOf = (c: InventoryColumn) => (table.format === "CSV" ? "string" : (COLUMNAR_TYPES.get(c) ?? "string"));
  const columns = table.columns.map((c) => `  \`${athenaColumnName(c)}\` ${typeOf(c)}`).join(",\n");
  return [
    `CREATE EXTERNAL TABLE IF NOT EXISTS \`${table.database}\`.\`${table.name}\` (`,
    columns,
    ")",
    "PARTITIONED BY (`dt` string)",
    ...SERDES[table.format],
    "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'",
    "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
    `LOCATION ${literal(table.location)}`,
    "TBLPROPERTIES (",
    "  'projection.enabled' = 'true',",
    "  'projection.dt.type' = 'date',",
    "  'projection.dt.format' = 'yyyy-MM-dd-HH-mm',",
    "  'projection.dt.range' = '2022-01-01-00-00,NOW',",
    "  'projection.dt.interval' = '1',",
    "  'projection.dt.interval.unit' = 'HOURS'",
    ")",
  ].join("\n");
}

export function athenaFrom(table: InventoryTable): string {
  return `"${table.database}"."${table.name}"`;
}

/**
 * The delivery's current versions, with the columns planning reads as the inventory wrote them, unloaded as gzip CSV
 * files into `location` (https://docs.aws.amazon.com/athena/latest/ug/unload.html). TEXTFILE output is not quoted and
 * writes NULL as `\N`: every value is cast to text with NULL as empty, and none can hold a comma (keys are
 * URL-encoded, the other columns are names, numbers, dates and hex).
 */
export function athenaUnloadSql(table: InventoryTable, location: string): string {
  const selected = athenaSelected(table.format);
  const asText: ColumnRef = (c) => `COALESCE(CAST(${selected(c)} AS varchar), '')`;
  const select = currentRows(table.columns, athenaText, athenaFrom(table), [`dt = ${literal(table.dt)}`], asText);
  return `UNLOAD (${select}) TO ${literal(location)} WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'gzip')`;
}

/** The delivery's other versions counted (notCurrentFromCounts reads the answer); undefined without the flags. */
export function athenaNotCurrentSql(table: InventoryTable): string | undefined {
  return notCurrentCounts(table.columns, athenaText, athenaFrom(table), [`dt = ${literal(table.dt)}`], "bigint");
}
