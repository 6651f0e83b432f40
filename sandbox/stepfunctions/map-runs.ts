import { definedOnly } from "./history.ts";
import type { ResultRecord, ResultStatus } from "./result-writer.ts";

/**
 * A Map Run (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html): the child workflow
 * executions one run of a Distributed Map state starts, with the settings that bound them. What DescribeMapRun,
 * ListMapRuns and ListExecutions(mapRunArn) show; the Map state's run itself is in distributed-map-run.ts.
 */

export type MapRunStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";

/** What a Map Run reads of a child execution (a ChildExecution, executions.ts). */
export interface ChildExecution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: number;
  readonly status: "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";
  readonly stopDate: number | undefined;
  readonly output: string | undefined;
  readonly error: string | undefined;
  readonly cause: string | undefined;
  onClosed(listener: () => void): void;
  stop(request: { error?: string; cause?: string }): Promise<void>;
}

/**
 * How many child executions of one Map Run the sandbox runs at once, whatever MaxConcurrency says (0 = Step
 * Functions' 10,000): each runs its Lambda functions in worker threads of this process (sandbox/ASSUMPTIONS.md).
 */
export const SANDBOX_MAX_CHILD_CONCURRENCY = 40;

/** One child execution's worth of work: an item, or a batch of items (ItemBatcher). */
export interface WorkUnit {
  input: unknown;
  /** How many items of the data set it holds (1 without ItemBatcher). */
  items: number;
  execution?: ChildExecution;
  /** True once its result went into the Map state's output or the ResultWriter's files. */
  written?: boolean;
}

/** The tolerated failure threshold; a side not set is not checked (both unset: no failure is tolerated). */
export interface Tolerance {
  percentage?: number;
  count?: number;
}

type Counts = Record<
  "pending" | "running" | "succeeded" | "failed" | "timedOut" | "aborted" | "total" | "resultsWritten",
  number
>;

const COUNT_OF: Record<string, keyof Counts> = {
  RUNNING: "running",
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  TIMED_OUT: "timedOut",
  ABORTED: "aborted",
};

