import { DuckDBInstance } from "@duckdb/node-api";

/**
 * What the sandbox's SQL engines share over DuckDB (https://duckdb.org/docs/): S3 Select (sandbox/s3/select/) and
 * Athena (sandbox/athena/) both translate their dialect to DuckDB SQL over data copied out of the sandbox's S3.
 */

let shared: Promise<DuckDBInstance> | undefined;
/** One in-memory DuckDB for the process, one thread: queries are small and the machine is shared. */
export function sharedDuckDb(): Promise<DuckDBInstance> {
  shared ??= DuckDBInstance.create(":memory:", { threads: "1" });
  return shared;
}

/** A DuckDB of its own (one thread), for work that creates schemas and views that must not meet another's. */
export function privateDuckDb(): Promise<DuckDBInstance> {
  return DuckDBInstance.create(":memory:", { threads: "1" });
}

export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export function quoteIdentifier(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** The first line of a DuckDB error: `Binder Error: ...`, without the LINE/caret context that follows. */
export function duckMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}
