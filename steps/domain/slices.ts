import type { PlanSlice } from "../../contract/plan.ts";

/**
 * The most slices a plan has. "Combine the plan" joins each slice's part of a manifest into one object of at most
 * 10,000 multipart parts (about two per slice), and lists, reads and merges every slice's summary in one
 * invocation; a delivery larger than MAX_SLICES target sizes gets larger slices instead of more.
 */
export const MAX_SLICES = 2_000;

/**
 * Cuts a delivery's files (their sizes, in order) into contiguous slices of about `targetBytes` each, never
 * splitting a file and never more than `maxSlices`. A delivery with no files is one empty slice, so the plan still
 * has one child to write its (empty) parts.
 */
export function sliceFiles(
  sizes: readonly number[],
  { targetBytes, maxSlices = MAX_SLICES }: { targetBytes: number; maxSlices?: number },
): PlanSlice[] {
  const total = sizes.reduce((n, s) => n + s, 0);
  let target = Math.max(targetBytes, Math.ceil(total / maxSlices), 1);
  let slices = cut(sizes, target);
  // Whole files can leave slices half full, so the count can pass the bound at first: larger slices then.
  while (slices.length > maxSlices) {
    target *= 2;
    slices = cut(sizes, target);
  }
  return slices;
}

function cut(sizes: readonly number[], target: number): PlanSlice[] {
  const slices: PlanSlice[] = [];
  let from = 0;
  let bytes = 0;
  for (const [i, size] of sizes.entries()) {
    // A file that would take the slice past its target starts the next one, unless the slice is empty.
    if (i > from && bytes + size > target) {
      slices.push({ index: slices.length, from, to: i });
      from = i;
      bytes = 0;
    }
    bytes += size;
  }
  slices.push({ index: slices.length, from, to: sizes.length });
  return slices;
}
