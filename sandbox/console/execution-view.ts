import type { SandboxExecution } from "../stepfunctions/executions.ts";
import { definedOnly, type HistoryEvent } from "../stepfunctions/history.ts";
import type { SavedStateMachine } from "../stepfunctions/service.ts";
import { childWorkflowOf, type Workflow, workflowOf } from "./graph.ts";
import { type Layout, layoutWorkflow } from "./layout.ts";
import { mergeChildProgress, type StateProgress, stateProgress } from "./state-progress.ts";

/** What the console shows of executions: the list to choose from, and one execution in full. */

/** The most events one answer carries; a page further behind gets the newest ones and the count it missed. */
export const MAX_EVENTS_PER_ANSWER = 200;
/** Longer inputs, outputs and causes are cut to this many characters in the event list. */
const DETAIL_CHARS = 300;
const LIST_LIMIT = 100;

export interface ExecutionSummary {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  stateMachineName: string;
  status: string;
  /** Epoch milliseconds. */
  startDate: number;
  stopDate?: number;
  currentState?: string;
  error?: string;
  cause?: string;
  historyEvents: number;
  mapRunArn?: string;
  /** The execution that started this one, as its input's `AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID` names it. */
  startedBy?: string;
}

export interface EventView {
  id: number;
  type: string;
  timestamp: number;
  /** The state a `*StateEntered` / `*StateExited` event names. */
  state?: string;
  /** A short account of the event's details: its error and cause, resource, Map Run, or cut input or output. */
  detail?: string;
  /** The execution a `states:startExecution` task started, named by its TaskSubmitted, TaskSucceeded or TaskFailed. */
  execution?: string;
}

export interface MapRunView {
  mapRunArn: string;
  /** The Distributed Map state that started it. */
  state: string;
  /** Child executions started so far, by status (items not started yet are not counted). */
  children: Record<"total" | "running" | "succeeded" | "failed" | "timedOut" | "aborted", number>;
}

export interface ExecutionView {
  execution: ExecutionSummary;
  /** The drawing of the state machine's definition as it is now; null when the state machine is gone. */
  graph: Layout | null;
  states: Record<string, StateProgress>;
  mapRuns: MapRunView[];
  events: EventView[];
  /** Events after `after` left out of this answer because there were more than MAX_EVENTS_PER_ANSWER. */
  eventsSkipped: number;
  /**
   * The execution's output once it succeeded, as "the report": its top-level `report` member when it has one, else
   * the whole output.
   */
  report: { from: "output.report" | "output"; value: unknown } | null;
}

/** Executions started by StartExecution (not Map Run children), newest first. */
export function listExecutions(executions: readonly SandboxExecution[]): ExecutionSummary[] {
  return executions
    .filter((e) => e.mapRunArn === undefined)
    .sort((a, b) => b.startDate - a.startDate || b.sequence - a.sequence)
    .slice(0, LIST_LIMIT)
    .map(summary);
}

/**
 * One execution with everything the page draws. Only events after `after` (an event id) are sent, so a page that
 * polls gets each event once.
 */
export function executionView(
  execution: SandboxExecution,
  all: readonly SandboxExecution[],
  machines: readonly SavedStateMachine[],
  after: number,
): ExecutionView {
  const events = execution.history.events;
  const newer = events.filter((e) => e.id > after);
  const sent = newer.slice(-MAX_EVENTS_PER_ANSWER);
  const progress = stateProgress(events, execution);
  const mapRuns = mapRunsOf(events, all);
  for (const run of mapRuns) {
    const children = all.filter((e) => e.mapRunArn === run.mapRunArn);
    const merged = mergeChildProgress(children.map((c) => stateProgress(c.history.events, c)));
    for (const [name, p] of merged) if (!progress.has(name)) progress.set(name, p);
  }
  return {
    execution: summary(execution),
    graph: graphOf(execution, machines),
    states: Object.fromEntries(progress),
    mapRuns,
    events: sent.map(eventView),
    eventsSkipped: newer.length - sent.length,
    report: reportOf(execution),
  };
}

