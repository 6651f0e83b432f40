import { describe, expect, it } from "vitest";
import {
  DEFAULT_PART_BYTES,
  LARGE_COPY_OUTCOMES,
  MAX_PART_BYTES,
  MAX_PARTS,
  MIN_PART_BYTES,
} from "../../contract/large-objects.ts";
import {
  batchDigest,
  batchKey,
  COPY_OBJECT_SAMPLES,
  choosePartSize,
  copySourceRange,
  isProblem,
  type LargeCopyProgress,
  LargeCopyProgressSchema,
  MAX_OBJECT_BYTES,
  newBatch,
  newProgress,
  partBytesOf,
  partCount,
  pendingParts,
  planParts,
  progressKey,
  settleNext,
  summarizeBatch,
  withListedParts,
  withPart,
} from "../../steps/domain/large-copy.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** Every byte of the object in exactly one part, parts numbered 1..n in order, sizes within S3's limits. */
function expectValidPlan(size: number, partBytes: number) {
  const parts = planParts(size, partBytes);
  const problems: string[] = [];
  for (const [i, p] of parts.entries()) {
    const bytes = partBytesOf(p);
    const isLast = i === parts.length - 1;
    if (p.partNumber !== i + 1) problems.push(`part ${i} numbered ${p.partNumber}`);
    if (p.start !== (i === 0 ? 0 : (parts[i - 1]?.end ?? Number.NaN) + 1)) problems.push(`part ${p.partNumber} gap`);
    if (bytes > MAX_PART_BYTES || bytes < 1) problems.push(`part ${p.partNumber} has ${bytes} bytes`);
    if (!isLast && bytes !== partBytes) problems.push(`part ${p.partNumber} is not ${partBytes} bytes`);
  }
  expect(problems).toEqual([]);
  expect(partBytes).toBeGreaterThanOrEqual(MIN_PART_BYTES);
  expect(parts.length).toBeLessThanOrEqual(MAX_PARTS);
  expect(parts.at(-1)?.end).toBe(size - 1);
  return parts;
}

describe("limits", () => {
  it("match S3's multipart limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html)", () => {
    expect(MIN_PART_BYTES).toBe(5 * MiB);
    expect(MAX_PART_BYTES).toBe(5 * GiB);
    expect(MAX_PARTS).toBe(10_000);
    expect(MAX_OBJECT_BYTES).toBe(53_687_091_200_000);
    expect(MAX_OBJECT_BYTES / TiB).toBeCloseTo(48.83, 2);
  });
});

describe("choosePartSize", () => {
  it("keeps the preferred size when it fits in 10,000 parts", () => {
    expect(choosePartSize(6 * GiB)).toBe(DEFAULT_PART_BYTES);
    expect(choosePartSize(6 * GiB, 5 * MiB)).toBe(5 * MiB);
    expect(choosePartSize(1, 5 * MiB)).toBe(5 * MiB);
  });

  it("raises the size, to a whole MiB, when the preferred size would need more than 10,000 parts", () => {
    // 100 GiB in 5 MiB parts would be 20,480 parts.
    const size = choosePartSize(100 * GiB, 5 * MiB);
    expect(size % MiB).toBe(0);
    expect(partCount(100 * GiB, size)).toBeLessThanOrEqual(MAX_PARTS);
    expect(size).toBe(11 * MiB); // ceil(100 GiB / 10,000) = 10.24 MiB → 11 MiB
  });

  it.each([
    ["5 GiB + 1", 5 * GiB + 1],
    ["6 GiB", 6 * GiB],
    ["1 TiB", TiB],
    ["5 TiB", 5 * TiB],
    ["48.8 TiB (the largest object)", MAX_OBJECT_BYTES],
    ["largest object - 1", MAX_OBJECT_BYTES - 1],
    ["an odd size", 7_654_321_987_123],
  ])("gives a valid plan for %s", (_label, size) => {
    for (const preferred of [MIN_PART_BYTES, DEFAULT_PART_BYTES, MAX_PART_BYTES]) {
      const partBytes = choosePartSize(size, preferred);
      expect(partBytes).toBeGreaterThanOrEqual(MIN_PART_BYTES);
      expect(partBytes).toBeLessThanOrEqual(MAX_PART_BYTES);
      expectValidPlan(size, partBytes);
    }
  });

  it("needs 10,000 parts of 5 GiB for the largest object", () => {
    expect(choosePartSize(MAX_OBJECT_BYTES, 5 * MiB)).toBe(MAX_PART_BYTES);
    const parts = planParts(MAX_OBJECT_BYTES, MAX_PART_BYTES);
    expect(parts).toHaveLength(MAX_PARTS);
    expect(parts.at(-1)).toEqual({ partNumber: 10_000, start: 9_999 * MAX_PART_BYTES, end: MAX_OBJECT_BYTES - 1 });
  });

  it("refuses sizes S3 cannot hold and part sizes outside 5 MiB–5 GiB", () => {
    expect(() => choosePartSize(MAX_OBJECT_BYTES + 1)).toThrow(RangeError);
    expect(() => choosePartSize(0)).toThrow(RangeError);
    expect(() => choosePartSize(1.5)).toThrow(RangeError);
    expect(() => choosePartSize(GiB, 5 * MiB - 1)).toThrow(/at least/);
    expect(() => choosePartSize(GiB, MAX_PART_BYTES + 1)).toThrow(/at most/);
  });
});

