import type { FinalReportOutput } from "../contract/final-report.ts";
import { formatCount } from "../steps/domain/format.ts";
import { formatDuration } from "./progress.ts";
import { STATE_MEANINGS } from "./runs.ts";

/** What `rekey status` reads of one run that the fleet's roll-up shows. */
export interface RunStatusForFleet {
  executionArn: string;
  status: string;
  currentState: string | undefined;
  jobs: { storageClass: string; total: number; succeeded: number; failed: number }[];
  progress: { secondsLeft: number | undefined } | undefined;
  report: FinalReportOutput | undefined;
  error: string | undefined;
  cause: string | undefined;
}

/** One bucket of a fleet: where its run is, and what its report (once written) counts. */
export interface FleetRow {
  bucket: string;
  /** The run's execution name. */
  execution: string;
  executionArn: string | undefined;
  /** QUEUED: the fleet has not started it yet; NOT_STARTED: the fleet ended without starting it; else the run's status. */
  status: string;
  /** While running: the state it is in. */
  currentState: string | undefined;
  /** The run's own verdict, from its final report. */
  outcome: "succeeded" | "failed" | undefined;
  /** Per route (a copy job's storage class, or "encryption update"): tasks done of the job's total. */
  routes: { route: string; succeeded: number; failed: number; total: number }[];
  /** From the final report once written; until then, tasks the copy jobs report. */
  reencrypted: number;
  alreadyCompliant: number | undefined;
  skipped: number | undefined;
  failed: number;
  secondsLeft: number | undefined;
  /** Why the run failed or was stopped. */
  error: string | undefined;
}

export interface FleetTotals {
  buckets: number;
  byStatus: Record<string, number>;
  /** Runs whose final report says succeeded, and those whose run failed or whose report says failed. */
  succeeded: number;
  failedRuns: number;
  reencrypted: number;
  alreadyCompliant: number;
  skipped: number;
  failedObjects: number;
  /** The longest time left among running buckets (they run side by side), when every running one can tell. */
  secondsLeft: number | undefined;
}

export function fleetRow(
  item: { bucket: string; name: string },
  run: RunStatusForFleet | undefined,
  fleetEnded: boolean,
): FleetRow {
  if (!run) {
    return {
      bucket: item.bucket,
      execution: item.name,
      executionArn: undefined,
      status: fleetEnded ? "NOT_STARTED" : "QUEUED",
      currentState: undefined,
      outcome: undefined,
      routes: [],
      reencrypted: 0,
      alreadyCompliant: undefined,
      skipped: undefined,
      failed: 0,
      secondsLeft: undefined,
      error: undefined,
    };
  }
  const totals = run.report?.totals;
  const routes = run.jobs.map((j) => ({
    route: j.storageClass,
    succeeded: j.succeeded,
    failed: j.failed,
    total: j.total,
  }));
  return {
    bucket: item.bucket,
    execution: item.name,
    executionArn: run.executionArn,
    status: run.status,
    currentState: run.status === "RUNNING" ? run.currentState : undefined,
    outcome: run.report?.outcome,
    routes,
    reencrypted: totals ? totals.reencrypted : routes.reduce((n, r) => n + r.succeeded, 0),
    alreadyCompliant: totals?.alreadyCompliant,
    skipped: totals?.skipped,
    failed: totals ? totals.failed : routes.reduce((n, r) => n + r.failed, 0),
    secondsLeft: run.status === "RUNNING" ? run.progress?.secondsLeft : undefined,
    error: run.error === undefined ? undefined : `${run.error}${run.cause ? `: ${run.cause}` : ""}`,
  };
}

export function rollUp(rows: readonly FleetRow[]): FleetTotals {
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const running = rows.filter((r) => r.status === "RUNNING");
  return {
    buckets: rows.length,
    byStatus,
    succeeded: rows.filter((r) => r.status === "SUCCEEDED" && r.outcome === "succeeded").length,
    failedRuns: rows.filter(
      (r) =>
        ["FAILED", "TIMED_OUT", "ABORTED"].includes(r.status) ||
        (r.status === "SUCCEEDED" && r.outcome !== "succeeded"),
    ).length,
    reencrypted: sum(rows, (r) => r.reencrypted),
    alreadyCompliant: sum(rows, (r) => r.alreadyCompliant ?? 0),
    skipped: sum(rows, (r) => r.skipped ?? 0),
    failedObjects: sum(rows, (r) => r.failed),
    secondsLeft:
      running.length && running.every((r) => r.secondsLeft !== undefined)
        ? Math.max(...running.map((r) => r.secondsLeft ?? 0))
        : undefined,
  };
}

function sum(rows: readonly FleetRow[], of: (r: FleetRow) => number): number {
  return rows.reduce((n, r) => n + of(r), 0);
}

/** The roll-up for people: one line per bucket, then the totals. */
export function fleetTable(rows: readonly FleetRow[], totals: FleetTotals): string {
  const header = ["BUCKET", "STATE", "RE-ENCRYPTED", "ALREADY OK", "SKIPPED", "FAILED", "TIME LEFT", "PROGRESS / WHY"];
  const cells = rows.map((r) => [
    r.bucket,
    stateText(r),
    formatCount(r.reencrypted),
    r.alreadyCompliant === undefined ? "-" : formatCount(r.alreadyCompliant),
    r.skipped === undefined ? "-" : formatCount(r.skipped),
    formatCount(r.failed),
    r.secondsLeft === undefined ? "-" : formatDuration(r.secondsLeft),
    detail(r),
  ]);
  cells.push([
    `TOTAL (${totals.buckets})`,
    Object.entries(totals.byStatus)
      .map(([s, n]) => `${n} ${s.toLowerCase().replaceAll("_", " ")}`)
      .join(", "),
    formatCount(totals.reencrypted),
    formatCount(totals.alreadyCompliant),
    formatCount(totals.skipped),
    formatCount(totals.failedObjects),
    totals.secondsLeft === undefined ? "-" : formatDuration(totals.secondsLeft),
    `${totals.succeeded} run(s) succeeded, ${totals.failedRuns} failed or stopped`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const body = cells.map(line);
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), ...body.slice(0, -1), rule, body[body.length - 1] ?? ""].join("\n");
}

function stateText(r: FleetRow): string {
  if (r.status === "SUCCEEDED") return r.outcome === "failed" ? "done, with failures" : "succeeded";
  if (r.status === "RUNNING") return `running: ${r.currentState ?? "?"}`;
  return r.status.toLowerCase().replaceAll("_", " ");
}

function detail(r: FleetRow): string {
  if (r.error) return r.error.length > 120 ? `${r.error.slice(0, 117)}...` : r.error;
  if (r.status === "RUNNING" && r.routes.length) {
    return r.routes.map((x) => `${x.route} ${formatCount(x.succeeded + x.failed)}/${formatCount(x.total)}`).join(", ");
  }
  if (r.status === "RUNNING") return STATE_MEANINGS[r.currentState ?? ""] ?? "";
  if (r.status === "QUEUED") return "waiting for a slot under the fleet's bound";
  if (r.status === "NOT_STARTED") return "the fleet ended (or was stopped) before starting it";
  return r.execution;
}