export class MapRun {
  status: MapRunStatus = "RUNNING";
  stopDate: number | undefined;
  units: WorkUnit[] = [];
  private aborted = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly arn: string,
    /** The parent execution, which ran the Distributed Map state. */
    readonly executionArn: string,
    /** The labelled state machine ARN its children belong to: `...:stateMachine:<machine>/<label>`. */
    readonly stateMachineArn: string,
    readonly startDate: number,
    /** As the definition (or UpdateMapRun) gives it; 0 means no limit but the sandbox's. */
    public maxConcurrency: number,
    public tolerance: Tolerance,
  ) {}

  /** DescribeMapRun's counts, by child execution or by item (a failed batch fails all its items). */
  counts(by: "executions" | "items"): Counts {
    const counts: Counts = {
      pending: 0,
      running: 0,
      succeeded: 0,
      failed: 0,
      timedOut: 0,
      aborted: 0,
      total: 0,
      resultsWritten: 0,
    };
    for (const unit of this.units) {
      const weight = by === "items" ? unit.items : 1;
      counts.total += weight;
      counts[unit.execution ? (COUNT_OF[unit.execution.status] ?? "running") : "pending"] += weight;
      if (unit.written) counts.resultsWritten += weight;
    }
    return counts;
  }

  /** Failed or timed-out items over the threshold (https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html). */
  exceedsTolerance(): boolean {
    const items = this.counts("items");
    const failed = items.failed + items.timedOut;
    if (failed === 0) return false;
    const { percentage, count } = this.tolerance;
    if (percentage === undefined && count === undefined) return true;
    return (
      (count !== undefined && failed > count) || (percentage !== undefined && (failed * 100) / items.total > percentage)
    );
  }

  /**
   * Starts the units' child executions, at most the concurrency limit at a time, in item order, and answers once
   * every started one has closed: DONE, EXCEEDED (the threshold was crossed: nothing more starts, the running ones
   * finish), or ABORTED (abort() was called: the running ones are stopped).
   */
  run(start: (unit: WorkUnit) => ChildExecution): Promise<"DONE" | "EXCEEDED" | "ABORTED"> {
    return new Promise((resolve) => {
      let next = 0;
      let running = 0;
      let exceeded = false;
      const pump = () => {
        if (this.aborted) {
          if (running === 0) resolve("ABORTED");
          return;
        }
        while (!exceeded && next < this.units.length && running < this.limit()) {
          const unit = this.units[next++] as WorkUnit;
          running++;
          unit.execution = start(unit);
          unit.execution.onClosed(() => {
            running--;
            if (this.exceedsTolerance()) exceeded = true;
            // Not from inside the child's closing: it finishes closing before the next one starts.
            setImmediate(pump);
          });
        }
        if (running === 0 && (exceeded || next >= this.units.length)) resolve(exceeded ? "EXCEEDED" : "DONE");
      };
      this.wake = pump;
      pump();
    });
  }

  /** The parent was stopped: no child starts any more, and the running ones are aborted. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const unit of this.units) if (unit.execution?.status === "RUNNING") void unit.execution.stop({});
    this.wake?.();
  }

  /** UpdateMapRun: new settings apply to the children not yet started. */
  update(changes: { maxConcurrency?: number; tolerance?: Tolerance }): void {
    if (changes.maxConcurrency !== undefined) this.maxConcurrency = changes.maxConcurrency;
    if (changes.tolerance) this.tolerance = { ...this.tolerance, ...changes.tolerance };
    if (this.wake) setImmediate(this.wake);
  }

  close(status: Exclude<MapRunStatus, "RUNNING">): void {
    if (this.status !== "RUNNING") return;
    this.status = status;
    this.stopDate = Date.now();
  }

  /** Every started child, by result file: SUCCEEDED, FAILED (failed, timed out or aborted), PENDING (still running). */
  results(): Record<ResultStatus, ResultRecord[]> {
    const results: Record<ResultStatus, ResultRecord[]> = { SUCCEEDED: [], FAILED: [], PENDING: [] };
    for (const unit of this.units) {
      if (!unit.execution) continue;
      const status = unit.execution.status;
      results[status === "SUCCEEDED" ? "SUCCEEDED" : status === "RUNNING" ? "PENDING" : "FAILED"].push(
        resultRecord(unit.execution),
      );
      unit.written = true;
    }
    return results;
  }

  private limit(): number {
    return this.maxConcurrency === 0
      ? SANDBOX_MAX_CHILD_CONCURRENCY
      : Math.min(this.maxConcurrency, SANDBOX_MAX_CHILD_CONCURRENCY);
  }
}

/** A child execution as a result file (and a failed child in the Map state's output) shows it. */
export function resultRecord(e: ChildExecution): ResultRecord {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return definedOnly({
    ExecutionArn: e.executionArn,
    Input: e.input,
    InputDetails: { Included: true },
    Name: e.name,
    Output: e.output,
    OutputDetails: e.output !== undefined ? { Included: true } : undefined,
    Error: e.error,
    Cause: e.cause,
    ...redriveOf(e.status),
    StartDate: iso(e.startDate),
    StateMachineArn: e.stateMachineArn,
    Status: e.status,
    StopDate: iso(e.stopDate),
  });
}

/** The redrive members of an execution record: the sandbox redrives nothing, so none is ever redrivable. */
export function redriveOf(status: ChildExecution["status"]) {
  return {
    RedriveCount: 0,
    RedriveStatus: "NOT_REDRIVABLE",
    RedriveStatusReason:
      status === "SUCCEEDED"
        ? "Execution is SUCCEEDED and cannot be redriven"
        : "The sandbox does not redrive executions",
  };
}
