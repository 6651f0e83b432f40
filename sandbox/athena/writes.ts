import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { DuckDBConnection } from "@duckdb/node-api";
import { quoteLiteral } from "../duckdb.ts";
import type { CatalogColumn } from "./catalog.ts";
import { queryFailure, translateSelect } from "./dialect.ts";
import { ErrorTypes, QueryFailure } from "./errors.ts";
import type { QueryExecutionRecord, RunnerDeps } from "./executions.ts";
import { type ColumnInfo, streamResult } from "./results.ts";
import { listObjects, parseS3Uri, putObject, type S3Location } from "./s3-io.ts";
import { Cursor, nameOf, tokenizeSql } from "./tokens.ts";

/**
 * UNLOAD (https://docs.aws.amazon.com/athena/latest/ug/unload.html) and CREATE TABLE AS
 * (https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html): the SELECT's rows written as TEXTFILE (gzip)
 * or PARQUET objects under an empty location, and `<id>-manifest.csv` listing them in the result location. CTAS
 * then adds the table to the catalog.
 */
interface WriteSpec {
  select: string;
  location: string | undefined;
  props: Record<string, string>;
  table?: { database: string; name: string };
}

export async function runUnloadOrCtas(deps: RunnerDeps, exec: QueryExecutionRecord, c: DuckDBConnection, dir: string) {
  const spec = exec.kind === "unload" ? parseUnload(exec.query) : parseCtas(exec.query, exec.database);
  if (exec.kind === "unload" && spec.props.format === undefined) {
    throw new QueryFailure(
      "UNLOAD needs WITH (format = '...'): the format property is required",
      ErrorTypes.invalidArgument,
    );
  }
  const format = (spec.props.format ?? "PARQUET").toUpperCase();
  const partitionedBy = spec.props.partitioned_by?.split(",").filter((c) => c !== "") ?? [];
  if (spec.props.bucketed_by || (partitionedBy.length > 0 && (exec.kind !== "unload" || format !== "TEXTFILE"))) {
    throw new QueryFailure(
      "NOT_SUPPORTED: the sandbox partitions TEXTFILE UNLOAD output only, and buckets none",
      ErrorTypes.notSupported,
    );
  }
  // Parquet: gzip unless `compression` says snappy; TEXTFILE is always gzip.
  const codec = (spec.props.compression ?? "gzip").toUpperCase() === "SNAPPY" ? "SNAPPY" : "GZIP";
  if (format !== "TEXTFILE" && format !== "PARQUET") {
    throw new QueryFailure(
      `NOT_SUPPORTED: the sandbox writes TEXTFILE and PARQUET, not ${format}`,
      ErrorTypes.notSupported,
    );
  }
  if (spec.table && deps.catalog.table(spec.table.database, spec.table.name)) {
    throw new QueryFailure(
      `TABLE_ALREADY_EXISTS: Table 'awsdatacatalog.${spec.table.database}.${spec.table.name}' already exists`,
      ErrorTypes.userError,
    );
  }
  const location = withSlash(spec.location ?? `${exec.outputDirectory}tables/${exec.id}/`);
  const target = parseS3Uri(location);
  if (!target) throw new QueryFailure(`Invalid location ${location}`, ErrorTypes.invalidArgument);
  if ((await listObjects(deps.s3(), target)).length > 0) {
    throw new QueryFailure(
      `HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists: ${location}`,
      ErrorTypes.userError,
    );
  }
  const sql = translateSelect(spec.select, exec.database).sql;
  const written: S3Location[] = [];
  let columns: ColumnInfo[];
  let rowCount = 0;
  try {
    const streamed = streamResult(await c.stream(sql));
    columns = streamed.columns;
    const stop = () => exec.state === "CANCELLED";
    if (format === "PARQUET") {
      for await (const chunk of streamed.chunks(stop)) rowCount += chunk.length;
      const path = join(dir, "unload.parquet");
      await c.run(`COPY (${sql}) TO ${quoteLiteral(path)} (FORMAT PARQUET, COMPRESSION ${codec})`);
      const file = { bucket: target.bucket, prefix: `${target.prefix}${exec.id}_00000.parquet` };
      await putObject(deps.s3(), file, await readFile(path), "application/octet-stream", exec.encryption);
      written.push(file);
    } else {
      const files = new TextFiles(deps, exec, target, partitionColumns(columns, partitionedBy), spec.props);
      for await (const chunk of streamed.chunks(stop)) {
        for (const row of chunk) await files.add(row);
        rowCount += chunk.length;
      }
      written.push(...(await files.close()));
    }
  } catch (err) {
    if (err instanceof QueryFailure) throw err;
    throw queryFailure(exec.query, err);
  }
  const manifest = parseS3Uri(`${exec.outputDirectory}${exec.id}-manifest.csv`);
  if (manifest) {
    const body = written.map((f) => `s3://${f.bucket}/${f.prefix}\n`).join("");
    await putObject(deps.s3(), manifest, body, "text/csv", exec.encryption);
    exec.manifestLocation = `s3://${manifest.bucket}/${manifest.prefix}`;
    exec.manifest = written.map((f) => `s3://${f.bucket}/${f.prefix}`);
  }
  exec.updateCount = rowCount;
  exec.result = { columns: [], rows: [] };
  if (spec.table) {
    const catalogColumns: CatalogColumn[] = columns.map((col) => ({
      name: col.Name.toLowerCase(),
      type: hiveType(col.Type, col.Precision, col.Scale),
    }));
    deps.catalog.database(spec.table.database)?.tables.set(spec.table.name, {
      database: spec.table.database,
      name: spec.table.name,
      columns: catalogColumns,
      partitionKeys: [],
      location,
      format: format === "PARQUET" ? "parquet" : "text",
      symlink: false,
      serde: undefined,
      inputFormat: undefined,
      serdeProperties: format === "PARQUET" ? {} : { "field.delim": spec.props.field_delimiter ?? "\u0001" },
      tableProperties: {},
      partitions: [],
      external: true,
      createdAt: new Date(),
    });
  }
}

