import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecution,
  StartQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import type { S3Client } from "@aws-sdk/client-s3";
import { EngineUnavailableError, InventoryFormatError, TransientAwsError } from "../../contract/errors.ts";
import { others } from "../domain/engine-choice.ts";
import {
  athenaCurrentRowsSql,
  athenaNotCurrentSql,
  type InventoryTable,
  inventoryTableDdl,
  type NotCurrentCounts,
  notCurrentFromCounts,
} from "../domain/inventory-queries.ts";
import type { AthenaConfig } from "../runtime/step.ts";
import { getStream } from "./s3-io.ts";

/**
 * The athena engine's reads (contract/engines.ts): the inventory as a table (AWS's DDL, one partition per
 * delivery), one query for the delivery's current versions and one counting the others; the step then reads the
 * first query's result file from the workgroup's output location. Queries carry a ClientRequestToken made from
 * the plan and the statement, so a retried step finds the queries it started instead of paying for them again.
 */

/** The delivery's current rows (Athena's result CSV: a header, every value quoted) and its other versions counted. */
export interface AthenaInventory {
  rows: Readable;
  /** The result file, for errors and logs. */
  rowsKey: string;
  notCurrent: NotCurrentCounts;
  /** What each query scanned (the DDL scans nothing and is not billed). */
  scannedBytes: number[];
}

export async function queryInventory(
  clients: { athena: AthenaClient; s3: S3Client },
  config: AthenaConfig,
  table: InventoryTable,
  /** Names the plan the queries are for: with the statement, it makes each query's ClientRequestToken. */
  planPrefix: string,
): Promise<AthenaInventory> {
  const run = (sql: string) => runQuery(clients.athena, config, sql, planPrefix);
  await run(inventoryTableDdl(table));
  const countSql = athenaNotCurrentSql(table);
  const [rows, counts] = await Promise.all([
    run(athenaCurrentRowsSql(table)),
    countSql ? run(countSql) : Promise.resolve(undefined),
  ]);
  const notCurrent = counts
    ? notCurrentFromCounts(await firstRow(clients.athena, counts), `Athena query ${counts.QueryExecutionId}`)
    : { byReason: {} };
  const location = rows.ResultConfiguration?.OutputLocation ?? "";
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!m) {
    throw new TransientAwsError(`Athena query ${rows.QueryExecutionId} has no result file (${location}).`, {
      fix: "Start the step again; if it recurs, look at the query in the Athena console.",
    });
  }
  const [, bucket = "", key = ""] = m;
  const scannedBytes = [rows, counts].flatMap((q) => (q ? [q.Statistics?.DataScannedInBytes ?? 0] : []));
  return { rows: await getStream(clients.s3, bucket, key), rowsKey: key, notCurrent, scannedBytes };
}

/** Starts a statement (or finds the one a retried step started) and waits for it to end. */
async function runQuery(athena: AthenaClient, config: AthenaConfig, sql: string, planPrefix: string) {
  const token = createHash("sha256").update(`${planPrefix}\n${sql}`).digest("hex");
  const { QueryExecutionId: id } = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      WorkGroup: config.workGroup,
      QueryExecutionContext: { Database: config.database },
      ClientRequestToken: token,
    }),
  );
  if (!id) throw new TransientAwsError("StartQueryExecution answered without a query id.", { fix: RETRY_FIX });
  for (let wait = 100; ; wait = Math.min(wait * 2, 5000)) {
    const { QueryExecution: q } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = q?.Status?.State;
    if (state === "SUCCEEDED") return q as QueryExecution;
    if (state === "FAILED" || state === "CANCELLED") throw queryFailure(id, q, config);
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

/** The first data row of a small result (the first row of a SELECT's results is its header). */
async function firstRow(athena: AthenaClient, q: QueryExecution): Promise<(string | undefined)[]> {
  const out = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: q.QueryExecutionId, MaxResults: 2 }));
  return out.ResultSet?.Rows?.[1]?.Data?.map((d) => d.VarCharValue) ?? [];
}