function summary(e: SandboxExecution): ExecutionSummary {
  return definedOnly({
    executionArn: e.executionArn,
    name: e.name,
    stateMachineArn: e.stateMachineArn,
    stateMachineName: e.stateMachineArn.slice(e.stateMachineArn.indexOf(":stateMachine:") + ":stateMachine:".length),
    status: e.status,
    startDate: e.startDate,
    stopDate: e.stopDate,
    currentState: e.currentState,
    error: e.error,
    cause: e.cause,
    historyEvents: e.history.events.length,
    mapRunArn: e.mapRunArn,
    startedBy: stringMemberOf(e.input, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"),
  });
}

/** The string member `key` of a JSON object text (an input, a task's output or cause), if it has one. */
function stringMemberOf(text: unknown, key: string): string | undefined {
  if (typeof text !== "string") return undefined;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown> | null;
    const value = typeof parsed === "object" && parsed !== null ? parsed[key] : undefined;
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Layouts by definition and child workflow label: a definition rarely changes, and the page asks for the same one
 * every second.
 */
const layouts = new Map<string, Layout | null>();
const MAX_CACHED_LAYOUTS = 32;

/**
 * The machine's current definition (the sandbox does not keep the one an execution started with, which
 * UpdateStateMachine may have changed since); a Map Run child's is its Distributed Map state's item processor.
 */
function graphOf(execution: SandboxExecution, machines: readonly SavedStateMachine[]): Layout | null {
  const qualified = execution.stateMachineArn;
  const slash = qualified.indexOf("/", qualified.indexOf(":stateMachine:"));
  const machineArn = slash < 0 ? qualified : qualified.slice(0, slash);
  const label = slash < 0 ? undefined : qualified.slice(slash + 1);
  const machine = machines.find((m) => m.arn === machineArn);
  if (!machine) return null;
  const key = `${label ?? ""}\n${machine.definition}`;
  const cached = layouts.get(key);
  if (cached !== undefined) return cached;
  let workflow: Workflow | undefined;
  try {
    workflow = workflowOf(JSON.parse(machine.definition));
  } catch {
    workflow = undefined;
  }
  if (workflow && label !== undefined) workflow = childWorkflowOf(workflow, label);
  const layout = workflow ? layoutWorkflow(workflow) : null;
  if (layouts.size >= MAX_CACHED_LAYOUTS) layouts.delete(layouts.keys().next().value ?? "");
  layouts.set(key, layout);
  return layout;
}

/** The Map Runs the execution's Distributed Map states started (`MapRunStarted` events) and their children. */
function mapRunsOf(events: readonly HistoryEvent[], all: readonly SandboxExecution[]): MapRunView[] {
  const runs: MapRunView[] = [];
  let state = "";
  for (const event of events) {
    if (event.type === "MapStateEntered") state = String(event.details?.value.name ?? "");
    if (event.type !== "MapRunStarted") continue;
    const mapRunArn = String(event.details?.value.mapRunArn ?? "");
    const children = { total: 0, running: 0, succeeded: 0, failed: 0, timedOut: 0, aborted: 0 };
    for (const child of all) {
      if (child.mapRunArn !== mapRunArn) continue;
      children.total += 1;
      const key = child.status === "TIMED_OUT" ? "timedOut" : (child.status.toLowerCase() as keyof typeof children);
      if (key in children) children[key] += 1;
    }
    runs.push({ mapRunArn, state, children });
  }
  return runs;
}

export function eventView(event: HistoryEvent): EventView {
  const value = event.details?.value ?? {};
  const name = typeof value.name === "string" ? value.name : undefined;
  const parts: string[] = [];
  if (typeof value.error === "string") parts.push(value.error);
  if (typeof value.cause === "string") parts.push(value.cause);
  if (typeof value.resource === "string") parts.push(value.resource);
  if (typeof value.mapRunArn === "string") parts.push(value.mapRunArn);
  if (parts.length === 0) {
    const payload = value.output ?? value.input ?? value.parameters;
    if (typeof payload === "string") parts.push(payload);
  }
  const detail = parts.join(": ");
  const started =
    value.resourceType === "states" ? stringMemberOf(value.output ?? value.cause, "ExecutionArn") : undefined;
  return definedOnly({
    id: event.id,
    type: event.type,
    timestamp: event.timestamp,
    state: name,
    detail: detail === "" ? undefined : cut(detail),
    execution: started,
  });
}

function reportOf(execution: SandboxExecution): ExecutionView["report"] {
  if (execution.status !== "SUCCEEDED" || execution.output === undefined) return null;
  let output: unknown;
  try {
    output = JSON.parse(execution.output);
  } catch {
    return { from: "output", value: execution.output };
  }
  if (typeof output === "object" && output !== null && !Array.isArray(output) && "report" in output) {
    return { from: "output.report", value: (output as { report: unknown }).report };
  }
  return { from: "output", value: output };
}

const cut = (s: string) => (s.length > DETAIL_CHARS ? `${s.slice(0, DETAIL_CHARS)}…` : s);
