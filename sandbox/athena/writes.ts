import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { DuckDBConnection } from "@duckdb/node-api";
import { quoteLiteral } from "../duckdb.ts";
import type { CatalogColumn } from "./catalog.ts";
import { queryFailure, translateSelect } from "./dialect.ts";
import { ErrorTypes, QueryFailure } from "./errors.ts";
import type { QueryExecutionRecord, RunnerDeps } from "./executions.ts";
import { type QueryResult, readResult } from "./results.ts";
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
  let result: QueryResult;
  try {
    result = await readResult(await c.stream(sql), () => exec.state === "CANCELLED");
    if (format === "PARQUET") {
      const path = join(dir, "unload.parquet");
      await c.run(`COPY (${sql}) TO ${quoteLiteral(path)} (FORMAT PARQUET, COMPRESSION ${codec})`);
      const file = { bucket: target.bucket, prefix: `${target.prefix}${exec.id}_00000.parquet` };
      await putObject(deps.s3(), file, await readFile(path), "application/octet-stream", exec.encryption);
      written.push(file);
    } else {
      const delimiter = spec.props.field_delimiter ?? "\u0001";
      for (const [folder, rows] of partitions(result, partitionedBy)) {
        // AWS's workers write several files; how many is the switch athenaUnloadRowsPerFile (sandbox/behaviours.ts).
        const perFile = deps.behaviours.athenaUnloadRowsPerFile ?? Math.max(1, rows.length);
        for (let at = 0, n = 0; at < rows.length || n === 0; at += perFile, n++) {
          const text = rows
            .slice(at, at + perFile)
            .map((r) => `${r.map((v) => v ?? "\\N").join(delimiter)}\n`)
            .join("");
          const name = `${exec.id}_${String(n).padStart(5, "0")}.gz`;
          const file = { bucket: target.bucket, prefix: `${target.prefix}${folder}${name}` };
          await putObject(deps.s3(), file, gzipSync(Buffer.from(text, "utf8")), "application/gzip", exec.encryption);
          written.push(file);
        }
      }
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
  exec.updateCount = result.rows.length;
  exec.result = { columns: [], rows: [] };
  if (spec.table) {
    const columns: CatalogColumn[] = result.columns.map((col) => ({
      name: col.Name.toLowerCase(),
      type: hiveType(col.Type, col.Precision, col.Scale),
    }));
    deps.catalog.database(spec.table.database)?.tables.set(spec.table.name, {
      database: spec.table.database,
      name: spec.table.name,
      columns,
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
 * The rows of each partition folder (`col=value/`, Hive's layout; `""` when unpartitioned, which writes one file even
 * for no rows), the partition columns, which the SELECT lists last, left out of the rows.
 */
function partitions(result: QueryResult, columns: readonly string[]): Map<string, QueryResult["rows"]> {
  if (columns.length === 0) return new Map([["", result.rows]]);
  const names = result.columns.map((c) => c.Name.toLowerCase());
  const last = names.slice(-columns.length);
  if (columns.some((c, i) => c.toLowerCase() !== last[i])) {
    throw new QueryFailure(
      `Partition columns must be the last columns in the SELECT, in the order of partitioned_by: ${columns.join(", ")}`,
      ErrorTypes.userError,
    );
  }
  const byFolder = new Map<string, QueryResult["rows"]>();
  for (const row of result.rows) {
    const values = row.slice(-columns.length);
    const folder = columns.map((c, i) => `${c}=${hivePathValue(values[i])}/`).join("");
    let rows = byFolder.get(folder);
    if (!rows) {
      if (byFolder.size === MAX_UNLOAD_PARTITIONS) {
        throw new QueryFailure(
          `HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of ${MAX_UNLOAD_PARTITIONS} open writers for partitions/buckets`,
          ErrorTypes.userError,
        );
      }
      rows = [];
      byFolder.set(folder, rows);
    }
    rows.push(row.slice(0, -columns.length));
  }
  return byFolder;
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
