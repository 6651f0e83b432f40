import type { Database } from "lmdb";
import type { AthenaSandbox, AthenaSnapshot } from "../athena/service.ts";
import type { IamAccount, IamSnapshot } from "../iam/account.ts";
import type { KeyRegistry, KmsSnapshot } from "../kms/keys.ts";
import type { SavedFunction } from "../lambda/functions.ts";
import type { LambdaSandbox } from "../lambda/service.ts";
import type { BatchEngine, Job } from "../s3control/engine.ts";
import type { ManifestTask, TaskResult } from "../s3control/model.ts";
import type { SavedExecution } from "../stepfunctions/executions.ts";
import type { HistoryEvent } from "../stepfunctions/history.ts";
import type { SavedStateMachine, StepFunctionsSandbox } from "../stepfunctions/service.ts";

export interface ServiceDatabases {
  /** "kms" → KmsSnapshot, "iam" → IamSnapshot, "stateMachines" → SavedStateMachine[], "athena" → AthenaSnapshot */
  meta: Database;
  /** name → SavedFunction */
  functions: Database;
  /** id → SavedJob */
  jobs: Database;
  /** [jobId, index] → TaskResult: results only grow, so each is written once */
  jobResults: Database;
  /** id → ManifestTask[], while the job runs */
  jobTasks: Database;
  /** arn → SavedExecution */
  executions: Database;
  /** [arn, index] → HistoryEvent: histories only grow, so each event is written once */
  events: Database;
}

/** A job without what is kept apart (results, tasks) or only lives in the process (the confirmation callback). */
type SavedJob = Omit<Job, "results" | "tasks" | "confirm" | "activeSince">;

/**
 * KMS, IAM, Lambda, Step Functions, Batch Operations and Athena (catalog, workgroups) state in the data directory. These services have few records
 * and change them from timers as well as requests, so each flush compares every record with what it last wrote.
 */
export class ServiceState {
  private kms = "";
  private iam = "";
  private machines = "";
  private athena = "";
  private readonly functions = new Map<string, string>();
  private readonly jobs = new Map<string, { fingerprint: string; results: number; tasks: boolean }>();
  private readonly executions = new Map<string, { fingerprint: string; events: number }>();

  constructor(
    private readonly services: {
      kms: KeyRegistry;
      iam: IamAccount;
      lambda: LambdaSandbox;
      stepFunctions: StepFunctionsSandbox;
      engine: BatchEngine;
      athena: AthenaSandbox;
    },
    private readonly db: ServiceDatabases,
  ) {}

  /** Restores keys, functions, state machines and executions; returns the jobs, which resume once the server listens. */
  restore(): Job[] {
    const kms = this.db.meta.get("kms") as KmsSnapshot | undefined;
    if (kms) this.services.kms.restore(kms);
    this.kms = JSON.stringify(kms ?? this.services.kms.snapshot());
    const iam = this.db.meta.get("iam") as IamSnapshot | undefined;
    if (iam) this.services.iam.restore(iam);
    this.iam = JSON.stringify(this.services.iam.snapshot());
    const athena = this.db.meta.get("athena") as AthenaSnapshot | undefined;
    if (athena) this.services.athena.restore(athena);
    this.athena = JSON.stringify(this.services.athena.snapshot());
    const functions = [...this.db.functions.getRange()].map(({ value }) => value as SavedFunction);
    this.services.lambda.restoreFunctions(functions.map((f) => ({ ...f, zip: Buffer.from(f.zip) })));
    for (const f of functions) this.functions.set(f.name, f.revisionId);

    const machines = (this.db.meta.get("stateMachines") as SavedStateMachine[] | undefined) ?? [];
    const executions = [...this.db.executions.getRange()].map(({ key, value }) => {
      const events = this.range(this.db.events, key as string) as HistoryEvent[];
      return { execution: value as SavedExecution, events };
    });
    this.services.stepFunctions.restore({ machines, executions });
    this.machines = JSON.stringify(this.services.stepFunctions.savedStateMachines());
    // Running executions closed as failed while restoring; the next flush writes that.
    for (const { execution, events } of executions) {
      this.executions.set(execution.executionArn, { fingerprint: "", events: events.length });
    }

    return [...this.db.jobs.getRange()].map(({ key, value }) => {
      const id = key as string;
      const results = this.range(this.db.jobResults, id) as TaskResult[];
      const tasks = this.db.jobTasks.get(id) as ManifestTask[] | undefined;
      const job: Job = { ...(value as SavedJob), results, ...(tasks ? { tasks } : {}) };
      this.jobs.set(id, { fingerprint: jobFingerprint(job), results: results.length, tasks: tasks !== undefined });
      return job;
    });
  }

