// The sandbox console's page script (sandbox/console/page.html): polls the console's JSON API every second and
// updates the page in place. Plain browser JavaScript, served as it is: the sandbox has no build step for pages.
// Every text from the API goes in through textContent, never as markup.

const API = "/_sandbox/console/api";
const POLL_MS = 1000;
const MAX_EVENT_ROWS = 500;
const SVG_NS = "http://www.w3.org/2000/svg";
const MARGIN = 14;
const MIN_SCALE = 0.75;
/** Roughly the advance of one character of the 12px font, as sandbox/console/layout.ts sizes boxes with. */
const CHAR_WIDTH = 6.9;

const page = {
  /** The execution ARN chosen in the list; "" follows the newest execution. */
  chosen: new URLSearchParams(location.search).get("execution") ?? "",
  /** The execution whose events the history table holds. */
  shown: "",
  lastEventId: 0,
  graphKey: "",
  /** State name → its <g> in the drawing. */
  states: new Map(),
  /** {element, from, to, kind} for each transition drawn. */
  edges: [],
  current: undefined,
  choicesKey: "",
  timer: undefined,
  busy: false,
};

const $ = (id) => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`page.html has no #${id}`);
  return found;
};

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) node.setAttribute(k, String(v));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message ?? `${response.status} from ${path}`);
  return body;
}

function schedule(ms) {
  clearTimeout(page.timer);
  page.timer = setTimeout(tick, ms);
}

async function tick() {
  if (page.busy) return schedule(100);
  page.busy = true;
  const live = $("live");
  try {
    const [{ executions }, { jobs }] = await Promise.all([getJson(`${API}/executions`), getJson(`${API}/jobs`)]);
    renderChoices(executions);
    const arn = page.chosen || executions[0]?.executionArn || "";
    let detail;
    if (arn) {
      if (arn !== page.shown) resetExecution(arn);
      detail = await getJson(`${API}/execution?arn=${encodeURIComponent(arn)}&after=${page.lastEventId}`);
      renderExecution(detail);
    }
    renderJobs(jobs, detail?.execution);
    live.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    live.classList.remove("lost");
  } catch (err) {
    live.textContent = `not reaching the sandbox: ${err.message}`;
    live.classList.add("lost");
  } finally {
    page.busy = false;
    schedule(POLL_MS);
  }
}

function renderChoices(executions) {
  const key = executions.map((e) => `${e.executionArn} ${e.status}`).join("\n");
  const select = $("execution");
  if (key === page.choicesKey && select.value === page.chosen) return;
  page.choicesKey = key;
  const options = [el("option", { value: "" }, executions.length ? "Follow the newest execution" : "No execution yet")];
  for (const e of executions) {
    options.push(el("option", { value: e.executionArn }, `${e.name} · ${e.status} · ${e.stateMachineName}`));
  }
  if (page.chosen && !executions.some((e) => e.executionArn === page.chosen)) {
    options.push(el("option", { value: page.chosen }, page.chosen));
  }
  select.replaceChildren(...options);
  select.value = page.chosen;
}

$("execution").addEventListener("change", (event) => {
  page.chosen = event.target.value;
  const url = new URL(location.href);
  if (page.chosen) url.searchParams.set("execution", page.chosen);
  else url.searchParams.delete("execution");
  history.replaceState(null, "", url);
  schedule(0);
});

function resetExecution(arn) {
  page.shown = arn;
  page.lastEventId = 0;
  page.current = undefined;
  $("events").replaceChildren();
}

function renderExecution(detail) {
  const e = detail.execution;
  renderSummary(e);
  renderGraph(detail.graph);
  paintStates(detail.states, e);
  renderMapRuns(detail.mapRuns);
  renderReport(detail.report, e);
  appendEvents(detail.events, detail.eventsSkipped, e);
  $("event-count").textContent = String(e.historyEvents);
}

