/**
 * Runs every bench/*.bench.ts (or those whose name contains an argument) and prints one table per bench.
 * A bench file's default export is an async function returning a BenchResult. Benchmarks compare against a
 * baseline measured in the same run, so results are ratios that mean the same on any machine.
 */
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface Measurement {
  name: string;
  values: Record<string, number | string>;
}

export interface BenchResult {
  title: string;
  measurements: Measurement[];
  notes?: string[];
}

export type Bench = () => Promise<BenchResult>;

function formatValue(v: number | string): string {
  if (typeof v === "string") return v;
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
}

export function renderTable(result: BenchResult): string {
  const columns = [...new Set(result.measurements.flatMap((m) => Object.keys(m.values)))];
  const header = ["measurement", ...columns];
  const rows = result.measurements.map((m) => [m.name, ...columns.map((c) => formatValue(m.values[c] ?? ""))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [
    result.title,
    line(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line),
    ...(result.notes ?? []).map((n) => `  ${n}`),
  ].join("\n");
}

function isBench(value: unknown): value is Bench {
  return typeof value === "function";
}

async function main(): Promise<void> {
  const dir = dirname(fileURLToPath(import.meta.url));
  const filters = process.argv.slice(2);
  const files = (await readdir(dir))
    .filter((f) => f.endsWith(".bench.ts") && (filters.length === 0 || filters.some((x) => f.includes(x))))
    .sort();
  if (files.length === 0) {
    console.error(`No bench/*.bench.ts matches ${filters.join(", ") || "(all)"}.`);
    process.exitCode = 1;
    return;
  }
  for (const file of files) {
    const mod: { default?: unknown } = await import(pathToFileURL(join(dir, file)).href);
    if (!isBench(mod.default)) {
      console.error(`${file}: the default export is not a bench function; skipped.`);
      process.exitCode = 1;
      continue;
    }
    const started = performance.now();
    const result = await mod.default();
    console.log(`${renderTable(result)}\n  (${file}, ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
