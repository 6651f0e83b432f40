import type { Behaviours } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import type { LambdaSandbox } from "../lambda/service.ts";
import type { MapRunHost } from "./distributed-map-run.ts";
import { runDistributedMap } from "./distributed-map-run.ts";
import { type EngineRun, type EventLog, type StateMachineDefinition, startEngine } from "./engine.ts";
import { definedOnly, ExecutionHistory, type HistoryEvent, type TaskKind, type Terminal } from "./history.ts";
import type { MapRun } from "./map-runs.ts";
import { type NestedExecutions, runStartExecutionTask, startExecutionIntegration } from "./nested-executions.ts";
import {
  inputTooLarge,
  MAX_PAYLOAD_BYTES,
  outputTooLarge,
  payloadBytes,
  runTask,
  stateError,
  type TaskAttempt,
} from "./tasks.ts";

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

/** How long StopExecution waits for the engine to report the abort before closing the history itself. */
const ABORT_GRACE_MS = 2_000;

/** Lets every event the engine has dispatched so far reach the history (the engine's log is a microtask queue). */
const drained = () => new Promise<void>((resolve) => setImmediate(resolve));

/** What an execution runs: the definition of its state machine when it started, and where its tasks go. */
export interface ExecutionRun {
  definition: StateMachineDefinition;
  stateMachineName: string;
  roleArn: string;
  parsedInput: unknown;
  identity: SandboxIdentity;
  lambda: LambdaSandbox;
  /** The sandbox's switches (sandbox/behaviours.ts), shared and read when a task fails. */
  behaviours: Readonly<Behaviours>;
  /** True once DeleteStateMachine was called: the execution fails at its next state transition. */
  machineDeleted: () => boolean;
  /** Where Distributed Map states get their S3 client and start their Map Runs' child executions. */
  mapRuns: MapRunHost;
  /** Where `states:startExecution` Task states start executions of other state machines. */
  executions: NestedExecutions;
}

/** What a data directory keeps of an execution (sandbox/persistence/); the events are saved apart, as they grow. */
export interface SavedExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  startDate: number;
  sequence: number;
  status: ExecutionStatus;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  currentState?: string;
  /** Set on a child workflow execution of a Distributed Map state's Map Run. */
  mapRunArn?: string;
}

/**
 * The error and cause of an execution that was running when the sandbox stopped: nothing ran it on, so it ends
 * failed when the sandbox starts again (sandbox/ASSUMPTIONS.md, "Data directory").
 */
export const RESTART_ERROR = "States.Runtime";
export const RESTART_CAUSE =
  "The sandbox stopped while this execution was running; it was not resumed when the sandbox started again from its data directory.";

/** One execution of a state machine: what DescribeExecution, ListExecutions and the history show. */
export class SandboxExecution {
  status: ExecutionStatus = "RUNNING";
  stopDate: number | undefined;
  output: string | undefined;
  error: string | undefined;
  cause: string | undefined;
  readonly history: ExecutionHistory;
  /** The Map Run that started this execution, if it is a Distributed Map child workflow execution. */
  readonly mapRunArn: string | undefined;
  private engine: EngineRun | undefined;
  private stopRequest: { error?: string; cause?: string; at: number } | undefined;
  /** Task attempts still waiting for their resource, by state name, so a state timeout can be recorded. */
  private readonly attempts = new Map<string, Attempt>();
  /** Every task attempt still waiting, so that closing the execution aborts each (state names may repeat). */
  private readonly inFlight = new Set<Attempt>();
  private readonly closeListeners: Array<() => void> = [];
  /** The Map Runs this execution's Distributed Map states are running now. */
  private readonly mapRuns = new Set<MapRun>();

  constructor(
    readonly executionArn: string,
    readonly stateMachineArn: string,
    readonly name: string,
    /** The input string exactly as StartExecution received it (or "{}"). */
    readonly input: string,
    readonly startDate: number,
    /** Creation order, to order executions that started in the same millisecond. */
    readonly sequence: number,
    options: { maxHistoryEvents: number; mapRunArn?: string },
  ) {
    this.mapRunArn = options.mapRunArn;
    this.history = new ExecutionHistory({
      maxEvents: options.maxHistoryEvents,
      onClose: (terminal, reason) => {
        this.settle(terminal);
        // However the execution ends, its Map Runs' children stop with it, and so do the tasks still waiting.
        this.abortMapRuns();
        for (const attempt of this.inFlight) abandon(attempt);
        if (reason !== "engine") this.engine?.abort();
        for (const listener of this.closeListeners) listener();
      },
    });
  }

  /** An execution a data directory saved, closed as it closed, or failed with RESTART_CAUSE if it was running. */
  static restore(saved: SavedExecution, events: readonly HistoryEvent[], maxHistoryEvents: number): SandboxExecution {
    const e = new SandboxExecution(
      saved.executionArn,
      saved.stateMachineArn,
      saved.name,
      saved.input,
      saved.startDate,
      saved.sequence,
      { maxHistoryEvents, ...(saved.mapRunArn !== undefined ? { mapRunArn: saved.mapRunArn } : {}) },
    );
    const terminal =
      saved.status === "RUNNING"
        ? undefined
        : definedOnly({
            status: saved.status,
            at: saved.stopDate ?? saved.startDate,
            output: saved.output,
            error: saved.error,
            cause: saved.cause,
          });
    e.history.restore(events, saved.currentState, terminal);
    if (!terminal) e.history.failed(RESTART_ERROR, RESTART_CAUSE, Date.now());
    return e;
  }

