import { describe, expect, it } from "vitest";
import { type JoinPart, joinParts, MAX_COPY_PART_BYTES, MIN_PART_BYTES } from "../../steps/domain/concatenation.ts";

const MIN = MIN_PART_BYTES;

/** The bytes each part holds, in order, as (source, start, end) ranges; the head as source -1 of `head` bytes. */
function ranges(parts: JoinPart[], head: number): [number, number, number][][] {
  return parts.map((p) =>
    p.kind === "copy"
      ? [[p.source, p.start, p.end]]
      : p.pieces.map((piece): [number, number, number] =>
          piece.source === "head" ? [-1, 0, head - 1] : [piece.source, piece.start, piece.end],
        ),
  );
}

/** Checks what S3 requires and what joining means: every byte once, in order; parts of 5 MiB but the last. */
function expectJoins(parts: JoinPart[], head: number, sizes: number[]): void {
  const flat = ranges(parts, head).flat();
  const expected: [number, number][] = [];
  if (head > 0) expected.push([-1, 0]);
  for (const [source, size] of sizes.entries()) if (size > 0) expected.push([source, 0]);
  // Contiguous pieces of each source, in order, ending at its last byte.
  let at = 0;
  for (const [source, start, end] of flat) {
    const size = source === -1 ? head : (sizes[source] ?? 0);
    if (start === 0) expect([source, start]).toEqual(expected[at++]);
    expect(end).toBeLessThan(size);
    expect(end).toBeGreaterThanOrEqual(start);
  }
  expect(at).toBe(expected.length);
  for (let i = 1; i < flat.length; i++) {
    const [prevSource, , prevEnd] = flat[i - 1] as [number, number, number];
    const [source, start] = flat[i] as [number, number, number];
    if (source === prevSource) expect(start).toBe(prevEnd + 1);
  }
  const partBytes = ranges(parts, head).map((p) => p.reduce((n, [, s, e]) => n + e - s + 1, 0));
  for (const bytes of partBytes.slice(0, -1)) expect(bytes).toBeGreaterThanOrEqual(MIN);
  for (const p of parts) if (p.kind === "copy") expect(p.end - p.start + 1).toBeLessThanOrEqual(MAX_COPY_PART_BYTES);
  expect(partBytes.reduce((n, b) => n + b, 0)).toBe(head + sizes.reduce((n, s) => n + s, 0));
}

describe("joinParts", () => {
  it("copies sources of a part or more and reads only the small ones", () => {
    const sizes = [8 * MIN, 3, 6 * MIN];
    const parts = joinParts(0, sizes);
    expectJoins(parts, 0, sizes);
    expect(parts).toEqual([
      { kind: "copy", source: 0, start: 0, end: 8 * MIN - 1 },
      // The 3 bytes and the start of the next source make a part of 5 MiB.
      {
        kind: "upload",
        pieces: [
          { source: 1, start: 0, end: 2 },
          { source: 2, start: 0, end: MIN - 4 },
        ],
      },
      { kind: "copy", source: 2, start: MIN - 3, end: 6 * MIN - 1 },
    ]);
  });

  it("puts a header before the first source and reads no more of it than the part needs", () => {
    const sizes = [2 * MIN];
    const parts = joinParts(40, sizes);
    expectJoins(parts, 40, sizes);
    expect(parts[0]).toEqual({
      kind: "upload",
      pieces: [{ source: "head" }, { source: 0, start: 0, end: MIN - 41 }],
    });
    expect(parts[1]).toEqual({ kind: "copy", source: 0, start: MIN - 40, end: 2 * MIN - 1 });
  });

  it("reads small sources together into one upload, the last part allowed to be small", () => {
    const sizes = [10, 0, 20, 30];
    const parts = joinParts(5, sizes);
    expectJoins(parts, 5, sizes);
    expect(parts).toHaveLength(1);
    expect(joinParts(0, [])).toEqual([]);
    expect(joinParts(0, [0, 0])).toEqual([]);
  });

  it("copies whole sources of a part or more, and carries a short remainder on to the next part", () => {
    expect(joinParts(0, [MIN + 7, MIN + 9, 2]).map((p) => p.kind)).toEqual(["copy", "copy", "upload"]);
    // 3 bytes pending take the first 5 MiB - 3 of the next source; its last 5 bytes go on with the 4 after it.
    const sizes = [3, MIN + 2, 4];
    const parts = joinParts(0, sizes);
    expectJoins(parts, 0, sizes);
    expect(parts).toEqual([
      {
        kind: "upload",
        pieces: [
          { source: 0, start: 0, end: 2 },
          { source: 1, start: 0, end: MIN - 4 },
        ],
      },
      {
        kind: "upload",
        pieces: [
          { source: 1, start: MIN - 3, end: MIN + 1 },
          { source: 2, start: 0, end: 3 },
        ],
      },
    ]);
  });

  it("cuts a source over 5 GiB into copies of at most 5 GiB, none of the pieces too small", () => {
    const sizes = [MAX_COPY_PART_BYTES + 100];
    const parts = joinParts(0, sizes);
    expectJoins(parts, 0, sizes);
    expect(parts).toEqual([
      { kind: "copy", source: 0, start: 0, end: MAX_COPY_PART_BYTES + 100 - MIN - 1 },
      { kind: "copy", source: 0, start: MAX_COPY_PART_BYTES + 100 - MIN, end: MAX_COPY_PART_BYTES + 99 },
    ]);
  });

  it("copies at most 5 GiB a part from a source after a pending piece, whatever is left after it", () => {
    // A pending head takes the start; the rest of the source is over 5 GiB by more than a part.
    const sizes = [MAX_COPY_PART_BYTES + 3 * MIN];
    const parts = joinParts(10, sizes);
    expectJoins(parts, 10, sizes);
    expect(parts.map((p) => (p.kind === "copy" ? p.end - p.start + 1 : -1))).toEqual([
      -1,
      MAX_COPY_PART_BYTES,
      2 * MIN + 10,
    ]);
    // Over 5 GiB by less than a part, after a pending piece: the last copy keeps a full part.
    const short = [MAX_COPY_PART_BYTES + MIN + 7];
    const cut = joinParts(10, short);
    expectJoins(cut, 10, short);
    expect(cut.map((p) => (p.kind === "copy" ? p.end - p.start + 1 : -1))).toEqual([
      -1,
      MAX_COPY_PART_BYTES - MIN + 17,
      MIN,
    ]);
  });

  it("joins any mix of sizes correctly", () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let round = 0; round < 200; round++) {
      const sizes = Array.from({ length: 1 + (next() % 8) }, () => {
        const kind = next() % 4;
        return kind === 0 ? 0 : kind === 1 ? next() % 1000 : kind === 2 ? next() % (3 * MIN) : MIN + (next() % MIN);
      });
      const head = next() % 2 === 0 ? 0 : 1 + (next() % 100);
      expectJoins(joinParts(head, sizes), head, sizes);
    }
  });
});