/** At most this many partitions an UNLOAD writes (https://docs.aws.amazon.com/athena/latest/ug/unload.html). */
const MAX_UNLOAD_PARTITIONS = 100;

/**
 * How many partition columns end each row (0: unpartitioned): partitioned_by's columns must be the SELECT's last,
 * in its order.
 */
function partitionColumns(columns: readonly ColumnInfo[], partitionedBy: readonly string[]): string[] {
  if (partitionedBy.length === 0) return [];
  const last = columns.slice(-partitionedBy.length).map((c) => c.Name.toLowerCase());
  if (partitionedBy.some((c, i) => c.toLowerCase() !== last[i])) {
    throw new QueryFailure(
      `Partition columns must be the last columns in the SELECT, in the order of partitioned_by: ${partitionedBy.join(", ")}`,
      ErrorTypes.userError,
    );
  }
  return [...partitionedBy];
}

/** Text a TEXTFILE file holds before the next is begun, when athenaUnloadRowsPerFile does not say. */
const TEXT_FILE_BYTES = 64 * 1024 * 1024;

/**
 * An UNLOAD's TEXTFILE output written as its rows come: per partition folder (`col=value/`, Hive's layout, the
 * partition columns left out of the rows; `""` when unpartitioned), gzip files of at most athenaUnloadRowsPerFile
 * rows (sandbox/behaviours.ts) or TEXT_FILE_BYTES of text. An unpartitioned UNLOAD writes one file even for no rows.
 */
class TextFiles {
  private readonly open = new Map<string, { lines: string[]; bytes: number; files: number }>();
  private readonly written: S3Location[] = [];
  private readonly delimiter: string;

  constructor(
    private readonly deps: RunnerDeps,
    private readonly exec: QueryExecutionRecord,
    private readonly target: S3Location,
    private readonly partitionedBy: readonly string[],
    props: Record<string, string>,
  ) {
    this.delimiter = props.field_delimiter ?? "\u0001";
    if (partitionedBy.length === 0) this.open.set("", { lines: [], bytes: 0, files: 0 });
  }

  async add(row: readonly (string | null)[]): Promise<void> {
    const n = this.partitionedBy.length;
    const folder =
      n === 0 ? "" : this.partitionedBy.map((c, i) => `${c}=${hivePathValue(row[row.length - n + i])}/`).join("");
    let file = this.open.get(folder);
    if (!file) {
      if (this.open.size === MAX_UNLOAD_PARTITIONS) {
        throw new QueryFailure(
          `HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of ${MAX_UNLOAD_PARTITIONS} open writers for partitions/buckets`,
          ErrorTypes.userError,
        );
      }
      file = { lines: [], bytes: 0, files: 0 };
      this.open.set(folder, file);
    }
    const line = `${row
      .slice(0, row.length - n)
      .map((v) => v ?? "\\N")
      .join(this.delimiter)}\n`;
    file.lines.push(line);
    file.bytes += line.length;
    const perFile = this.deps.behaviours.athenaUnloadRowsPerFile;
    const full = typeof perFile === "number" ? file.lines.length >= perFile : file.bytes >= TEXT_FILE_BYTES;
    if (full) await this.flush(folder);
  }

  /** Writes what is left; returns every file written, in the order written. */
  async close(): Promise<S3Location[]> {
    for (const [folder, file] of this.open) if (file.lines.length > 0 || file.files === 0) await this.flush(folder);
    return this.written;
  }

