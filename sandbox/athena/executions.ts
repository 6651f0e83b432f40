import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Behaviours } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import type { GlueCatalog } from "./catalog.ts";
import type { StatementKind } from "./dialect.ts";
import { invalidRequest, QueryFailure } from "./errors.ts";
import type { QueryResult } from "./results.ts";
import type { EncryptionConfiguration, ResultConfiguration } from "./workgroups.ts";

/**
 * Query executions and their states: QUEUED when started, RUNNING once the sandbox's queue takes them (at once,
 * unless the queue is paused: `/_sandbox/athena/queue`), then SUCCEEDED, FAILED or CANCELLED. With `holdRunning`
 * a query stays RUNNING, before it reads anything, until the hold is lifted (or it is stopped).
 */
/** What running a query needs: Athena's S3 client, the Glue catalog and the sandbox's switches. */
export interface RunnerDeps {
  s3: () => S3Client;
  catalog: GlueCatalog;
  behaviours: Readonly<Behaviours>;
}

export type QueryState = "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";

export interface QueryExecutionRecord {
  id: string;
  query: string;
  kind: StatementKind;
  statementType: "DDL" | "DML" | "UTILITY";
  workGroup: string;
  database: string;
  catalog: string;
  /** ResultConfiguration as GetQueryExecution shows it (OutputLocation: the result file). */
  resultConfiguration: ResultConfiguration;
  /** `s3://bucket/prefix/`: the output location the result files go under. */
  outputDirectory: string;
  /** `s3://bucket/prefix/<id>.csv` (`.txt` for DDL). */
  outputFile: string;
  encryption: EncryptionConfiguration | undefined;
  bytesScannedCutoff: number | undefined;
  state: QueryState;
  failure?: QueryFailure;
  submitted: Date;
  started?: Date;
  completed?: Date;
  bytesScanned: number;
  engineMs: number;
  result?: QueryResult;
  updateCount?: number;
  manifestLocation?: string;
  manifest?: string[];
  /** Interrupts the running DuckDB statement (set while one runs). */
  interrupt?: () => void;
  fingerprint: string;
}

export class QueryExecutions {
  private readonly byId = new Map<string, QueryExecutionRecord>();
  private readonly byToken = new Map<string, string>();
  private paused = false;
  private holding: { release: Promise<void>; lift: () => void } | undefined;
  private readonly waiting: QueryExecutionRecord[] = [];

  constructor(
    private readonly identity: SandboxIdentity,
    private readonly run: (exec: QueryExecutionRecord) => Promise<void>,
  ) {}

  /** The execution a ClientRequestToken already started, if its parameters are the same; else an error. */
  existing(token: string | undefined, fingerprint: string): QueryExecutionRecord | undefined {
    if (token === undefined) return undefined;
    const id = this.byToken.get(token);
    if (id === undefined) return undefined;
    const exec = this.byId.get(id);
    if (exec && exec.fingerprint !== fingerprint) throw invalidRequest("Idempotent parameters do not match");
    return exec;
  }

  add(
    exec: Omit<QueryExecutionRecord, "id" | "state" | "submitted" | "bytesScanned" | "engineMs">,
    token: string | undefined,
  ): QueryExecutionRecord {
    const record: QueryExecutionRecord = {
      ...exec,
      id: randomUUID(),
      state: "QUEUED",
      submitted: new Date(),
      bytesScanned: 0,
      engineMs: 0,
    };
    const ext = record.statementType === "DDL" ? "txt" : "csv";
    record.outputFile = `${record.outputDirectory}${record.id}.${ext}`;
    record.resultConfiguration = { ...record.resultConfiguration, OutputLocation: record.outputFile };
    this.byId.set(record.id, record);
    if (token !== undefined) this.byToken.set(token, record.id);
    this.waiting.push(record);
    setImmediate(() => this.drain());
    return record;
  }

  get(id: unknown): QueryExecutionRecord {
    if (typeof id !== "string" || id.length === 0 || id.length > 128) {
      throw invalidRequest(
        "1 validation error detected: Value at 'queryExecutionId' failed to satisfy constraint: Member must have length between 1 and 128",
      );
    }
    const exec = this.byId.get(id);
    if (!exec) throw invalidRequest(`QueryExecution ${id} was not found`);
    return exec;
  }

  /** StopQueryExecution: a query not yet ended is CANCELLED; an ended one stays as it is. */
  stop(exec: QueryExecutionRecord): void {
    if (exec.state !== "QUEUED" && exec.state !== "RUNNING") return;
    exec.state = "CANCELLED";
    exec.completed = new Date();
    exec.interrupt?.();
  }

  /** Newest first. */
  inWorkGroup(workGroup: string): QueryExecutionRecord[] {
    return [...this.byId.values()].filter((e) => e.workGroup === workGroup).reverse();
  }

  all(): QueryExecutionRecord[] {
    return [...this.byId.values()];
  }

  /** What the admin API sets: queued queries wait (`paused`); started ones wait in RUNNING (`holdRunning`). */
  setQueue(settings: { paused?: boolean; holdRunning?: boolean }): void {
    if (settings.paused !== undefined) {
      this.paused = settings.paused;
      if (!settings.paused) setImmediate(() => this.drain());
    }
    if (settings.holdRunning === true && !this.holding) {
      let lift = () => {};
      const release = new Promise<void>((resolve) => {
        lift = resolve;
      });
      this.holding = { release, lift };
    }
    if (settings.holdRunning === false && this.holding) {
      this.holding.lift();
      this.holding = undefined;
    }
  }

  queue(): { paused: boolean; holdRunning: boolean } {
    return { paused: this.paused, holdRunning: this.holding !== undefined };
  }

  private drain(): void {
    while (!this.paused && this.waiting.length > 0) {
      const exec = this.waiting.shift() as QueryExecutionRecord;
      if (exec.state !== "QUEUED") continue;
      exec.state = "RUNNING";
      exec.started = new Date();
      const hold = this.holding?.release ?? Promise.resolve();
      void hold
        .then(() => this.run(exec))
        .then(
          () => this.end(exec, "SUCCEEDED"),
          (err: unknown) => {
            if (err instanceof QueryFailure) exec.failure = err;
            else if (exec.state !== "CANCELLED") {
              exec.failure = new QueryFailure(
                `GENERIC_INTERNAL_ERROR: ${err instanceof Error ? err.message : String(err)}`,
                200,
                1,
              );
            }
            this.end(exec, "FAILED");
          },
        );
    }
  }

  private end(exec: QueryExecutionRecord, state: "SUCCEEDED" | "FAILED"): void {
    if (exec.state === "CANCELLED") return;
    exec.state = state;
    exec.completed = new Date();
  }

  get accountId(): string {
    return this.identity.accountId;
  }
}
