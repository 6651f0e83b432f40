/**
 * The real "Filter inventory and write manifests" step (handler, domain and adapter code; S3 stubbed in-process by
 * bench/stub-s3.ts, HeadObject answering after BENCH_HEAD_MS, default 10) against two baselines on the same file in
 * the same run: gunzip alone (the floor of any filter), and DuckDB with one thread reading the gzipped CSV with a
 * WHERE equivalent to the filter's and writing the result to a file. The parser alone (parse + classify, no S3)
 * shows where the step's time goes. Each phase runs in its own child process, so its peak RSS is its own.
 * Rows: BENCH_ROWS, a comma-separated list (default 500000,5000000); the files compress like real inventories
 * (bench/inventory-file.ts).
 */

import { fork } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidInputError, InvariantViolatedError } from "../contract/errors.ts";
import { planKeys, RunOptionsSchema } from "../contract/run-context.ts";
import { type PlanSource, SliceSummarySchema } from "../steps/aws/plan-slices.ts";
import { classifyInventoryRow } from "../steps/domain/classify.ts";
import { inventoryRowBatches } from "../steps/domain/inventory.ts";
import { writeManifests } from "../steps/handlers/filter-inventory-and-write-manifests.ts";
import { silentLogger } from "../steps/runtime/log.ts";
import { BENCH_BUCKET, COLUMNS, generateInventory, gunzippedLines } from "./inventory-file.ts";
import type { BenchResult, Measurement } from "./run.ts";
import { stubClients } from "./stub-s3.ts";

const PHASES = ["gunzip", "parse+classify", "step", "step-capped", "duckdb"] as const;
type Phase = (typeof PHASES)[number];

interface PhaseInput {
  phase: Phase;
  file: string;
  bytes: number;
  md5: string;
  headMs: number;
}

interface PhaseResult {
  phase: Phase;
  seconds: number;
  /** The child's peak resident set, the whole process (Node, the code loaded, DuckDB's native memory). */
  peakRssBytes: number;
  /** Its resident set before the phase began: what loading the code cost. */
  startRssBytes: number;
  detail: string;
}

const REGION = "us-east-1";
const TARGET_KEY = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-00000000beef";
const OTHER_KEY = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-0000000000ff";

async function gunzipOnly(file: string): Promise<string> {
  return `${(await gunzippedLines(createReadStream(file))).toLocaleString("en-US")} lines`;
}

async function parseAndClassify(file: string): Promise<string> {
  let rows = 0;
  let current = 0;
  for await (const batch of inventoryRowBatches(createReadStream(file), COLUMNS, file)) {
    for (const row of batch) if (classifyInventoryRow(row).kind !== "not-current") current += 1;
    rows += batch.length;
  }
  return `${rows.toLocaleString("en-US")} rows, ${current.toLocaleString("en-US")} current`;
}

