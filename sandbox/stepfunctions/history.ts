import type { StepInvocation } from "../../local/run-workflow.ts";
import type { EventLog } from "../../workflow/local-runner.ts";

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

/** The Lambda function a Task state invokes, and its TimeoutSeconds, as the deployed definition says. */
export interface TaskInfo {
  resource: string;
  timeoutInSeconds?: number;
}

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
 * Builds an execution's AWS-shaped history from aws-local-stepfunctions' event log and the step invocations
 * (for the LambdaFunction* events of Task states, which invoke Lambda function ARNs directly).
 *
 * The engine's event log is an async generator that lags behind the engine, so a step invocation is usually
 * reported before the StateExited/StateFailed event it belongs to. Invocations therefore wait in a queue per
 * state and are written out, in order, when their state's exit or failure arrives.
 */
export class ExecutionHistory {
  readonly events: HistoryEvent[] = [];
  /** The latest `*StateEntered` state name: where the execution is now. */
  currentState: string | undefined;
  private readonly invocations = new Map<string, StepInvocation[]>();
  private terminal: Terminal | undefined;
  private resolveClosed: (t: Terminal) => void = () => undefined;
  /** Resolves once the closing event (ExecutionSucceeded/Failed/Aborted/TimedOut) is written. */
  readonly closed: Promise<Terminal>;

  constructor(
    private readonly options: {
      taskInfo: (state: string) => TaskInfo | undefined;
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

  stepEnded(invocation: StepInvocation): void {
    if (this.isClosed) return;
    const queue = this.invocations.get(invocation.state) ?? [];
    queue.push(invocation);
    this.invocations.set(invocation.state, queue);
  }

  /** Converts one engine event. `abort` gives the error and cause StopExecution was called with. */
  engineEvent(event: EventLog, abort?: { error?: string; cause?: string; at: number }): void {
    if (this.isClosed) return;
    // Map iterations and Parallel branches are not used by rekey's definition; their inner events are not converted.
    if ("index" in event && event.index !== undefined) return;
    switch (event.type) {
      case "StateEntered": {
        const prefix = STATE_EVENT_PREFIX[event.state.type];
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
        const prefix = STATE_EVENT_PREFIX[event.state.type];
        if (!prefix) return;
        if (event.state.type === "Task") this.flushInvocation(event.state.name, "succeeded");
        this.append(`${prefix}Exited`, event.timestamp, "stateExitedEventDetails", {
          name: event.state.name,
          output: payload(event.state.output),
          outputDetails: notTruncated,
        });
        return;
      }
      case "StateFailed":
        if (event.state.type === "Task") {
          this.flushInvocation(event.state.name, "failed", { error: event.Error, cause: text(event.Cause) });
        }
        return;
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
        // ExecutionStarted is written by started(); StateRetried and StateCaught have no history event of their own.
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

  private flushInvocation(state: string, outcome: "succeeded" | "failed", failure?: { error: string; cause?: string }) {
    const queue = this.invocations.get(state) ?? [];
    const index = queue.findIndex((i) => "error" in i.outcome === (outcome === "failed"));
    if (index < 0) return;
    const [invocation] = queue.splice(index, 1);
    if (!invocation) return;
    const info = this.options.taskInfo(state);
    this.append(
      "LambdaFunctionScheduled",
      invocation.startedAt,
      "lambdaFunctionScheduledEventDetails",
      definedOnly({
        resource: info?.resource ?? state,
        input: payload(invocation.input),
        inputDetails: notTruncated,
        timeoutInSeconds: info?.timeoutInSeconds,
      }),
    );
    this.append("LambdaFunctionStarted", invocation.startedAt);
    if ("output" in invocation.outcome) {
      this.append("LambdaFunctionSucceeded", invocation.endedAt, "lambdaFunctionSucceededEventDetails", {
        output: payload(invocation.outcome.output),
        outputDetails: notTruncated,
      });
    } else {
      this.append(
        "LambdaFunctionFailed",
        invocation.endedAt,
        "lambdaFunctionFailedEventDetails",
        definedOnly({ error: failure?.error, cause: failure?.cause }),
      );
    }
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
    this.invocations.clear();
    this.options.onClose(this.terminal, reason);
    this.resolveClosed(this.terminal);
  }
}

function definedOnly<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
