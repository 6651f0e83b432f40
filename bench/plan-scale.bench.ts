/**
 * "Filter inventory and write manifests" at scale, with each filter engine (contract/engines.ts), against a sandbox
 * in a process of its own (bench/sandbox-process.ts) holding a synthetic inventory of N rows
 * (SandboxAdmin.deliverSyntheticInventory: all versions, ~10% noncurrent, ~2% delete markers, 50% NOT-SSE, 30%
 * SSE-S3, 20% SSE-KMS of which half without a Bucket Key). Each engine runs the real step (`writeManifests.run`,
 * real SDK clients) in a child process of its own and plans into a work bucket of its own, so each step's peak RSS
 * is its own and no plan is reused. The baseline, in the same run: GetObject + gunzip of the same data files, in
 * another child. The sandbox's resident set is sampled while each phase runs.
 *
 * Rows: `--rows N` (or BENCH_SCALE_ROWS), default DEFAULT_ROWS; `--engines stream,select` to run fewer;
 * `--bucket-key-disabled 1` for an inventory whose SSE-KMS objects all lack a Bucket Key (no HeadObject at all).
 *   npx tsx bench/plan-scale.bench.ts --rows 20000000
 */
import { type ChildProcess, fork } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CreateWorkGroupCommand, GetQueryExecutionCommand, StartQueryExecutionCommand } from "@aws-sdk/client-athena";
import { CreateBucketCommand, GetObjectCommand, PutBucketInventoryConfigurationCommand } from "@aws-sdk/client-s3";
import { FILTER_ENGINES, type FilterEngine } from "../contract/engines.ts";
import { InvalidInputError } from "../contract/errors.ts";
import { type RunContext, RunOptionsSchema } from "../contract/run-context.ts";
import { planInProcess } from "../local/plan-in-process.ts";
import { rekeyClients } from "../local/sandbox-clients.ts";
import { SandboxAdmin } from "../sandbox/admin-client.ts";
import type { SandboxIdentity } from "../sandbox/config.ts";
import type { DeliveryResult } from "../sandbox/s3/inventory.ts";
import { silentLogger } from "../steps/runtime/log.ts";
import type { AthenaConfig } from "../steps/runtime/step.ts";
import { PLANNING_CONCURRENCY, PLANNING_TIME_BUDGET_MS } from "../workflow/definition.ts";
import { gunzippedLines } from "./inventory-file.ts";
import { type BenchResult, type Measurement, renderTable } from "./run.ts";

/**
 * What `npm run bench` plans (about 6 minutes here). 20,000,000 rows (--rows) took 5.5 minutes to deliver and 18
 * minutes with the stream engine alone on 2 shared cores; select and athena take about twice that
 * (bench/results/plan-scale.md).
 */
const DEFAULT_ROWS = 1_000_000;
const MAX_ROWS_PER_FILE = 1_000_000;
const LAMBDA_BUDGET_SECONDS = 900;
const SOURCE = "scale-source";
const DESTINATION = "scale-inventory";
const CONFIGURATION_ID = "scale";
const ATHENA: AthenaConfig = { workGroup: "rekey-scale", database: "rekey_scale" };
const MB = 1024 * 1024;

type Phase = "gunzip" | FilterEngine;

/** Default share of SSE-KMS objects without a Bucket Key; the others need a HeadObject each while planning. */
const BUCKET_KEY_DISABLED = 0.5;

interface PhaseInput {
  phase: Phase;
  endpoint: string;
  identity: SandboxIdentity;
  delivery: DeliveryResult;
}

interface PhaseResult {
  seconds: number;
  /** Calls of the step until it returned its plan (it stops at PLANNING_TIME_BUDGET_MS, as in the state machine). */
  invocations: number;
  largestInvocationSeconds: number;
  peakRssBytes: number;
  detail: string;
}

const workBucket = (engine: FilterEngine) => `scale-work-${engine}`;

async function gunzipPhase(input: PhaseInput): Promise<string> {
  const { s3 } = rekeyClients(input);
  let lines = 0;
  for (const f of input.delivery.dataFiles) {
    const got = await s3.send(new GetObjectCommand({ Bucket: input.delivery.destinationBucket, Key: f.key }));
    lines += await gunzippedLines(got.Body as NodeJS.ReadableStream);
  }
  return `${lines.toLocaleString("en-US")} lines`;
}