async function realStep(input: PhaseInput): Promise<string> {
  const manifestKey = `inventory/${BENCH_BUCKET}/bench/2026-01-01T00-00Z/manifest.json`;
  const dataKey = `inventory/${BENCH_BUCKET}/bench/data/0.csv.gz`;
  const manifest = {
    sourceBucket: BENCH_BUCKET,
    destinationBucket: "arn:aws:s3:::inventory-destination",
    version: "2016-11-30",
    creationTimestamp: "1767225600000",
    fileFormat: "CSV",
    fileSchema: COLUMNS.join(", "),
    files: [{ key: dataKey, size: input.bytes, MD5checksum: input.md5 }],
  };
  const texts = new Map([[manifestKey, JSON.stringify(manifest)]]);
  const { s3, s3control, stats } = stubClients({
    region: REGION,
    texts,
    files: new Map([[dataKey, input.file]]),
    headLatencyMs: input.headMs,
    // Half the objects HeadObject is asked about are under the target key (compliant), half under another key.
    keyOf: (key) => (key.charCodeAt(key.length - 9) % 2 === 0 ? TARGET_KEY : OTHER_KEY),
  });
  const unused = new Proxy({}, { get: () => () => Promise.reject(new Error("not used by the filter step")) });
  // One slice of every data file, read by the stream engine, as "Slice the inventory" would record it.
  const planPrefix = `plans/${BENCH_BUCKET}/bench/`;
  const keys = planKeys(planPrefix);
  const source: PlanSource = {
    key: manifestKey,
    createdAt: new Date(1767225600000).toISOString(),
    engine: { name: "stream", why: "bench" },
  };
  texts.set(keys.delivery, JSON.stringify(source));
  await writeManifests.run(
    {
      run: {
        runId: "bench",
        executionId: `arn:aws:states:${REGION}:111122223333:execution:rekey:bench`,
        bucket: BENCH_BUCKET,
        kmsKeyArn: TARGET_KEY,
        region: REGION,
        accountId: "111122223333",
        workBucket: "work-bucket",
        source: "inventory",
        runPrefix: `runs/${BENCH_BUCKET}/bench/`,
        startedAt: new Date().toISOString(),
        options: RunOptionsSchema.parse({}),
      },
      inventory: { found: true, bucket: "inventory-destination", manifestKey, creationTimestamp: "1767225600000" },
      slicing: {
        stored: false,
        planPrefix,
        itemsKey: keys.sliceItems,
        resultsPrefix: keys.sliceResults,
        slices: 1,
        files: 1,
      },
      slice: { index: 0, from: 0, to: 1 },
    },
    {
      clients: {
        s3,
        s3control,
        sts: unused as never,
        kms: unused as never,
        sfn: unused as never,
        athena: unused as never,
        iam: unused as never,
      },
      config: { batchRoleArn: "arn:aws:iam::111122223333:role/rekey-batch" },
      log: silentLogger,
      now: () => new Date(),
    },
  );
  const summary = SliceSummarySchema.parse(JSON.parse(texts.get(keys.slice(0).plan) ?? "{}"));
  const { copyPlanned, updatePlanned } = summary.tally;
  const planned = Object.values(copyPlanned).reduce((n, c) => n + (c?.count ?? 0), updatePlanned.count);
  const detail = [
    `${planned.toLocaleString("en-US")} in manifests`,
    `${stats.heads.toLocaleString("en-US")} HEADs, at most ${stats.maxHeadsInFlight} in flight`,
    `${(stats.uploadedBytes / MB).toFixed(0)} MB uploaded`,
  ].join("; ");
  return detail;
}

async function duckdb(file: string, dir: string): Promise<string> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  // One thread, as the step's one JavaScript thread (zlib's inflate runs on the libuv pool in both cases).
  const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
  const db = await instance.connect();
  const columns = `{${COLUMNS.map((c) => `'${c}': 'VARCHAR'`).join(", ")}}`;
  const out = join(dir, "duckdb-out.csv");
  // The rows a plan routes somewhere other than "compliant" or "not current": what the step's manifests hold.
  const result = await db.run(
    `COPY (SELECT "Bucket", "Key", "StorageClass", "EncryptionStatus" FROM read_csv('${file}', header = false, ` +
      `delim = ',', quote = '"', escape = '"', compression = 'gzip', columns = ${columns}) ` +
      `WHERE "IsLatest" = 'true' AND "IsDeleteMarker" = 'false' AND ("EncryptionStatus" <> 'SSE-KMS' ` +
      `OR "BucketKeyStatus" <> 'ENABLED')) TO '${out}' (HEADER false)`,
  );
  const written = result.rowsChanged;
  db.closeSync();
  instance.closeSync();
  return `${written.toLocaleString("en-US")} rows written`;
}

async function runPhase(input: PhaseInput, dir: string): Promise<PhaseResult> {
  (globalThis as { gc?: () => void }).gc?.();
  const startRssBytes = process.memoryUsage.rss();
  const started = performance.now();
  const run =
    input.phase === "gunzip"
      ? gunzipOnly(input.file)
      : input.phase === "parse+classify"
        ? parseAndClassify(input.file)
        : input.phase === "step" || input.phase === "step-capped"
          ? realStep(input)
          : duckdb(input.file, dir);
  const detail = await run;
  const seconds = (performance.now() - started) / 1000;
  return {
    phase: input.phase,
    seconds,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    startRssBytes,
    detail,
  };
}

