import { describe, expect, it } from "vitest";
import { MAX_SLICES, sliceFiles } from "../../steps/domain/slices.ts";

const MiB = 1024 * 1024;

/** Every file in exactly one slice, in order, slices numbered from 0. */
function expectCover(slices: ReturnType<typeof sliceFiles>, files: number): void {
  expect(slices.map((s) => s.index)).toEqual(slices.map((_, i) => i));
  expect(slices[0]?.from).toBe(0);
  expect(slices.at(-1)?.to).toBe(files);
  for (const [i, s] of slices.entries()) {
    expect(s.to).toBeGreaterThan(s.from);
    if (i > 0) expect(s.from).toBe(slices[i - 1]?.to);
  }
}

describe("sliceFiles", () => {
  it("groups consecutive files up to the target, a file never split", () => {
    const slices = sliceFiles([100, 200, 300, 50, 400, 10], { targetBytes: 500 });
    expect(slices).toEqual([
      { index: 0, from: 0, to: 2 }, // 300; the 300 would make 600
      { index: 1, from: 2, to: 4 }, // 350; the 400 would make 750
      { index: 2, from: 4, to: 6 }, // 410
    ]);
  });

  it("puts a file larger than the target in a slice of its own", () => {
    expect(sliceFiles([10, 900, 10], { targetBytes: 100 })).toEqual([
      { index: 0, from: 0, to: 1 },
      { index: 1, from: 1, to: 2 },
      { index: 2, from: 2, to: 3 },
    ]);
  });

  it("fills a slice exactly to the target", () => {
    expect(sliceFiles([50, 50, 50], { targetBytes: 100 })).toEqual([
      { index: 0, from: 0, to: 2 },
      { index: 1, from: 2, to: 3 },
    ]);
  });

  it("never starts a slice with nothing in it, even when the first file is over the target", () => {
    expect(sliceFiles([900, 10], { targetBytes: 100 })).toEqual([
      { index: 0, from: 0, to: 1 },
      { index: 1, from: 1, to: 2 },
    ]);
  });

  it("aims at the total over the bound when that is over the target, so slices come out even", () => {
    // 10 files, at most 2 slices: 5 files each, not 8 and 2.
    expect(
      sliceFiles(
        Array.from({ length: 10 }, () => 1),
        { targetBytes: 1, maxSlices: 2 },
      ),
    ).toEqual([
      { index: 0, from: 0, to: 5 },
      { index: 1, from: 5, to: 10 },
    ]);
  });

  it("keeps exactly as many slices as the bound allows", () => {
    expect(sliceFiles([1, 1, 1, 1], { targetBytes: 1, maxSlices: 4 })).toHaveLength(4);
  });

  it("makes one empty slice of a delivery without files, and one slice of a small delivery", () => {
    expect(sliceFiles([], { targetBytes: 100 })).toEqual([{ index: 0, from: 0, to: 0 }]);
    expect(sliceFiles([1, 2, 3], { targetBytes: 512 * MiB })).toEqual([{ index: 0, from: 0, to: 3 }]);
  });

  it("never makes more than the bound, making slices larger instead", () => {
    // Files just over half the target would leave every slice half full: 1,000 files, 1,000 slices at first.
    const sizes = Array.from({ length: 1_000 }, () => 51);
    const slices = sliceFiles(sizes, { targetBytes: 100, maxSlices: 300 });
    expect(slices.length).toBeLessThanOrEqual(300);
    expect(slices.length).toBeGreaterThan(100);
    expectCover(slices, sizes.length);
  });

  it("bounds a delivery of many small files at MAX_SLICES, covering every file", () => {
    const sizes = Array.from({ length: 50_000 }, (_, i) => MiB + (i % 7) * 1000);
    const slices = sliceFiles(sizes, { targetBytes: 1 });
    expect(slices.length).toBeLessThanOrEqual(MAX_SLICES);
    expect(slices.length).toBeGreaterThan(MAX_SLICES / 4);
    expectCover(slices, sizes.length);
  });
});
