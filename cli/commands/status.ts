import { DescribeMapRunCommand } from "@aws-sdk/client-sfn";
import type { FinalReportOutput } from "../../contract/final-report.ts";
import { workLabel } from "../../contract/plan.ts";
import type { Finding } from "../../contract/preflight.ts";
import { StateNames } from "../../contract/states.ts";
import { describeJob, jobProgressOf } from "../../steps/aws/batch-jobs.ts";
import { formatCount } from "../../steps/domain/format.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { type AwsOptions, clientsFor, executionArnFor, stateMachineArn } from "../aws.ts";
import { UsageError } from "../errors.ts";
import { type Evidence, evidenceOf } from "../evidence.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";
import { bar, formatDuration, Screen } from "../progress.ts";
import { listRuns, type RunView, readRun, STATE_MEANINGS } from "../runs.ts";

export interface StatusOptions extends AwsOptions {
  bucket?: string | undefined;
  execution?: string | undefined;
  watch: boolean;
  /** Seconds between refreshes with --watch. */
  interval: number;
  output: OutputChoice;
}

export interface LiveJob {
  jobId: string;
  storageClass: string;
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  elapsedActiveSeconds: number;
  /** The job's failure reasons as DescribeJob gives them ("Code: reason"). */
  failureReasons: string[];
}

export interface StatusReport {
  executionArn: string;
  name: string;
  bucket: string | undefined;
  kmsKeyArn: string | undefined;
  status: string;
  startDate: string | undefined;
  stopDate: string | undefined;
  /** Seconds from start to the end, or to now while running. */
  elapsedSeconds: number | undefined;
  currentState: string | undefined;
  meaning: string | undefined;
  inventory: RunView["inventory"];
  plan: RunView["plan"];
  jobs: LiveJob[];
  progress: { total: number; succeeded: number; failed: number; secondsLeft: number | undefined } | undefined;
  /** The child executions of the Map state running now ("Plan each slice"): how many of its items are done. */
  slices: { state: string; total: number; succeeded: number; running: number; failed: number } | undefined;
  /** Preflight's warnings (blockers the run acknowledged among them). */
  warnings: Finding[];
  report: FinalReportOutput | undefined;
  evidence: Evidence | undefined;
  error: string | undefined;
  cause: string | undefined;
}

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);

/**
 * `rekey status`: how far a run is (per route, with time left), how long it has taken, and anything wrong (failures,
 * blockers, warnings), with where its evidence is. --watch redraws the screen in place on a terminal and prints one
 * block per refresh elsewhere.
 */
export async function statusCommand(options: StatusOptions, io: Io): Promise<number> {
  if (!options.bucket === !options.execution) throw new UsageError("Pass exactly one of --bucket or --execution.");
  const clients = await clientsFor(options, io);
  const executionArn = options.execution
    ? await executionArnFor(clients, { ...options, execution: options.execution }, io)
    : await latestRunFor(clients, options, io);
  const screen = new Screen(io.out);
  for (;;) {
    const report = await statusReport(clients, executionArn, io.now());
    if (options.output.format === undefined && options.output.query === undefined) {
      screen.show(render(report), options.watch);
    } else {
      printResult(io, options.output, "Status", report, () => "");
    }
    if (!options.watch || TERMINAL.has(report.status))
      return report.status === "FAILED" || report.status === "ABORTED" || report.status === "TIMED_OUT" ? 1 : 0;
    await io.sleep(options.interval * 1000);
  }
}

export async function latestRunFor(
  clients: AwsClients,
  options: AwsOptions & { bucket?: string | undefined },
  io: Io,
): Promise<string> {
  const machine = await stateMachineArn(clients, options, io);
  const [latest] = await listRuns(clients, machine, { bucket: options.bucket, limit: 1 });
  if (!latest)
    throw new UsageError(
      `No run found for bucket ${options.bucket}. Start one with rekey start --bucket ${options.bucket} ...`,
    );
  return latest.executionArn;
}

