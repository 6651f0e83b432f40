/**
 * The in-Lambda inventory filter (inventoryRows + classifyInventoryRow) against the floor of any such filter:
 * gunzip alone, discarding the output, over the same file in the same run. Each phase runs in a fresh child
 * process so its peak RSS is its own. Rows: BENCH_ROWS (default 1,000,000).
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGunzip, createGzip } from "node:zlib";
import { InvalidInputError, InvariantViolatedError } from "../contract/errors.ts";
import { classifyInventoryRow } from "../steps/domain/classify.ts";
import {
  type InventoryColumn,
  type InventoryRow,
  inventoryRowBatches,
  inventoryRows,
} from "../steps/domain/inventory.ts";
import type { BenchResult, Measurement } from "./run.ts";

const COLUMNS: InventoryColumn[] = [
  "Bucket",
  "Key",
  "VersionId",
  "IsLatest",
  "IsDeleteMarker",
  "Size",
  "StorageClass",
  "EncryptionStatus",
  "BucketKeyStatus",
];

const PHASES = ["gunzip-only", "inventoryRows", "inventoryRows+classify", "inventoryRowBatches+classify"] as const;
type Phase = (typeof PHASES)[number];

interface PhaseResult {
  phase: Phase;
  rows: number;
  seconds: number;
  peakRssDeltaBytes: number;
  peakHeapDeltaBytes: number;
  kinds: Record<string, number>;
}

const SAMPLE_EVERY = 16_384;

/** Deterministic row mix resembling a mixed bucket; the same seed gives the same file. */
async function generateInventory(file: string, rows: number): Promise<void> {
  const gzip = createGzip();
  const out = createWriteStream(file);
  gzip.pipe(out);
  let seed = 42;
  const next = (): number => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 0x1_0000_0000;
  };
  const encryption = [
    "NOT-SSE",
    "NOT-SSE",
    "NOT-SSE",
    "SSE-S3",
    "SSE-S3",
    "SSE-KMS",
    "SSE-KMS",
    "SSE-C",
    "NOT-SSE",
    "SSE-S3",
  ];
  const classes = ["STANDARD", "STANDARD", "STANDARD", "STANDARD_IA", "GLACIER", "INTELLIGENT_TIERING", "GLACIER_IR"];
  for (let start = 0; start < rows; start += 1000) {
    let chunk = "";
    for (let i = start; i < Math.min(rows, start + 1000); i++) {
      const r = next();
      const enc = encryption[Math.floor(r * encryption.length)] ?? "NOT-SSE";
      const cls = classes[Math.floor(next() * classes.length)] ?? "STANDARD";
      const latest = next() < 0.8;
      const marker = next() < 0.03;
      const size = next() < 0.01 ? 6_000_000_000 : Math.floor(next() * 50_000_000);
      const bucketKey = enc === "SSE-KMS" ? (next() < 0.5 ? "ENABLED" : "DISABLED") : "";
      chunk += `"src-bucket","data%2F2020%2F${i % 12}%2Fpart+${i}+%E2%9C%93+file%2B${Math.floor(r * 1e6)}.parquet","v${i.toString(36)}x","${latest}","${marker}","${marker ? "" : size}","${cls}","${enc}","${bucketKey}"\n`;
    }
    if (!gzip.write(chunk)) await once(gzip, "drain");
  }
  gzip.end();
  await once(out, "finish");
}

