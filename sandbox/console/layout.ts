import type { EdgeKind, Workflow } from "./graph.ts";

/**
 * Where the console draws each state of a workflow: a layered drawing in the manner of Sugiyama et al. (ranks from
 * the start state down, loops drawn back up on the right), small enough to compute on every request. Nested
 * workflows (a Map state's item processor, a Parallel state's branches) are laid out the same way inside their
 * state's box.
 */

export interface PlacedState {
  name: string;
  type: string;
  /** Left edge and top, in pixels from the drawing's top left corner. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** 0 for the states of the execution's own workflow, 1 for those of a nested workflow, and so on. */
  depth: number;
  /** A Map or Parallel state drawn as a box around its nested workflows. */
  container: boolean;
  /** A Distributed Map state: its nested workflow runs as child executions. */
  distributed: boolean;
}

export interface PlacedEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** True when it leads back up (a loop), drawn on the right of the states it joins. */
  back: boolean;
  /** One cubic Bézier segment: start, first control point, second control point, end (x, y each). */
  curve: [number, number, number, number, number, number, number, number];
}

export interface Layout {
  width: number;
  height: number;
  /** A container comes before the states nested in it, so that drawing in this order puts it behind them. */
  states: PlacedState[];
  edges: PlacedEdge[];
}

const STATE_HEIGHT = 30;
const GAP_X = 24;
const GAP_Y = 28;
const PADDING = 12;
const HEADER = 24;
/** Roughly the advance of one character of the page's 12px sans-serif font, to size a state's box to its name. */
const CHAR_WIDTH = 6.9;
const MIN_WIDTH = 96;
const MAX_WIDTH = 260;
/** How far right of the states it joins a loop bulges, and the extra for each further loop, so they do not overlap. */
const LOOP_REACH = 28;
const LOOP_STEP = 8;

export function layoutWorkflow(workflow: Workflow): Layout {
  return place(workflow, 0);
}

interface Sized {
  name: string;
  type: string;
  width: number;
  height: number;
  distributed: boolean;
  /** Laid out nested workflows, relative to the state's own top left corner. */
  nested: Layout[];
}

