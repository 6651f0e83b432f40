import "./node20-polyfill.ts";
import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import {
  DISTRIBUTED_MAP_RESOURCE,
  distributedMapProblem,
  isDistributedMap,
  type MapStateDefinition,
  taskInPlaceOf,
} from "./distributed-map.ts";

/** One entry of the engine's event log (the library does not export the type). */
export type EventLog = ReturnType<StateMachine["run"]>["eventLogs"] extends AsyncGenerator<infer E> ? E : never;

export type { StateMachineDefinition };

/** A Task state as the engine sees it, with the members the service reads. */
export interface TaskStateDefinition {
  Type: "Task";
  Resource: string;
  Parameters?: unknown;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
}

type AnyState = Record<string, unknown> & { Type?: string };
type Machine = { States?: Record<string, AnyState> };

/**
 * The longest timer Node can set (2^31 - 1 ms, in whole seconds). The engine gives a Task state without
 * TimeoutSeconds 60 seconds, where Step Functions gives it 99999999; the sandbox uses this value instead, since a
 * longer timer would fire at once.
 */
const NO_TASK_TIMEOUT_SECONDS = 2_147_483;

/**
 * For the engine's own machines: their definitions (and the paths and templates evaluated with passEvaluator, parts
 * of them) were checked when the state machine was created, as Step Functions checks them there. The validator builds
 * and compiles its JSON schemas afresh on every check, which costs more CPU than a short execution.
 */
const ALREADY_VALIDATED = { noValidate: true } as const;

/** Checks a definition as CreateStateMachine does; throws the validator's message when it is not valid ASL. */
export function validateDefinition(definition: unknown): void {
  new StateMachine(definition as StateMachineDefinition, { validationOptions: { checkPaths: true, checkArn: true } });
  forEachState(definition as Machine, (name, state) => {
    const problem = distributedMapProblem(name, state);
    if (problem) throw new Error(problem);
  });
}

/** Every Task state, Map iterators and Parallel branches included (ASL: state names are unique machine-wide). */
export function taskStates(definition: Machine): Map<string, TaskStateDefinition> {
  const tasks = new Map<string, TaskStateDefinition>();
  forEachState(definition, (name, state) => {
    if (state.Type === "Task" && typeof state.Resource === "string") {
      tasks.set(name, state as unknown as TaskStateDefinition);
    }
  });
  return tasks;
}

function forEachState(machine: Machine, visit: (name: string, state: AnyState) => void): void {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    visit(name, state);
    for (const nested of [state.Iterator, state.ItemProcessor]) {
      if (nested && typeof nested === "object") forEachState(nested as Machine, visit);
    }
    if (Array.isArray(state.Branches)) for (const branch of state.Branches) forEachState(branch as Machine, visit);
  }
}

/**
 * A copy of the definition for the engine: each Distributed Map state becomes a Task state on a sandbox-internal
 * resource (the engine runs Map inline only; the service runs the Map Run, see map-runs.ts), and Task states get
 * Step Functions' timeout default instead of the engine's. Also answers the replaced Map states by name.
 */
function forEngine(definition: StateMachineDefinition): {
  definition: StateMachineDefinition;
  maps: Map<string, MapStateDefinition>;
} {
  const copy = structuredClone(definition) as unknown as Machine;
  const maps = new Map<string, MapStateDefinition>();
  forEachState(copy, (name, state) => {
    if (isDistributedMap(state)) {
      maps.set(name, structuredClone(state) as unknown as MapStateDefinition);
      // Replaced in place, so that forEachState does not descend into the child workflow's states.
      const task = taskInPlaceOf(state as unknown as MapStateDefinition);
      for (const key of Object.keys(state)) delete state[key];
      Object.assign(state, task);
    }
    if (state.Type === "Task" && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
      state.TimeoutSeconds = NO_TASK_TIMEOUT_SECONDS;
    }
  });
  return { definition: copy as unknown as StateMachineDefinition, maps };
}

/**
 * Evaluates ASL paths and payload templates exactly as the engine does (intrinsic functions, `$$` context), by
 * running a one-state Pass machine: `Parameters` is the template, `InputPath` a path. Throws the engine's error
 * (`States.Runtime` for a path that points nowhere).
 */
export function passEvaluator(pass: { Parameters?: unknown; InputPath?: string }) {
  const machine = new StateMachine(
    { StartAt: "Evaluate", States: { Evaluate: { Type: "Pass", ...pass, End: true } } } as StateMachineDefinition,
    { validationOptions: ALREADY_VALIDATED },
  );
  return async (input: unknown, context: Record<string, unknown>): Promise<unknown> => {
    try {
      return await machine.run(input as never, { context: context as never }).result;
    } catch (err) {
      const e = err as { message?: string; cause?: { name?: string; message?: string } };
      const error = new Error(e.cause?.message ?? e.message ?? String(err));
      error.name = e.cause?.name ?? "States.Runtime";
      throw error;
    }
  };
}

export interface EngineRun {
  /** Resolves when the engine stops; never rejects. */
  result: Promise<
    | { status: "SUCCEEDED"; output: unknown }
    | { status: "FAILED"; error: string; cause: string }
    | { status: "ABORTED" }
  >;
  abort(): void;
}

/**
 * Runs a definition with aws-local-stepfunctions. Every Task state is handled by `runTask` (the engine never calls
 * AWS itself); every engine event goes to `onEvent`, in order.
 */
export function startEngine(params: {
  definition: StateMachineDefinition;
  input: unknown;
  context: Record<string, unknown>;
  runTask: (stateName: string, task: TaskStateDefinition, input: unknown) => Promise<unknown>;
  /** Runs a Distributed Map state's Map Run with the state's effective input (after InputPath). */
  runMap: (stateName: string, map: MapStateDefinition, input: unknown) => Promise<unknown>;
  onEvent: (event: EventLog) => void;
}): EngineRun & { distributedMaps: ReadonlySet<string> } {
  const engine = forEngine(params.definition);
  const machine = new StateMachine(engine.definition, { validationOptions: ALREADY_VALIDATED });
  const handlers = Object.fromEntries(
    [...taskStates(engine.definition as unknown as Machine)].map(([name, task]) => {
      const map = task.Resource === DISTRIBUTED_MAP_RESOURCE ? engine.maps.get(name) : undefined;
      const run = map
        ? (input: unknown) => params.runMap(name, map, input)
        : (input: unknown) => params.runTask(name, task, input);
      return [name, run as never];
    }),
  );
  const execution = machine.run(params.input as never, {
    overrides: { taskResourceLocalHandlers: handlers },
    context: params.context as never,
    noThrowOnAbort: true,
  });
  let aborted = false;
  const events = (async () => {
    for await (const event of execution.eventLogs) params.onEvent(event);
  })();
  const result = (async (): Promise<Awaited<EngineRun["result"]>> => {
    let outcome: Awaited<EngineRun["result"]>;
    try {
      const output = await execution.result;
      outcome = output === null && aborted ? { status: "ABORTED" } : { status: "SUCCEEDED", output };
    } catch (err) {
      // The engine reports a failed execution as an ExecutionError whose cause is the failing error.
      const e = err as { message?: string; cause?: { name?: string; message?: string } };
      outcome = {
        status: "FAILED",
        error: e.cause?.name ?? "States.Runtime",
        cause: e.cause?.message ?? e.message ?? String(err),
      };
    }
    await events.catch(() => undefined);
    return outcome;
  })();
  return {
    result,
    distributedMaps: new Set(engine.maps.keys()),
    abort() {
      aborted = true;
      execution.abort();
    },
  };
}