describe("planParts", () => {
  it("splits an object into ranges with a shorter last part", () => {
    const parts = planParts(12 * MiB, 5 * MiB);
    expect(parts).toEqual([
      { partNumber: 1, start: 0, end: 5 * MiB - 1 },
      { partNumber: 2, start: 5 * MiB, end: 10 * MiB - 1 },
      { partNumber: 3, start: 10 * MiB, end: 12 * MiB - 1 },
    ]);
    expect(parts.map(copySourceRange)).toEqual([
      "bytes=0-5242879",
      "bytes=5242880-10485759",
      "bytes=10485760-12582911",
    ]);
  });

  it("makes one part for an object no larger than a part, and no empty last part", () => {
    expect(planParts(3, 5 * MiB)).toEqual([{ partNumber: 1, start: 0, end: 2 }]);
    expect(planParts(10 * MiB, 5 * MiB)).toHaveLength(2);
    expect(planParts(6 * GiB, 512 * MiB)).toHaveLength(12);
  });

  it("refuses a plan over 10,000 parts and part sizes out of range", () => {
    expect(() => planParts(100 * GiB, 5 * MiB)).toThrow(/10000 parts|allows 10000/);
    expect(() => planParts(GiB, MiB)).toThrow(RangeError);
    expect(() => planParts(0, 5 * MiB)).toThrow(RangeError);
  });

  it("says what is wrong with a size it refuses", () => {
    expect(() => planParts(0, 5 * MiB)).toThrow(
      new RangeError("A multipart copy needs a whole number of bytes of at least 1, not 0."),
    );
    expect(() => planParts(MAX_OBJECT_BYTES + 1, MAX_PART_BYTES)).toThrow(
      new RangeError("53687091200001 bytes is larger than S3's largest object (53687091200000 bytes)."),
    );
    expect(() => planParts(6 * GiB, MAX_PART_BYTES + 1)).toThrow(
      new RangeError("A part must be 5 MiB to 5 GiB, not 5368709121 bytes."),
    );
    expect(() => planParts(6 * GiB, 5 * MiB - 1)).toThrow(
      new RangeError("A part must be 5 MiB to 5 GiB, not 5242879 bytes."),
    );
  });
});

