import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecution,
  StartQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  EngineUnavailableError,
  InvariantViolatedError,
  InventoryFormatError,
  TransientAwsError,
} from "../../contract/errors.ts";
import { others } from "../domain/engine-choice.ts";
import {
  athenaNotCurrentSql,
  athenaUnloadSql,
  type InventoryTable,
  inventoryTableDdl,
  type NotCurrentCounts,
  notCurrentFromCounts,
} from "../domain/inventory-queries.ts";
import {
  athenaRouteStatements,
  partOfUnloadedFile,
  type RoutedPart,
  type RoutedTally,
  type RouteSqlOptions,
  routeCounts,
  routedLines,
  routedTally,
} from "../domain/inventory-routes.ts";
import type { AthenaConfig } from "../runtime/step.ts";
import { getText } from "./s3-io.ts";

/**
 * The athena engine's reads (contract/engines.ts): the inventory as a table (AWS's DDL, one partition per delivery),
 * then either the routes decided in SQL (steps/domain/inventory-routes.ts: a count of every route, UNLOADs of the
 * manifests' and skipped.csv's lines, and of the rows left to the step), or, where earlier runs' work must be left
 * out object by object, a count of the versions that are not current and an UNLOAD of every current version. The
 * slices read those files (a plan can stop between them and continue in its next invocation). Queries carry a
 * ClientRequestToken made from the plan and the statement, so a retried step finds the queries it started instead of
 * paying for them again.
 */

/**
 * One file an UNLOAD wrote: lines of a plan's `part` (appended as they are), or rows for the step to classify
 * (no part).
 */
export interface UnloadedFile {
  bucket: string;
  key: string;
  part?: RoutedPart;
}

/** The delivery's files to read in order, its other versions counted, and what the queries scanned. */
export interface AthenaInventory {
  files: UnloadedFile[];
  notCurrent: NotCurrentCounts;
  /** What each query scanned (the DDL scans nothing and is not billed). */
  scannedBytes: number[];
  /** With routes: what Athena routed itself, counted. */
  routed?: RoutedTally;
}

/**
 * Without `routes`, every current version is unloaded for the step to classify. With them (a plan with no earlier
 * runs' work to leave out), Athena routes the rows itself (steps/domain/inventory-routes.ts): it writes the manifests'
 * and skipped.csv's lines and counts every route, and unloads only the rows the step must classify.
 */
export async function queryInventory(
  athena: AthenaClient,
  s3: S3Client,
  config: AthenaConfig,
  table: InventoryTable,
  /** Names the plan the queries are for: with the statement, it makes each query's ClientRequestToken. */
  planPrefix: string,
  routes?: RouteSqlOptions,
  /** When to stop waiting (AthenaQueryRunning); absent: wait for every query to end. */
  deadline?: { at: number; now: () => number },
): Promise<AthenaInventory> {
  // A query that failed in a way Athena calls retryable is asked again under a new token (the same token only
  // answers the same failed execution), writing to a folder of its own: UNLOAD needs an empty one, and Athena leaves
  // a failed query's files where they are.
  const attempted = async (statement: (attempt: number) => string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await runQuery(athena, config, statement(attempt), planPrefix, attempt, deadline);
      } catch (err) {
        if (!(err instanceof TransientAwsError) || attempt >= QUERY_ATTEMPTS) throw err;
      }
    }
  };
  const run = (sql: string) => attempted(() => sql);
  const ddl = await run(inventoryTableDdl(table));
  // The UNLOADs write beside the workgroup's results (where the step may write), in a folder of their own.
  const results = s3Location(ddl.ResultConfiguration?.OutputLocation ?? "", ddl.QueryExecutionId);
  // Named by what decides the statements, so a plan asking differently never meets another plan's output.
  const asked = `${table.name}/${table.dt}/${routes ? JSON.stringify(routes) : "rows"}`;
  const folder = `${results.key.replace(/[^/]*$/, "")}unload/${token(planPrefix, asked).slice(0, 16)}/`;
  const unload = async (statement: (location: string) => string, name: string) => {
    const q = await attempted((attempt) =>
      statement(`s3://${results.bucket}/${folder}${name}${attempt > 1 ? `attempt-${attempt}/` : ""}`),
    );
    return { q, files: await unloadedFiles(s3, q) };
  };
  if (routes) {
    const statements = athenaRouteStatements(table, routes);
    const counted = await run(statements.tally);
    const source = `Athena query ${counted.QueryExecutionId}`;
    const routed = routedTally(routeCounts(await allRows(athena, counted), source));
    // A route with no rows is not unloaded: nothing to write, and a scan saved.
    const parts = [...routedLines(routed.tally).keys()];
    const manifests = parts.some((p) => p !== "skipped") ? await unload(statements.manifests, "manifests/") : undefined;
    const skipped = parts.includes("skipped") ? await unload(statements.skipped, "skipped/") : undefined;
    const step = routed.stepRows > 0 ? await unload(statements.step, "step/") : undefined;
    const files: UnloadedFile[] = [
      ...(manifests?.files ?? []).map((f) => {
        const part = partOfUnloadedFile(f.key);
        if (!part) {
          throw new InvariantViolatedError(`Athena's UNLOAD wrote ${f.key} outside a route's folder.`, {
            fix: "This is a bug in rekey's routes (steps/domain/inventory-routes.ts); run with engine stream and report it.",
          });
        }
        return { ...f, part };
      }),
      ...(skipped?.files ?? []).map((f) => ({ ...f, part: "skipped" as const })),
      ...(step?.files ?? []),
    ];
    const scannedBytes = [counted, manifests?.q, skipped?.q, step?.q].flatMap((q) =>
      q ? [q.Statistics?.DataScannedInBytes ?? 0] : [],
    );
    return { files, notCurrent: routed.notCurrent, scannedBytes, routed };
  }
  const countSql = athenaNotCurrentSql(table);
  const counts = countSql ? await run(countSql) : undefined;
  const notCurrent = counts
    ? notCurrentFromCounts((await allRows(athena, counts))[1] ?? [], `Athena query ${counts.QueryExecutionId}`)
    : { byReason: {} };
  const rows = await unload((location) => athenaUnloadSql(table, location), "");
  const scannedBytes = [counts, rows.q].flatMap((q) => (q ? [q.Statistics?.DataScannedInBytes ?? 0] : []));
  return { files: rows.files, notCurrent, scannedBytes };
}

