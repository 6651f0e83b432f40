import { startSandboxExecution } from "../../local/run-workflow.ts";
import type { EventLog, LocalExecution } from "../../workflow/local-runner.ts";
import type { SandboxIdentity } from "../config.ts";
import { ExecutionHistory, type TaskInfo, type Terminal } from "./history.ts";

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

/** How long StopExecution waits for the engine to report the abort before closing the history itself. */
const ABORT_GRACE_MS = 2_000;

/** One execution of the sandbox's state machine: what DescribeExecution, ListExecutions and the history show. */
export class SandboxExecution {
  status: ExecutionStatus = "RUNNING";
  stopDate: number | undefined;
  output: string | undefined;
  error: string | undefined;
  cause: string | undefined;
  readonly history: ExecutionHistory;
  private local: LocalExecution | undefined;
  private stopRequest: { error?: string; cause?: string; at: number } | undefined;

  constructor(
    readonly executionArn: string,
    readonly stateMachineArn: string,
    readonly name: string,
    /** The input string exactly as StartExecution received it (or "{}"). */
    readonly input: string,
    readonly startDate: number,
    /** Creation order, to order executions that started in the same millisecond. */
    readonly sequence: number,
    options: { taskInfo: (state: string) => TaskInfo | undefined; maxHistoryEvents: number },
  ) {
    this.history = new ExecutionHistory({
      taskInfo: options.taskInfo,
      maxEvents: options.maxHistoryEvents,
      onClose: (terminal, reason) => {
        this.settle(terminal);
        if (reason !== "engine") this.local?.abort();
      },
    });
  }

  /** Runs the definition in the background with the real step code against the sandbox. */
  run(params: {
    sandbox: { endpoint: string; identity: SandboxIdentity };
    roleArn: string;
    workBucket: string;
    parsedInput: unknown;
  }): void {
    this.history.started(this.input, params.roleArn, this.startDate);
    this.local = startSandboxExecution({
      sandbox: params.sandbox,
      input: params.parsedInput,
      name: this.name,
      workBucket: params.workBucket,
      onEvent: (event) => this.history.engineEvent(event, this.stopRequest),
      onStepEnd: (invocation) => this.history.stepEnded(invocation),
    });
    void this.local.result.then((result) => {
      // The engine's closing event normally settled the execution already; this covers an engine that ended without one.
      if (this.history.isClosed) return;
      if (result.status === "SUCCEEDED") {
        this.history.engineEvent({
          type: "ExecutionSucceeded",
          timestamp: Date.now(),
          output: result.output,
        } as EventLog);
      } else if (result.status === "FAILED") {
        this.history.failed(result.error, result.cause, Date.now());
      } else {
        this.history.aborted(this.stopRequest ?? { at: Date.now() });
      }
    });
  }

  /** StopExecution on a running execution: aborts it and waits (briefly) until its history is closed. */
  async stop(request: { error?: string; cause?: string }): Promise<void> {
    if (this.status !== "RUNNING" || this.stopRequest) {
      await this.history.closed;
      return;
    }
    this.stopRequest = { ...request, at: Date.now() };
    this.local?.abort();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ABORT_GRACE_MS);
    });
    await Promise.race([this.history.closed, grace]);
    clearTimeout(timer);
    this.history.aborted(this.stopRequest);
  }

  /** Stops the engine without waiting, for sandbox shutdown. */
  shutdown(): void {
    if (this.status !== "RUNNING") return;
    this.stopRequest ??= { error: "SandboxClosed", cause: "The sandbox was closed.", at: Date.now() };
    this.local?.abort();
    this.history.aborted(this.stopRequest);
  }

  /** Where the execution is now: the last state it entered. */
  get currentState(): string | undefined {
    return this.history.currentState;
  }

  private settle(terminal: Terminal): void {
    this.status = terminal.status;
    this.stopDate = terminal.at;
    this.output = terminal.output;
    this.error = terminal.error;
    this.cause = terminal.cause;
  }
}
