import { randomUUID } from "node:crypto";
import { type Behaviours, DEFAULT_BEHAVIOURS } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import type { BatchBackend } from "./backend.ts";
import { idempotencyConflict, jobStatusConflict, noSuchJob } from "./errors.ts";
import { emptyGeneratorEnding } from "./generator.ts";
import { generateManifest, readManifest } from "./job-manifests.ts";
import { ManifestError } from "./manifest.ts";
import type {
  GeneratedManifest,
  JobFailure,
  JobRequest,
  JobStatus,
  ManifestTask,
  TaskOutcome,
  TaskResult,
} from "./model.ts";
import { TERMINAL_STATUSES } from "./model.ts";
import { buildReport } from "./report.ts";
import { TaskFaults } from "./task-faults.ts";

export interface EngineOptions {
  identity: SandboxIdentity;
  backend: BatchBackend;
  /** Tasks started per second per job; unset means as fast as `concurrency` allows. */
  tasksPerSecond?: number;
  /** Tasks in flight per job. */
  concurrency?: number;
  /** Pause between automatic status changes, so New/Preparing/Ready can be observed. */
  stepDelayMs?: number;
  /** The switches for undocumented behaviour (sandbox/behaviours.ts), shared with the rest of the sandbox. */
  behaviours?: Behaviours;
}

/** The failure-rate rule: after at least this many tasks ran, more than half failing fails the job. */
export const FAILURE_RULE_MIN_TASKS = 1000;

export interface Job {
  id: string;
  request: JobRequest;
  status: JobStatus;
  creationTime: Date;
  terminationDate?: Date;
  statusUpdateReason?: string;
  failureReasons: JobFailure[];
  suspendedDate?: Date;
  suspendedCause?: string;
  totalTasks?: number;
  succeeded: number;
  failed: number;
  activeMs: number;
  activeSince?: number;
  results: TaskResult[];
  reportKeys: string[];
  /** Set once a ManifestGenerator with EnableManifestOutput has written its manifest. */
  generatedManifest?: GeneratedManifest;
  /** Set by UpdateJobStatus Cancelled; no task starts afterwards. */
  cancelRequested: boolean;
  /** Set when the failure-rate rule trips; no task starts afterwards. */
  failing: boolean;
  /** The manifest's tasks from Preparing until the job ends, so a data directory can resume the job. */
  tasks?: ManifestTask[];
  confirm?: () => void;
}

export class BatchEngine {
  readonly jobs = new Map<string, Job>();
  /** ClientRequestToken → the job it created and when (a token may expire: sandbox/behaviours.ts). */
  private readonly tokens = new Map<string, { jobId: string; at: number }>();
  readonly behaviours: Behaviours;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  /** Task outcomes forced by `/_sandbox/batch/faults` instead of calling S3. */
  readonly taskFaults = new TaskFaults();
  tasksPerSecond: number | undefined;

  constructor(private readonly options: EngineOptions) {
    this.tasksPerSecond = options.tasksPerSecond;
    this.behaviours = options.behaviours ?? { ...DEFAULT_BEHAVIOURS };
  }

  /** Creates a job, or returns the existing one for a repeated ClientRequestToken with identical parameters. */
  createJob(request: JobRequest): Job {
    const token = this.tokens.get(request.clientRequestToken);
    const lifetime = this.behaviours.clientRequestTokenLifetimeSeconds;
    const honoured = token !== undefined && (lifetime === null || Date.now() - token.at < lifetime * 1000);
    const existing = honoured ? this.jobs.get(token.jobId) : undefined;
    if (existing) {
      if (existing.request.fingerprint !== request.fingerprint) {
        throw idempotencyConflict(
          `ClientRequestToken "${request.clientRequestToken}" was already used for job ${existing.id} with different parameters.`,
        );
      }
      return existing;
    }
    const job: Job = {
      id: randomUUID(),
      request,
      status: "New",
      creationTime: new Date(),
      failureReasons: [],
      succeeded: 0,
      failed: 0,
      activeMs: 0,
      results: [],
      reportKeys: [],
      cancelRequested: false,
      failing: false,
    };
    this.jobs.set(job.id, job);
    this.tokens.set(request.clientRequestToken, { jobId: job.id, at: Date.now() });
    void this.run(job);
    return job;
  }

  /** A job as the S3 Control API sees it: unknown until registered (sandbox/behaviours.ts), then as it is. */
  getJob(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw noSuchJob(id);
    if (!this.isRegistered(job)) throw noSuchJob(id, this.behaviours.jobRegistrationError);
    return job;
  }

  /** Whether the S3 Control API shows the job yet: the registration lag after CreateJob has passed. */
  isRegistered(job: Job): boolean {
    return Date.now() - job.creationTime.getTime() >= this.behaviours.jobRegistrationLagMs;
  }