function renderSummary(e) {
  const end = e.stopDate ?? Date.now();
  const rows = [
    ["Execution", el("span", { class: "mono" }, e.name)],
    ["State machine", e.stateMachineName],
    ["Status", el("span", { class: `badge ${e.status}`, "data-testid": "execution-status" }, e.status)],
    [
      e.status === "RUNNING" ? "Current state" : "Last state",
      el(
        "span",
        { class: e.status === "RUNNING" ? "state" : "state ended", "data-testid": "current-state" },
        e.currentState ?? "—",
      ),
    ],
    ["Started", new Date(e.startDate).toLocaleString()],
    [e.status === "RUNNING" ? "Running for" : "Took", duration(end - e.startDate)],
  ];
  if (e.startedBy) rows.push(["Started by", executionLink(e.startedBy, e.startedBy)]);
  if (e.error) rows.push(["Error", el("span", { class: "error" }, e.error)]);
  if (e.cause) rows.push(["Cause", el("span", { class: "error" }, e.cause)]);
  $("summary").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function renderGraph(layout) {
  const key = layout ? JSON.stringify(layout) : "";
  if (key === page.graphKey) return;
  page.graphKey = key;
  page.states = new Map();
  page.edges = [];
  const canvas = $("graph");
  if (!layout) {
    canvas.replaceChildren(el("p", { class: "empty" }, "The state machine of this execution is gone."));
    return;
  }
  const width = layout.width + 2 * MARGIN;
  const height = layout.height + 2 * MARGIN;
  // Shrunk to the panel's width when wider, but to no less than MIN_SCALE, past which the panel scrolls instead.
  const root = svg("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    style: `max-width:100%;height:auto;min-width:${Math.round(width * MIN_SCALE)}px`,
    role: "img",
    "aria-label": "State machine graph",
  });
  const defs = svg("defs");
  const marker = svg("marker", {
    id: "arrow",
    viewBox: "0 0 8 8",
    refX: 7,
    refY: 4,
    markerWidth: 7,
    markerHeight: 7,
    orient: "auto-start-reverse",
  });
  marker.append(svg("path", { d: "M0,0 L8,4 L0,8 z" }));
  defs.append(marker);
  const world = svg("g", { transform: `translate(${MARGIN},${MARGIN})` });
  root.append(defs, world);

  const containers = layout.states.filter((s) => s.container);
  const leaves = layout.states.filter((s) => !s.container);
  for (const s of containers) {
    const g = svg("g", { class: "state container", "data-state": s.name, "data-status": "idle" });
    g.append(
      svg("title", {}, `${s.name} (${s.distributed ? "Distributed Map" : s.type})`),
      svg("rect", { x: s.x, y: s.y, width: s.width, height: s.height, rx: 8 }),
      svg("text", { x: s.x + 10, y: s.y + 13 }, clipText(s.name, s.width - 20)),
    );
    world.append(g);
    page.states.set(s.name, { g, s });
  }
  for (const e of layout.edges) {
    const [x0, y0, x1, y1, x2, y2, x3, y3] = e.curve;
    const path = svg("path", {
      class: `edge ${e.kind}`,
      d: `M${x0},${y0} C${x1},${y1} ${x2},${y2} ${x3},${y3}`,
      "marker-end": "url(#arrow)",
    });
    if (e.kind === "catch") path.style.display = "none";
    world.append(path);
    page.edges.push({ element: path, from: e.from, to: e.to, kind: e.kind });
  }
  for (const s of leaves) {
    const g = svg("g", { class: "state", "data-state": s.name, "data-status": "idle" });
    g.append(
      svg("title", {}, `${s.name} (${s.type})`),
      svg("rect", { x: s.x, y: s.y, width: s.width, height: s.height, rx: s.type === "Choice" ? 14 : 5 }),
      svg("text", { x: s.x + s.width / 2, y: s.y + s.height / 2 }, clipText(s.name, s.width - 12)),
    );
    world.append(g);
    page.states.set(s.name, { g, s });
  }
  canvas.replaceChildren(root);
}