/** The files an UNLOAD wrote, as its data manifest lists them. */
async function unloadedFiles(s3: S3Client, q: QueryExecution): Promise<UnloadedFile[]> {
  const manifest = s3Location(q.Statistics?.DataManifestLocation ?? "", q.QueryExecutionId);
  const listed = await getText(s3, manifest.bucket, manifest.key);
  return listed
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((uri) => s3Location(uri.trim(), q.QueryExecutionId));
}

function s3Location(uri: string, queryId: string | undefined): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m) {
    throw new TransientAwsError(`Athena query ${queryId} names no S3 location ("${uri}").`, { fix: RETRY_FIX });
  }
  return { bucket: m[1] ?? "", key: m[2] ?? "" };
}

/** How many times a statement is asked when Athena answers that it failed in a way worth retrying. */
const QUERY_ATTEMPTS = 3;

function token(planPrefix: string, sql: string, attempt = 1): string {
  return createHash("sha256")
    .update(`${planPrefix}\n${sql}${attempt > 1 ? `\nattempt ${attempt}` : ""}`)
    .digest("hex");
}

/** Starts a statement (or finds the one a retried step started) and waits for it to end. */
/**
 * A query still running at the caller's deadline: "Slice the inventory" returns, the run waits, and the step asked
 * again finds the same queries by their tokens. Never leaves the step.
 */
export class AthenaQueryRunning extends Error {
  constructor(
    readonly queryId: string,
    readonly state: string,
  ) {
    super(`Athena query ${queryId} is ${state}.`);
    this.name = "AthenaQueryRunning";
  }
}

async function runQuery(
  athena: AthenaClient,
  config: AthenaConfig,
  sql: string,
  planPrefix: string,
  attempt: number,
  deadline: { at: number; now: () => number } | undefined,
) {
  const { QueryExecutionId: id } = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      WorkGroup: config.workGroup,
      QueryExecutionContext: { Database: config.database },
      ClientRequestToken: token(planPrefix, sql, attempt),
    }),
  );
  if (!id) throw new TransientAwsError("StartQueryExecution answered without a query id.", { fix: RETRY_FIX });
  for (let wait = 100; ; wait = Math.min(wait * 2, 5000)) {
    const { QueryExecution: q } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = q?.Status?.State;
    if (state === "SUCCEEDED") return q as QueryExecution;
    if (state === "FAILED" || state === "CANCELLED") throw queryFailure(id, q, config);
    if (deadline && deadline.now() >= deadline.at) throw new AthenaQueryRunning(id, state ?? "QUEUED");
    await sleep(wait);
  }
}

const RETRY_FIX = "Start the step again; if it recurs, look at the query in the Athena console.";

function queryFailure(id: string, q: QueryExecution | undefined, config: AthenaConfig): Error {
  const reason = q?.Status?.StateChangeReason ?? q?.Status?.AthenaError?.ErrorMessage ?? "no reason given";
  const problem = `Athena query ${id} ${q?.Status?.State === "CANCELLED" ? "was cancelled" : "failed"}: ${reason}`;
  if (/Bytes scanned limit was exceeded/i.test(reason)) {
    return new EngineUnavailableError(`${problem}.`, {
      fix: `Raise the BytesScannedCutoffPerQuery of workgroup ${config.workGroup} (infra/), or start the run with engine ${others("athena")}.`,
    });
  }
  if (/HIVE_PATH_ALREADY_EXISTS/.test(reason)) {
    return new EngineUnavailableError(`${problem}.`, {
      fix: "An earlier attempt's UNLOAD output is in the way (its query is no longer found by its request token): delete the folder the message names and start the step again.",
    });
  }
  if (/HIVE_BAD_DATA|HIVE_CURSOR_ERROR/.test(reason)) {
    return new InventoryFormatError(`${problem}.`, {
      file: id,
      fix: "The inventory's data files do not match their manifest.json or are corrupt; wait for the next delivery.",
    });
  }
  if (q?.Status?.AthenaError?.Retryable) return new TransientAwsError(`${problem}.`, { fix: RETRY_FIX });
  return new EngineUnavailableError(`${problem}.`, {
    fix: `Look at the query in the Athena console (workgroup ${config.workGroup}), or start the run with engine ${others("athena")}.`,
  });
}

/** Every row of a result, header first, page by page (the counts are a row; the tally a row per route, a few dozen). */
export async function allRows(athena: AthenaClient, q: QueryExecution): Promise<(string | undefined)[][]> {
  const rows: (string | undefined)[][] = [];
  let NextToken: string | undefined;
  do {
    const out = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: q.QueryExecutionId, NextToken }));
    for (const row of out.ResultSet?.Rows ?? []) rows.push(row.Data?.map((d) => d.VarCharValue) ?? []);
    NextToken = out.NextToken;
  } while (NextToken);
  return rows;
}