  /** Writes what changed since the last call; runs inside the flush's write transaction. */
  save(): void {
    const kms = JSON.stringify(this.services.kms.snapshot());
    if (kms !== this.kms) {
      this.db.meta.putSync("kms", this.services.kms.snapshot());
      this.kms = kms;
    }
    const iam = this.services.iam.snapshot();
    const iamText = JSON.stringify(iam);
    if (iamText !== this.iam) {
      this.db.meta.putSync("iam", iam);
      this.iam = iamText;
    }
    const machines = this.services.stepFunctions.savedStateMachines();
    const machinesText = JSON.stringify(machines);
    if (machinesText !== this.machines) {
      this.db.meta.putSync("stateMachines", machines);
      this.machines = machinesText;
    }
    const athena = this.services.athena.snapshot();
    const athenaText = JSON.stringify(athena);
    if (athenaText !== this.athena) {
      this.db.meta.putSync("athena", athena);
      this.athena = athenaText;
    }
    this.saveFunctions();
    this.saveExecutions();
    this.saveJobs();
  }

  private saveFunctions(): void {
    const present = new Set<string>();
    for (const fn of this.services.lambda.savedFunctions()) {
      present.add(fn.name);
      if (this.functions.get(fn.name) === fn.revisionId) continue;
      this.db.functions.putSync(fn.name, fn);
      this.functions.set(fn.name, fn.revisionId);
    }
    for (const name of [...this.functions.keys()]) {
      if (present.has(name)) continue;
      this.db.functions.removeSync(name);
      this.functions.delete(name);
    }
  }

  /** Executions are never removed, as the sandbox keeps every execution. */
  private saveExecutions(): void {
    for (const e of this.services.stepFunctions.executions()) {
      const saved = e.saved();
      const written = this.executions.get(saved.executionArn) ?? { fingerprint: "", events: 0 };
      const events = e.history.events;
      const fingerprint = `${saved.status}|${events.length}|${saved.currentState ?? ""}`;
      if (written.fingerprint === fingerprint) continue;
      for (let i = written.events; i < events.length; i++) {
        this.db.events.putSync([saved.executionArn, i], events[i]);
      }
      this.db.executions.putSync(saved.executionArn, saved);
      this.executions.set(saved.executionArn, { fingerprint, events: events.length });
    }
  }

  /** Jobs are never removed: AWS lists jobs for 90 days after they end. */
  private saveJobs(): void {
    for (const job of this.services.engine.jobs.values()) {
      const fingerprint = jobFingerprint(job);
      const written = this.jobs.get(job.id) ?? { fingerprint: "", results: 0, tasks: false };
      if (written.fingerprint === fingerprint) continue;
      for (let i = written.results; i < job.results.length; i++) {
        this.db.jobResults.putSync([job.id, i], job.results[i]);
      }
      const hasTasks = job.tasks !== undefined;
      if (job.tasks && !written.tasks) this.db.jobTasks.putSync(job.id, job.tasks);
      if (!hasTasks && written.tasks) this.db.jobTasks.removeSync(job.id);
      const { results: _r, tasks: _t, confirm: _c, activeSince, ...saved } = job;
      // Time Active so far counts; the clock starts again when the job resumes.
      const activeMs = saved.activeMs + (activeSince === undefined ? 0 : Date.now() - activeSince);
      this.db.jobs.putSync(job.id, { ...saved, activeMs } satisfies SavedJob);
      this.jobs.set(job.id, { fingerprint, results: job.results.length, tasks: hasTasks });
    }
  }

  /** The values saved under [id, 0], [id, 1], ... in index order. */
  private range(db: Database, id: string): unknown[] {
    return [...db.getRange({ start: [id, 0], end: [id, Number.MAX_SAFE_INTEGER] })].map(({ value }) => value);
  }
}

/** What changes when a job moves on: its status, counts, results, report, reasons, priority and flags. */
function jobFingerprint(job: Job): string {
  return JSON.stringify([
    job.status,
    job.totalTasks,
    job.results.length,
    job.reportKeys.length,
    job.failureReasons.length,
    job.request.priority,
    job.statusUpdateReason,
    job.terminationDate,
    job.suspendedDate,
    job.generatedManifest?.key,
    job.cancelRequested,
    job.failing,
    job.tasks !== undefined,
  ]);
}
