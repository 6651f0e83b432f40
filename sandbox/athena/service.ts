import type { S3Client } from "@aws-sdk/client-s3";
import type { Behaviours } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import { sharedDuckDb } from "../duckdb.ts";
import { header, type SandboxRequest, type SandboxResponse, ServiceError, type ServiceHandler } from "../http.ts";
import { sandboxS3Client } from "../sdk-clients.ts";
import { type CatalogSnapshot, GlueCatalog } from "./catalog.ts";
import { type StatementKind, statementKind, syntaxError, translateSelect } from "./dialect.ts";
import { invalidRequest } from "./errors.ts";
import { type QueryExecutionRecord, QueryExecutions } from "./executions.ts";
import { resultRows } from "./results.ts";
import { runExecution } from "./runner.ts";
import { ATHENA_USER_AGENT } from "./s3-io.ts";
import { nameOf, tokenizeSql } from "./tokens.ts";
import {
  checkOutputLocation,
  ENGINE_VERSION,
  effectiveResultConfiguration,
  type ResultConfiguration,
  WorkGroups,
  workGroupView,
} from "./workgroups.ts";

const TARGET_PREFIX = "AmazonAthena.";
const MAX_QUERY_BYTES = 262_144;

export interface AthenaSandbox {
  handler: ServiceHandler;
  /**
   * `/_sandbox/athena/queue`: GET shows, POST `{ "paused"?, "holdRunning"? }` sets whether queued queries wait in
   * QUEUED and started ones in RUNNING.
   */
  admin: ServiceHandler;
  catalog: GlueCatalog;
  executions: QueryExecutions;
  workGroups: WorkGroups;
  /** The Glue catalog and the workgroups, as a data directory keeps them; query executions are not kept. */
  snapshot(): AthenaSnapshot;
  restore(snapshot: AthenaSnapshot): void;
}

export interface AthenaSnapshot {
  catalog: CatalogSnapshot;
  workGroups: ReturnType<WorkGroups["snapshot"]>;
}

/**
 * Athena over its JSON 1.1 protocol (`x-amz-target: AmazonAthena.<Operation>`): query executions run by DuckDB
 * over the sandbox's S3, the Glue catalog their DDL builds, and workgroups. Behaviour: sandbox/ATHENA.md.
 */
