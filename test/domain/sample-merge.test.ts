import { describe, expect, it } from "vitest";
import { seededRandom as seeded } from "../../sandbox/faults/random.ts";
import { mergeSamples } from "../../steps/domain/spot-check.ts";

/** A uniform sample of at most `size` of `items` (a seeded shuffle's first items), saved as a Reservoir saves it. */
function sampleOf(items: number[], size: number, random: () => number): { items: number[]; seen: number } {
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j] as number, shuffled[i] as number];
  }
  return { items: shuffled.slice(0, size), seen: items.length };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("mergeSamples", () => {
  it("keeps every item when the streams together are no larger than the sample, and counts what was seen", () => {
    const random = seeded(1);
    const merged = mergeSamples(
      [sampleOf([1, 2], 5, random), sampleOf([], 5, random), sampleOf([3], 5, random)],
      5,
      random,
    );
    expect([...merged.items].sort()).toEqual([1, 2, 3]);
    expect(merged.seen).toBe(3);
  });

  it("gives at most the sample's size, each item once, only items of the samples", () => {
    const random = seeded(2);
    const samples = [sampleOf(range(0, 100), 7, random), sampleOf(range(100, 103), 7, random)];
    const merged = mergeSamples(samples, 7, random);
    expect(merged.items).toHaveLength(7);
    expect(new Set(merged.items).size).toBe(7);
    const offered = new Set(samples.flatMap((s) => s.items));
    for (const item of merged.items) expect(offered.has(item)).toBe(true);
    expect(merged.seen).toBe(103);
  });

  it("is a uniform sample of all the streams: every item is kept as often as one reservoir over them all would keep it", () => {
    // Streams of 30 and 3 items, samples of 5: each of the 33 items belongs in 5/33 of the merged samples. Taking an
    // equal share of each sample, or the samples one after the other, keeps the small stream's items far more often.
    const random = seeded(3);
    const trials = 30_000;
    const kept = new Map<number, number>();
    for (let t = 0; t < trials; t++) {
      const merged = mergeSamples([sampleOf(range(0, 30), 5, random), sampleOf(range(30, 33), 5, random)], 5, random);
      for (const item of merged.items) kept.set(item, (kept.get(item) ?? 0) + 1);
    }
    const expected = (trials * 5) / 33;
    for (const item of range(0, 33)) {
      const share = (kept.get(item) ?? 0) / expected;
      expect(share, `item ${item}`).toBeGreaterThan(0.9);
      expect(share, `item ${item}`).toBeLessThan(1.1);
    }
  });

  it("stays uniform when merged a batch at a time, each merge taking the one before as a sample of its own", () => {
    // What Verify results does with many slices: streams of 20, 5 and 8 items, folded in one after the other.
    const random = seeded(5);
    const trials = 30_000;
    const kept = new Map<number, number>();
    for (let t = 0; t < trials; t++) {
      let merged = mergeSamples([sampleOf(range(0, 20), 5, random)], 5, random);
      merged = mergeSamples([merged, sampleOf(range(20, 25), 5, random)], 5, random);
      merged = mergeSamples([merged, sampleOf(range(25, 33), 5, random)], 5, random);
      expect(merged.seen).toBe(33);
      for (const item of merged.items) kept.set(item, (kept.get(item) ?? 0) + 1);
    }
    const expected = (trials * 5) / 33;
    for (const item of range(0, 33)) {
      const share = (kept.get(item) ?? 0) / expected;
      expect(share, `item ${item}`).toBeGreaterThan(0.9);
      expect(share, `item ${item}`).toBeLessThan(1.1);
    }
  });

  it("refuses samples that hold fewer items than they saw and than the size (they were not drawn at this size)", () => {
    expect(() => mergeSamples([{ items: [1], seen: 10 }], 5, seeded(4))).toThrow(
      expect.objectContaining({ name: "InvariantViolatedError" }),
    );
  });
});
