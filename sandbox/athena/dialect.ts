import { duckMessage } from "../duckdb.ts";
import { ErrorTypes, invalidRequest, QueryFailure } from "./errors.ts";
import type { PartitionFilter } from "./partitions.ts";
import { lineColumn, nameOf, type SqlToken, SqlTokenError, tokenizeSql } from "./tokens.ts";

/**
 * Trino/Presto (Athena engine version 3, https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html) to
 * DuckDB: what kind of statement a query is, which catalog tables a SELECT reads, the few places the dialects
 * differ (rewritten in place; sandbox/ATHENA.md lists them), the partition values its WHERE clause pins, and
 * DuckDB's errors as Athena words them.
 */
export type StatementKind = "select" | "ddl" | "ctas" | "unload" | "unsupported";

export function statementKind(sql: string): StatementKind {
  const words = tokensOf(sql)
    .filter((t) => t.kind === "word")
    .map((t) => (t as { upper: string }).upper);
  const [a, b, c] = words;
  if (a === "SELECT" || a === "WITH" || a === "VALUES" || (a === undefined && sql.trim().startsWith("(")))
    return "select";
  if (tokensOf(sql)[0]?.text === "(") return "select";
  if (a === "UNLOAD") return "unload";
  if (a === "CREATE" && b === "TABLE" && isCtas(tokensOf(sql))) return "ctas";
  if (a === "CREATE" && (b === "DATABASE" || b === "SCHEMA" || b === "EXTERNAL" || b === "TABLE")) return "ddl";
  if (a === "DROP" && (b === "TABLE" || b === "DATABASE" || b === "SCHEMA")) return "ddl";
  if (a === "MSCK" && b === "REPAIR" && c === "TABLE") return "ddl";
  if (a === "ALTER" || a === "SHOW" || a === "DESCRIBE" || a === "DESC" || a === "EXPLAIN" || a === "INSERT")
    return "unsupported";
  throw invalidRequest(
    `line 1:1: mismatched input '${a ?? "<EOF>"}'. Expecting: 'ALTER', 'ANALYZE', 'CALL', 'CREATE', 'DEALLOCATE', 'DELETE', 'DESC', 'DESCRIBE', 'DROP', 'EXECUTE', 'EXPLAIN', 'GRANT', 'INSERT', 'MSCK', 'PREPARE', 'RESET', 'REVOKE', 'SET', 'SHOW', 'START', 'UNLOAD', 'UPDATE', 'USE', <query>`,
    "MALFORMED_QUERY",
  );
}

/** `CREATE TABLE ... AS SELECT|WITH|VALUES|(`: an AS that starts a query (not `STORED AS PARQUET`). */
function isCtas(tokens: SqlToken[]): boolean {
  return tokens.some((t, i) => {
    const next = tokens[i + 1];
    return (
      t.kind === "word" &&
      t.upper === "AS" &&
      ((next?.kind === "word" && ["SELECT", "WITH", "VALUES"].includes(next.upper)) || next?.text === "(")
    );
  });
}

function tokensOf(sql: string): SqlToken[] {
  try {
    return tokenizeSql(sql);
  } catch (err) {
    if (err instanceof SqlTokenError)
      throw invalidRequest(`${lineColumn(sql, err.offset)}: ${err.message}`, "MALFORMED_QUERY");
    throw err;
  }
}

export interface TableRef {
  database: string;
  name: string;
  /** Where the name is written, for TABLE_NOT_FOUND's position. */
  start: number;
}

const CLAUSE_WORDS = new Set(
  "WHERE JOIN LEFT RIGHT INNER OUTER FULL CROSS ON GROUP ORDER LIMIT UNION EXCEPT INTERSECT HAVING WINDOW OFFSET FETCH TABLESAMPLE USING NATURAL AS SELECT FROM WITH".split(
    " ",
  ),
);

/** Functions whose Trino name or meaning differs in DuckDB: the name DuckDB calls them by (macros: duckdbMacros). */
const RENAMED_FUNCTIONS: Record<string, string> = {
  regexp_like: "regexp_matches",
  url_decode: "athena_url_decode",
  url_encode: "athena_url_encode",
  from_iso8601_timestamp: "athena_from_iso8601_timestamp",
  from_iso8601_date: "athena_from_iso8601_date",
  approx_distinct: "approx_count_distinct",
  arbitrary: "any_value",
  cardinality: "len",
  array_join: "array_to_string",
};

