import { readFile } from "node:fs/promises";
import { bucketNameProblem } from "../contract/run-request.ts";
import { UsageError } from "./errors.ts";

/** A bucket a fleet may run, as the operator listed it or `rekey scan` judged it. */
export interface FleetCandidate {
  bucket: string;
  /** The inventory configuration a run may plan from (scan's `inventoryConfiguration`, or a list's second column). */
  inventoryConfig?: string | undefined;
  /** How much it holds, when scan said (storage metrics): the fleet's order uses it. */
  objects?: number | undefined;
  bytes?: number | undefined;
}

/** A bucket the fleet leaves out, and why. */
export interface FleetExclusion {
  bucket: string;
  reason: string;
}

/** Scan verdicts that leave nothing for a run to do, or that a run would refuse: the fleet leaves those out. */
const NOT_FOR_A_RUN: Record<string, string> = {
  compliant: "compliant: default encryption and every object already under the key (per scan)",
  blocked: "blocked per scan",
};

/**
 * The fleet's buckets from `--bucket` names and a `--buckets-file`: either `rekey scan --output json`'s array (each
 * bucket with its verdict, inventory configuration and size), or a text list, one bucket per line with an optional
 * inventory configuration id after it; blank lines and `#` comments are ignored. A name listed twice counts once.
 */
export async function fleetBuckets(
  names: readonly string[],
  file: string | undefined,
): Promise<{ candidates: FleetCandidate[]; excluded: FleetExclusion[] }> {
  const candidates: FleetCandidate[] = names.map((bucket) => ({ bucket }));
  const excluded: FleetExclusion[] = [];
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new UsageError(`--buckets-file ${file}: ${(err as Error).message}`);
    }
    const parsed = /^\s*[[{]/.test(text) ? fromScanJson(text, file) : fromList(text, file);
    candidates.push(...parsed.candidates);
    excluded.push(...parsed.excluded);
  }
  const seen = new Set<string>();
  const unique = candidates.filter((c) => !seen.has(c.bucket) && seen.add(c.bucket));
  for (const c of unique) {
    const problem = bucketNameProblem(c.bucket);
    if (problem) throw new UsageError(`Bucket "${c.bucket}": ${problem}`);
  }
  if (!unique.length && !excluded.length) {
    throw new UsageError("No bucket given: pass --bucket NAME (repeatable) or --buckets-file FILE.");
  }
  return { candidates: unique, excluded };
}

function fromList(text: string, file: string): { candidates: FleetCandidate[]; excluded: FleetExclusion[] } {
  const candidates: FleetCandidate[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const [bucket, inventoryConfig, extra] = line.split(/\s+/);
    if (extra !== undefined || bucket === undefined) {
      throw new UsageError(
        `--buckets-file ${file}, line ${i + 1}: "${raw.trim()}" is not "<bucket> [<inventory configuration id>]".`,
      );
    }
    candidates.push({ bucket, ...(inventoryConfig ? { inventoryConfig } : {}) });
  });
  return { candidates, excluded: [] };
}

function fromScanJson(text: string, file: string): { candidates: FleetCandidate[]; excluded: FleetExclusion[] } {
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--buckets-file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(rows)) {
    throw new UsageError(
      `--buckets-file ${file}: expected the array rekey scan --output json prints, or one bucket name per line.`,
    );
  }
  const candidates: FleetCandidate[] = [];
  const excluded: FleetExclusion[] = [];
  rows.forEach((row: unknown, i) => {
    const r = row as Record<string, unknown> | null;
    if (typeof r?.bucket !== "string") {
      throw new UsageError(`--buckets-file ${file}: entry ${i} has no "bucket" (is it rekey scan's JSON output?).`);
    }
    const verdict = typeof r.verdict === "string" ? r.verdict : undefined;
    const leaveOut = verdict === undefined ? undefined : NOT_FOR_A_RUN[verdict];
    if (leaveOut) {
      excluded.push({ bucket: r.bucket, reason: verdict === "blocked" ? `${leaveOut}: ${String(r.why)}` : leaveOut });
      return;
    }
    candidates.push({
      bucket: r.bucket,
      ...(typeof r.inventoryConfiguration === "string" ? { inventoryConfig: r.inventoryConfiguration } : {}),
      // Storage metrics' versions and bytes, else the current objects the latest inventory counted.
      ...sizeOf(r),
    });
  });
  return { candidates, excluded };
}

function sizeOf(r: Record<string, unknown>): { objects?: number; bytes?: number } {
  if (typeof r.objects === "number" || typeof r.bytes === "number") {
    return {
      ...(typeof r.objects === "number" ? { objects: r.objects } : {}),
      ...(typeof r.bytes === "number" ? { bytes: r.bytes } : {}),
    };
  }
  const current = (r.inventoryCounts as { current?: { objects?: unknown; bytes?: unknown } } | null | undefined)
    ?.current;
  return typeof current?.objects === "number" && typeof current.bytes === "number"
    ? { objects: current.objects, bytes: current.bytes }
    : {};
}

export const FLEET_ORDERS = ["smallest-first", "largest-first", "listed"] as const;
export type FleetOrder = (typeof FLEET_ORDERS)[number];

/**
 * The order the fleet starts its runs in: by size (bytes, then objects) for a pilot on the smallest buckets or to
 * start the longest runs first; buckets of unknown size last, in the order listed.
 */
export function orderFleet(candidates: readonly FleetCandidate[], order: FleetOrder): FleetCandidate[] {
  if (order === "listed") return [...candidates];
  const sign = order === "smallest-first" ? 1 : -1;
  const known = (c: FleetCandidate) => c.bytes !== undefined || c.objects !== undefined;
  return candidates
    .map((c, i) => ({ c, i }))
    .sort((a, b) => {
      if (known(a.c) !== known(b.c)) return known(a.c) ? -1 : 1;
      const bySize = (a.c.bytes ?? 0) - (b.c.bytes ?? 0) || (a.c.objects ?? 0) - (b.c.objects ?? 0);
      return sign * bySize || a.i - b.i;
    })
    .map(({ c }) => c);
}
