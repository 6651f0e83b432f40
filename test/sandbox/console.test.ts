import { existsSync } from "node:fs";
import { CreateStateMachineCommand, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StateNames } from "../../contract/states.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { ExecutionView } from "../../sandbox/console/execution-view.ts";
import { workflowOf } from "../../sandbox/console/graph.ts";
import { type Layout, layoutWorkflow } from "../../sandbox/console/layout.ts";
import { stateProgress } from "../../sandbox/console/state-progress.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import type { HistoryEvent } from "../../sandbox/stepfunctions/history.ts";
import { rekeyDefinition } from "../../workflow/definition.ts";
import { runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";
import { useSandbox } from "../support/sandbox.ts";
import { until } from "../support/until.ts";

/** Debian's chromium (scripts/install-browser.sh); without it the browser test is left out. */
const CHROMIUM = "/usr/bin/chromium";
const ROLE = "arn:aws:iam::123456789012:role/sandbox-state-machine";

/** Boxes of one layout that overlap: none may, except a container and the states nested in it. */
function overlaps(layout: Layout): string[] {
  const found: string[] = [];
  for (const [i, a] of layout.states.entries()) {
    for (const b of layout.states.slice(i + 1)) {
      if (a.depth !== b.depth) continue;
      const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
      if (!apart) found.push(`${a.name} / ${b.name}`);
    }
  }
  return found;
}

describe("the console's drawing of a definition", () => {
  const layout = layoutWorkflow(workflowOf(rekeyDefinition()));
  const box = (name: string) => {
    const s = layout.states.find((x) => x.name === name);
    if (!s) throw new Error(`${name} is not drawn`);
    return s;
  };

  it("places every state of rekey's definition, nested ones inside their Distributed Map state, none overlapping", () => {
    expect(layout.states).toHaveLength(new Set(layout.states.map((s) => s.name)).size);
    expect(layout.states.map((s) => s.name)).toEqual(expect.arrayContaining(Object.values(StateNames)));
    expect(overlaps(layout)).toEqual([]);
    const map = box(StateNames.planSlices);
    expect(map).toMatchObject({ container: true, distributed: true, depth: 0 });
    const inner = box(StateNames.writeManifests);
    expect(inner.depth).toBe(1);
    expect(inner.x).toBeGreaterThan(map.x);
    expect(inner.y).toBeGreaterThan(map.y);
    expect(inner.x + inner.width).toBeLessThan(map.x + map.width);
    expect(inner.y + inner.height).toBeLessThan(map.y + map.height);
    for (const s of layout.states) {
      expect(s.x).toBeGreaterThanOrEqual(0);
      expect(s.x + s.width).toBeLessThanOrEqual(layout.width);
      expect(s.y + s.height).toBeLessThanOrEqual(layout.height);
    }
  });

  it("draws transitions downwards from the start state, and loops back up on the right", () => {
    expect(box(StateNames.validateInput).y).toBe(0);
    expect(box(StateNames.preflight).y).toBeGreaterThan(box(StateNames.validateInput).y);
    const wait = layout.edges.find((e) => e.from === StateNames.waitForJobs && e.to === StateNames.checkCopyJobs);
    expect(wait).toMatchObject({ kind: "next", back: true });
    const [x0, , x1] = wait?.curve ?? [];
    expect(x1).toBeGreaterThan(x0 ?? Number.POSITIVE_INFINITY);
    const next = layout.edges.find((e) => e.from === StateNames.validateInput && e.to === StateNames.preflight);
    expect(next).toMatchObject({ kind: "next", back: false });
    expect(next?.curve[1]).toBe(box(StateNames.validateInput).y + box(StateNames.validateInput).height);
    expect(next?.curve[7]).toBe(box(StateNames.preflight).y);
    expect(layout.edges.filter((e) => e.kind === "catch" && e.to === StateNames.recordFailure).length).toBeGreaterThan(
      10,
    );
  });
});

describe("where the console says an execution has been", () => {
  let id = 0;
  const event = (type: string, name?: string): HistoryEvent => ({
    id: ++id,
    previousEventId: id - 1,
    timestamp: id,
    type,
    ...(name ? { details: { member: "stateEnteredEventDetails", value: { name } } } : {}),
  });

  it("marks a state left through its Catch failed, one whose retry succeeded visited, and the one it is in current", () => {
    const events = [
      event("ExecutionStarted"),
      event("TaskStateEntered", "Retried"),
      event("LambdaFunctionFailed"),
      event("LambdaFunctionSucceeded"),
      event("TaskStateExited", "Retried"),
      event("TaskStateEntered", "Caught"),
      event("LambdaFunctionFailed"),
      event("LambdaFunctionFailed"),
      event("TaskStateExited", "Caught"),
      event("TaskStateEntered", "Handler"),
    ];
    const progress = Object.fromEntries(stateProgress(events, { status: "RUNNING" }));
    expect(progress).toEqual({
      Retried: { status: "visited", entered: 1, errors: 1, active: 0 },
      Caught: { status: "failed", entered: 1, errors: 2, active: 0 },
      Handler: { status: "current", entered: 1, errors: 0, active: 0 },
    });
    expect(stateProgress(events, { status: "FAILED" }).get("Handler")?.status).toBe("failed");
    const failState = [...events, event("TaskStateExited", "Handler"), event("FailStateEntered", "Give up")];
    expect(stateProgress(failState, { status: "FAILED" }).get("Give up")).toMatchObject({ status: "failed" });
    expect(stateProgress(failState, { status: "FAILED" }).get("Handler")).toMatchObject({ status: "visited" });
  });
});

describe("the console's JSON API", () => {
  const t = useSandbox();
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${t.sandbox.endpoint}/_sandbox/console/${path}`, init);
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  const view = async (arn: string, after = 0) =>
    JSON.parse((await get(`api/execution?arn=${encodeURIComponent(arn)}&after=${after}`)).text) as ExecutionView;

  const definition = {
    StartAt: "Prepare",
    States: {
      Prepare: { Type: "Pass", Next: "Pause" },
      Pause: { Type: "Wait", Seconds: 1, Next: "Decide" },
      Decide: {
        Type: "Choice",
        Choices: [{ Variable: "$.go", BooleanEquals: true, Next: "Done" }],
        Default: "Refuse",
      },
      Done: { Type: "Pass", Result: { report: { copied: 3 } }, End: true },
      Refuse: { Type: "Fail", Error: "NotToday", Cause: "go was not true" },
    },
  };
  let machineArn = "";
  const start = async (name: string, input: unknown) =>
    (await t.sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn, name, input: JSON.stringify(input) })))
      .executionArn ?? "";

  beforeAll(async () => {
    const created = await t.sfn.send(
      new CreateStateMachineCommand({ name: "console-api", definition: JSON.stringify(definition), roleArn: ROLE }),
    );
    machineArn = created.stateMachineArn ?? "";
  });

  it("serves the page and its script, and refuses every method that could change something", async () => {
    const page = await get("");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.text).toContain('src="/_sandbox/console/page.js"');
    const script = await get("page.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(script.text).toContain("/_sandbox/console/api");
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      for (const path of ["", "api/executions", "api/jobs", "api/execution?arn=x"]) {
        const refused = await get(path, { method });
        expect(refused.status, `${method} ${path}`).toBe(405);
        expect(refused.headers.get("allow")).toBe("GET, HEAD");
        expect(JSON.parse(refused.text).error).toBe("MethodNotAllowed");
      }
    }
    expect((await get("api/nothing")).status).toBe(404);
    expect(JSON.parse((await get("api/execution")).text).error).toBe("MissingParameter");
    expect(JSON.parse((await get("api/execution?arn=x&after=-1")).text).error).toBe("InvalidParameter");
    expect(JSON.parse((await get("api/execution?arn=arn:aws:states:x")).text).error).toBe("ExecutionNotFound");
  });

  it("shows a running execution's current state, then where it ended, its events once each and its report", async () => {
    const arn = await start("goes", { go: true });
    const waiting = await until("the Wait state", async () => {
      const v = await view(arn);
      return v.execution.currentState === "Pause" ? v : undefined;
    });
    expect(waiting.execution.status).toBe("RUNNING");
    expect(waiting.states.Prepare?.status).toBe("visited");
    expect(waiting.states.Pause?.status).toBe("current");
    expect(waiting.states.Done).toBeUndefined();
    expect(waiting.report).toBeNull();
    expect(waiting.graph?.states.map((s) => s.name).sort()).toEqual(Object.keys(definition.States).sort());
    expect(waiting.graph?.edges.map((e) => `${e.from}>${e.to}:${e.kind}`).sort()).toEqual([
      "Decide>Done:choice",
      "Decide>Refuse:default",
      "Pause>Decide:next",
      "Prepare>Pause:next",
    ]);
    const seen = waiting.events.at(-1)?.id ?? 0;
    expect(waiting.events.map((e) => e.id)).toEqual(Array.from({ length: seen }, (_, i) => i + 1));

    const done = await until("the execution to succeed", async () => {
      const v = await view(arn, seen);
      return v.execution.status === "SUCCEEDED" ? v : undefined;
    });
    expect(done.events[0]?.id).toBe(seen + 1);
    expect(done.events.map((e) => e.type)).toContain("ExecutionSucceeded");
    expect(done.states.Done?.status).toBe("visited");
    expect(done.states.Pause?.status).toBe("visited");
    expect(done.states.Refuse).toBeUndefined();
    expect(done.execution.currentState).toBe("Done");
    expect(done.report).toEqual({ from: "output.report", value: { copied: 3 } });

    const list = JSON.parse((await get("api/executions")).text) as { executions: { executionArn: string }[] };
    expect(list.executions.map((e) => e.executionArn)).toContain(arn);
  });

  it("marks the Fail state an execution ended in, and gives its error instead of a report", async () => {
    const arn = await start("refused", { go: false });
    const failed = await until("the execution to fail", async () => {
      const v = await view(arn);
      return v.execution.status === "FAILED" ? v : undefined;
    });
    expect(failed.states.Refuse?.status).toBe("failed");
    expect(failed.states.Decide?.status).toBe("visited");
    expect(failed.execution).toMatchObject({ error: "NotToday", cause: "go was not true" });
    expect(failed.report).toBeNull();
    const list = JSON.parse((await get("api/executions")).text) as { executions: { executionArn: string }[] };
    expect(list.executions[0]?.executionArn).toBe(arn);
  });
});

interface PageSnapshot {
  status: string;
  current: string;
  /** The states the drawing shows as current (not containers). */
  drawnCurrent: string[];
  jobs: { id: string; status: string; total: number; done: number }[];
  report: string;
}

/**
 * What the console page shows now, read from its DOM in one evaluation: the page renders a poll's answer in one
 * synchronous pass, so a single read never mixes two polls (reading part by part once saw a finished execution beside
 * the previous poll's drawing).
 */
async function snapshot(page: Page): Promise<PageSnapshot> {
  return page.locator("body").evaluate((body) => {
    const text = (testId: string) => body.querySelector(`[data-testid="${testId}"]`)?.textContent ?? "";
    const drawnCurrent = [...body.querySelectorAll('#graph g.state[data-status="current"]:not(.container)')].map(
      (n) => n.getAttribute("data-state") ?? "",
    );
    const jobs = [...body.querySelectorAll('[data-testid="job-row"]')].map((r) => ({
      id: r.getAttribute("data-job-id") ?? "",
      status: r.getAttribute("data-status") ?? "",
      total: Number(r.getAttribute("data-total") ?? Number.NaN),
      done: Number(r.getAttribute("data-succeeded")) + Number(r.getAttribute("data-failed")),
    }));
    return {
      status: text("execution-status"),
      current: text("current-state"),
      drawnCurrent,
      jobs,
      report: text("report"),
    };
  });
}

describe.runIf(existsSync(CHROMIUM))("the console in a headless browser during a rekey run", () => {
  let sandbox: Sandbox;
  let scenario: MixedBucket;
  let browser: Browser;

  beforeAll(async () => {
    const launched = chromium.launch({ executablePath: CHROMIUM });
    ({ sandbox, scenario } = await sandboxWithScenario({
      bucket: "console-data",
      workBucket: "console-work",
      objects: 20,
    }));
    await rekeyDeployment(sandbox);
    // Slow enough that a job's progress is seen between the page's polls: the largest job has a dozen tasks.
    sandbox.batch.engine.tasksPerSecond = 3;
    browser = await launched;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await sandbox?.close();
  });

  it("shows the current state and the jobs' progress changing while the run goes on, then its end", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await page.goto(`${sandbox.endpoint}/_sandbox/console/`);

    let result: ExecutionResult | undefined;
    const run = runOnScenario({ sandbox, scenario, name: "console-run" }).then((r) => {
      result = r;
      return r;
    });
    const statesSeen: string[] = [];
    const progressSeen = new Map<string, { total: number; done: Set<number> }>();
    let drawnAsCurrent = 0;
    let last: PageSnapshot | undefined;
    const deadline = Date.now() + 100_000;
    while (Date.now() < deadline) {
      last = await snapshot(page);
      if (last.status === "RUNNING" && last.current !== "" && statesSeen.at(-1) !== last.current) {
        statesSeen.push(last.current);
      }
      if (last.status === "RUNNING" && last.drawnCurrent.includes(last.current)) drawnAsCurrent += 1;
      for (const job of last.jobs) {
        if (!Number.isFinite(job.total) || job.total === 0) continue;
        const seen = progressSeen.get(job.id) ?? { total: job.total, done: new Set<number>() };
        seen.done.add(job.done);
        progressSeen.set(job.id, seen);
      }
      if (result && last.status !== "RUNNING" && last.report.includes('"outcome"')) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    await run;

    // The current state appeared, and changed as the run moved on; the drawing showed it as current.
    expect(statesSeen[0]).toBeDefined();
    expect(new Set(statesSeen).size, statesSeen.join(" > ")).toBeGreaterThanOrEqual(5);
    // The loop that waits on the jobs: a check takes a second or so the first time, each wait a second.
    const jobLoop = statesSeen.filter((s) => s === StateNames.checkCopyJobs || s === StateNames.waitForJobs);
    expect(jobLoop, statesSeen.join(" > ")).not.toEqual([]);
    expect(drawnAsCurrent).toBeGreaterThan(0);
    // A job's progress appeared part way and grew: more than one count of tasks done, one of them short of the total.
    const moving = [...progressSeen.values()].filter(
      (p) => p.done.size >= 2 && [...p.done].some((d) => d > 0 && d < p.total),
    );
    expect(
      moving.length,
      JSON.stringify([...progressSeen].map(([id, p]) => [id, p.total, [...p.done]])),
    ).toBeGreaterThan(0);
    // Then the end: the state it finished in, every job complete, and the output as the report.
    expect(result?.status).toBe("SUCCEEDED");
    expect(last?.status).toBe("SUCCEEDED");
    expect(last?.current).toBe(StateNames.reencrypted);
    expect(last?.drawnCurrent).toEqual([]);
    expect(
      await page.locator(`#graph g.state[data-state="${StateNames.reencrypted}"]`).getAttribute("data-status"),
    ).toBe("visited");
    expect(last?.jobs.length).toBeGreaterThan(0);
    for (const job of last?.jobs ?? []) expect(job).toMatchObject({ status: "Complete", done: job.total });
    expect(last?.report).toContain('"outcome": "succeeded"');
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);
});
