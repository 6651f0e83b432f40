import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import pLimit from "p-limit";
import { UnexpectedResponseError } from "../../contract/errors.ts";
import { type FleetInput, FleetInputSchema, type FleetItem, FleetItemSchema, fleetKeys } from "../../contract/fleet.ts";
import type { Finding } from "../../contract/preflight.ts";
import { executionArnOf } from "../../contract/states.ts";
import { getText, putJson } from "../../steps/aws/s3-io.ts";
import { storageMetrics } from "../../steps/aws/storage-metrics.ts";
import { formatBytes, formatCount } from "../../steps/domain/format.ts";
import { type AwsClients, createAwsClients, createCloudWatchClient } from "../../steps/runtime/clients.ts";
import { type AwsOptions, clientSettingsFor, fleetStateMachineArn, stateMachineArn } from "../aws.ts";
import { deploymentConfig } from "../deployment.ts";
import { CommandFailedError, UsageError } from "../errors.ts";
import {
  type FleetCandidate,
  type FleetExclusion,
  type FleetOrder,
  fleetBuckets,
  orderFleet,
} from "../fleet-buckets.ts";
import { type FleetRow, type FleetTotals, fleetRow, fleetTable, rollUp } from "../fleet-rollup.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";
import { Screen } from "../progress.ts";
import { type FreeName, freeAttempt, nameWithAttempt, prepareRun, type RunStartRequest } from "../run-start.ts";
import { executionName } from "../runs.ts";
import { statusReport } from "./status.ts";
import { stopRun } from "./stop.ts";

interface FleetMachineOptions extends AwsOptions {
  fleetStateMachine?: string | undefined;
}

export interface FleetStartOptions extends FleetMachineOptions {
  buckets: string[];
  bucketsFile?: string | undefined;
  kmsKey: string;
  /** "generate" makes every run list its bucket with the manifest generator; else each plans from its inventory. */
  source?: "inventory" | "generate" | undefined;
  changeId?: string | undefined;
  maxConcurrentRuns: number;
  order: FleetOrder;
  /** Run again buckets whose latest run succeeded (by default they are left out). */
  includeDone: boolean;
  /** The request options every bucket's run gets (acknowledgements, approval, the job bound, polling). */
  runOptions: Record<string, unknown>;
  dryRun: boolean;
  output: OutputChoice;
}

/** A bucket the fleet will run: its execution name and what the checks found. */
interface FleetBucket {
  bucket: string;
  name: string;
  objects: number | undefined;
  bytes: number | undefined;
  warnings: Finding[];
}

/** How many buckets' checks run at once: each is a dozen read-only calls. */
const CHECK_CONCURRENCY = 4;

/**
 * `rekey fleet start`: runs `rekey start`'s checks on every bucket, leaves out (and says why) those a run would
 * refuse or that need nothing, orders the rest, writes them to the work bucket and starts one fleet execution,
 * which starts each bucket's run under the name chosen here, at most --max-concurrent-runs at once.
 */