export async function statusReport(clients: AwsClients, executionArn: string, now: Date): Promise<StatusReport> {
  const run = await readRun(clients, executionArn);
  const jobs: LiveJob[] = [];
  const accountId = (run.executionArn.split(":")[4] ?? "").trim();
  for (const job of run.jobs?.jobs ?? []) {
    const { status, total, succeeded, failed, elapsedActiveSeconds, failureReasons } = jobProgressOf(
      await describeJob(clients.s3control, accountId, job.jobId),
      job.objects,
    );
    jobs.push({
      jobId: job.jobId,
      storageClass: workLabel(job),
      status,
      total,
      succeeded,
      failed,
      elapsedActiveSeconds,
      failureReasons,
    });
  }
  const total = jobs.reduce((n, j) => n + j.total, 0);
  const succeeded = jobs.reduce((n, j) => n + j.succeeded, 0);
  const failed = jobs.reduce((n, j) => n + j.failed, 0);
  const active = Math.max(0, ...jobs.map((j) => j.elapsedActiveSeconds));
  const rate = active > 0 ? (succeeded + failed) / active : 0;
  const output = run.output as Partial<FinalReportOutput> | undefined;
  let slices: StatusReport["slices"];
  if (run.status === "RUNNING" && run.mapRun && run.mapRun.state === run.currentState) {
    const { itemCounts: c } = await clients.sfn.send(new DescribeMapRunCommand({ mapRunArn: run.mapRun.arn }));
    slices = {
      state: run.mapRun.state,
      total: c?.total ?? 0,
      succeeded: c?.succeeded ?? 0,
      running: c?.running ?? 0,
      failed: (c?.failed ?? 0) + (c?.timedOut ?? 0) + (c?.aborted ?? 0),
    };
  }
  const kmsKeyArn = run.input.kmsKeyArn;
  return {
    executionArn: run.executionArn,
    name: run.name,
    bucket: run.bucket,
    kmsKeyArn: typeof kmsKeyArn === "string" ? kmsKeyArn : undefined,
    status: run.status,
    startDate: run.startDate?.toISOString(),
    stopDate: run.stopDate?.toISOString(),
    elapsedSeconds: run.startDate ? ((run.stopDate ?? now).getTime() - run.startDate.getTime()) / 1000 : undefined,
    currentState: run.currentState,
    meaning: run.currentState ? STATE_MEANINGS[run.currentState] : undefined,
    inventory: run.inventory,
    plan: run.plan,
    jobs,
    progress: jobs.length
      ? { total, succeeded, failed, secondsLeft: rate > 0 ? Math.max(0, total - succeeded - failed) / rate : undefined }
      : undefined,
    slices,
    warnings: run.preflight?.warnings ?? [],
    report: typeof output?.summary === "string" ? (output as FinalReportOutput) : undefined,
    evidence: evidenceOf(run),
    error: run.error,
    cause: run.cause,
  };
}

const utc = (iso: string) => `${iso.slice(0, 16).replace("T", " ")} UTC`;