  private async flush(folder: string): Promise<void> {
    const file = this.open.get(folder);
    if (!file) return;
    const name = `${this.exec.id}_${String(file.files).padStart(5, "0")}.gz`;
    const location = { bucket: this.target.bucket, prefix: `${this.target.prefix}${folder}${name}` };
    const body = gzipSync(Buffer.from(file.lines.join(""), "utf8"));
    await putObject(this.deps.s3(), location, body, "application/gzip", this.exec.encryption);
    this.written.push(location);
    file.lines = [];
    file.bytes = 0;
    file.files += 1;
  }
}

const HIVE_ESCAPED = `"#%'*/:=?\\{}[]^`;

/** A partition value in a path as Hive escapes it (FileUtils.escapePathName); NULL is Hive's default partition. */
function hivePathValue(value: string | null | undefined): string {
  if (value === null || value === undefined) return "__HIVE_DEFAULT_PARTITION__";
  return [...value]
    .map((c) => {
      const code = c.charCodeAt(0);
      const escaped = code < 0x20 || code === 0x7f || HIVE_ESCAPED.includes(c);
      return escaped ? `%${code.toString(16).toUpperCase().padStart(2, "0")}` : c;
    })
    .join("");
}

function hiveType(type: string, precision: number, scale: number): string {
  if (type === "decimal") return `decimal(${precision},${scale})`;
  if (type === "varchar") return "string";
  if (type === "real") return "float";
  return type;
}

function withSlash(s: string): string {
  return s.endsWith("/") ? s : `${s}/`;
}

/** `UNLOAD (SELECT ...) TO 's3://...' WITH (key = 'value', ...)`. */
function parseUnload(sql: string): WriteSpec {
  const tokens = tokenizeSql(sql);
  const open = tokens[1];
  if (open?.text !== "(") throw malformed("UNLOAD (SELECT ...) TO 's3://...'");
  let depth = 0;
  let close = -1;
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i];
    if (t?.text === "(") depth += 1;
    if (t?.text === ")" && --depth === 0) {
      close = i;
      break;
    }
  }
  const c = new Cursor(tokens);
  c.i = close + 1;
  const to = close > 0 && c.acceptWord("TO") ? c.next() : undefined;
  if (to?.kind !== "string") throw malformed("UNLOAD (SELECT ...) TO 's3://...'");
  return {
    select: sql.slice(open.end, (tokens[close] as { start: number }).start),
    location: to.text,
    props: withProps(c),
  };
}

/** `CREATE TABLE [db.]name [WITH (key = 'value', ...)] AS SELECT ... [WITH [NO] DATA]`. */
function parseCtas(sql: string, database: string): WriteSpec {
  const c = new Cursor(tokenizeSql(sql));
  c.acceptWord("CREATE", "TABLE");
  const first = nameOf(c.next());
  let table = { database, name: first ?? "" };
  if (c.acceptOp(".")) table = { database: first ?? database, name: nameOf(c.next()) ?? "" };
  const props = withProps(c);
  const as = c.peek();
  if (!c.acceptWord("AS") || !as) throw malformed("CREATE TABLE name [WITH (...)] AS SELECT ...");
  const select = sql.slice(as.end).replace(/\s+WITH\s+(NO\s+)?DATA\s*;?\s*$/i, "");
  if (/\bWITH\s+NO\s+DATA\s*;?\s*$/i.test(sql))
    throw new QueryFailure("NOT_SUPPORTED: CREATE TABLE AS ... WITH NO DATA", ErrorTypes.notSupported);
  return { select, location: props.external_location, props, table };
}

/** `WITH (key = 'value', ...)`, keys lower case. */
function withProps(c: Cursor): Record<string, string> {
  const props: Record<string, string> = {};
  if (!c.acceptWord("WITH")) return props;
  if (!c.acceptOp("(")) throw malformed("WITH (key = 'value', ...)");
  do {
    const key = nameOf(c.next());
    if (!key || !c.acceptOp("=")) throw malformed("WITH (key = 'value', ...)");
    const value = c.next();
    const isArray = value?.kind === "word" && value.upper === "ARRAY";
    props[key] = value?.text ?? "";
    if (isArray) {
      // `ARRAY['a', 'b']`: the strings, joined with commas.
      const items: string[] = [];
      while (c.peek() && !c.isOp("]")) {
        const item = c.next();
        if (item?.kind === "string") items.push(item.text);
      }
      c.acceptOp("]");
      props[key] = items.join(",");
    }
  } while (c.acceptOp(","));
  c.acceptOp(")");
  return props;
}

function malformed(form: string): QueryFailure {
  return new QueryFailure(`SYNTAX_ERROR: expected ${form}`, ErrorTypes.syntaxError);
}