function paintStates(states, execution) {
  for (const [name, { g, s }] of page.states) {
    const p = states[name];
    g.dataset.status = p ? p.status : "idle";
    g.querySelector(".pills")?.remove();
    if (!p) continue;
    const pills = [];
    if (p.active > 0) pills.push(["var(--current)", `${p.active} running`]);
    if (p.errors > 0) pills.push(["var(--failed)", `${p.errors} error${p.errors === 1 ? "" : "s"}`]);
    if (p.entered > 1) pills.push(["#334155", `×${p.entered}`]);
    if (pills.length === 0) continue;
    const group = svg("g", { class: "pills" });
    let right = s.x + s.width + 4;
    for (const [colour, text] of pills.reverse()) {
      const width = Math.round(text.length * 5.6 + 10);
      right -= width + 2;
      const pill = svg("g", { class: "pill" });
      pill.append(
        svg("rect", { x: right, y: s.y - 7, width, height: 14, rx: 7, style: `fill:${colour}` }),
        svg("text", { x: right + width / 2, y: s.y, "text-anchor": "middle", "dominant-baseline": "central" }, text),
      );
      group.append(pill);
    }
    g.append(group);
  }
  for (const edge of page.edges) {
    const from = states[edge.from];
    const to = states[edge.to];
    const taken = Boolean(from && to);
    edge.element.classList.toggle("taken", taken);
    if (edge.kind === "catch") edge.element.style.display = taken && from.status === "failed" ? "" : "none";
  }
  const current = execution.status === "RUNNING" ? execution.currentState : undefined;
  if (current && current !== page.current) scrollToState(current);
  page.current = current;
}

/** Keeps the current state in sight as the execution moves down the drawing. */
function scrollToState(name) {
  const found = page.states.get(name);
  const canvas = $("graph");
  const drawing = canvas.querySelector("svg");
  if (!found || !drawing) return;
  const box = drawing.getBoundingClientRect();
  const scale = box.width / Number(drawing.getAttribute("width"));
  const top = box.top - canvas.getBoundingClientRect().top + canvas.scrollTop + (MARGIN + found.s.y) * scale;
  const bottom = top + found.s.height * scale;
  // Well inside the panel, not just on its edge, so that the states that follow can be seen too.
  const visible =
    top >= canvas.scrollTop + canvas.clientHeight * 0.1 && bottom <= canvas.scrollTop + canvas.clientHeight * 0.75;
  if (!visible) canvas.scrollTo({ top: Math.max(0, top - canvas.clientHeight / 3), behavior: "smooth" });
}

function renderMapRuns(mapRuns) {
  $("map-runs-section").hidden = mapRuns.length === 0;
  const rows = mapRuns.map((run) => {
    const c = run.children;
    return el(
      "tr",
      { "data-testid": "map-run-row" },
      el("td", {}, run.state),
      el("td", {}, progressBar(c.succeeded, c.failed + c.timedOut + c.aborted, c.total)),
      el("td", {}, c.running ? `${c.running} running` : ""),
    );
  });
  const head = el("tr", {}, el("th", {}, "State"), el("th", {}, "Child executions"), el("th", {}, ""));
  $("map-runs").replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
}