function runPhaseInChild(input: PhaseInput): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: [
        "--import",
        "tsx",
        "--expose-gc",
        ...(input.phase === "step-capped" ? [`--max-old-space-size=${CAPPED_OLD_SPACE_MB}`] : []),
      ],
      env: { ...process.env, REKEY_BENCH_PHASE: JSON.stringify(input) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: PhaseResult | undefined;
    child.on("message", (m) => {
      result = m as PhaseResult;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (result && code === 0) resolve(result);
      else reject(new Error(`bench phase ${input.phase} exited with code ${code}`));
    });
  });
}

const MB = 1024 * 1024;

/**
 * The step again with V8's old space capped: V8 grows its heap when it may, so peak RSS alone does not say whether
 * live memory grows with rows; the step finishing at this cap, at any row count, says it does not.
 */
const CAPPED_OLD_SPACE_MB = 64;

function phaseName(phase: Phase, headMs: number): string {
  switch (phase) {
    case "step":
      return `step, HEAD ${headMs} ms`;
    case "step-capped":
      return `step, HEAD ${headMs} ms, old space ${CAPPED_OLD_SPACE_MB} MB`;
    case "duckdb":
      return "duckdb, 1 thread";
    default:
      return phase;
  }
}

function rowCounts(): number[] {
  const counts = (process.env.BENCH_ROWS ?? "500000,5000000").split(",").map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isSafeInteger(n) || n <= 0)) {
    throw new InvalidInputError(
      `BENCH_ROWS is "${process.env.BENCH_ROWS}"; expected row counts such as 500000,5000000.`,
      {
        fix: "Set BENCH_ROWS to one or more positive integers separated by commas.",
      },
    );
  }
  return counts;
}

export default async function inventoryFilterBench(): Promise<BenchResult> {
  const headMs = Number(process.env.BENCH_HEAD_MS ?? 10);
  const dir = await mkdtemp(join(tmpdir(), "rekey-bench-"));
  const measurements: Measurement[] = [];
  const notes: string[] = [];
  try {
    for (const rows of rowCounts()) {
      const file = join(dir, `inventory-${rows}.csv.gz`);
      const { bytes, md5 } = await generateInventory(file, rows);
      const results: PhaseResult[] = [];
      for (const phase of PHASES) results.push(await runPhaseInChild({ phase, file, bytes, md5, headMs }));
      await rm(file, { force: true });
      const gunzip = results.find((r) => r.phase === "gunzip");
      const duck = results.find((r) => r.phase === "duckdb");
      if (!gunzip || !duck) {
        throw new InvariantViolatedError("The bench lost a baseline it measured.", {
          fix: "Keep gunzip and duckdb in the phase list.",
        });
      }
      const label = `${rows.toLocaleString("en-US")} rows (${(bytes / rows).toFixed(0)} gz B/row)`;
      for (const r of results) {
        measurements.push({
          name: `${label}: ${phaseName(r.phase, headMs)}`,
          values: {
            seconds: r.seconds,
            "rows/s": Math.round(rows / r.seconds),
            "x gunzip speed": gunzip.seconds / r.seconds,
            "x duckdb speed": duck.seconds / r.seconds,
            "peak RSS MB": Math.round(r.peakRssBytes / MB),
            "start RSS MB": Math.round(r.startRssBytes / MB),
          },
        });
        if (r.detail) notes.push(`${label}, ${r.phase}: ${r.detail}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    title: "Inventory filter: the real step (S3 stubbed) against gunzip alone and DuckDB on the same files",
    measurements,
    notes: [
      ...notes,
      "'x gunzip speed' and 'x duckdb speed' are rows/s over the baseline's rows/s on the same file (1.0 = as fast).",
      "Each phase runs in its own process; peak RSS is that whole process (start RSS: Node and the code loaded).",
    ],
  };
}

const childInput = process.env.REKEY_BENCH_PHASE;
if (childInput !== undefined && process.send) {
  const input = JSON.parse(childInput) as PhaseInput;
  if (!PHASES.includes(input.phase)) {
    throw new InvalidInputError(`Unknown bench phase ${input.phase}.`, {
      fix: "Run the benchmarks with npm run bench; it names the phases itself.",
    });
  }
  const dir = await mkdtemp(join(tmpdir(), "rekey-bench-phase-"));
  const result = await runPhase(input, dir).finally(() => rm(dir, { recursive: true, force: true }));
  process.send(result, undefined, {}, () => process.exit(0));
}