/**
 * DuckDB macros for Trino functions whose DuckDB namesake behaves differently: Trino's url_decode and url_encode
 * are Java's form encoding (`+` for space; `.`, `-`, `*` and `_` left as they are,
 * https://trino.io/docs/current/functions/url.html#url_encode), DuckDB's are not.
 */
export const DUCKDB_MACROS = [
  `CREATE MACRO athena_url_decode(s) AS url_decode(replace(s, '+', ' '))`,
  `CREATE MACRO athena_url_encode(s) AS replace(replace(replace(url_encode(s), '%20', '+'), '~', '%7E'), '%2A', '*')`,
  `CREATE MACRO athena_from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)`,
  `CREATE MACRO athena_from_iso8601_date(s) AS CAST(s AS DATE)`,
];

export interface SelectTranslation {
  /** The statement for DuckDB, the catalog tables being DuckDB schemas and views of the same names. */
  sql: string;
  tables: TableRef[];
}

/** Rewrites a SELECT (or the SELECT of an UNLOAD or CTAS) for DuckDB and names the tables it reads. */
export function translateSelect(sql: string, database: string): SelectTranslation {
  const tokens = tokensOf(sql);
  const edits: { start: number; end: number; text: string }[] = [];
  const tables: TableRef[] = [];
  const cteNames = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as SqlToken;
    const next = tokens[i + 1];
    if (t.kind === "ident") edits.push({ start: t.start, end: t.end, text: `"${t.text.replace(/"/g, '""')}"` });
    if (t.kind === "word" && next?.kind === "op" && next.text === "(" && tokens[i - 1]?.text !== ".") {
      const renamed = RENAMED_FUNCTIONS[t.text.toLowerCase()];
      if (renamed) edits.push({ start: t.start, end: t.end, text: renamed });
    }
    // `WITH name AS (` and `, name AS (`: a named subquery, not a table.
    if (
      (t.kind === "word" || t.kind === "ident") &&
      next?.kind === "word" &&
      next.upper === "AS" &&
      tokens[i + 2]?.text === "("
    ) {
      const name = nameOf(t);
      if (name) cteNames.add(name);
    }
    if (t.kind === "word" && (t.upper === "FROM" || t.upper === "JOIN")) {
      let j = i + 1;
      for (;;) {
        const ref = readName(tokens, j);
        if (!ref) break;
        const parts = ref.parts;
        // `awsdatacatalog.db.table`: DuckDB knows the database as a schema only.
        if (parts.length === 3)
          edits.push({ start: (tokens[j] as SqlToken).start, end: (tokens[j + 2] as SqlToken).start, text: "" });
        const [db, name] =
          parts.length === 1 ? [database, parts[0]] : [parts[parts.length - 2], parts[parts.length - 1]];
        if (!(parts.length === 1 && cteNames.has(parts[0] ?? ""))) {
          tables.push({ database: db ?? database, name: name ?? "", start: (tokens[j] as SqlToken).start });
        }
        j = ref.next;
        // An alias, with or without AS.
        if (tokens[j]?.kind === "word" && (tokens[j] as { upper: string }).upper === "AS") j += 1;
        const alias = tokens[j];
        if ((alias?.kind === "word" && !CLAUSE_WORDS.has(alias.upper)) || alias?.kind === "ident") j += 1;
        if (tokens[j]?.text !== "," || t.upper === "JOIN") break;
        j += 1;
      }
    }
  }
  return { sql: applyEdits(sql, edits), tables };
}

/** `a`, `a.b` or `a.b.c` at `i` (not a subquery or table function); undefined otherwise. */
function readName(tokens: SqlToken[], i: number): { parts: string[]; next: number } | undefined {
  const parts: string[] = [];
  let j = i;
  for (;;) {
    const name = nameOf(tokens[j]);
    if (name === undefined) return undefined;
    const t = tokens[j];
    if (t?.kind === "word" && CLAUSE_WORDS.has(t.upper) && parts.length === 0) return undefined;
    parts.push(name);
    j += 1;
    if (tokens[j]?.text !== ".") break;
    j += 1;
  }
  if (tokens[j]?.text === "(") return undefined;
  return { parts, next: j };
}

function applyEdits(sql: string, edits: { start: number; end: number; text: string }[]): string {
  let out = "";
  let at = 0;
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    if (e.start < at) continue;
    out += sql.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + sql.slice(at);
}

/**
 * The values of partition keys the WHERE clause pins with `key = 'v'` or `key IN ('v', ...)`, for a statement that
 * reads one table and has no OR, nor NOT other than IS NOT (where pinning could not be read off the text). Pruning
 * only chooses which partitions are read (and counted as scanned); DuckDB still evaluates the whole WHERE clause.
 */
