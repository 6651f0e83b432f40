import type { DuckDBResult } from "@duckdb/node-api";

/**
 * A query's result as Athena keeps it: the columns (ResultSetMetadata.ColumnInfo, Trino type names) and the rows
 * as text, the way GetQueryResults answers them and the `<QueryExecutionId>.csv` result file holds them.
 */
export interface ColumnInfo {
  CatalogName: string;
  SchemaName: string;
  TableName: string;
  Name: string;
  Label: string;
  Type: string;
  Precision: number;
  Scale: number;
  Nullable: "UNKNOWN";
  CaseSensitive: boolean;
}

export interface QueryResult {
  columns: ColumnInfo[];
  /** Data rows; null is SQL NULL (a Datum without VarCharValue, an unquoted empty CSV field). */
  rows: (string | null)[][];
}

export async function readResult(result: DuckDBResult, shouldStop: () => boolean): Promise<QueryResult> {
  const streamed = streamResult(result);
  const rows: (string | null)[][] = [];
  for await (const chunk of streamed.chunks(shouldStop)) rows.push(...chunk);
  return { columns: streamed.columns, rows };
}

/** A result's columns, and its rows as text a chunk at a time (an UNLOAD writes them as they come). */
export function streamResult(result: DuckDBResult): {
  columns: ColumnInfo[];
  chunks: (shouldStop: () => boolean) => AsyncGenerator<(string | null)[][]>;
} {
  const names = result.columnNames();
  const types = result.columnTypes().map((t) => t.toString());
  const columns = names.map((name, i) => columnInfo(name, types[i] ?? "VARCHAR"));
  async function* chunks(shouldStop: () => boolean) {
    for await (const chunk of result.yieldRowsJson()) {
      if (shouldStop()) return;
      yield chunk.map((row) => row.map((v, i) => text(v, columns[i]?.Type ?? "varchar")));
    }
  }
  return { columns, chunks };
}

/** A DuckDB type as Athena (Trino) names it, with the precision and scale Athena reports. */
function columnInfo(name: string, duck: string): ColumnInfo {
  const decimal = /^DECIMAL\((\d+),(\d+)\)$/.exec(duck);
  const simple: Record<string, [string, number]> = {
    VARCHAR: ["varchar", 2147483647],
    BOOLEAN: ["boolean", 0],
    TINYINT: ["tinyint", 3],
    SMALLINT: ["smallint", 5],
    INTEGER: ["integer", 10],
    BIGINT: ["bigint", 19],
    HUGEINT: ["decimal", 38],
    FLOAT: ["real", 7],
    DOUBLE: ["double", 17],
    DATE: ["date", 0],
    TIMESTAMP: ["timestamp", 3],
    "TIMESTAMP WITH TIME ZONE": ["timestamp with time zone", 3],
    BLOB: ["varbinary", 2147483647],
  };
  const [type, precision] = decimal
    ? ["decimal", Number(decimal[1])]
    : (simple[duck] ??
      (/\[\]$/.test(duck)
        ? ["array", 0]
        : /^STRUCT/.test(duck)
          ? ["row", 0]
          : /^MAP/.test(duck)
            ? ["map", 0]
            : ["varchar", 2147483647]));
  return {
    CatalogName: "hive",
    SchemaName: "",
    TableName: "",
    Name: name,
    Label: name,
    Type: type,
    Precision: precision,
    Scale: decimal ? Number(decimal[2]) : 0,
    Nullable: "UNKNOWN",
    CaseSensitive: type === "varchar",
  };
}

/** A value as Trino writes it as text: `true`, `2024-04-12 06:45:57.000`, `[a, b]`, `{k=v}`. */
function text(v: unknown, type: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "number") return String(v);
  if (typeof v === "string") {
    if (type === "timestamp" || type === "timestamp with time zone") return timestampText(v);
    return v;
  }
  if (Array.isArray(v)) return `[${v.map((x) => text(x, "") ?? "null").join(", ")}]`;
  if (typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${text(x, "") ?? "null"}`)
      .join(", ")}}`;
  }
  return String(v);
}

function timestampText(v: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(v);
  if (!m) return v;
  const millis = (m[3] ?? "").padEnd(3, "0").slice(0, 3);
  const zone = m[4] === "+00" ? " UTC" : (m[4] ?? "");
  return `${m[1]} ${m[2]}.${millis}${zone}`;
}

/** The result file: a header row of column names, then the rows; every value quoted, NULL an empty field. */
export function resultCsv(result: QueryResult): string {
  const line = (values: (string | null)[]) =>
    `${values.map((v) => (v === null ? "" : `"${v.replace(/"/g, '""')}"`)).join(",")}\n`;
  return line(result.columns.map((c) => c.Name)) + result.rows.map(line).join("");
}

/**
 * GetQueryResults' rows from `offset`: for a SELECT the header row (the column names) comes first, and counts as
 * one of the page's MaxResults (row 0 of the result).
 */
export function resultRows(result: QueryResult, withHeader: boolean, offset: number, max: number) {
  const all = withHeader ? [result.columns.map((c) => c.Name), ...result.rows] : result.rows;
  const page = all.slice(offset, offset + max);
  return {
    rows: page.map((r) => ({ Data: r.map((v) => (v === null ? {} : { VarCharValue: v })) })),
    next: offset + max < all.length ? offset + max : undefined,
  };
}
