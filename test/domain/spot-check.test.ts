import { describe, expect, it } from "vitest";
import { copiedAttributeProblems, isCompliant, notFoundProblem, Reservoir } from "../../steps/domain/spot-check.ts";

const KEY = "arn:aws:kms:eu-west-1:111122223333:key/target";

describe("notFoundProblem", () => {
  it("tolerates up to five missing objects, or a tenth of those checked", () => {
    expect(notFoundProblem(10, 5)).toBe(false);
    expect(notFoundProblem(10, 6)).toBe(true);
    expect(notFoundProblem(100, 10)).toBe(false);
    expect(notFoundProblem(100, 11)).toBe(true);
    expect(notFoundProblem(60, 6)).toBe(false);
  });
});

describe("Reservoir", () => {
  it("keeps everything offered while there is room, in order", () => {
    // Twenty times: a reservoir that sampled even while it had room would keep [1, 2, 3] only by chance.
    for (let n = 0; n < 20; n++) {
      const r = new Reservoir<number>(3);
      for (const i of [1, 2, 3]) r.offer(i);
      expect(r.items).toEqual([1, 2, 3]);
    }
  });

  it("never grows past its size and only holds offered items, each once", () => {
    const r = new Reservoir<number>(3);
    for (let i = 1; i <= 10_000; i++) r.offer(i);
    expect(r.items).toHaveLength(3);
    expect(new Set(r.items).size).toBe(3);
    for (const i of r.items) expect(i >= 1 && i <= 10_000).toBe(true);
    // Replacing slot 0 every time would leave exactly this; a uniform sample gives it with probability ~1e-11.
    expect([...r.items]).not.toEqual([10_000, 2, 3]);
    // Never replacing anything would leave the first three; a uniform sample keeps all three with probability ~1e-11.
    expect([...r.items]).not.toEqual([1, 2, 3]); // the elements only, not stray properties
  });
});

describe("isCompliant", () => {
  it("needs SSE-KMS, the target key and a Bucket Key", () => {
    const ok = { ServerSideEncryption: "aws:kms", SSEKMSKeyId: KEY, BucketKeyEnabled: true };
    expect(isCompliant(KEY, ok)).toBe(true);
    expect(isCompliant(KEY, { ...ok, ServerSideEncryption: "AES256" })).toBe(false);
    expect(isCompliant(KEY, { ...ok, SSEKMSKeyId: "other" })).toBe(false);
    expect(isCompliant(KEY, { ...ok, BucketKeyEnabled: false })).toBe(false);
  });
});

describe("copiedAttributeProblems", () => {
  it("treats an unset class as STANDARD on both sides", () => {
    expect(copiedAttributeProblems({}, { StorageClass: "STANDARD" })).toEqual([]);
    expect(copiedAttributeProblems({ StorageClass: "STANDARD" }, {})).toEqual([]);
    expect(copiedAttributeProblems({}, { StorageClass: "GLACIER_IR" })).toEqual(["expected class STANDARD"]);
  });

  it("with classOnly, skips an unknown class and everything but the class", () => {
    expect(
      copiedAttributeProblems(
        { ContentType: "a" },
        { StorageClass: "GLACIER_IR", ContentType: "b" },
        { classOnly: true },
      ),
    ).toEqual([]);
    expect(copiedAttributeProblems({ StorageClass: "GLACIER_IR" }, {}, { classOnly: true })).toEqual([
      "expected class GLACIER_IR",
    ]);
  });

  it("names unset content types, and compares metadata and tags by value", () => {
    expect(copiedAttributeProblems({ ContentType: "text/csv" }, {})).toEqual(["content type unset, expected text/csv"]);
    expect(copiedAttributeProblems({}, { ContentType: "text/csv" })).toEqual(["content type text/csv, expected unset"]);
    expect(copiedAttributeProblems({ Metadata: { a: "1" } }, { Metadata: { a: "2" } })).toEqual([
      "user metadata differs",
    ]);
    expect(copiedAttributeProblems({ tags: { a: "1" } }, { tags: { b: "1" } })).toEqual(["tags differ"]);
    expect(copiedAttributeProblems({ Metadata: {}, tags: {} }, {})).toEqual([]);
  });
});