export function partitionFilter(sql: string, keys: string[], tableCount: number): PartitionFilter {
  const filter: PartitionFilter = new Map();
  const tokens = tokensOf(sql);
  // `IS NOT NULL` negates nothing a partition value could be pinned by; any other NOT, and any OR, stop pruning.
  const widens = (t: SqlToken, i: number) =>
    t.kind === "word" &&
    (t.upper === "OR" || (t.upper === "NOT" && (tokens[i - 1] as { upper?: string })?.upper !== "IS"));
  if (tableCount !== 1 || tokens.some(widens)) return filter;
  const where = tokens.findIndex((t) => t.kind === "word" && t.upper === "WHERE");
  if (where < 0) return filter;
  for (let i = where; i < tokens.length; i++) {
    const name = nameOf(tokens[i]);
    if (name === undefined || !keys.includes(name) || tokens[i + 1]?.text === ".") continue;
    const op = tokens[i + 1];
    const values: string[] = [];
    if (op?.text === "=" && tokens[i + 2]?.kind === "string") values.push((tokens[i + 2] as SqlToken).text);
    else if (op?.kind === "word" && op.upper === "IN" && tokens[i + 2]?.text === "(") {
      let j = i + 3;
      while (tokens[j]?.kind === "string") {
        values.push((tokens[j] as SqlToken).text);
        if (tokens[j + 1]?.text !== ",") break;
        j += 2;
      }
    } else if (tokens[i - 1]?.text === "=" && tokens[i - 2]?.kind === "string")
      values.push((tokens[i - 2] as SqlToken).text);
    if (values.length === 0) continue;
    const known = filter.get(name);
    filter.set(name, new Set(known ? values.filter((v) => known.has(v)) : values));
  }
  return filter;
}

/** Checks a SELECT's syntax with DuckDB's parser; Athena refuses a statement it cannot parse when it is started. */
export function syntaxError(sql: string, err: unknown): never {
  const message = duckMessage(err)
    .replace(/^Failed to extract statements: /, "")
    .replace(/^Parser Error: /, "");
  const near = /at or near "([^"]*)"/.exec(message)?.[1];
  const offset = near === undefined ? 0 : Math.max(0, tokensOf(sql).find((t) => t.text === near)?.start ?? 0);
  throw invalidRequest(`${lineColumn(sql, offset)}: ${message}`, "MALFORMED_QUERY");
}

/** A DuckDB error met while running the query, as the FAILED reason Athena gives. */
export function queryFailure(sql: string, err: unknown): QueryFailure {
  const message = duckMessage(err);
  const at = (name: string) => {
    const t = tokensOf(sql).find((x) => nameOf(x) === name.toLowerCase());
    return t ? `${lineColumn(sql, t.start)}: ` : "";
  };
  const column = /Referenced column "([^"]+)" not found/.exec(message)?.[1];
  if (column !== undefined) {
    return new QueryFailure(
      `COLUMN_NOT_FOUND: ${at(column)}Column '${column}' cannot be resolved or requester is not authorized to access requested resources`,
      ErrorTypes.syntaxError,
    );
  }
  const fn = /Function with name (\S+) does not exist/.exec(message)?.[1];
  if (fn !== undefined)
    return new QueryFailure(
      `FUNCTION_NOT_FOUND: ${at(fn)}Function '${fn}' not registered`,
      ErrorTypes.functionNotFound,
    );
  if (message.startsWith("Conversion Error"))
    return new QueryFailure(
      `INVALID_CAST_ARGUMENT: ${message.replace(/^Conversion Error: /, "")}`,
      ErrorTypes.dataError,
    );
  if (message.startsWith("Binder Error") || message.startsWith("Catalog Error")) {
    return new QueryFailure(
      `SYNTAX_ERROR: ${message.replace(/^(Binder|Catalog) Error: /, "")}`,
      ErrorTypes.syntaxError,
    );
  }
  if (/CSV Error|Invalid Input Error/.test(message))
    return new QueryFailure(`HIVE_BAD_DATA: ${message}`, ErrorTypes.dataError);
  return new QueryFailure(`GENERIC_INTERNAL_ERROR: ${message}`, ErrorTypes.internalEngine, 1);
}

export function tableNotFound(sql: string, ref: TableRef): QueryFailure {
  return new QueryFailure(
    `TABLE_NOT_FOUND: ${lineColumn(sql, ref.start)}: Table 'awsdatacatalog.${ref.database}.${ref.name}' does not exist`,
    ErrorTypes.tableNotFound,
  );
}