  /** UpdateJobStatus: `Ready` confirms a Suspended job; `Cancelled` stops a job that has not ended. */
  updateStatus(id: string, requested: "Ready" | "Cancelled", reason: string | undefined): Job {
    const job = this.getJob(id);
    if (requested === "Ready") {
      if (job.status !== "Suspended" || !job.confirm) {
        throw jobStatusConflict(`Job ${id} is ${job.status}; only a Suspended job can be moved to Ready.`);
      }
      if (reason !== undefined) job.statusUpdateReason = reason;
      job.confirm();
      return job;
    }
    if (TERMINAL_STATUSES.has(job.status) || ["Cancelling", "Completing", "Failing"].includes(job.status)) {
      throw jobStatusConflict(`Job ${id} is ${job.status} and can no longer be cancelled.`);
    }
    if (reason !== undefined) job.statusUpdateReason = reason;
    job.cancelRequested = true;
    if (job.status === "Active") {
      job.status = "Cancelling";
    } else {
      this.terminate(job, "Cancelled");
      job.confirm?.();
    }
    return job;
  }

  updatePriority(id: string, priority: number): Job {
    const job = this.getJob(id);
    job.request = { ...job.request, priority };
    return job;
  }

  elapsedActiveSeconds(job: Job): number {
    const running = job.activeSince === undefined ? 0 : Date.now() - job.activeSince;
    return Math.floor((job.activeMs + running) / 1000);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async run(job: Job): Promise<void> {
    await this.sleep(this.stepDelay());
    if (this.stopped(job)) return;
    job.status = "Preparing";
    const tasks = await this.prepare(job);
    if (tasks === undefined || this.stopped(job)) return;
    job.totalTasks = tasks.length;
    job.tasks = tasks;
    const ending = job.request.generator && tasks.length === 0 ? emptyGeneratorEnding(this.behaviours) : undefined;
    if (ending) {
      if (ending.failure) job.failureReasons.push(ending.failure);
      this.terminate(job, ending.status);
      return;
    }
    if (job.request.confirmationRequired) {
      await this.awaitConfirmation(job);
      if (this.stopped(job)) return;
    }
    await this.runReady(job, tasks);
  }

  private async runReady(job: Job, tasks: ManifestTask[]): Promise<void> {
    job.status = "Ready";
    await this.sleep(this.stepDelay());
    if (this.stopped(job)) return;
    await this.runActive(job, tasks);
  }

  private async runActive(job: Job, tasks: ManifestTask[]): Promise<void> {
    job.status = "Active";
    job.activeSince = Date.now();
    await this.runTasks(job, shuffled(tasks));
    if (this.closed) return;
    job.activeMs += Date.now() - (job.activeSince ?? Date.now());
    job.activeSince = undefined;
    await this.finish(job);
  }

  /**
   * Takes back a job a data directory saved and carries it on from the status it was saved in: AWS jobs do not
   * stop because a client restarts (sandbox/ASSUMPTIONS.md, "Data directory"). Tasks with a result do not run again.
   */
  resume(job: Job): void {
    this.jobs.set(job.id, job);
    this.tokens.set(job.request.clientRequestToken, { jobId: job.id, at: job.creationTime.getTime() });
    if (TERMINAL_STATUSES.has(job.status)) return;
    const tasks = job.tasks;
    if (tasks === undefined) {
      job.status = "New";
      void this.run(job);
      return;
    }
    switch (job.status) {
      case "Suspended":
        void this.awaitConfirmation(job).then(() => (this.stopped(job) ? undefined : this.runReady(job, tasks)));
        return;
      case "Ready":
        void this.runReady(job, tasks);
        return;
      case "Active":
      case "Pausing":
      case "Paused":
        void this.runActive(job, notYetRun(tasks, job.results));
        return;
      default:
        // Completing, Failing, Cancelling: every task that will run has run; the report and the end are left.
        void this.finish(job);
    }
  }

  /** Reads and validates the manifest; a bad manifest fails the job before any task runs. */
  private async prepare(job: Job): Promise<ManifestTask[] | undefined> {
    try {
      const { manifest, generator } = job.request;
      if (generator) {
        const { backend, identity } = this.options;
        return await generateManifest(
          { backend, accountId: identity.accountId, behaviours: this.behaviours },
          job,
          generator,
        );
      }
      if (!manifest) throw new ManifestError("InvalidManifestContent", "The job has neither manifest nor generator.");
      return await readManifest(this.options.backend, manifest);
    } catch (err) {
      if (this.closed || job.cancelRequested) return undefined;
      const failure =
        err instanceof ManifestError
          ? { code: err.code, reason: err.message }
          : { code: "InternalError", reason: String(err) };
      job.failureReasons.push(failure);
      this.terminate(job, "Failed");
      return undefined;
    }
  }

  private awaitConfirmation(job: Job): Promise<void> {
    job.status = "Suspended";
    job.suspendedDate ??= new Date();
    job.suspendedCause = "AwaitingConfirmation";
    return new Promise<void>((resolve) => {
      job.confirm = () => {
        job.confirm = undefined;
        // Ready at once, so UpdateJobStatus answers with the status it caused.
        if (!job.cancelRequested) job.status = "Ready";
        resolve();
      };
    });
  }

  private async runTasks(job: Job, tasks: ManifestTask[]): Promise<void> {
    let next = 0;
    let nextSlot = Date.now();
    const stop = () => this.closed || job.cancelRequested || job.failing;
    const waitForSlot = async () => {
      const tps = this.tasksPerSecond;
      if (!tps || tps <= 0) return;
      const now = Date.now();
      const wait = nextSlot - now;
      nextSlot = Math.max(now, nextSlot) + 1000 / tps;
      if (wait > 0) await this.sleep(wait);
    };
    const worker = async () => {
      while (!stop()) {
        const task = tasks[next++];
        if (task === undefined) return;
        await waitForSlot();
        if (stop()) return;
        this.record(job, task, await this.runTask(job, task));
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency ?? 16 }, worker));
  }