describe("progress", () => {
  const base = (): LargeCopyProgress =>
    newProgress({
      bucket: "b",
      key: "k",
      kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/x",
      source: { versionId: "v1", etag: '"abc-3"', size: 12 * MiB },
      partBytes: 5 * MiB,
      uploadId: "u1",
      tags: { a: "1" },
      now: new Date("2026-01-01T00:00:00Z"),
    });
  // Planned inside each test: a call at collection time that throws fails the file without failing a test, which
  // Stryker's vitest runner counts as a surviving mutant.
  const plan = () => planParts(12 * MiB, 5 * MiB);

  it("records parts once each, in order, and knows what is left", () => {
    let p = base();
    expect(pendingParts(plan(), p).map((x) => x.partNumber)).toEqual([1, 2, 3]);
    p = withPart(p, { partNumber: 3, etag: '"c"' });
    p = withPart(p, { partNumber: 1, etag: '"a"' });
    p = withPart(p, { partNumber: 1, etag: '"a2"' });
    expect(p.parts).toEqual([
      { partNumber: 1, etag: '"a2"' },
      { partNumber: 3, etag: '"c"' },
    ]);
    expect(pendingParts(plan(), p).map((x) => x.partNumber)).toEqual([2]);
    expect(base().parts).toEqual([]); // pure
  });

  it("adopts listed parts of the planned size that the saved file missed", () => {
    const p = withListedParts(
      withPart(base(), { partNumber: 1, etag: '"a"' }),
      [
        { partNumber: 1, etag: '"a"', size: 5 * MiB },
        { partNumber: 2, etag: '"b"', size: 5 * MiB },
        { partNumber: 3, etag: '"c"', size: 1 }, // not the planned size: copied again
      ],
      plan(),
    );
    expect(p.parts.map((x) => x.partNumber)).toEqual([1, 2]);
  });

  it("names progress files by a digest of the key under the run prefix", () => {
    const key = progressKey("runs/b/r1/", "a/very long key, with commas & ünïcode");
    expect(key).toMatch(/^runs\/b\/r1\/large-objects\/[0-9a-f]{64}\.json$/);
    expect(progressKey("runs/b/r1/", "x")).not.toBe(progressKey("runs/b/r1/", "y"));
  });
});

describe("batch", () => {
  it("counts outcomes, lists problems, and caps the summary", () => {
    const digest = batchDigest("arn:k", ["a", "b", "c"]);
    let batch = newBatch(digest, 3);
    batch = settleNext(batch, { key: "a", outcome: "reencrypted" });
    batch = settleNext(batch, { key: "b", outcome: "failed", reason: "x".repeat(1000) });
    batch = settleNext(batch, { key: "c", outcome: "changed-during-copy", reason: "overwritten" });
    expect(batch.nextIndex).toBe(3);
    expect(batch.counts).toMatchObject({ reencrypted: 1, failed: 1, "changed-during-copy": 1, "already-compliant": 0 });
    const summary = summarizeBatch(batch, 1);
    expect(summary.problems).toHaveLength(1);
    expect(summary.problems[0]?.reason?.length).toBe(300);
    expect(summary.problemsOmitted).toBe(1);
    expect(batchKey("runs/b/r/", digest)).toBe(`runs/b/r/large-objects/batch-${digest.slice(0, 16)}.json`);
  });

  it("digests the key list and the target key", () => {
    expect(batchDigest("k", ["a", "b"])).not.toBe(batchDigest("k", ["ab"]));
    expect(batchDigest("k", ["a"])).not.toBe(batchDigest("k2", ["a"]));
  });
});