export function createAthena(deps: {
  identity: SandboxIdentity;
  endpoint: () => string;
  behaviours: Readonly<Behaviours>;
}): AthenaSandbox {
  let s3: S3Client | undefined;
  const client = () => {
    s3 ??= sandboxS3Client(
      { endpoint: deps.endpoint(), region: deps.identity.region },
      { maxAttempts: 3, customUserAgent: ATHENA_USER_AGENT },
    );
    return s3;
  };
  const catalog = new GlueCatalog();
  const workGroups = new WorkGroups();
  const executions = new QueryExecutions(deps.identity, (exec) =>
    runExecution({ s3: client, catalog, behaviours: deps.behaviours }, exec),
  );

  const operations: Record<string, (input: Record<string, unknown>) => unknown | Promise<unknown>> = {
    async StartQueryExecution(input) {
      const query = input.QueryString;
      if (typeof query !== "string" || query.length === 0 || Buffer.byteLength(query) > MAX_QUERY_BYTES) {
        throw invalidRequest(
          `1 validation error detected: Value at 'queryString' failed to satisfy constraint: Member must have length between 1 and ${MAX_QUERY_BYTES}`,
        );
      }
      const token = optionalString(input, "ClientRequestToken");
      if (token !== undefined && (token.length < 32 || token.length > 128)) {
        throw invalidRequest(
          "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 128",
        );
      }
      const fingerprint = JSON.stringify([
        query,
        input.QueryExecutionContext,
        input.ResultConfiguration,
        input.WorkGroup,
        input.ExecutionParameters,
      ]);
      const again = executions.existing(token, fingerprint);
      if (again) return { QueryExecutionId: again.id };
      const group = workGroups.get(input.WorkGroup);
      if (group.state !== "ENABLED") throw invalidRequest(`WorkGroup ${group.name} is disabled.`);
      const context = (input.QueryExecutionContext ?? {}) as { Database?: string; Catalog?: string };
      const sql = withParameters(query, input.ExecutionParameters);
      const kind = statementKind(sql);
      await checkSyntax(sql, kind);
      const client = input.ResultConfiguration as ResultConfiguration | undefined;
      checkOutputLocation(client?.OutputLocation);
      const results = effectiveResultConfiguration(group, client);
      if (!results.OutputLocation) {
        throw invalidRequest(
          "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.",
        );
      }
      const directory = results.OutputLocation.endsWith("/") ? results.OutputLocation : `${results.OutputLocation}/`;
      const exec = executions.add(
        {
          query: sql,
          kind,
          statementType: statementType(sql, kind),
          workGroup: group.name,
          database: (context.Database ?? "default").toLowerCase(),
          catalog: context.Catalog ?? "AwsDataCatalog",
          resultConfiguration: results,
          outputDirectory: directory,
          outputFile: "",
          encryption: results.EncryptionConfiguration,
          bytesScannedCutoff: group.configuration.BytesScannedCutoffPerQuery,
          fingerprint,
        },
        token,
      );
      return { QueryExecutionId: exec.id };
    },
    GetQueryExecution(input) {
      return { QueryExecution: view(executions.get(input.QueryExecutionId)) };
    },
    BatchGetQueryExecution(input) {
      const ids = Array.isArray(input.QueryExecutionIds) ? (input.QueryExecutionIds as string[]) : [];
      const found = ids.flatMap((id) => executions.all().filter((e) => e.id === id));
      return {
        QueryExecutions: found.map(view),
        UnprocessedQueryExecutionIds: ids
          .filter((id) => !found.some((e) => e.id === id))
          .map((id) => ({
            QueryExecutionId: id,
            ErrorCode: "INVALID_INPUT",
            ErrorMessage: `QueryExecution ${id} was not found`,
          })),
      };
    },
    GetQueryResults(input) {
      const exec = executions.get(input.QueryExecutionId);
      if (exec.state === "QUEUED" || exec.state === "RUNNING") {
        throw invalidRequest(`Query has not yet finished. Current state: ${exec.state}`);
      }
      if (exec.state !== "SUCCEEDED" || !exec.result) {
        throw invalidRequest(
          exec.failure?.reason ?? `Query did not finish successfully. Final query state: ${exec.state}`,
        );
      }
      const max = pageSize(input.MaxResults, 1000, 1);
      const offset = decodeToken(input.NextToken, exec.id);
      const manifest = input.QueryResultType === "DATA_MANIFEST";
      if (manifest && !exec.manifest)
        throw invalidRequest("Query result type DATA_MANIFEST is only available for CTAS, UNLOAD and INSERT queries.");
      const result = manifest ? { columns: [], rows: (exec.manifest ?? []).map((f) => [f]) } : exec.result;
      const page = resultRows(result, exec.kind === "select" && !manifest, offset, max);
      return {
        ...(exec.updateCount !== undefined ? { UpdateCount: exec.updateCount } : { UpdateCount: 0 }),
        ResultSet: { Rows: page.rows, ResultSetMetadata: { ColumnInfo: result.columns } },
        ...(page.next !== undefined ? { NextToken: encodeToken(exec.id, page.next) } : {}),
      };
    },
    StopQueryExecution(input) {
      executions.stop(executions.get(input.QueryExecutionId));
      return {};
    },
    ListQueryExecutions(input) {
      const group = workGroups.get(input.WorkGroup);
      const max = pageSize(input.MaxResults, 50, 0) || 50;
      const all = executions.inWorkGroup(group.name);
      const offset = decodeToken(input.NextToken, group.name);
      const next = offset + max < all.length ? offset + max : undefined;
      return {
        QueryExecutionIds: all.slice(offset, offset + max).map((e) => e.id),
        ...(next !== undefined ? { NextToken: encodeToken(group.name, next) } : {}),
      };
    },
    CreateWorkGroup(input) {
      workGroups.create(input);
      return {};
    },
    GetWorkGroup(input) {
      return { WorkGroup: workGroupView(workGroups.get(required(input, "WorkGroup"))) };
    },
    DeleteWorkGroup(input) {
      workGroups.delete(required(input, "WorkGroup"));
      return {};
    },
    ListWorkGroups() {
      return {
        WorkGroups: workGroups.list().map((g) => ({
          Name: g.name,
          State: g.state,
          ...(g.description !== undefined ? { Description: g.description } : {}),
          CreationTime: g.creationTime.getTime() / 1000,
          EngineVersion: ENGINE_VERSION,
        })),
      };
    },
  };

  const handler: ServiceHandler = async (req: SandboxRequest) => {
    const target = header(req, "x-amz-target");
    if (req.method !== "POST" || !target?.startsWith(TARGET_PREFIX)) return undefined;
    const operation = operations[target.slice(TARGET_PREFIX.length)];
    try {
      if (!operation)
        throw invalidRequest(`The sandbox does not implement Athena ${target.slice(TARGET_PREFIX.length)}`);
      const input = req.body.length ? (JSON.parse(req.body.toString("utf8")) as Record<string, unknown>) : {};
      return json(200, await operation(input));
    } catch (err) {
      if (err instanceof ServiceError)
        return json(err.status, { __type: err.code, Message: err.message, ...err.extra });
      if (err instanceof SyntaxError)
        return json(400, { __type: "SerializationException", Message: "Request body is not JSON" });
      throw err;
    }
  };

  const admin: ServiceHandler = async (req) => {
    if (req.rawPath !== "/_sandbox/athena/queue") return undefined;
    if (req.method === "POST") {
      const body = JSON.parse(req.body.toString("utf8") || "{}") as { paused?: unknown; holdRunning?: unknown };
      const flag = (v: unknown) => v === undefined || typeof v === "boolean";
      if (!flag(body.paused) || !flag(body.holdRunning)) {
        return json(400, {
          error: "InvalidAdminRequest",
          message: 'Body must be { "paused"?: true|false, "holdRunning"?: true|false }',
        });
      }
      executions.setQueue(body as { paused?: boolean; holdRunning?: boolean });
    } else if (req.method !== "GET") return undefined;
    return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(executions.queue()) };
  };

  return {
    handler,
    admin,
    catalog,
    executions,
    workGroups,
    snapshot: () => ({ catalog: catalog.snapshot(), workGroups: workGroups.snapshot() }),
    restore(snapshot) {
      catalog.restore(snapshot.catalog);
      workGroups.restore(snapshot.workGroups);
    },
  };
}

