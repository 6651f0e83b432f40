import type { EventLog } from "./engine.ts";

/** Step Functions' hard limit on one execution's history (service quotas); reaching it fails the execution. */
export const MAX_HISTORY_EVENTS = 25_000;

/** One HistoryEvent as GetExecutionHistory returns it, with the timestamp kept in epoch milliseconds. */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  /** The `*EventDetails` member this event carries (LambdaFunctionStarted carries none). */
  details?: { member: string; value: Record<string, unknown> };
}

export type TerminalStatus = "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface Terminal {
  status: TerminalStatus;
  /** Epoch milliseconds of the closing event. */
  at: number;
  output?: string;
  error?: string;
  cause?: string;
}

/**
 * How a Task state's work shows in the history: a Lambda function ARN as `LambdaFunction*` events, a service
 * integration (`arn:aws:states:::lambda:invoke`, `arn:aws:states:::states:startExecution.sync:2`) as `Task*` events
 * with its resource type and name (`lambda` / `invoke`, `states` / `startExecution.sync:2`).
 */
export type TaskKind = { kind: "function" } | { kind: "integration"; resourceType: string; resource: string };

/** The history event types each engine state type enters and exits with. */
const STATE_EVENT_PREFIX: Record<string, string> = {
  Task: "TaskState",
  Choice: "ChoiceState",
  Wait: "WaitState",
  Pass: "PassState",
  Succeed: "SucceedState",
  Fail: "FailState",
  Map: "MapState",
  Parallel: "ParallelState",
};

/** Payloads travel as JSON strings, as AWS sends them; `undefined` (no output) becomes JSON null. */
const payload = (v: unknown) => JSON.stringify(v ?? null);
const notTruncated = { truncated: false };
const text = (v: unknown) => (typeof v === "string" ? v : v === undefined ? undefined : JSON.stringify(v));

/**
 * Builds an execution's AWS-shaped history from aws-local-stepfunctions' event log, plus the task events the
 * service writes itself while it invokes a Task state's resource (sandbox/stepfunctions/tasks.ts).
 */
export class ExecutionHistory {
  readonly events: HistoryEvent[] = [];
  /** The latest `*StateEntered` state name: where the execution is now. */
  currentState: string | undefined;
  /** Distributed Map states, which the engine runs as Task states but the history shows as Map states. */
  distributedMaps: ReadonlySet<string> = new Set();
  private terminal: Terminal | undefined;
  private resolveClosed: (t: Terminal) => void = () => undefined;
  /** Resolves once the closing event (ExecutionSucceeded/Failed/Aborted/TimedOut) is written. */
  readonly closed: Promise<Terminal>;

