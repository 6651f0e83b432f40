import { DescribeMapRunCommand } from "@aws-sdk/client-sfn";
import type { FinalReportOutput } from "../../contract/final-report.ts";
import { workLabel } from "../../contract/plan.ts";
import { StateNames } from "../../contract/states.ts";
import { describeJob, jobProgressOf } from "../../steps/aws/batch-jobs.ts";
import { formatCount } from "../../steps/domain/format.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { type AwsOptions, clientsFor, stateMachineArn } from "../aws.ts";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { bar, formatDuration } from "../progress.ts";
import { listRuns, type RunView, readRun, STATE_MEANINGS } from "../runs.ts";

export interface StatusOptions extends AwsOptions {
  bucket?: string | undefined;
  execution?: string | undefined;
  watch: boolean;
  json: boolean;
  /** Seconds between refreshes with --watch. */
  interval: number;
}

export interface LiveJob {
  jobId: string;
  storageClass: string;
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  elapsedActiveSeconds: number;
}

export interface StatusReport {
  executionArn: string;
  name: string;
  bucket: string | undefined;
  status: string;
  startDate: string | undefined;
  stopDate: string | undefined;
  currentState: string | undefined;
  meaning: string | undefined;
  inventory: RunView["inventory"];
  plan: RunView["plan"];
  jobs: LiveJob[];
  progress: { total: number; succeeded: number; failed: number; secondsLeft: number | undefined } | undefined;
  /** The child executions of the Map state running now ("Plan each slice"): how many of its items are done. */
  slices: { state: string; total: number; succeeded: number; running: number; failed: number } | undefined;
  report: FinalReportOutput | undefined;
  error: string | undefined;
  cause: string | undefined;
}

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);

/** `rekey status`: where a run is, in words; job progress with counts and time left; the final report when done. */
export async function statusCommand(options: StatusOptions, io: Io): Promise<number> {
  if (!options.bucket === !options.execution) throw new UsageError("Pass exactly one of --bucket or --execution.");
  const clients = await clientsFor(options, io);
  const executionArn = options.execution ?? (await latestRunFor(clients, options, io));
  for (;;) {
    const report = await statusReport(clients, executionArn);
    io.out.write(options.json ? `${JSON.stringify(report)}\n` : render(report, io.now()));
    if (!options.watch || TERMINAL.has(report.status))
      return report.status === "FAILED" || report.status === "ABORTED" || report.status === "TIMED_OUT" ? 1 : 0;
    await io.sleep(options.interval * 1000);
  }
}

async function latestRunFor(clients: AwsClients, options: StatusOptions, io: Io): Promise<string> {
  const machine = await stateMachineArn(clients, options, io);
  const [latest] = await listRuns(clients, machine, { bucket: options.bucket, limit: 1 });
  if (!latest)
    throw new UsageError(
      `No run found for bucket ${options.bucket}. Start one with rekey start --bucket ${options.bucket} ...`,
    );
  return latest.executionArn;
}

export async function statusReport(clients: AwsClients, executionArn: string): Promise<StatusReport> {
  const run = await readRun(clients, executionArn);
  const jobs: LiveJob[] = [];
  const accountId = (run.executionArn.split(":")[4] ?? "").trim();
  for (const job of run.jobs?.jobs ?? []) {
    const { status, total, succeeded, failed, elapsedActiveSeconds } = jobProgressOf(
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
  return {
    executionArn: run.executionArn,
    name: run.name,
    bucket: run.bucket,
    status: run.status,
    startDate: run.startDate?.toISOString(),
    stopDate: run.stopDate?.toISOString(),
    currentState: run.currentState,
    meaning: run.currentState ? STATE_MEANINGS[run.currentState] : undefined,
    inventory: run.inventory,
    plan: run.plan,
    jobs,
    progress: jobs.length
      ? { total, succeeded, failed, secondsLeft: rate > 0 ? Math.max(0, total - succeeded - failed) / rate : undefined }
      : undefined,
    slices,
    report: typeof output?.summary === "string" ? (output as FinalReportOutput) : undefined,
    error: run.error,
    cause: run.cause,
  };
}

function render(r: StatusReport, now: Date): string {
  const started = r.startDate ? new Date(r.startDate) : undefined;
  const ended = r.stopDate ? new Date(r.stopDate) : now;
  const lines = [
    `${r.name}  ${r.status}${started ? ` since ${r.startDate} (${formatDuration((ended.getTime() - started.getTime()) / 1000)})` : ""}`,
    `  bucket:    ${r.bucket ?? "?"}`,
    `  execution: ${r.executionArn}`,
  ];
  if (r.status === "RUNNING" && r.currentState) lines.push(`  state:     ${r.currentState}: ${r.meaning ?? ""}`);
  if (r.slices) {
    const s = r.slices;
    lines.push(
      `  slices:    ${bar(s.succeeded + s.failed, s.total)} ${formatCount(s.succeeded)}/${formatCount(s.total)} done, ${formatCount(s.running)} running, ${formatCount(s.failed)} failed`,
    );
  }
  if (r.status === "RUNNING" && r.inventory && !r.inventory.found) {
    lines.push(
      "pending" in r.inventory
        ? `  candidates: Batch Operations is listing the bucket (${r.inventory.pending.join(", ")} still to come)`
        : `  inventory: none newer than default encryption yet (latest seen: ${r.inventory.latestSeen ?? "none"}); giving up at ${r.inventory.deadline}`,
    );
  }
  if (r.status === "RUNNING" && r.currentState === StateNames.waitingForApproval && r.plan) {
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
      `  copied:    ${bar(p.succeeded + p.failed, p.total)} ${formatCount(p.succeeded)}/${formatCount(p.total)}, ${formatCount(p.failed)} failed${r.status === "RUNNING" ? left : ""}`,
    );
    for (const j of r.jobs) {
      lines.push(
        `    job ${j.jobId} ${j.storageClass.padEnd(19)} ${j.status.padEnd(10)} ${formatCount(j.succeeded)}/${formatCount(j.total)} (${formatCount(j.failed)} failed)`,
      );
    }
  }
  if (r.report) lines.push("", r.report.summary.trimEnd());
  else if (r.status === "FAILED" || r.status === "TIMED_OUT" || r.status === "ABORTED") {
    lines.push(`  error:     ${r.error ?? r.status}`);
    if (r.cause)
      lines.push(
        ...r.cause
          .trimEnd()
          .split("\n")
          .map((l) => `  ${l}`),
      );
  }
  return `${lines.join("\n")}\n`;
}
