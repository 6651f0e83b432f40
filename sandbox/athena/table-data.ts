import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { quoteIdentifier, quoteLiteral } from "../duckdb.ts";
import type { CatalogColumn, CatalogTable } from "./catalog.ts";
import { ErrorTypes, QueryFailure } from "./errors.ts";
import { type Partition, type PartitionFilter, tablePartitions } from "./partitions.ts";
import { getObject, listObjects, objectSize, parseS3Uri, type S3Location, type S3ObjectSummary } from "./s3-io.ts";

/**
 * What a query reads of a table: its partitions' data files (through the symlink lists of a
 * SymlinkTextInputFormat table), their bytes (the execution's DataScannedInBytes), and the DuckDB SELECT that reads
 * them once they are copied to a temporary directory. DuckDB never opens the network.
 */
export interface TablePlan {
  table: CatalogTable;
  partitions: { partition: Partition; files: (S3Location & { size: number })[] }[];
  bytes: number;
}

export async function planTable(s3: S3Client, table: CatalogTable, filter: PartitionFilter): Promise<TablePlan> {
  if (table.format === "orc" || table.format === "json") {
    throw new QueryFailure(
      `NOT_SUPPORTED: the sandbox cannot read ${table.format.toUpperCase()} data (table ${table.database}.${table.name}); it reads CSV, delimited text and Parquet.`,
      ErrorTypes.notSupported,
    );
  }
  const partitions: TablePlan["partitions"] = [];
  for (const partition of await tablePartitions(s3, table, filter)) {
    partitions.push({ partition, files: await dataFiles(s3, table, partition.location) });
  }
  return { table, partitions, bytes: partitions.reduce((n, p) => n + p.files.reduce((m, f) => m + f.size, 0), 0) };
}

/**
 * Objects a table reads: not folder markers, not names starting with `_` or `.` (Hadoop's hidden files), and not in
 * S3 Glacier Flexible Retrieval or Deep Archive, which Athena ignores
 * (https://docs.aws.amazon.com/athena/latest/ug/creating-tables.html).
 */
function isDataObject(o: S3ObjectSummary): boolean {
  const name = o.key.slice(o.key.lastIndexOf("/") + 1);
  return (
    name !== "" &&
    !name.startsWith("_") &&
    !name.startsWith(".") &&
    o.storageClass !== "GLACIER" &&
    o.storageClass !== "DEEP_ARCHIVE"
  );
}

async function dataFiles(
  s3: S3Client,
  table: CatalogTable,
  location: string,
): Promise<(S3Location & { size: number })[]> {
  const at = parseS3Uri(location);
  if (!at) throw new QueryFailure(`Invalid table location '${location}'`, ErrorTypes.invalidArgument);
  const objects = (await listObjects(s3, at)).filter(isDataObject);
  if (!table.symlink) return objects.map((o) => ({ bucket: at.bucket, prefix: o.key, size: o.size }));
  const files: (S3Location & { size: number })[] = [];
  for (const list of objects) {
    const text = (await getObject(s3, { bucket: at.bucket, prefix: list.key })).toString("utf8");
    for (const line of text.split("\n").map((l) => l.trim())) {
      if (line === "") continue;
      const file = parseS3Uri(line);
      if (!file) throw new QueryFailure(`HIVE_BAD_DATA: invalid path in symlink file: ${line}`, ErrorTypes.dataError);
      files.push({ ...file, size: await objectSize(s3, file) });
    }
  }
  return files;
}

/** Copies the plan's files into `dir` and answers the SELECT that reads them as the table's columns. */
export async function materialize(s3: S3Client, plan: TablePlan, dir: string, tag: string): Promise<string> {
  const { table } = plan;
  const selects: string[] = [];
  for (const [p, { partition, files }] of plan.partitions.entries()) {
    if (files.length === 0) continue;
    const paths: string[] = [];
    for (const [f, file] of files.entries()) {
      const ext = table.format === "parquet" ? ".parquet" : file.prefix.endsWith(".gz") ? ".csv.gz" : ".csv";
      const path = join(dir, `${tag}-p${p}-f${f}${ext}`);
      await writeFile(path, await getObject(s3, file));
      paths.push(path);
    }
    selects.push(`SELECT ${projection(table, partition)} FROM ${reader(table, paths)}`);
  }
  if (selects.length === 0) return emptySelect(table);
  return selects.join(" UNION ALL ");
}