function renderJobs(jobs, execution) {
  const box = $("jobs");
  if (jobs.length === 0) {
    box.replaceChildren(el("p", { class: "empty" }, "No job yet."));
    return;
  }
  const from = execution ? execution.startDate - 1000 : undefined;
  const until = execution?.stopDate ?? Number.POSITIVE_INFINITY;
  const rows = jobs.map((j) => {
    const during = from === undefined || (j.creationTime >= from && j.creationTime <= until);
    const id = el("span", { class: "mono", title: j.jobId }, j.jobId.slice(0, 8));
    const label = el("td", {}, el("div", {}, id, el("span", { class: "op" }, j.operation)));
    if (j.description) label.append(el("div", { class: "desc", title: j.description }, j.description));
    return el(
      "tr",
      {
        class: during ? undefined : "other",
        "data-testid": "job-row",
        "data-job-id": j.jobId,
        "data-status": j.status,
        "data-total": j.totalTasks,
        "data-succeeded": j.succeeded,
        "data-failed": j.failed,
      },
      label,
      el("td", {}, el("span", { class: `badge ${j.status}` }, j.status)),
      el(
        "td",
        {},
        j.totalTasks === undefined
          ? el("span", { class: "empty" }, "reading manifest")
          : progressBar(j.succeeded, j.failed, j.totalTasks),
      ),
      el("td", {}, duration(j.elapsedActiveSeconds * 1000)),
    );
  });
  const head = el("tr", {}, ...["Job", "Status", "Tasks done", "Active"].map((h) => el("th", {}, h)));
  box.replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
}

function progressBar(succeeded, failed, total) {
  const share = (n) => (total > 0 ? `${((100 * n) / total).toFixed(1)}%` : "0%");
  const text = `${succeeded + failed} / ${total}${failed ? ` (${failed} failed)` : ""}`;
  return el(
    "div",
    { class: "bar", title: `${succeeded} succeeded, ${failed} failed, ${total} in all` },
    el("i", { style: `width:${share(succeeded)}` }),
    el("i", { class: "failed", style: `left:${share(succeeded)};width:${share(failed)}` }),
    el("b", { "data-testid": "progress" }, text),
  );
}

function renderReport(report, execution) {
  const box = $("report");
  if (!report) {
    const text =
      execution.status === "RUNNING"
        ? "The execution's output appears here once it succeeds."
        : `No output: the execution ended ${execution.status}.`;
    box.replaceChildren(el("p", { class: execution.status === "RUNNING" ? "empty" : "error" }, text));
    delete box.dataset.key;
    return;
  }
  const key = JSON.stringify(report);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  const parts = [el("p", { class: "empty" }, `From the execution's ${report.from}.`)];
  const value = report.value;
  // Multi-line strings (a text summary) read better as text than as one escaped JSON line.
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === "string" && v.includes("\n")) parts.push(el("pre", { title: k }, v));
    }
  } else if (typeof value === "string") {
    parts.push(el("pre", {}, value));
  }
  parts.push(el("pre", { class: "mono" }, JSON.stringify(value, null, 2)));
  box.replaceChildren(...parts);
}

function appendEvents(events, skipped, execution) {
  const body = $("events");
  if (skipped > 0) {
    body.prepend(el("tr", {}, el("td", { colspan: 5, class: "empty" }, `${skipped} events not shown`)));
  }
  for (const e of events) {
    const at = `+${((e.timestamp - execution.startDate) / 1000).toFixed(1)}s`;
    const error = /Failed|TimedOut|Aborted/.test(e.type);
    body.prepend(
      el(
        "tr",
        { "data-event-id": e.id },
        el("td", {}, e.id),
        el("td", { class: "mono" }, at),
        el("td", { class: error ? "error" : undefined }, e.type),
        el("td", {}, e.state ?? ""),
        e.execution
          ? el("td", { class: "detail mono" }, executionLink(e.execution, "child execution"), " ", e.detail ?? "")
          : el("td", { class: "detail mono" }, e.detail ?? ""),
      ),
    );
    page.lastEventId = e.id;
  }
  while (body.rows.length > MAX_EVENT_ROWS) body.deleteRow(-1);
}

/** A link that opens the console on another execution (a task's child, or the execution that started this one). */
function executionLink(arn, text) {
  return el("a", { href: `?execution=${encodeURIComponent(arn)}`, title: arn, "data-testid": "execution-link" }, text);
}

function clipText(text, width) {
  const chars = Math.max(4, Math.floor(width / CHAR_WIDTH));
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

tick();