async function stepPhase(engine: FilterEngine, input: PhaseInput): Promise<{ detail: string; invocations: number[] }> {
  const clients = rekeyClients(input);
  const { region, accountId } = input.identity;
  const runId = `scale-${engine}`;
  const run: RunContext = {
    runId,
    executionId: `arn:aws:states:${region}:${accountId}:execution:rekey:${runId}`,
    bucket: SOURCE,
    kmsKeyArn: `arn:aws:kms:${region}:${accountId}:key/00000000-0000-0000-0000-00000000beef`,
    region,
    accountId,
    workBucket: workBucket(engine),
    source: "inventory",
    engine,
    runPrefix: `runs/${SOURCE}/${runId}/`,
    startedAt: new Date().toISOString(),
    options: RunOptionsSchema.parse({}),
  };
  // As the state machine does (one slice after the other): each slice's step stops between data files at its time
  // budget and is called again. Each invocation's time is measured, the first with "Slice the inventory" before it
  // and the last entry is "Combine the plan".
  const invocations: number[] = [];
  let started = performance.now();
  const { plan } = await planInProcess(
    {
      run,
      inventory: {
        found: true,
        bucket: input.delivery.destinationBucket,
        manifestKey: input.delivery.manifestKey,
        creationTimestamp: input.delivery.creationTimestamp,
      },
    },
    {
      clients,
      config: { batchRoleArn: `arn:aws:iam::${accountId}:role/rekey-batch`, athena: ATHENA },
      log: silentLogger,
      now: () => new Date(),
    },
    {
      timeBudgetMs: PLANNING_TIME_BUDGET_MS,
      onInvocation: () => {
        invocations.push((performance.now() - started) / 1000);
        started = performance.now();
      },
    },
  );
  invocations.push((performance.now() - started) / 1000);
  const planned = plan.manifests.reduce((n, m) => n + m.objects, 0);
  const stored = await clients.s3.send(new GetObjectCommand({ Bucket: run.workBucket, Key: plan.planKey }));
  const tally = JSON.parse((await stored.Body?.transformToString()) ?? "{}").tally as {
    skipped: Record<string, { count: number }>;
  };
  const skipped = Object.entries(tally.skipped).map(([reason, c]) => `${c.count.toLocaleString("en-US")} ${reason}`);
  const detail = `skipped: ${skipped.join(", ") || "none"}; ${planned.toLocaleString("en-US")} in manifests (${plan.manifests.map((m) => `${m.objects.toLocaleString("en-US")} ${m.operation === "copy" ? `copy ${m.storageClass}` : m.operation}`).join(", ")}); engine ${plan.engine?.name}`;
  return { detail, invocations };
}

async function runPhase(input: PhaseInput): Promise<PhaseResult> {
  const started = performance.now();
  const { detail, invocations } =
    input.phase === "gunzip"
      ? { detail: await gunzipPhase(input), invocations: [] }
      : await stepPhase(input.phase, input);
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    detail,
    invocations: invocations.length || 1,
    largestInvocationSeconds: invocations.length ? Math.max(...invocations) : seconds,
  };
}

/** The phase in a child process; meanwhile the sandbox's resident set is sampled every 100 ms. */
async function runPhaseInChild(input: PhaseInput, sandboxPid: number): Promise<PhaseResult & { sandboxPeak: number }> {
  let sandboxPeak = await residentBytes(sandboxPid);
  const sampler = setInterval(() => {
    residentBytes(sandboxPid).then(
      (b) => {
        sandboxPeak = Math.max(sandboxPeak, b);
      },
      () => {},
    );
  }, 100);
  try {
    const result = await new Promise<PhaseResult>((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), [], {
        execArgv: ["--import", "tsx"],
        env: { ...process.env, REKEY_PLAN_SCALE_PHASE: JSON.stringify(input) },
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      let got: PhaseResult | undefined;
      let failure: string | undefined;
      child.on("message", (m: { result?: PhaseResult; error?: string }) => {
        got = m.result;
        failure = m.error;
      });
      child.on("error", reject);
      child.on("exit", (code) => {
        if (got && code === 0) resolve(got);
        else reject(new Error(failure ?? `phase ${input.phase} exited with code ${code}`));
      });
    });
    return { ...result, sandboxPeak };
  } finally {
    clearInterval(sampler);
  }
}