/** A SELECT (or the SELECT an UNLOAD or CTAS holds) that DuckDB cannot parse is refused when it is started. */
async function checkSyntax(sql: string, kind: StatementKind): Promise<void> {
  if (kind !== "select") return;
  const connection = await (await sharedDuckDb()).connect();
  let count = 0;
  try {
    count = (await connection.extractStatements(translateSelect(sql, "default").sql)).count;
  } catch (err) {
    syntaxError(sql, err);
  } finally {
    connection.closeSync();
  }
  if (count > 1) throw invalidRequest(`Only one sql statement is allowed. Got: ${sql}`);
}

function statementType(sql: string, kind: StatementKind): "DDL" | "DML" | "UTILITY" {
  if (kind === "ddl") return "DDL";
  if (kind !== "unsupported") return "DML";
  const first = nameOf(tokenizeSql(sql)[0]);
  return first === "alter" ? "DDL" : first === "insert" ? "DML" : "UTILITY";
}

/** ExecutionParameters replace the `?` placeholders in order, as SQL text. */
function withParameters(query: string, parameters: unknown): string {
  if (!Array.isArray(parameters) || parameters.length === 0) return query;
  const values = [...(parameters as string[])];
  const placeholders = tokenizeSql(query).filter((t) => t.kind === "op" && t.text === "?");
  if (placeholders.length !== values.length) {
    throw invalidRequest(`Incorrect number of parameters: expected ${placeholders.length} but found ${values.length}`);
  }
  let out = "";
  let at = 0;
  for (const [i, p] of placeholders.entries()) {
    out += query.slice(at, p.start) + values[i];
    at = p.end;
  }
  return out + query.slice(at);
}

