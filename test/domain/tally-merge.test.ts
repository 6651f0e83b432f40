import { describe, expect, it } from "vitest";
import type { Classification } from "../../steps/domain/classify.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { reportRow } from "./helpers.ts";

/** Objects of every kind planning records, each with its own size, in the order a plan would read them. */
const objects: { result: Classification; key: string; size: number }[] = [
  { result: { kind: "copy", storageClass: "STANDARD" }, key: "a", size: 1 },
  { result: { kind: "skipped", reason: "object-lock-compliance", detail: "locked" }, key: "b", size: 2 },
  { result: { kind: "update-encryption" }, key: "c", size: 4 },
  { result: { kind: "copy", storageClass: "GLACIER_IR" }, key: "d", size: 8 },
  { result: { kind: "not-current", reason: "noncurrent-version" }, key: "e", size: 16 },
  { result: { kind: "compliant" }, key: "f", size: 32 },
  { result: { kind: "large-copy", storageClass: "STANDARD" }, key: "g", size: 64 },
  { result: { kind: "skipped", reason: "object-lock-compliance", detail: "locked" }, key: "h", size: 128 },
  { result: { kind: "copy", storageClass: "STANDARD" }, key: "i", size: 256 },
  { result: { kind: "skipped", reason: "object-lock-compliance", detail: "locked" }, key: "j", size: 512 },
];

function record(tally: RunTally, part: typeof objects): RunTally {
  for (const o of part) tally.recordClassification(o.result, { key: o.key, size: o.size });
  return tally;
}

describe("RunTally.merge", () => {
  it("adds slices' tallies up to the tally of the whole plan read in one pass", () => {
    const whole = record(new RunTally(undefined, { sampleLimit: 2 }), objects);
    whole.recordDoneEarlier("run-1", { size: 1000 });
    whole.recordNotCurrent("delete-marker", { count: 3, bytes: 0 });
    const first = record(new RunTally(undefined, { sampleLimit: 2 }), objects.slice(0, 4));
    const second = record(new RunTally(undefined, { sampleLimit: 2 }), objects.slice(4, 7));
    second.recordDoneEarlier("run-1", { size: 1000 });
    const third = record(new RunTally(undefined, { sampleLimit: 2 }), objects.slice(7));
    const merged = new RunTally(undefined, { sampleLimit: 2 });
    merged.merge([first.toJSON(), second.toJSON(), third.toJSON()]);
    merged.recordNotCurrent("delete-marker", { count: 3, bytes: 0 });
    expect(merged.toJSON()).toEqual(whole.toJSON());
    // Samples up to the limit: the two smallest locked keys, whichever slice read them.
    expect(merged.snapshot.skippedSamples["object-lock-compliance"]).toEqual(["b", "h"]);
    expect(merged.reconcile().ok).toBe(true);
  });

  it("keeps as skipped samples the smallest keys in manifest-key order, whatever order and slices read them in", () => {
    // Encoded: "a b" is a%20b, "a!" is a%21, "a+" is a%2B, "a~" stays a~, "Z" stays Z.
    const keys = ["a~", "a+", "Z", "a!", "a b", "b", "a!"];
    const skip: Classification = { kind: "skipped", reason: "archived", detail: "" };
    const smallest = ["Z", "a b", "a!"];
    for (const order of [keys, [...keys].reverse()]) {
      const one = new RunTally(undefined, { sampleLimit: 3 });
      for (const key of order) one.recordClassification(skip, { key, size: 1 });
      expect(one.snapshot.skippedSamples.archived).toEqual(smallest);
      const parts = [order.slice(0, 2), order.slice(2)].map((part) => {
        const t = new RunTally(undefined, { sampleLimit: 3 });
        for (const key of part) t.recordClassification(skip, { key, size: 1 });
        return t.toJSON();
      });
      const merged = new RunTally(undefined, { sampleLimit: 3 });
      merged.merge(parts);
      expect(merged.snapshot.skippedSamples.archived).toEqual(smallest);
    }
    const counted = new RunTally(undefined, { sampleLimit: 3 });
    counted.recordClassified(skip, { count: 7, bytes: 7 }, keys);
    expect(counted.snapshot.skippedSamples.archived).toEqual(smallest);
    expect(counted.snapshot.skipped.archived).toEqual({ count: 7, bytes: 7 });
    expect(counted.snapshot.seen).toEqual({ count: 7, bytes: 7 });
    counted.recordClassified(skip, { count: 0, bytes: 0 }, ["A"]);
    expect(counted.snapshot.skippedSamples.archived).toEqual(smallest);
  });

  it("merging nothing leaves the tally as it was; merging into a tally with counts adds to them", () => {
    const t = record(new RunTally(), objects.slice(0, 3));
    const before = t.toJSON();
    t.merge([]);
    expect(t.toJSON()).toEqual(before);
    t.merge([record(new RunTally(), objects.slice(0, 1)).toJSON()]);
    expect(t.snapshot.copyPlanned.STANDARD).toEqual({ count: 2, bytes: 2 });
    expect(t.snapshot.seen).toEqual({ count: 4, bytes: 8 });
  });

  it("appends jobs and failure samples, and sums multipart-copy outcomes", () => {
    const a = record(new RunTally(undefined, { sampleLimit: 1 }), objects.slice(0, 1));
    a.recordJob({ operation: "copy", jobId: "j1", storageClass: "STANDARD", manifestRows: 1 });
    a.recordReportRow("j1", reportRow("a", "failed", 403, "AccessDenied", "AccessDenied for a"));
    const b = new RunTally(undefined, { sampleLimit: 1 });
    b.recordJob({ operation: "copy", jobId: "j2", storageClass: "STANDARD", manifestRows: 0 });
    b.recordReportRow("j2", reportRow("z", "failed", 403, "AccessDenied", "AccessDenied for z"));
    const outcomes = (n: number) => ({
      reencrypted: n,
      "already-compliant": 0,
      "changed-during-copy": 0,
      failed: 2 * n,
      gone: 0,
      skipped: 0,
    });
    a.recordLargeCopies(outcomes(1));
    b.recordLargeCopies(outcomes(3));
    const merged = new RunTally(undefined, { sampleLimit: 1 });
    merged.merge([a.toJSON(), b.toJSON()]);
    expect(merged.snapshot.jobs.map((j) => j.jobId)).toEqual(["j1", "j2"]);
    expect(merged.snapshot.largeCopy).toMatchObject({ reencrypted: 4, failed: 8, gone: 0 });
    const samples = Object.values(merged.snapshot.failureSamples).flat();
    expect(samples).toHaveLength(1);
    expect(JSON.stringify(samples)).toContain("AccessDenied for a");
  });
});