function reader(table: CatalogTable, paths: string[]): string {
  const list = `[${paths.map(quoteLiteral).join(", ")}]`;
  if (table.format === "parquet") return `read_parquet(${list}, union_by_name = true)`;
  const props = table.serdeProperties;
  const csv = table.format === "csv";
  const columns = table.columns.map((_, i) => `${quoteLiteral(`c${i}`)}: 'VARCHAR'`).join(", ");
  const options = [
    "auto_detect = false",
    `header = ${Number(table.tableProperties["skip.header.line.count"] ?? "0") > 0}`,
    `delim = ${quoteLiteral(csv ? (props.separatorChar ?? ",") : (props["field.delim"] ?? "\u0001"))}`,
    `quote = ${quoteLiteral(csv ? (props.quoteChar ?? '"') : "")}`,
    // OpenCSVSerde reads a doubled quote inside quotes as one quote, which is how S3 Inventory writes them.
    `escape = ${quoteLiteral(csv ? (props.quoteChar ?? '"') : "")}`,
    "null_padding = true",
    "strict_mode = false",
    "allow_quoted_nulls = false",
    `nullstr = ${quoteLiteral(csv ? "\u0001no-null\u0002" : (props["serialization.null.format"] ?? "\\N"))}`,
    `columns = {${columns}}`,
  ];
  return `read_csv(${list}, ${options.join(", ")})`;
}

/** The table's columns in DDL order, typed, then its partition keys as the partition's values. */
function projection(table: CatalogTable, partition: Partition): string {
  const data = table.columns.map((c, i) => {
    if (table.format === "parquet") return `${parquetValue(c)} AS ${quoteIdentifier(c.name)}`;
    const raw = quoteIdentifier(`c${i}`);
    const value = duckType(c) === "VARCHAR" ? raw : `TRY_CAST(NULLIF(${raw}, '') AS ${duckType(c)})`;
    return `${value} AS ${quoteIdentifier(c.name)}`;
  });
  const keys = table.partitionKeys.map(
    (k) => `CAST(${quoteLiteral(partition.values[k.name] ?? "")} AS ${duckType(k)}) AS ${quoteIdentifier(k.name)}`,
  );
  return [...data, ...keys].join(", ");
}

/**
 * A Parquet column as its declared type. A `bigint` over a timestamp column (AWS's Parquet inventory DDL declares
 * `object_lock_retain_until_date bigint` while the files hold TIMESTAMP_MILLIS) reads the epoch milliseconds the
 * column stores; a value that does not convert is NULL.
 */
function parquetValue(c: CatalogColumn): string {
  const name = quoteIdentifier(c.name);
  const type = duckType(c);
  if (type === "VARCHAR") return `CAST(${name} AS VARCHAR)`;
  if (type === "BIGINT") return `COALESCE(TRY_CAST(${name} AS BIGINT), epoch_ms(TRY_CAST(${name} AS TIMESTAMP)))`;
  return `TRY_CAST(${name} AS ${type})`;
}

function emptySelect(table: CatalogTable): string {
  const all = [...table.columns, ...table.partitionKeys];
  return `SELECT ${all.map((c) => `CAST(NULL AS ${duckType(c)}) AS ${quoteIdentifier(c.name)}`).join(", ")} WHERE false`;
}

/** The DuckDB type of a Hive column type; complex types are read as text. */
export function duckType(c: CatalogColumn): string {
  const t = c.type.toLowerCase();
  const decimal = /^decimal\((\d+),(\d+)\)$/.exec(t.replace(/\s/g, ""));
  if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
  if (t === "decimal") return "DECIMAL(10,0)";
  const simple: Record<string, string> = {
    boolean: "BOOLEAN",
    tinyint: "TINYINT",
    smallint: "SMALLINT",
    int: "INTEGER",
    integer: "INTEGER",
    bigint: "BIGINT",
    float: "FLOAT",
    real: "FLOAT",
    double: "DOUBLE",
    date: "DATE",
    timestamp: "TIMESTAMP",
    binary: "BLOB",
  };
  return simple[t] ?? "VARCHAR";
}