export async function fleetStartCommand(options: FleetStartOptions, io: Io): Promise<number> {
  const { candidates, excluded } = await fleetBuckets(options.buckets, options.bucketsFile);
  const settings = await clientSettingsFor(options, io);
  const clients = createAwsClients(settings);
  const machine = await stateMachineArn(clients, options, io);
  const fleetMachine = await fleetStateMachineArn(clients, options, io);
  const deployment = await deploymentConfig(clients, settings, machine);
  const workBucket = deployment.workBucket;
  if (!workBucket) {
    throw new UsageError(
      `The deployment's functions name no work bucket (WORK_BUCKET): redeploy rekey (runbooks/deploy.md).`,
    );
  }
  const done = options.includeDone ? new Map<string, string>() : await doneBuckets(clients, machine);
  const sized = await withSizes(
    candidates.filter((c) => !done.has(c.bucket)),
    settings,
    io,
  );
  const ordered = orderFleet(sized, options.order);

  const limit = pLimit(CHECK_CONCURRENCY);
  let checked = 0;
  const outcomes = await Promise.all(
    ordered.map((c) =>
      limit(async () => {
        const request: RunStartRequest = {
          bucket: c.bucket,
          kmsKey: options.kmsKey,
          source: options.source ?? (c.inventoryConfig ? "inventory" : "generate"),
          ...(options.source !== "generate" && c.inventoryConfig ? { inventoryConfig: c.inventoryConfig } : {}),
          changeId: options.changeId,
          runOptions: options.runOptions,
        };
        try {
          const prepared = await prepareRun({ clients, machine, deployment, now: io.now() }, request);
          return { candidate: c, prepared };
        } catch (err) {
          return { candidate: c, error: err as Error };
        } finally {
          checked++;
          // One line redrawn on a terminal; elsewhere (a log, CI) a line per tenth of the buckets.
          if (io.err.isTTY) io.err.write(`rekey: checked ${checked} of ${ordered.length} bucket(s)\r`);
          else if (checked === ordered.length || checked % Math.ceil(ordered.length / 10) === 0) {
            io.err.write(`rekey: checked ${checked} of ${ordered.length} bucket(s)\n`);
          }
        }
      }),
    ),
  );
  if (ordered.length && io.err.isTTY) io.err.write("\n");
  const failures = outcomes.filter((o) => o.error);
  // The same error for every bucket is the setup's (credentials, region, endpoint), not the buckets'.
  const first = failures[0]?.error;
  if (first && failures.length === outcomes.length && failures.every((f) => f.error?.name === first.name)) throw first;

  const toRun: FleetBucket[] = [];
  const items: FleetItem[] = [];
  const leftOut: FleetExclusion[] = [
    ...excluded,
    ...candidates.flatMap((c) => {
      const run = done.get(c.bucket);
      return run
        ? [
            {
              bucket: c.bucket,
              reason: `re-encrypted by ${run}, which succeeded; new writes since follow the default encryption it set (--include-done runs it again)`,
            },
          ]
        : [];
    }),
  ];
  const taken = new Set<string>();
  for (const o of outcomes) {
    if (o.error) {
      leftOut.push({ bucket: o.candidate.bucket, reason: `${o.error.name}: ${o.error.message.split("\n")[0]}` });
      continue;
    }
    const p = o.prepared;
    if (!p) continue;
    if (p.preflight.blockers.length) {
      leftOut.push({
        bucket: o.candidate.bucket,
        reason: `preflight would refuse it: ${p.preflight.blockers.map((b) => b.code).join(", ")} (see rekey start --dry-run --bucket ${o.candidate.bucket})`,
      });
      continue;
    }
    const name = await nameNotTaken(clients, machine, p.name, taken);
    taken.add(name);
    toRun.push({
      bucket: o.candidate.bucket,
      name,
      objects: o.candidate.objects,
      bytes: o.candidate.bytes,
      warnings: p.preflight.warnings,
    });
    items.push(FleetItemSchema.parse({ bucket: o.candidate.bucket, name, input: p.input }));
  }

  const base = executionName("fleet", io.now(), options.changeId);
  const fleetName = nameWithAttempt(base, await freeAttempt(clients, fleetMachine, base));
  const keys = fleetKeys(fleetName);
  const input: FleetInput = FleetInputSchema.parse({
    workBucket,
    ...keys,
    maxConcurrentRuns: options.maxConcurrentRuns,
  });
  const plan = { fleet: fleetName, stateMachineArn: fleetMachine, input, buckets: toRun, excluded: leftOut };
  if (options.dryRun || !items.length) {
    printResult(io, options.output, "FleetDryRun", plan, () => startText(plan, options, true));
    return items.length ? 0 : 2;
  }
  await putJson(clients.s3, workBucket, keys.itemsKey, items);
  const { executionArn } = await clients.sfn.send(
    new StartExecutionCommand({ stateMachineArn: fleetMachine, name: fleetName, input: JSON.stringify(input) }),
  );
  if (!executionArn) {
    throw new UnexpectedResponseError(`StartExecution of fleet ${fleetName} returned no executionArn.`, {
      fix: "Look for the fleet with rekey fleet status; start it again if it is not there.",
    });
  }
  const data = { ...plan, executionArn };
  printResult(io, options.output, "FleetStart", data, () => startText(plan, options, false, executionArn));
  return 0;
}

