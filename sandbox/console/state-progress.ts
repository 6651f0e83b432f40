import type { HistoryEvent } from "../stepfunctions/history.ts";

/**
 * Where an execution has been, read from its history: which states it entered, which one it is in, and which it
 * left through an error. A state's `*StateEntered` event is followed by its `*StateExited` when it is left, also
 * through a Catch; a state whose last task or Map Run event before it was left is a failure (not retried into a
 * success) was left through an error, as is one the execution ended in unsuccessfully or a Fail state
 * (sandbox/STEP-FUNCTIONS.md, "History").
 */

export type StateStatus = "current" | "failed" | "visited";

export interface StateProgress {
  status: StateStatus;
  /** How many times the state was entered (loops enter a state again). */
  entered: number;
  /** Task, Lambda function and Map Run failures and timeouts recorded while in the state, retried ones included. */
  errors: number;
  /** For the states of a Distributed Map's child workflow: how many running child executions are in it now. */
  active: number;
}

const SUCCESS_EVENTS = new Set(["LambdaFunctionSucceeded", "TaskSucceeded", "MapRunSucceeded"]);
const ERROR_EVENTS = new Set([
  "LambdaFunctionFailed",
  "LambdaFunctionTimedOut",
  "LambdaFunctionScheduleFailed",
  "LambdaFunctionStartFailed",
  "TaskFailed",
  "TaskTimedOut",
  "TaskSubmitFailed",
  "TaskStartFailed",
  "MapRunFailed",
]);

/** The progress of every state one execution entered, by state name. */
export function stateProgress(
  events: readonly HistoryEvent[],
  execution: { status: string },
): Map<string, StateProgress> {
  const states = new Map<string, StateProgress>();
  /** The state entered last and not exited yet, and whether its latest task or Map Run failed. */
  let open: { name: string; failing: boolean } | undefined;
  for (const event of events) {
    const name = stateName(event);
    if (name !== undefined && event.type.endsWith("StateEntered")) {
      // Entering a state while another has not exited: that one did not complete.
      if (open !== undefined) mark(states, open.name, "failed");
      const s = states.get(name) ?? { status: "visited", entered: 0, errors: 0, active: 0 };
      s.entered += 1;
      s.status = event.type === "FailStateEntered" ? "failed" : "current";
      states.set(name, s);
      open = event.type === "FailStateEntered" ? undefined : { name, failing: false };
    } else if (name !== undefined && event.type.endsWith("StateExited")) {
      const s = states.get(name);
      if (s && s.status === "current") s.status = open?.name === name && open.failing ? "failed" : "visited";
      if (open?.name === name) open = undefined;
    } else if (ERROR_EVENTS.has(event.type) && open !== undefined) {
      open.failing = true;
      const s = states.get(open.name);
      if (s) s.errors += 1;
    } else if (SUCCESS_EVENTS.has(event.type) && open !== undefined) {
      open.failing = false;
    }
  }
  if (open !== undefined) mark(states, open.name, execution.status === "RUNNING" ? "current" : "failed");
  return states;
}

/**
 * The progress of a Distributed Map's child workflow over all its child executions: a state is current while any
 * running child is in it, failed where a child failed, and visited where any child went.
 */
export function mergeChildProgress(children: readonly Map<string, StateProgress>[]): Map<string, StateProgress> {
  const rank: Record<StateStatus, number> = { visited: 0, failed: 1, current: 2 };
  const merged = new Map<string, StateProgress>();
  for (const child of children) {
    for (const [name, p] of child) {
      const m = merged.get(name) ?? { status: "visited", entered: 0, errors: 0, active: 0 };
      m.entered += p.entered;
      m.errors += p.errors;
      if (p.status === "current") m.active += 1;
      if (rank[p.status] > rank[m.status]) m.status = p.status;
      merged.set(name, m);
    }
  }
  return merged;
}

function mark(states: Map<string, StateProgress>, name: string, status: StateStatus): void {
  const s = states.get(name);
  if (s) s.status = status;
}

function stateName(event: HistoryEvent): string | undefined {
  const name = event.details?.value.name;
  return typeof name === "string" ? name : undefined;
}