  private async runTask(job: Job, task: ManifestTask): Promise<TaskOutcome> {
    const forced = this.taskFaults.outcomeFor(task);
    if (forced) return forced;
    try {
      return await this.options.backend.runTask(
        job.request.operationName,
        job.request.operation,
        task,
        this.behaviours,
      );
    } catch (err) {
      return { status: "failed", httpStatus: 500, errorCode: "InternalError", message: String(err) };
    }
  }

  private record(job: Job, task: ManifestTask, outcome: TaskOutcome): void {
    job.results.push({ ...outcome, task });
    if (outcome.status === "succeeded") job.succeeded++;
    else job.failed++;
    const ran = job.succeeded + job.failed;
    if (!job.failing && ran >= FAILURE_RULE_MIN_TASKS && job.failed / ran > 0.5) {
      job.failing = true;
      if (job.status === "Active") job.status = "Failing";
    }
  }

  /** Ends an Active job: report first (it covers the tasks that ran), then the terminal status. */
  private async finish(job: Job): Promise<void> {
    const outcome: JobStatus = job.failing ? "Failed" : job.cancelRequested ? "Cancelled" : "Complete";
    job.status = outcome === "Failed" ? "Failing" : outcome === "Cancelled" ? "Cancelling" : "Completing";
    if (job.failing) {
      job.failureReasons.push({
        code: "TaskFailureThresholdExceeded",
        reason: `${job.failed} of ${job.succeeded + job.failed} tasks failed; after ${FAILURE_RULE_MIN_TASKS} tasks a failure rate above 50% fails the job.`,
      });
    }
    try {
      await this.writeReport(job);
    } catch (err) {
      if (this.closed) return;
      job.failureReasons.push({
        code: "ReportWriteFailure",
        reason: `Writing the completion report failed: ${String(err)}`,
      });
      this.terminate(job, "Failed");
      return;
    }
    if (!this.closed) this.terminate(job, outcome);
  }

  private async writeReport(job: Job): Promise<void> {
    const files = buildReport(job.id, job.request.report, job.results, new Date());
    const bucket = job.request.report.bucket;
    if (bucket === undefined) return;
    for (const f of files) {
      const type = f.key.endsWith(".json") ? "application/json" : "text/csv";
      await this.options.backend.putObject(bucket, f.key, f.body, type);
      job.reportKeys.push(f.key);
    }
  }

  private terminate(job: Job, status: "Complete" | "Cancelled" | "Failed"): void {
    job.status = status;
    job.tasks = undefined;
    job.terminationDate = new Date();
    if (job.activeSince !== undefined) {
      job.activeMs += Date.now() - job.activeSince;
      job.activeSince = undefined;
    }
  }

  private stopped(job: Job): boolean {
    return this.closed || job.cancelRequested;
  }

  private stepDelay(): number {
    return this.options.stepDelayMs ?? 25;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

/** The tasks without a result yet; a manifest may name the same object twice, so results are counted, not matched. */
function notYetRun(tasks: readonly ManifestTask[], results: readonly TaskResult[]): ManifestTask[] {
  const id = (t: ManifestTask) => `${t.bucket}\n${t.rawKey}\n${t.versionId ?? ""}`;
  const done = new Map<string, number>();
  for (const r of results) done.set(id(r.task), (done.get(id(r.task)) ?? 0) + 1);
  return tasks.filter((t) => {
    const left = done.get(id(t)) ?? 0;
    if (left > 0) done.set(id(t), left - 1);
    return left === 0;
  });
}

/** Fisher–Yates: AWS runs tasks asynchronously and not in manifest order. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const a = out[i];
    const b = out[j];
    if (a === undefined || b === undefined) continue;
    out[i] = b;
    out[j] = a;
  }
  return out;
}
