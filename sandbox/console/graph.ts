/**
 * The shape of a state machine as the console draws it: its states and the transitions between them, read from the
 * ASL definition (https://states-language.net/spec.html). Map states' ItemProcessor (or Iterator) and Parallel
 * states' Branches become nested workflows of their state.
 */

/** How one state leads to another: `Next`, a Choice rule, a Choice's `Default`, or a `Catch` handler. */
export type EdgeKind = "next" | "choice" | "default" | "catch";

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
}

export interface GraphNode {
  name: string;
  /** The ASL `Type` (Task, Choice, Wait, Pass, Succeed, Fail, Map, Parallel). */
  type: string;
  /** A Map state's item processor, or a Parallel state's branches. */
  nested: Workflow[];
  /** True for a Map state in Distributed mode: its nested workflow runs as child executions. */
  distributed: boolean;
  /** A Distributed Map state's `Label`, which names its child executions' state machine. */
  label?: string;
}

export interface Workflow {
  startAt: string;
  /** In definition order. */
  nodes: GraphNode[];
  edges: GraphEdge[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** The workflow of a definition; states or members that are not valid ASL are left out rather than refused. */
export function workflowOf(definition: unknown): Workflow {
  const machine = isObject(definition) ? definition : {};
  const states = isObject(machine.States) ? machine.States : {};
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  for (const [name, raw] of Object.entries(states)) {
    const state = isObject(raw) ? raw : {};
    const type = typeof state.Type === "string" ? state.Type : "Unknown";
    const processor = isObject(state.ItemProcessor) ? state.ItemProcessor : state.Iterator;
    const nested =
      type === "Map" ? [processor] : type === "Parallel" && Array.isArray(state.Branches) ? state.Branches : [];
    const config = isObject(processor) && isObject(processor.ProcessorConfig) ? processor.ProcessorConfig : {};
    nodes.push({
      name,
      type,
      nested: nested.filter(isObject).map(workflowOf),
      distributed: type === "Map" && config.Mode === "DISTRIBUTED",
      ...(typeof state.Label === "string" ? { label: state.Label } : {}),
    });
    const to = (target: unknown, kind: EdgeKind) => {
      if (typeof target === "string" && target in states && !edges.some((e) => e.from === name && e.to === target)) {
        edges.push({ from: name, to: target, kind });
      }
    };
    to(state.Next, "next");
    if (Array.isArray(state.Choices))
      for (const rule of state.Choices) to(isObject(rule) ? rule.Next : undefined, "choice");
    to(state.Default, "default");
    if (Array.isArray(state.Catch)) for (const c of state.Catch) to(isObject(c) ? c.Next : undefined, "catch");
  }
  const startAt = typeof machine.StartAt === "string" ? machine.StartAt : (nodes[0]?.name ?? "");
  return { startAt, nodes, edges };
}

/**
 * The workflow the child executions of a Distributed Map state run: the state whose `Label` is the one in their state
 * machine ARN (`<machine>/<label>`); a Map Run of a state without a label is named by a UUID, so then the only
 * unlabelled Distributed Map state of the definition is taken, if there is just one.
 */
export function childWorkflowOf(workflow: Workflow, label: string): Workflow | undefined {
  const maps: GraphNode[] = [];
  const visit = (w: Workflow) => {
    for (const node of w.nodes) {
      if (node.distributed) maps.push(node);
      for (const n of node.nested) visit(n);
    }
  };
  visit(workflow);
  const unlabelled = maps.filter((m) => m.label === undefined);
  const map = maps.find((m) => m.label === label) ?? (unlabelled.length === 1 ? unlabelled[0] : undefined);
  return map?.nested[0];
}