function view(e: QueryExecutionRecord) {
  const seconds = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);
  const ended = e.completed ?? new Date();
  const queueMs = (e.started ?? ended).getTime() - e.submitted.getTime();
  return {
    QueryExecutionId: e.id,
    Query: e.query,
    StatementType: e.statementType,
    ResultConfiguration: e.resultConfiguration,
    ResultReuseConfiguration: { ResultReuseByAgeConfiguration: { Enabled: false } },
    QueryExecutionContext: { Database: e.database, Catalog: e.catalog.toLowerCase() },
    Status: {
      State: e.state,
      ...(e.failure && e.state === "FAILED" ? { StateChangeReason: e.failure.reason } : {}),
      SubmissionDateTime: seconds(e.submitted),
      ...(e.completed ? { CompletionDateTime: seconds(e.completed) } : {}),
      ...(e.failure && e.state === "FAILED"
        ? {
            AthenaError: {
              ErrorCategory: e.failure.category,
              ErrorType: e.failure.errorType,
              Retryable: e.failure.retryable,
              ErrorMessage: e.failure.reason,
            },
          }
        : {}),
    },
    Statistics: {
      EngineExecutionTimeInMillis: e.engineMs,
      DataScannedInBytes: e.bytesScanned,
      TotalExecutionTimeInMillis: ended.getTime() - e.submitted.getTime(),
      QueryQueueTimeInMillis: queueMs,
      ServicePreProcessingTimeInMillis: 0,
      QueryPlanningTimeInMillis: 0,
      ServiceProcessingTimeInMillis: 0,
      ...(e.manifestLocation ? { DataManifestLocation: e.manifestLocation } : {}),
      ResultReuseInformation: { ReusedPreviousResult: false },
    },
    WorkGroup: e.workGroup,
    EngineVersion: ENGINE_VERSION,
    SubstatementType:
      e.kind === "select"
        ? "SELECT"
        : e.kind === "unload"
          ? "UNLOAD"
          : e.kind === "ctas"
            ? "CREATE_TABLE_AS_SELECT"
            : e.statementType === "DDL"
              ? e.query.trim().split(/\s+/).slice(0, 2).join("_").toUpperCase()
              : "UNKNOWN",
  };
}

function required(input: Record<string, unknown>, name: string): string {
  const v = input[name];
  if (typeof v !== "string" || v === "") throw invalidRequest(`${name} is required`);
  return v;
}

function optionalString(input: Record<string, unknown>, name: string): string | undefined {
  const v = input[name];
  return typeof v === "string" ? v : undefined;
}

function pageSize(v: unknown, max: number, min: number): number {
  if (v === undefined) return max;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw invalidRequest(
      `1 validation error detected: Value '${String(v)}' at 'maxResults' failed to satisfy constraint: Member must have value between ${min} and ${max}`,
    );
  }
  return v;
}

/** NextToken: opaque to the caller; it names what it pages through, so it cannot be used for another. */
function encodeToken(scope: string, offset: number): string {
  return Buffer.from(JSON.stringify({ scope, offset }), "utf8").toString("base64");
}

function decodeToken(token: unknown, scope: string): number {
  if (token === undefined) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(String(token), "base64").toString("utf8")) as {
      scope?: string;
      offset?: number;
    };
    if (parsed.scope === scope && typeof parsed.offset === "number") return parsed.offset;
  } catch {
    // falls through to the error
  }
  throw invalidRequest("The NextToken is not valid.");
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { "content-type": "application/x-amz-json-1.1" }, body: JSON.stringify(body) };
}