/**
 * The run's name, unless another bucket of this fleet took it: names replace a bucket's dots with hyphens, so
 * "logs.prod" and "logs-prod" share one; the later takes the next attempt no execution has.
 */
async function nameNotTaken(clients: AwsClients, machine: string, free: FreeName, taken: Set<string>): Promise<string> {
  for (let attempt = free.attempt; attempt <= 9; attempt++) {
    const name = nameWithAttempt(free.base, attempt);
    if (taken.has(name)) continue;
    // The first attempt was found free by prepareRun; later ones are looked at here.
    if (attempt === free.attempt || !(await describeIfExists(clients, executionArnOf(machine, name)))) return name;
  }
  throw new CommandFailedError(`Every name of the day for ${free.base} is taken. Pass --change-id to name these runs.`);
}

/**
 * Buckets whose latest ended run succeeded with every object compliant, by bucket, with that run's name: a scan still
 * calls them needs-run until their next inventory delivery, and a second run would only find them done.
 */
async function doneBuckets(clients: AwsClients, machine: string): Promise<Map<string, string>> {
  const latest = new Map<string, { name: string; status: string; outcome: unknown }>();
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machine, nextToken }));
    // Newest first: the first ended run seen of a bucket is its latest.
    for (const e of page.executions ?? []) {
      if (!e.executionArn || e.status === "RUNNING") continue;
      const d = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      const bucket = (JSON.parse(d.input ?? "{}") as { bucket?: unknown }).bucket;
      if (typeof bucket !== "string" || latest.has(bucket)) continue;
      const outcome =
        d.status === "SUCCEEDED" ? (JSON.parse(d.output ?? "{}") as { outcome?: unknown }).outcome : undefined;
      latest.set(bucket, { name: e.name ?? "", status: d.status ?? "", outcome });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return new Map(
    [...latest].filter(([, r]) => r.status === "SUCCEEDED" && r.outcome === "succeeded").map(([b, r]) => [b, r.name]),
  );
}

/** Sizes for the order: scan's when the list came from it, else S3's daily storage metrics. */
async function withSizes(
  candidates: FleetCandidate[],
  settings: Awaited<ReturnType<typeof clientSettingsFor>>,
  io: Io,
): Promise<FleetCandidate[]> {
  const unknown = candidates.filter((c) => c.bytes === undefined && c.objects === undefined).map((c) => c.bucket);
  if (!unknown.length) return candidates;
  const cloudwatch = await createCloudWatchClient(settings);
  try {
    const metrics = await storageMetrics(cloudwatch, unknown, io.now());
    return candidates.map((c) => {
      const m = metrics.get(c.bucket);
      return m && c.bytes === undefined && c.objects === undefined ? { ...c, objects: m.objects, bytes: m.bytes } : c;
    });
  } finally {
    cloudwatch.destroy();
  }
}