function place(workflow: Workflow, depth: number): Layout {
  const sized = new Map<string, Sized>();
  for (const node of workflow.nodes) {
    const label = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, Math.round(node.name.length * CHAR_WIDTH + 24)));
    if (node.nested.length === 0) {
      sized.set(node.name, { ...node, width: label, height: STATE_HEIGHT, nested: [] });
      continue;
    }
    const inner = node.nested.map((n) => place(n, depth + 1));
    let left = PADDING;
    const nested = inner.map((l) => {
      const moved = translate(l, left, HEADER);
      left += l.width + GAP_X;
      return moved;
    });
    const width = Math.max(label, left - GAP_X + PADDING);
    const height = HEADER + Math.max(0, ...inner.map((l) => l.height)) + PADDING;
    // Centre narrower contents under a header wider than them.
    const spare = (width - (left - GAP_X + PADDING)) / 2;
    sized.set(node.name, { ...node, width, height, nested: nested.map((l) => translate(l, spare, 0)) });
  }

  const names = workflow.nodes.map((n) => n.name);
  const edges = workflow.edges.filter((e) => sized.has(e.from) && sized.has(e.to));
  const { discovery, back } = depthFirst(workflow.startAt, names, edges);
  const forward = edges.filter((e) => !back.has(e));
  const { rank, order } = ranks(discovery, forward);
  const rows = orderRows(discovery, rank, forward);

  // Horizontal centres. Each state wants to be under its predecessor in the nearest row above (a join under the
  // branch that reaches it last); where states of a row would overlap they are pushed apart, each moving less the
  // more states follow it, so the main path runs straight and the short side branches give way.
  const reach = descendants(
    order,
    forward.filter((e) => e.kind !== "catch"),
  );
  const centre = new Map<string, number>();
  const desiredCentre = (name: string) => {
    const all = forward.filter((e) => e.to === name);
    const plain = all.filter((e) => e.kind !== "catch");
    const preds = (plain.length > 0 ? plain : all).map((e) => e.from).filter((n) => centre.has(n));
    const nearest = Math.max(...preds.map((n) => rank.get(n) ?? 0));
    const xs = preds.filter((n) => (rank.get(n) ?? 0) === nearest).map((n) => centre.get(n) ?? 0);
    return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
  };
  for (const row of rows) {
    const xs = spread(
      row.map((name) => ({
        desired: desiredCentre(name),
        width: sized.get(name)?.width ?? 0,
        weight: 1 + (reach.get(name) ?? 0) ** 2,
      })),
    );
    for (const [i, name] of row.entries()) centre.set(name, xs[i] ?? 0);
  }

  const tops: number[] = [];
  let y = 0;
  for (const row of rows) {
    tops.push(y);
    y += Math.max(...row.map((name) => sized.get(name)?.height ?? 0)) + GAP_Y;
  }
  const lefts = [...sized.values()].map((s) => (centre.get(s.name) ?? 0) - s.width / 2);
  const minLeft = Math.min(0, ...lefts);

  const boxes = new Map<string, { x: number; y: number; width: number; height: number }>();
  const states: PlacedState[] = [];
  const nestedEdges: PlacedEdge[] = [];
  for (const s of sized.values()) {
    const x = Math.round((centre.get(s.name) ?? 0) - s.width / 2 - minLeft);
    const top = Math.round(tops[rank.get(s.name) ?? 0] ?? 0);
    boxes.set(s.name, { x, y: top, width: s.width, height: s.height });
    const container = s.nested.length > 0;
    states.push({
      name: s.name,
      type: s.type,
      x,
      y: top,
      width: s.width,
      height: s.height,
      depth,
      container,
      distributed: s.distributed,
    });
    for (const inner of s.nested) {
      const moved = translate(inner, x, top);
      states.push(...moved.states);
      nestedEdges.push(...moved.edges);
    }
  }

  let loops = 0;
  const placedEdges = edges.map((e): PlacedEdge => {
    const a = boxes.get(e.from);
    const b = boxes.get(e.to);
    if (!a || !b) throw new Error(`layout lost ${e.from} or ${e.to}`);
    const isBack = back.has(e) || b.y <= a.y;
    if (isBack) {
      const reach = Math.max(a.x + a.width, b.x + b.width) + LOOP_REACH + LOOP_STEP * (loops++ % 4);
      const ay = a.y + a.height / 2;
      const by = b.y + b.height / 2;
      return {
        ...e,
        back: true,
        curve: [a.x + a.width, ay, reach, ay, reach, by, b.x + b.width, by].map(Math.round) as PlacedEdge["curve"],
      };
    }
    const ax = a.x + a.width / 2;
    const ay = a.y + a.height;
    const bx = b.x + b.width / 2;
    const bend = Math.max(10, (b.y - ay) / 2);
    return {
      ...e,
      back: false,
      curve: [ax, ay, ax, ay + bend, bx, b.y - bend, bx, b.y].map(Math.round) as PlacedEdge["curve"],
    };
  });

  const loopRoom = loops > 0 ? LOOP_REACH + LOOP_STEP * Math.min(loops, 4) : 0;
  const right = Math.max(0, ...[...boxes.values()].map((b) => b.x + b.width));
  return {
    width: Math.round(right + loopRoom),
    height: Math.round(Math.max(0, y - GAP_Y)),
    states,
    edges: [...placedEdges, ...nestedEdges],
  };
}

/**
 * Visits the states from the start state (then any left unreached, in definition order), following transitions in
 * the order the definition gives them; a transition to a state still being visited closes a loop.
 */
function depthFirst(
  startAt: string,
  names: string[],
  edges: Workflow["edges"],
): { discovery: string[]; back: Set<Workflow["edges"][number]> } {
  const discovery: string[] = [];
  const back = new Set<Workflow["edges"][number]>();
  const state = new Map<string, "open" | "done">();
  const visit = (name: string) => {
    state.set(name, "open");
    discovery.push(name);
    for (const e of edges) {
      if (e.from !== name) continue;
      const seen = state.get(e.to);
      if (seen === "open") back.add(e);
      else if (seen === undefined) visit(e.to);
    }
    state.set(name, "done");
  };
  for (const name of [startAt, ...names]) if (names.includes(name) && !state.has(name)) visit(name);
  return { discovery, back };
}

/**
 * Centres for boxes kept in this order and GAP_X apart, as near their desired centres as can be: overlapping boxes
 * join into blocks, and a block sits where the weighted mean of its members' wishes puts it (the least weighted
 * squared displacement for a fixed order).
 */