/** VmRSS of a process (Linux /proc), in bytes. */
async function residentBytes(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

function startSandboxProcess(): Promise<{ child: ChildProcess; endpoint: string; identity: SandboxIdentity }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL("./sandbox-process.ts", import.meta.url)), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child.once("message", (m: { endpoint: string; identity: SandboxIdentity }) => resolve({ child, ...m }));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the sandbox process exited with code ${code}`)));
  });
}

/** Source and destination buckets with a CSV all-versions inventory configuration, work buckets, Athena. */
async function prepare(endpoint: string, identity: SandboxIdentity, engines: FilterEngine[]): Promise<void> {
  const { s3, athena } = rekeyClients({ endpoint, identity });
  for (const bucket of [SOURCE, DESTINATION, ...engines.map(workBucket)]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
  await s3.send(
    new PutBucketInventoryConfigurationCommand({
      Bucket: SOURCE,
      Id: CONFIGURATION_ID,
      InventoryConfiguration: {
        Id: CONFIGURATION_ID,
        IsEnabled: true,
        IncludedObjectVersions: "All",
        Schedule: { Frequency: "Daily" },
        Destination: {
          S3BucketDestination: { Bucket: `arn:aws:s3:::${DESTINATION}`, Format: "CSV", Prefix: "inventory" },
        },
        OptionalFields: ["Size", "LastModifiedDate", "StorageClass", "EncryptionStatus", "BucketKeyStatus"],
      },
    }),
  );
  if (!engines.includes("athena")) return;
  await athena.send(
    new CreateWorkGroupCommand({
      Name: ATHENA.workGroup,
      Configuration: {
        ResultConfiguration: {
          OutputLocation: `s3://${workBucket("athena")}/athena-results/`,
          EncryptionConfiguration: { EncryptionOption: "SSE_S3" },
        },
        EnforceWorkGroupConfiguration: true,
      },
    }),
  );
  const { QueryExecutionId } = await athena.send(
    new StartQueryExecutionCommand({ QueryString: `CREATE DATABASE ${ATHENA.database}`, WorkGroup: ATHENA.workGroup }),
  );
  for (;;) {
    const q = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }));
    const state = q.QueryExecution?.Status?.State;
    if (state === "SUCCEEDED") return;
    if (state === "FAILED" || state === "CANCELLED") throw new Error(`CREATE DATABASE ${state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function options(): { rows: number; engines: FilterEngine[]; bucketKeyDisabled: number } {
  const rows = Number(argument("rows") ?? process.env.BENCH_SCALE_ROWS ?? DEFAULT_ROWS);
  const engines = (argument("engines") ?? FILTER_ENGINES.join(",")).split(",") as FilterEngine[];
  const bucketKeyDisabled = Number(argument("bucket-key-disabled") ?? BUCKET_KEY_DISABLED);
  if (
    !Number.isSafeInteger(rows) ||
    rows <= 0 ||
    !engines.every((e) => FILTER_ENGINES.includes(e)) ||
    !(bucketKeyDisabled >= 0 && bucketKeyDisabled <= 1)
  ) {
    throw new InvalidInputError(
      `--rows ${rows} --engines ${engines.join(",")} --bucket-key-disabled ${bucketKeyDisabled} is not a row count, engines and a share.`,
      {
        fix: `Pass --rows with a positive integer, --engines with some of ${FILTER_ENGINES.join(",")}, --bucket-key-disabled with a share from 0 to 1 (1: no HeadObject).`,
      },
    );
  }
  return { rows, engines, bucketKeyDisabled };
}

export default async function planScaleBench(): Promise<BenchResult> {
  const { rows, engines, bucketKeyDisabled } = options();
  const sandbox = await startSandboxProcess();
  const pid = sandbox.child.pid ?? 0;
  const measurements: Measurement[] = [];
  const notes: string[] = [];
  try {
    await prepare(sandbox.endpoint, sandbox.identity, engines);
    const started = performance.now();
    const delivery = await new SandboxAdmin(sandbox.endpoint).deliverSyntheticInventory({
      bucket: SOURCE,
      configurationId: CONFIGURATION_ID,
      rows,
      maxRowsPerFile: MAX_ROWS_PER_FILE,
      mix: { bucketKeyDisabled },
    });
    const bytes = delivery.dataFiles.reduce((n, f) => n + f.size, 0);
    notes.push(
      `SSE-KMS objects without a Bucket Key: ${bucketKeyDisabled} (the others get a HeadObject each).`,
      `N = ${rows.toLocaleString("en-US")} rows in ${delivery.dataFiles.length} data file(s), ${(bytes / MB).toFixed(0)} MB gzipped (${(bytes / rows).toFixed(1)} B/row); synthetic delivery ${((performance.now() - started) / 1000).toFixed(1)} s, sandbox RSS after it ${((await residentBytes(pid)) / MB).toFixed(0)} MB.`,
    );
    const input = { endpoint: sandbox.endpoint, identity: sandbox.identity, delivery };
    const baseline = await runPhaseInChild({ ...input, phase: "gunzip" }, pid);
    const row = (name: string, r: PhaseResult & { sandboxPeak: number }): Measurement => ({
      name,
      values: {
        rows,
        seconds: r.seconds,
        "rows/s": Math.round(rows / r.seconds),
        "x gunzip speed": baseline.seconds / r.seconds,
        "step peak RSS MB": Math.round(r.peakRssBytes / MB),
        "sandbox peak RSS MB": Math.round(r.sandboxPeak / MB),
        invocations: r.invocations,
        "% of 900 s Lambda": (100 * r.largestInvocationSeconds) / LAMBDA_BUDGET_SECONDS,
      },
    });
    measurements.push(row("gunzip (GetObject + gunzip, baseline)", baseline));
    notes.push(`gunzip: ${baseline.detail}`);
    for (const engine of engines) {
      try {
        const r = await runPhaseInChild({ ...input, phase: engine }, pid);
        measurements.push(row(`step, engine ${engine}`, r));
        notes.push(`${engine}: ${r.detail}`);
      } catch (err) {
        notes.push(`${engine}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    notes.push(
      bucketKeyDisabled < 1
        ? "The synthetic objects exist only in the inventory: SSE-KMS rows with a Bucket Key get a HeadObject each, which answers 404, so they are skipped as sse-kms-key-unverified instead of found compliant or updated. The HEADs are still made (by the sandbox, on the same cores) and timed."
        : "No SSE-KMS object has a Bucket Key: the step makes no HeadObject.",
      "Each engine's step runs in its own process (step peak RSS: that process); sandbox peak RSS: VmRSS sampled every 100 ms while the phase ran (it holds the inventory's data files in memory).",
      `'% of 900 s Lambda': the largest invocation's wall time over the 900 s a Lambda invocation may run; each slice's step stops between data files after ${PLANNING_TIME_BUDGET_MS / 60_000} minutes and is called again, as the state machine does ('invocations': the slices' invocations, the first with Slice the inventory before it, and Combine the plan). The slices run one after the other here; the state machine runs ${PLANNING_CONCURRENCY} at once.`,
    );
  } finally {
    sandbox.child.kill("SIGTERM");
  }
  return {
    title: `Plan scale: planning (Slice the inventory, each slice's "Filter inventory and write manifests", Combine the plan) per engine on a synthetic inventory of ${rows.toLocaleString("en-US")} rows (sandbox in its own process)`,
    measurements,
    notes,
  };
}

const childInput = process.env.REKEY_PLAN_SCALE_PHASE;
if (childInput !== undefined && process.send) {
  const input = JSON.parse(childInput) as PhaseInput;
  try {
    const result = await runPhase(input);
    process.send({ result }, undefined, {}, () => process.exit(0));
  } catch (err) {
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    process.send({ error }, undefined, {}, () => process.exit(1));
  }
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(renderTable(await planScaleBench()));
}