  constructor(
    private readonly options: {
      maxEvents: number;
      /** Called once, with the closing event's data, when the history closes. */
      onClose: (terminal: Terminal, reason: "engine" | "limit" | "forced") => void;
    },
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get isClosed(): boolean {
    return this.terminal !== undefined;
  }

  started(input: string, roleArn: string, at: number): void {
    this.append("ExecutionStarted", at, "executionStartedEventDetails", {
      input,
      inputDetails: notTruncated,
      roleArn,
    });
  }

  /** `LambdaFunctionScheduled` / `TaskScheduled`: the effective input (after Parameters) goes to the resource. */
  taskScheduled(
    task: TaskKind,
    details: { resource: string; input: string; region: string; timeoutInSeconds?: number },
  ) {
    if (task.kind === "function") {
      this.append(
        "LambdaFunctionScheduled",
        Date.now(),
        "lambdaFunctionScheduledEventDetails",
        definedOnly({
          resource: details.resource,
          input: details.input,
          inputDetails: notTruncated,
          timeoutInSeconds: details.timeoutInSeconds,
        }),
      );
    } else {
      this.append(
        "TaskScheduled",
        Date.now(),
        "taskScheduledEventDetails",
        definedOnly({
          resourceType: task.resourceType,
          resource: task.resource,
          region: details.region,
          parameters: details.input,
          timeoutInSeconds: details.timeoutInSeconds,
        }),
      );
    }
  }

  taskStarted(task: TaskKind): void {
    if (task.kind === "function") this.append("LambdaFunctionStarted", Date.now());
    else this.append("TaskStarted", Date.now(), "taskStartedEventDetails", integrationOf(task));
  }

  /**
   * `TaskSubmitted`: a Run a Job (`.sync`) integration's request was accepted and the task now waits for the job;
   * `output` is the request's answer (for `states:startExecution.sync`, StartExecution's).
   */
  taskSubmitted(task: TaskKind, output: string): void {
    this.append("TaskSubmitted", Date.now(), "taskSubmittedEventDetails", {
      ...integrationOf(task),
      output,
      outputDetails: notTruncated,
    });
  }

  /** The resource's result, before ResultSelector/ResultPath; `output` undefined when it is too large to record. */
  taskSucceeded(task: TaskKind, output: string | undefined): void {
    const value =
      output === undefined ? { outputDetails: { truncated: true } } : { output, outputDetails: notTruncated };
    if (task.kind === "function") {
      this.append("LambdaFunctionSucceeded", Date.now(), "lambdaFunctionSucceededEventDetails", value);
    } else {
      this.append("TaskSucceeded", Date.now(), "taskSucceededEventDetails", { ...integrationOf(task), ...value });
    }
  }

  taskFailed(task: TaskKind, error: string, cause: string): void {
    if (task.kind === "function") {
      this.append("LambdaFunctionFailed", Date.now(), "lambdaFunctionFailedEventDetails", { error, cause });
    } else {
      this.append("TaskFailed", Date.now(), "taskFailedEventDetails", { ...integrationOf(task), error, cause });
    }
  }

  /** The state's TimeoutSeconds ran out while the resource was still working. */
  taskTimedOut(task: TaskKind, error: string, cause?: string): void {
    const value = definedOnly({ error, cause });
    if (task.kind === "function") {
      this.append("LambdaFunctionTimedOut", Date.now(), "lambdaFunctionTimedOutEventDetails", value);
    } else {
      this.append("TaskTimedOut", Date.now(), "taskTimedOutEventDetails", { ...integrationOf(task), ...value });
    }
  }

  /**
   * A Distributed Map state's own events, in the order Step Functions writes them: `MapStateStarted {length: 0}`,
   * `MapRunStarted {mapRunArn}`, then `MapRunSucceeded` and `MapStateSucceeded`, `MapRunFailed {error, cause}` and
   * `MapStateFailed`, or `MapRunAborted`. The child workflow executions' events are in their own histories.
   */
  mapRun(
    event:
      | "MapStateStarted"
      | "MapRunStarted"
      | "MapRunSucceeded"
      | "MapRunFailed"
      | "MapRunAborted"
      | "MapStateSucceeded"
      | "MapStateFailed",
    details: { mapRunArn?: string; error?: string; cause?: string } = {},
  ): void {
    const at = Date.now();
    if (event === "MapStateStarted") this.append(event, at, "mapStateStartedEventDetails", { length: 0 });
    else if (event === "MapRunStarted")
      this.append(event, at, "mapRunStartedEventDetails", { mapRunArn: details.mapRunArn });
    else if (event === "MapRunFailed") {
      this.append(event, at, "mapRunFailedEventDetails", definedOnly({ error: details.error, cause: details.cause }));
    } else this.append(event, at);
  }

  /** Converts one engine event. `abort` gives the error and cause StopExecution was called with. */
  engineEvent(event: EventLog, abort?: { error?: string; cause?: string; at: number }): void {
    if (this.isClosed) return;
    // The events inside inline Map iterations and Parallel branches are not converted (STEP-FUNCTIONS.md, "History").
    if ("index" in event && event.index !== undefined) return;
    switch (event.type) {
      case "StateEntered": {
        const prefix = this.prefixOf(event.state.name, event.state.type);
        if (!prefix) return;
        this.currentState = event.state.name;
        this.append(`${prefix}Entered`, event.timestamp, "stateEnteredEventDetails", {
          name: event.state.name,
          input: payload(event.state.input),
          inputDetails: notTruncated,
        });
        return;
      }
      case "StateExited": {
        const prefix = this.prefixOf(event.state.name, event.state.type);
        if (!prefix) return;
        this.append(`${prefix}Exited`, event.timestamp, "stateExitedEventDetails", {
          name: event.state.name,
          output: payload(event.state.output),
          outputDetails: notTruncated,
        });
        return;
      }
      case "ExecutionSucceeded": {
        const output = payload(event.output);
        this.close(
          "ExecutionSucceeded",
          event.timestamp,
          { member: "executionSucceededEventDetails", value: { output, outputDetails: notTruncated } },
          { status: "SUCCEEDED", output },
          "engine",
        );
        return;
      }
      case "ExecutionFailed": {
        const error = event.Error;
        const cause = text(event.Cause);
        this.close(
          "ExecutionFailed",
          event.timestamp,
          { member: "executionFailedEventDetails", value: definedOnly({ error, cause }) },
          definedOnly({ status: "FAILED" as const, error, cause }),
          "engine",
        );
        return;
      }
      case "ExecutionAborted":
        this.aborted(abort ?? { at: event.timestamp }, "engine");
        return;
      case "ExecutionTimeout": {
        const error = "States.Timeout";
        this.close(
          "ExecutionTimedOut",
          event.timestamp,
          { member: "executionTimedOutEventDetails", value: { error } },
          { status: "TIMED_OUT", error },
          "engine",
        );
        return;
      }
      default:
        // ExecutionStarted is written by started(); StateFailed, StateRetried and StateCaught have no event of their own.
        return;
    }
  }

  /** Closes the history as StopExecution does, when the engine did not report the abort itself. */
  aborted(stop: { error?: string; cause?: string; at: number }, reason: "engine" | "forced" = "forced"): void {
    if (this.isClosed) return;
    const value = definedOnly({ error: stop.error, cause: stop.cause });
    this.close(
      "ExecutionAborted",
      stop.at,
      { member: "executionAbortedEventDetails", value },
      { status: "ABORTED", ...value },
      reason,
    );
  }

  /** Fails the execution as a runtime error would (e.g. the engine stopped without a closing event). */
  failed(error: string, cause: string, at: number): void {
    if (this.isClosed) return;
    this.close(
      "ExecutionFailed",
      at,
      { member: "executionFailedEventDetails", value: { error, cause } },
      { status: "FAILED", error, cause },
      "forced",
    );
  }

  /**
   * Puts back the events a data directory saved. A closed history closes again as it was; an open one stays open
   * for the caller to close (no engine runs it any more).
   */
  restore(events: readonly HistoryEvent[], currentState: string | undefined, terminal: Terminal | undefined): void {
    this.events.push(...events);
    this.currentState = currentState;
    if (!terminal) return;
    this.terminal = terminal;
    this.options.onClose(terminal, "forced");
    this.resolveClosed(terminal);
  }

  private prefixOf(name: string, type: string): string | undefined {
    return this.distributedMaps.has(name) ? "MapState" : STATE_EVENT_PREFIX[type];
  }

  private append(type: string, at: number, member?: string, value?: Record<string, unknown>): void {
    if (this.isClosed) return;
    // One event short of the limit, the execution fails with its closing event as the last one.
    if (this.events.length >= this.options.maxEvents - 1) {
      const cause = `The execution reached the maximum number of history events (${this.options.maxEvents}).`;
      this.close(
        "ExecutionFailed",
        at,
        { member: "executionFailedEventDetails", value: { error: "States.Runtime", cause } },
        { status: "FAILED", error: "States.Runtime", cause },
        "limit",
      );
      return;
    }
    this.push(type, at, member && value ? { member, value } : undefined);
  }

  private push(type: string, at: number, details?: HistoryEvent["details"]): void {
    const last = this.events.at(-1);
    const id = this.events.length + 1;
    this.events.push({
      id,
      previousEventId: id - 1,
      // Engine, step and stop timestamps come from different clocks; history time never goes backwards.
      timestamp: Math.max(at, last?.timestamp ?? at),
      type,
      ...(details ? { details } : {}),
    });
  }

  private close(
    type: string,
    at: number,
    details: HistoryEvent["details"],
    terminal: Omit<Terminal, "at">,
    reason: "engine" | "limit" | "forced",
  ): void {
    this.push(type, at, details);
    const closedAt = this.events.at(-1)?.timestamp ?? at;
    this.terminal = { ...terminal, at: closedAt };
    this.options.onClose(this.terminal, reason);
    this.resolveClosed(this.terminal);
  }
}

function integrationOf(task: TaskKind): { resourceType?: string; resource?: string } {
  return task.kind === "integration" ? { resourceType: task.resourceType, resource: task.resource } : {};
}

export function definedOnly<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