  /** What a data directory keeps of this execution, besides its history events. */
  saved(): SavedExecution {
    return definedOnly({
      executionArn: this.executionArn,
      stateMachineArn: this.stateMachineArn,
      name: this.name,
      input: this.input,
      startDate: this.startDate,
      sequence: this.sequence,
      status: this.status,
      stopDate: this.stopDate,
      output: this.output,
      error: this.error,
      cause: this.cause,
      currentState: this.currentState,
      mapRunArn: this.mapRunArn,
    });
  }

  /** Runs the definition in the background; Task states invoke the sandbox's Lambda functions. */
  run(params: ExecutionRun): void {
    this.history.started(this.input, params.roleArn, this.startDate);
    const context = {
      Execution: {
        Id: this.executionArn,
        Name: this.name,
        StartTime: new Date(this.startDate).toISOString(),
        Input: params.parsedInput,
        RoleArn: params.roleArn,
      },
      StateMachine: { Id: this.stateMachineArn, Name: params.stateMachineName },
    };
    const engine = startEngine({
      definition: params.definition,
      input: params.parsedInput,
      context,
      runTask: async (stateName, state, input) => {
        await drained();
        if (this.history.isClosed) throw stateError("States.Runtime", "The execution has closed.", true);
        if (startExecutionIntegration(state.Resource)) {
          return runStartExecutionTask({
            stateName,
            state,
            input,
            parentArn: this.executionArn,
            identity: params.identity,
            history: this.history,
            executions: params.executions,
            behaviours: params.behaviours,
            track: (name, task) => this.track(name, task),
          });
        }
        return runTask({
          stateName,
          state,
          input,
          lambda: params.lambda,
          identity: params.identity,
          behaviours: params.behaviours,
          history: this.history,
          track: (name, task) => this.track(name, task),
        });
      },
      runMap: async (stateName, state, input) => {
        await drained();
        if (this.history.isClosed) throw stateError("States.Runtime", "The execution has closed.", true);
        return runDistributedMap({
          host: params.mapRuns,
          parent: this,
          history: this.history,
          context,
          stateName,
          state,
          input,
          track: (mapRun) => {
            this.mapRuns.add(mapRun);
            return () => this.mapRuns.delete(mapRun);
          },
        });
      },
      onEvent: (event) => this.onEngineEvent(event, params),
    });
    this.engine = engine;
    this.history.distributedMaps = engine.distributedMaps;
    void this.engine.result.then((result) => {
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
    this.abortMapRuns();
    this.engine?.abort();
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
    this.abortMapRuns();
    this.engine?.abort();
    this.history.aborted(this.stopRequest);
  }

  /** Called once the execution has closed (at once if it already has). */
  onClosed(listener: () => void): void {
    if (this.history.isClosed) listener();
    else this.closeListeners.push(listener);
  }

  /** Where the execution is now: the last state it entered. */
  get currentState(): string | undefined {
    return this.history.currentState;
  }

  /** Aborts the running Map Runs (MapRunAborted, while the history is still open) and their children. */
  private abortMapRuns(): void {
    for (const mapRun of this.mapRuns) {
      if (mapRun.status !== "RUNNING") continue;
      mapRun.close("ABORTED");
      this.history.mapRun("MapRunAborted");
      mapRun.abort();
    }
  }

  private track(stateName: string, task: TaskKind): TaskAttempt {
    const attempt: Attempt = { task, abandoned: false };
    this.attempts.set(stateName, attempt);
    this.inFlight.add(attempt);
    return {
      abandoned: () => attempt.abandoned,
      onAbort: (abort) => {
        if (attempt.abandoned) abort();
        else attempt.abort = abort;
      },
      done: () => {
        this.inFlight.delete(attempt);
        if (this.attempts.get(stateName) === attempt) this.attempts.delete(stateName);
      },
    };
  }

  /**
   * The checks Step Functions makes at each transition, then the history: payload quota on every state's input and
   * output (States.DataLimitExceeded, which no Catch handles), a deleted state machine, a state timeout.
   */
  private onEngineEvent(event: EventLog, params: ExecutionRun): void {
    if (this.history.isClosed) return;
    const nested = "index" in event && event.index !== undefined;
    if (!nested && event.type === "StateEntered") {
      if (params.machineDeleted()) {
        this.history.failed("States.Runtime", `State machine ${params.stateMachineName} has been deleted.`, Date.now());
        return;
      }
      if (payloadBytes(JSON.stringify(event.state.input ?? null)) > MAX_PAYLOAD_BYTES) {
        this.history.failed("States.DataLimitExceeded", inputTooLarge(event.state.name), Date.now());
        return;
      }
    }
    if (!nested && event.type === "StateExited") {
      if (payloadBytes(JSON.stringify(event.state.output ?? null)) > MAX_PAYLOAD_BYTES) {
        this.history.failed("States.DataLimitExceeded", outputTooLarge(event.state.name), Date.now());
        return;
      }
    }
    if (event.type === "StateFailed" && event.Error === "States.Timeout") {
      const attempt = this.attempts.get(event.state.name);
      if (attempt && !attempt.abandoned) {
        this.history.taskTimedOut(attempt.task, "States.Timeout");
        abandon(attempt);
      }
    }
    this.history.engineEvent(event, this.stopRequest);
  }

  private settle(terminal: Terminal): void {
    this.status = terminal.status;
    this.stopDate = terminal.at;
    this.output = terminal.output;
    this.error = terminal.error;
    this.cause = terminal.cause;
  }
}

/** A task attempt in flight: what it runs, whether it still counts, and how to abort its resource's work. */
interface Attempt {
  task: TaskKind;
  abandoned: boolean;
  abort?: () => void;
}

function abandon(attempt: Attempt): void {
  attempt.abandoned = true;
  const abort = attempt.abort;
  attempt.abort = undefined;
  abort?.();
}
