import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { privateDuckDb, quoteIdentifier } from "../duckdb.ts";
import type { CatalogTable } from "./catalog.ts";
import { applyDdl, parseDdl } from "./ddl.ts";
import { DUCKDB_MACROS, partitionFilter, queryFailure, tableNotFound, translateSelect } from "./dialect.ts";
import { ErrorTypes, QueryFailure } from "./errors.ts";
import type { QueryExecutionRecord, RunnerDeps } from "./executions.ts";
import { discoverPartitions } from "./partitions.ts";
import { type QueryResult, readResult, resultCsv } from "./results.ts";
import { parseS3Uri, putObject } from "./s3-io.ts";
import { materialize, planTable, type TablePlan } from "./table-data.ts";
import { runUnloadOrCtas } from "./writes.ts";

/**
 * Runs one query execution to its end: DDL against the Glue catalog, SELECT (and UNLOAD, CTAS: writes.ts) in a
 * DuckDB of its own over the tables' data copied from S3; then the result files under the output location. A
 * failure is thrown as QueryFailure; the execution (executions.ts) records the state.
 */
/** Stops work once the execution was cancelled (StopQueryExecution) while it ran. */
export class Cancelled extends Error {}

export async function runExecution(deps: RunnerDeps, exec: QueryExecutionRecord): Promise<void> {
  checkCancelled(exec);
  if (exec.kind === "unsupported") {
    throw new QueryFailure(
      `NOT_SUPPORTED: the sandbox does not run this statement: ${exec.query.slice(0, 60)}`,
      ErrorTypes.notSupported,
    );
  }
  if (exec.kind === "ddl") return runDdl(deps, exec);
  const database = exec.database;
  if (!deps.catalog.database(database)) {
    throw new QueryFailure(`SCHEMA_NOT_FOUND: Schema '${database}' does not exist`, ErrorTypes.tableNotFound);
  }
  const translation = translateSelect(exec.query, database);
  const tables: CatalogTable[] = [];
  for (const ref of translation.tables) {
    const table = deps.catalog.table(ref.database, ref.name);
    if (!table) throw tableNotFound(exec.query, ref);
    if (!tables.includes(table)) tables.push(table);
  }
  const plans: TablePlan[] = [];
  for (const table of tables) {
    const keys = table.partitionKeys.map((k) => k.name);
    plans.push(await planTable(deps.s3(), table, partitionFilter(exec.query, keys, tables.length)));
    checkCancelled(exec);
  }
  exec.bytesScanned = plans.reduce((n, p) => n + p.bytes, 0);
  const cutoff = exec.bytesScannedCutoff;
  if (cutoff !== undefined && exec.bytesScanned > cutoff) {
    // "If any query that runs in the workgroup exceeds the limit, it is canceled."
    // (https://docs.aws.amazon.com/athena/latest/ug/workgroups-setting-control-limits-cloudwatch.html)
    exec.bytesScanned = cutoff;
    throw new QueryFailure("Bytes scanned limit was exceeded", ErrorTypes.queryRejected);
  }
  const dir = await mkdtemp(join(tmpdir(), "sandbox-athena-"));
  const duck = await privateDuckDb();
  const connection = await duck.connect();
  exec.interrupt = () => connection.interrupt();
  try {
    await prepare(deps, connection, plans, database, dir);
    checkCancelled(exec);
    if (exec.kind === "select") {
      const result = await select(connection, exec, translation.sql);
      checkCancelled(exec);
      await writeResult(deps, exec, result);
    } else {
      await runUnloadOrCtas(deps, exec, connection, dir);
    }
  } finally {
    exec.interrupt = undefined;
    connection.closeSync();
    duck.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

function checkCancelled(exec: QueryExecutionRecord): void {
  if (exec.state === "CANCELLED") throw new Cancelled();
}

/** The catalog tables a query reads, as DuckDB schemas and views; the context database is the default schema. */
async function prepare(deps: RunnerDeps, c: DuckDBConnection, plans: TablePlan[], database: string, dir: string) {
  for (const sql of DUCKDB_MACROS) await c.run(sql);
  const schemas = new Set([database, ...plans.map((p) => p.table.database)]);
  for (const s of schemas) await c.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(s)}`);
  for (const [i, plan] of plans.entries()) {
    const body = await materialize(deps.s3(), plan, dir, `t${i}`);
    await c.run(`CREATE VIEW ${quoteIdentifier(plan.table.database)}.${quoteIdentifier(plan.table.name)} AS ${body}`);
  }
  await c.run(`USE ${quoteIdentifier(database)}`);
}

async function select(c: DuckDBConnection, exec: QueryExecutionRecord, sql: string): Promise<QueryResult> {
  const started = Date.now();
  try {
    const result = await readResult(await c.stream(sql), () => exec.state === "CANCELLED");
    exec.engineMs = Date.now() - started;
    return result;
  } catch (err) {
    checkCancelled(exec);
    throw queryFailure(exec.query, err);
  }
}

/** `<id>.csv` and `<id>.csv.metadata` under the output location; GetQueryResults reads the rows kept in memory. */
export async function writeResult(deps: RunnerDeps, exec: QueryExecutionRecord, result: QueryResult): Promise<void> {
  const file = parseS3Uri(exec.outputFile);
  if (!file) throw new QueryFailure(`Invalid output location ${exec.outputFile}`, ErrorTypes.writeResults, 1);
  await putObject(deps.s3(), file, resultCsv(result), "text/csv", exec.encryption);
  const metadata = JSON.stringify({ ColumnInfo: result.columns });
  await putObject(
    deps.s3(),
    { ...file, prefix: `${file.prefix}.metadata` },
    metadata,
    "application/octet-stream",
    exec.encryption,
  );
  exec.result = result;
}

async function runDdl(deps: RunnerDeps, exec: QueryExecutionRecord): Promise<void> {
  const ddl = parseDdl(exec.query, exec.database);
  let discovered: CatalogTable["partitions"] | undefined;
  if (ddl.kind === "repairTable") {
    const table = deps.catalog.table(ddl.database, ddl.name);
    if (table && table.partitionKeys.length > 0) {
      discovered = (await discoverPartitions(deps.s3(), table)).map((p) => ({
        values: table.partitionKeys.map((k) => p.values[k.name] ?? ""),
        location: p.location,
      }));
    }
  }
  checkCancelled(exec);
  applyDdl(deps.catalog, ddl, discovered);
  // DDL results are a plain-text file (`<id>.txt`), empty for these statements.
  const file = parseS3Uri(exec.outputFile);
  if (!file) return;
  await putObject(deps.s3(), file, "", "text/plain", exec.encryption);
  await putObject(
    deps.s3(),
    { ...file, prefix: `${file.prefix}.metadata` },
    JSON.stringify({ ColumnInfo: [] }),
    "application/octet-stream",
    exec.encryption,
  );
  exec.result = { columns: [], rows: [] };
}