function spread(boxes: { desired: number; width: number; weight: number }[]): number[] {
  interface Block {
    first: number;
    last: number;
    /** Offsets of the members' centres from the block's first centre. */
    offsets: number[];
    weight: number;
    /** Sum of weight × (desired - offset) over the members. */
    pull: number;
    at: number;
  }
  const blocks: Block[] = [];
  boxes.forEach((box, i) => {
    let block: Block = {
      first: i,
      last: i,
      offsets: [0],
      weight: box.weight,
      pull: box.weight * box.desired,
      at: box.desired,
    };
    for (;;) {
      const prev = blocks.at(-1);
      if (!prev) break;
      const prevLast = boxes[prev.last];
      const first = boxes[block.first];
      const span = (prev.offsets.at(-1) ?? 0) + ((prevLast?.width ?? 0) + (first?.width ?? 0)) / 2 + GAP_X;
      if (prev.at + span <= block.at) break;
      blocks.pop();
      const pull = prev.pull + block.pull - block.weight * span;
      const weight = prev.weight + block.weight;
      block = {
        first: prev.first,
        last: block.last,
        offsets: [...prev.offsets, ...block.offsets.map((o) => o + span)],
        weight,
        pull,
        at: pull / weight,
      };
    }
    blocks.push(block);
  });
  return blocks.flatMap((b) => b.offsets.map((o) => b.at + o));
}

/** How many states can follow each state over these transitions, given the states in topological order. */
function descendants(order: string[], forward: Workflow["edges"]): Map<string, number> {
  const after = new Map<string, Set<string>>();
  for (const name of [...order].reverse()) {
    const set = new Set<string>();
    for (const e of forward) {
      if (e.from !== name) continue;
      set.add(e.to);
      for (const n of after.get(e.to) ?? []) set.add(n);
    }
    after.set(name, set);
  }
  return new Map([...after].map(([n, set]) => [n, set.size]));
}

/**
 * The longest path from a root to each state over the transitions that do not loop back, and the states in an order
 * where each comes after every state that leads to it.
 */
function ranks(discovery: string[], forward: Workflow["edges"]): { rank: Map<string, number>; order: string[] } {
  const rank = new Map<string, number>(discovery.map((n) => [n, 0]));
  const incoming = new Map<string, number>(discovery.map((n) => [n, 0]));
  for (const e of forward) incoming.set(e.to, (incoming.get(e.to) ?? 0) + 1);
  const ready = discovery.filter((n) => incoming.get(n) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const name = ready.shift() ?? "";
    order.push(name);
    for (const e of forward) {
      if (e.from !== name) continue;
      rank.set(e.to, Math.max(rank.get(e.to) ?? 0, (rank.get(name) ?? 0) + 1));
      const left = (incoming.get(e.to) ?? 0) - 1;
      incoming.set(e.to, left);
      if (left === 0) ready.push(e.to);
    }
  }
  return { rank, order };
}

/** The states of each rank, left to right: in visiting order, then each moved under its predecessors (barycentres). */
function orderRows(discovery: string[], rank: Map<string, number>, forward: Workflow["edges"]): string[][] {
  const rows: string[][] = [];
  for (const name of discovery) {
    const r = rank.get(name) ?? 0;
    while (rows.length <= r) rows.push([]);
    rows[r]?.push(name);
  }
  const position = new Map<string, number>();
  const remember = (row: string[]) => {
    for (const [i, n] of row.entries()) position.set(n, i);
  };
  for (const row of rows) remember(row);
  for (const row of rows.slice(1)) {
    const key = new Map(
      row.map((name, i) => {
        const preds = forward.filter((e) => e.to === name && e.kind !== "catch").map((e) => position.get(e.from) ?? 0);
        return [name, preds.length > 0 ? preds.reduce((a, b) => a + b, 0) / preds.length : i];
      }),
    );
    row.sort((a, b) => (key.get(a) ?? 0) - (key.get(b) ?? 0));
    remember(row);
  }
  return rows.filter((row) => row.length > 0);
}

function translate(layout: Layout, dx: number, dy: number): Layout {
  return {
    ...layout,
    states: layout.states.map((s) => ({ ...s, x: Math.round(s.x + dx), y: Math.round(s.y + dy) })),
    edges: layout.edges.map((e) => ({
      ...e,
      curve: e.curve.map((v, i) => Math.round(v + (i % 2 === 0 ? dx : dy))) as PlacedEdge["curve"],
    })),
  };
}