function gcIfExposed(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function runPhase(phase: Phase, file: string): Promise<PhaseResult> {
  gcIfExposed();
  const rssBefore = process.memoryUsage.rss();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakHeap = heapBefore;
  let peakRss = rssBefore;
  const sample = (): void => {
    const m = process.memoryUsage();
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
    if (m.rss > peakRss) peakRss = m.rss;
  };
  const kinds: Record<string, number> = {};
  const tally = (row: InventoryRow): void => {
    const c = classifyInventoryRow(row);
    const name = c.kind === "skipped" || c.kind === "not-current" ? `${c.kind}:${c.reason}` : c.kind;
    kinds[name] = (kinds[name] ?? 0) + 1;
  };
  let rows = 0;
  const started = performance.now();
  if (phase === "gunzip-only") {
    for await (const chunk of createReadStream(file).pipe(createGunzip()) as AsyncIterable<Buffer>) {
      // Count lines so the baseline's rows/s compares like with like; memchr-speed, negligible next to inflate.
      let at = chunk.indexOf(10);
      while (at >= 0) {
        rows += 1;
        at = chunk.indexOf(10, at + 1);
      }
      sample();
    }
  } else if (phase === "inventoryRowBatches+classify") {
    for await (const batch of inventoryRowBatches(createReadStream(file), COLUMNS, file)) {
      for (const row of batch) tally(row);
      rows += batch.length;
      if (rows % SAMPLE_EVERY < batch.length) sample();
    }
  } else {
    const classify = phase === "inventoryRows+classify";
    for await (const row of inventoryRows(createReadStream(file), COLUMNS, file)) {
      rows += 1;
      if (classify) tally(row);
      if (rows % SAMPLE_EVERY === 0) sample();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  sample();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  return {
    phase,
    rows,
    seconds,
    peakRssDeltaBytes: Math.max(peakRss, maxRss) - rssBefore,
    peakHeapDeltaBytes: peakHeap - heapBefore,
    kinds,
  };
}

function runPhaseInChild(phase: Phase, file: string): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ["--import", "tsx", "--expose-gc"],
      env: { ...process.env, REKEY_BENCH_PHASE: phase, REKEY_BENCH_FILE: file },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: PhaseResult | undefined;
    child.on("message", (m) => {
      result = m as PhaseResult;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (result && code === 0) resolve(result);
      else reject(new Error(`bench phase ${phase} exited with code ${code}`));
    });
  });
}

const MB = 1024 * 1024;

export default async function inventoryFilterBench(): Promise<BenchResult> {
  const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
  const dir = await mkdtemp(join(tmpdir(), "rekey-bench-"));
  const file = join(dir, "inventory.csv.gz");
  try {
    const genStarted = performance.now();
    await generateInventory(file, rows);
    const genSeconds = (performance.now() - genStarted) / 1000;
    const { size } = await stat(file);

    const results: PhaseResult[] = [];
    for (const phase of PHASES) results.push(await runPhaseInChild(phase, file));
    const [baseline] = results;
    if (!baseline) {
      throw new InvariantViolatedError("The bench measured no baseline before the phases it compares with it.", {
        fix: "Keep the gunzip baseline first in the phase list.",
      });
    }

    const measurements: Measurement[] = results.map((r) => ({
      name: r.phase === "gunzip-only" ? "gunzip only (baseline)" : r.phase,
      values: {
        rows: r.rows,
        seconds: r.seconds,
        "rows/s": Math.round(r.rows / r.seconds),
        "time x baseline": r.seconds / baseline.seconds,
        "peak RSS delta MB": r.peakRssDeltaBytes / MB,
        "RSS x baseline": r.peakRssDeltaBytes / Math.max(baseline.peakRssDeltaBytes, 1),
        "peak heap delta MB": r.peakHeapDeltaBytes / MB,
      },
    }));
    const filtered = results.find((r) => r.phase === "inventoryRows+classify");
    const kinds = Object.entries(filtered?.kinds ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k}=${n}`)
      .join(", ");
    return {
      title: `Inventory filter: ${rows.toLocaleString("en-US")} rows, ${(size / MB).toFixed(1)} MB gzip (generated in ${genSeconds.toFixed(1)} s)`,
      measurements,
      notes: [
        `outcomes: ${kinds}`,
        "Each phase runs in its own process; 'x baseline' ratios compare with gunzip alone over the same file.",
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const childPhase = process.env.REKEY_BENCH_PHASE;
const childFile = process.env.REKEY_BENCH_FILE;
if (childPhase !== undefined && childFile !== undefined && process.send) {
  const phase = PHASES.find((p) => p === childPhase);
  if (!phase) {
    throw new InvalidInputError(`Unknown bench phase ${childPhase}.`, {
      fix: "Run the benchmarks with npm run bench; it names the phases itself.",
    });
  }
  const result = await runPhase(phase, childFile);
  process.send(result, undefined, {}, () => process.exit(0));
}