describe("what a batch records of each copy", () => {
  it("counts re-encrypted objects by method, multipart when none is named, and names the keys of single copies", () => {
    let batch = newBatch("d", 4);
    batch = settleNext(batch, { key: "m", outcome: "reencrypted" });
    batch = settleNext(batch, { key: "c1", outcome: "reencrypted", method: "copy-object" });
    batch = settleNext(batch, { key: "gone", outcome: "gone" });
    batch = settleNext(batch, { key: "skip", outcome: "skipped", reason: "locked" });
    expect(batch.reencryptedBy).toStrictEqual({ "copy-object": 1, multipart: 1 });
    expect(batch.copiedWithCopyObject).toStrictEqual(["c1"]);
    expect(batch.problems.map((p) => p.key)).toStrictEqual(["skip"]);
    expect(summarizeBatch(batch, 5)).toStrictEqual({
      total: 4,
      processed: 4,
      counts: { reencrypted: 2, "already-compliant": 0, "changed-during-copy": 0, gone: 1, skipped: 1, failed: 0 },
      problems: [{ key: "skip", outcome: "skipped", reason: "locked" }],
      problemsOmitted: 0,
      reencryptedBy: { "copy-object": 1, multipart: 1 },
    });
    expect(newBatch("d", 0)).toMatchObject({
      reencryptedBy: { "copy-object": 0, multipart: 0 },
      copiedWithCopyObject: [],
    });
  });

  it("names at most COPY_OBJECT_SAMPLES keys copied with one CopyObject, and no multipart ones", () => {
    let batch = newBatch("d", 30);
    for (let i = 0; i < 25; i++)
      batch = settleNext(batch, { key: `k${i}`, outcome: "reencrypted", method: "copy-object" });
    batch = settleNext(batch, { key: "big", outcome: "reencrypted", method: "multipart" });
    expect(batch.copiedWithCopyObject).toStrictEqual(Array.from({ length: COPY_OBJECT_SAMPLES }, (_, i) => `k${i}`));
    expect(COPY_OBJECT_SAMPLES).toBe(20);
    expect(batch.reencryptedBy).toStrictEqual({ "copy-object": 25, multipart: 1 });
  });

  it("lists changed, skipped and failed objects as problems, and keeps reasons up to 300 characters whole", () => {
    expect(LARGE_COPY_OUTCOMES.filter(isProblem)).toStrictEqual(["changed-during-copy", "skipped", "failed"]);
    let batch = newBatch("d", 3);
    batch = settleNext(batch, { key: "a", outcome: "failed", reason: "r".repeat(300) });
    batch = settleNext(batch, { key: "b", outcome: "failed", reason: "s".repeat(301) });
    batch = settleNext(batch, { key: "c", outcome: "failed" });
    const [a, b, c] = summarizeBatch(batch, 3).problems;
    expect(a?.reason).toBe("r".repeat(300));
    expect(b?.reason).toBe(`${"s".repeat(299)}…`);
    expect(c?.reason).toBeUndefined();
  });

  it("digests the key list into a hex string", () => {
    expect(batchDigest("k", ["a"])).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("the saved progress of one object", () => {
  const progress = (): LargeCopyProgress =>
    newProgress({
      bucket: "b",
      key: "k",
      kmsKeyArn: "arn:k",
      source: { etag: '"e-2"', size: 10 * MiB },
      partBytes: 5 * MiB,
      uploadId: "u",
      tags: {},
      now: new Date(0),
    });

  it("starts copying, and reads back through its schema; what is out of range is refused", () => {
    const p = progress();
    expect(p.state).toBe("copying");
    expect(LargeCopyProgressSchema.parse(p)).toStrictEqual(p);
    for (const state of ["copying", "completing", "settled"] as const) {
      expect(LargeCopyProgressSchema.parse({ ...p, state }).state).toBe(state);
    }
    const refused = (change: Record<string, unknown>) => LargeCopyProgressSchema.safeParse({ ...p, ...change }).success;
    expect(refused({ state: "done" })).toBe(false);
    expect(refused({ uploadId: "" })).toBe(false);
    expect(refused({ partBytes: MIN_PART_BYTES - 1 })).toBe(false);
    expect(refused({ partBytes: MAX_PART_BYTES + 1 })).toBe(false);
    expect(refused({ partBytes: MAX_PART_BYTES })).toBe(true);
    expect(refused({ invocations: 0 })).toBe(false);
    expect(refused({ invocations: 2 })).toBe(true);
    expect(refused({ parts: [{ partNumber: 0, etag: '"a"' }] })).toBe(false);
    expect(refused({ parts: [{ partNumber: MAX_PARTS + 1, etag: '"a"' }] })).toBe(false);
    expect(refused({ parts: [{ partNumber: MAX_PARTS, etag: '"a"' }] })).toBe(true);
    expect(refused({ parts: [{ partNumber: 2, etag: "" }] })).toBe(false);
    expect(refused({ parts: [{ partNumber: 2 }] })).toBe(false);
    expect(refused({ source: { etag: "", size: 1 } })).toBe(false);
    expect(refused({ source: { etag: '"e"', size: 1 } })).toBe(true);
    expect(refused({ source: { size: 1 } })).toBe(false);
  });

  it("adopts a listed part whose ETag differs from the saved one, and leaves an identical one as it is", () => {
    const plan = planParts(10 * MiB, 5 * MiB);
    const saved = withPart(progress(), { partNumber: 1, etag: '"old"' });
    const adopted = withListedParts(
      saved,
      [
        { partNumber: 1, etag: '"new"', size: 5 * MiB },
        { partNumber: 2, etag: '"two"', size: 5 * MiB },
      ],
      plan,
    );
    expect(adopted.parts).toStrictEqual([
      { partNumber: 1, etag: '"new"' },
      { partNumber: 2, etag: '"two"' },
    ]);
    const same = withListedParts(adopted, [{ partNumber: 2, etag: '"two"', size: 5 * MiB }], plan);
    expect(same).toBe(adopted);
  });
});