function startText(
  plan: { fleet: string; buckets: FleetBucket[]; excluded: FleetExclusion[]; input: FleetInput },
  options: FleetStartOptions,
  dryRun: boolean,
  executionArn?: string,
): string {
  const lines: string[] = [];
  if (dryRun) {
    lines.push(
      plan.buckets.length
        ? `Dry run: nothing was started or written. A start now would run fleet ${plan.fleet}:`
        : "No bucket of the list can run: nothing was started.",
    );
  } else {
    lines.push(`Started fleet ${plan.fleet}: ${plan.buckets.length} bucket(s), ${options.order}:`);
  }
  plan.buckets.forEach((b, i) => {
    const size =
      b.bytes === undefined && b.objects === undefined
        ? "size unknown"
        : `${b.objects === undefined ? "?" : formatCount(b.objects)} objects, ${b.bytes === undefined ? "?" : formatBytes(b.bytes)}`;
    lines.push(`  ${String(i + 1).padStart(3)}. ${b.bucket}  (${size})  run ${b.name}`);
    for (const w of b.warnings) lines.push(`       warning: [${w.code}]${w.acknowledged ? " (acknowledged)" : ""}`);
  });
  if (plan.excluded.length) {
    lines.push("", `Left out (${plan.excluded.length}):`);
    for (const e of plan.excluded) lines.push(`  ${e.bucket}: ${e.reason}`);
  }
  lines.push(
    "",
    `At most ${plan.input.maxConcurrentRuns} run(s) at once` +
      (typeof options.runOptions.maxActiveJobs === "number"
        ? `, and at most ${options.runOptions.maxActiveJobs} of rekey's Batch Operations jobs live in the account.`
        : "."),
  );
  if (executionArn) {
    lines.push(
      `  execution: ${executionArn}`,
      `  watch:     rekey fleet status --fleet ${plan.fleet} --watch`,
      `  stop:      rekey fleet stop --fleet ${plan.fleet}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export interface FleetStatusOptions extends FleetMachineOptions {
  fleet?: string | undefined;
  watch: boolean;
  interval: number;
  output: OutputChoice;
}

export interface FleetStatus {
  fleet: string;
  executionArn: string;
  status: string;
  maxConcurrentRuns: number;
  buckets: FleetRow[];
  totals: FleetTotals;
}

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);

/** `rekey fleet status`: every bucket's run rolled up into one table, with totals; --watch until the fleet ends. */
export async function fleetStatusCommand(options: FleetStatusOptions, io: Io): Promise<number> {
  const settings = await clientSettingsFor(options, io);
  const clients = createAwsClients(settings);
  const fleetArn = await fleetExecutionArn(clients, options, io);
  const machine = await stateMachineArn(clients, options, io);
  const screen = new Screen(io.out);
  for (;;) {
    const status = await fleetStatus(clients, fleetArn, machine, io.now());
    if (options.output.format === undefined && options.output.query === undefined) {
      screen.show(`${statusText(status)}\n`, options.watch);
    } else {
      printResult(io, options.output, "FleetStatus", status, () => "");
    }
    const ended = TERMINAL.has(status.status) && !status.buckets.some((b) => b.status === "RUNNING");
    if (!options.watch || ended) return status.status === "FAILED" || status.totals.failedRuns ? 1 : 0;
    await io.sleep(options.interval * 1000);
  }
}

/** A fleet's status: its execution, and each bucket's run as `rekey status` reads it. */
export async function fleetStatus(
  clients: AwsClients,
  fleetArn: string,
  runMachine: string,
  now: Date,
): Promise<FleetStatus> {
  const { fleet, input, items } = await readFleet(clients, fleetArn);
  const fleetEnded = TERMINAL.has(fleet.status ?? "");
  const limit = pLimit(CHECK_CONCURRENCY);
  const rows = await Promise.all(
    items.map((item) =>
      limit(async () => {
        const arn = executionArnOf(runMachine, item.name);
        try {
          return fleetRow(item, await statusReport(clients, arn, now), fleetEnded);
        } catch (err) {
          if ((err as Error).name !== "ExecutionDoesNotExist") throw err;
          return fleetRow(item, undefined, fleetEnded);
        }
      }),
    ),
  );
  return {
    fleet: fleet.name ?? fleetArn,
    executionArn: fleetArn,
    status: fleet.status ?? "UNKNOWN",
    maxConcurrentRuns: input.maxConcurrentRuns,
    buckets: rows,
    totals: rollUp(rows),
  };
}

function statusText(s: FleetStatus): string {
  const running = s.totals.byStatus.RUNNING ?? 0;
  return [
    `Fleet ${s.fleet}: ${s.status.toLowerCase()}, ${running} of at most ${s.maxConcurrentRuns} run(s) going`,
    "",
    fleetTable(s.buckets, s.totals),
    "",
    "Each bucket's run: rekey status --execution <run> ; its report: rekey report --execution <run>",
  ].join("\n");
}

/** The fleet execution `--fleet` names (its name or ARN), else the latest one. */
async function fleetExecutionArn(
  clients: AwsClients,
  options: FleetMachineOptions & { fleet?: string | undefined },
  io: Io,
): Promise<string> {
  if (options.fleet?.startsWith("arn:")) return options.fleet;
  const machine = await fleetStateMachineArn(clients, options, io);
  if (options.fleet) return executionArnOf(machine, options.fleet);
  const { executions } = await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machine, maxResults: 1 }));
  const latest = executions?.[0]?.executionArn;
  if (!latest) throw new UsageError("No fleet has run yet. Start one with rekey fleet start.");
  return latest;
}

/** A fleet execution, its input and its buckets (written by fleet start in the work bucket). */
async function readFleet(clients: AwsClients, fleetArn: string) {
  const fleet = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: fleetArn }));
  const input = FleetInputSchema.parse(JSON.parse(fleet.input ?? "{}"));
  const items = FleetItemSchema.array().parse(JSON.parse(await getText(clients.s3, input.workBucket, input.itemsKey)));
  return { fleet, input, items };
}

/** The names of the runs a fleet has started (those it has not started yet have no execution). */
export async function fleetRuns(
  clients: AwsClients,
  options: FleetMachineOptions & { fleet: string },
  io: Io,
): Promise<string[]> {
  const fleetArn = await fleetExecutionArn(clients, options, io);
  const machine = await stateMachineArn(clients, options, io);
  const { items } = await readFleet(clients, fleetArn);
  const started: string[] = [];
  for (const item of items) {
    if (await describeIfExists(clients, executionArnOf(machine, item.name))) started.push(item.name);
  }
  return started;
}

export interface FleetStopOptions extends FleetMachineOptions {
  fleet?: string | undefined;
  reason?: string | undefined;
  output: OutputChoice;
}

/**
 * `rekey fleet stop`: stops the fleet execution first, so it starts no further run, then each bucket's run still
 * going, as `rekey stop` does (its Batch Operations jobs cancelled). Buckets not yet started stay untouched.
 */
export async function fleetStopCommand(options: FleetStopOptions, io: Io): Promise<number> {
  const settings = await clientSettingsFor(options, io);
  const clients = createAwsClients(settings);
  const fleetArn = await fleetExecutionArn(clients, options, io);
  const machine = await stateMachineArn(clients, options, io);
  const reason = options.reason ?? "Stopped by the operator with rekey fleet stop";
  const { fleet, items } = await readFleet(clients, fleetArn);
  // The runs going before the fleet stops: Step Functions stops those the fleet waits for (best effort, as AWS
  // documents for .sync tasks), which leaves their Batch Operations jobs running; rekey stop cancels them.
  const going: { item: FleetItem; arn: string }[] = [];
  for (const item of items) {
    const arn = executionArnOf(machine, item.name);
    if ((await describeIfExists(clients, arn))?.status === "RUNNING") going.push({ item, arn });
  }
  if (fleet.status === "RUNNING") {
    await clients.sfn.send(new StopExecutionCommand({ executionArn: fleetArn, error: "RekeyStopped", cause: reason }));
  }
  const stopped: { bucket: string; execution: string; jobs: number }[] = [];
  for (const { item, arn } of going) {
    const { results } = await stopRun(clients, arn, reason, io);
    stopped.push({ bucket: item.bucket, execution: item.name, jobs: results.length });
  }
  const status = await fleetStatus(clients, fleetArn, machine, io.now());
  if (fleet.status !== "RUNNING" && !stopped.length) {
    throw new CommandFailedError(
      `Fleet ${fleet.name} is ${fleet.status} and none of its runs is going: nothing to stop.`,
    );
  }
  printResult(io, options.output, "FleetStop", { ...status, stopped }, () =>
    [
      `Stopped fleet ${status.fleet}; ${stopped.length} run(s) stopped and their copy jobs cancelled:`,
      ...stopped.map((s) => `  ${s.bucket}: ${s.execution} (${s.jobs} job(s))`),
      "",
      fleetTable(status.buckets, status.totals),
      "",
      "Objects already re-encrypted stay so; a new fleet (or rekey start per bucket) finishes the rest without copying them again.",
      "",
    ].join("\n"),
  );
  return 0;
}

async function describeIfExists(clients: AwsClients, executionArn: string) {
  try {
    return await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (err) {
    if ((err as Error).name === "ExecutionDoesNotExist") return undefined;
    throw err;
  }
}