/** The screen: how far, how long, anything wrong, and where the evidence is. */
export function render(r: StatusReport): string {
  const running = r.status === "RUNNING";
  const took = r.elapsedSeconds === undefined ? "" : formatDuration(r.elapsedSeconds);
  const when = r.startDate
    ? running
      ? `running for ${took} (started ${utc(r.startDate)})`
      : `after ${took} (${utc(r.startDate)} to ${r.stopDate ? utc(r.stopDate) : "?"})`
    : "";
  const lines = [
    `${r.name}  ${r.status} ${when}`.trimEnd(),
    `  bucket:    s3://${r.bucket ?? "?"} to ${r.kmsKeyArn ?? "?"}`,
    `  execution: ${r.executionArn}`,
  ];
  if (running && r.currentState) lines.push(`  now:       ${r.currentState}: ${r.meaning ?? ""}`);
  if (r.slices) {
    const s = r.slices;
    lines.push(
      `  slices:    ${bar(s.succeeded + s.failed, s.total)} ${formatCount(s.succeeded)}/${formatCount(s.total)} done, ${formatCount(s.running)} running, ${formatCount(s.failed)} failed`,
    );
  }
  if (running && r.inventory && !r.inventory.found) {
    lines.push(
      "pending" in r.inventory
        ? `  candidates: Batch Operations is listing the bucket (${r.inventory.pending.join(", ")} still to come)`
        : `  inventory: none newer than default encryption yet (latest seen: ${r.inventory.latestSeen ?? "none"}); giving up at ${r.inventory.deadline}`,
    );
  }
  if (running && r.currentState === StateNames.waitingForApproval && r.plan) {
    lines.push("  plan:");
    for (const m of r.plan.manifests)
      lines.push(
        `    ${m.operation === "copy" ? "copy" : "update the encryption of"} ${formatCount(m.objects)} ${m.operation === "copy" ? `${m.storageClass} ` : ""}objects (${m.key})`,
      );
    if (r.plan.largeObjects)
      lines.push(
        `    copy ${formatCount(r.plan.largeObjects.objects)} objects over 5 GiB part by part after approval (${r.plan.largeObjects.key})`,
      );
    if (r.plan.estimate) lines.push(...r.plan.estimate.text.split("\n").map((l) => `    ${l}`));
    lines.push(`  approve:   rekey approve --execution ${r.executionArn}`);
  }
  if (r.progress) {
    const p = r.progress;
    const left = p.secondsLeft === undefined ? "" : `, about ${formatDuration(p.secondsLeft)} left`;
    lines.push(
      `  progress:  ${bar(p.succeeded + p.failed, p.total)} ${formatCount(p.succeeded)}/${formatCount(p.total)} objects, ${formatCount(p.failed)} failed${running ? left : ""}`,
    );
    for (const j of r.jobs) {
      lines.push(
        `    ${j.storageClass.padEnd(19)} ${bar(j.succeeded + j.failed, j.total, 20)} ${formatCount(j.succeeded)}/${formatCount(j.total)}, ${formatCount(j.failed)} failed  ${j.status} (job ${j.jobId})`,
      );
    }
  }
  lines.push(...anythingWrong(r));
  if (r.evidence) {
    const e = r.evidence;
    lines.push("  evidence:");
    if (e.report) lines.push(`    report:   ${e.report}`);
    if (e.summary) lines.push(`    summary:  ${e.summary}`);
    if (e.skippedList) lines.push(`    skipped:  ${e.skippedList}   (rekey report --skipped)`);
    if (e.failedList) lines.push(`    failed:   ${e.failedList}   (rekey report --failed)`);
    if (e.manifests.length) lines.push(`    manifests: ${e.manifests.join(", ")}`);
    if (e.failure) lines.push(`    failure:  ${e.failure}`);
    if (!e.report && !e.manifests.length) lines.push(`    run folder: ${e.runFolder}`);
  }
  if (r.report) lines.push("", r.report.summary.trimEnd());
  return `${lines.join("\n")}\n`;
}

/** Failures, blockers and warnings, or one line saying there are none. */
function anythingWrong(r: StatusReport): string[] {
  const lines: string[] = [];
  if (r.status === "FAILED" || r.status === "TIMED_OUT" || r.status === "ABORTED") {
    lines.push(`  error:     ${r.error ?? r.status}`);
    if (r.cause)
      lines.push(
        ...r.cause
          .trimEnd()
          .split("\n")
          .map((l) => `    ${l}`),
      );
  }
  const failedTasks = r.jobs.filter((j) => j.failed > 0 || j.failureReasons.length);
  for (const j of failedTasks) {
    lines.push(
      `  failures:  ${formatCount(j.failed)} task(s) of job ${j.jobId} (${j.storageClass})${j.failureReasons.length ? `: ${j.failureReasons.join("; ")}` : ""}`,
    );
  }
  for (const f of r.report?.totals && r.report.totals.failed > 0 ? [r.report.totals.failed] : []) {
    lines.push(`  failed:    ${formatCount(f)} object(s), by reason in the summary below and in failed.csv`);
  }
  for (const w of r.warnings) {
    lines.push(`  warning:   [${w.code}]${w.acknowledged ? " (acknowledged)" : ""} ${w.message}`);
  }
  if (!lines.length) lines.push("  problems:  none so far");
  return lines;
}
