import { describe, expect, it } from "vitest";
import { VerificationFailedError } from "../../contract/errors.ts";
import type { ReportRow } from "../../steps/domain/completion-report.ts";
import { RunTally } from "../../steps/domain/tally.ts";

// How one completion report row is counted, and what HeadObject found at its key (`now`) changes about it.

const row = (over: Partial<ReportRow> = {}): ReportRow => ({
  bucket: "src",
  key: "k",
  rawKey: "k",
  taskStatus: "failed",
  resultMessage: "message",
  ...over,
});

function tallyWithJob(operation: "copy" | "update-encryption" = "copy"): RunTally {
  const t = new RunTally();
  t.recordClassification(
    operation === "copy" ? { kind: "copy", storageClass: "STANDARD" } : { kind: "update-encryption" },
    { key: "k", size: 1 },
  );
  t.recordJob({
    operation,
    jobId: "j",
    ...(operation === "copy" ? { storageClass: "STANDARD" as const } : {}),
    manifestRows: 1,
  });
  return t;
}

describe("recordReportRow", () => {
  it("returns each outcome as it counts it", () => {
    expect(tallyWithJob().recordReportRow("j", row({ taskStatus: "succeeded", httpStatus: 200 }))).toStrictEqual({
      outcome: "succeeded",
    });
    const gone = tallyWithJob("update-encryption");
    expect(
      gone.recordReportRow("j", row({ httpStatus: 404, errorCode: "NoSuchKey" }), { exists: false }),
    ).toStrictEqual({
      outcome: "gone",
    });
    expect(gone.snapshot.jobs[0]).toMatchObject({ gone: 1, failed: {} });
  });

  it("refuses to count a row that needs a look at the object without one, naming the row", () => {
    for (const [over, problem] of [
      [
        { httpStatus: 404, errorCode: "NoSuchKey" },
        'The 404 NoSuchKey row of "k" in job j was counted without looking at the object.',
      ],
      [{ resultMessage: "NoSuchKey" }, 'The   row of "k" in job j was counted without looking at the object.'],
    ] as const) {
      let caught: unknown;
      try {
        tallyWithJob().recordReportRow("j", row(over));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(VerificationFailedError);
      expect((caught as VerificationFailedError).problem).toBe(problem);
      expect((caught as VerificationFailedError).fix).toBe(
        "This is a bug in the step that verifies results; report it with the execution's history.",
      );
    }
  });

  it("counts a 404 whose object HeadObject still finds as a failure that says what it found", () => {
    const t = tallyWithJob();
    const outcome = t.recordReportRow("j", row({ httpStatus: 404, errorCode: "NoSuchKey", resultMessage: "gone?" }), {
      exists: true,
      compliant: false,
      found: "NOT-SSE class=STANDARD",
    });
    expect(outcome).toStrictEqual({
      outcome: "failed",
      category: "missing-but-present",
      message: "gone? (HeadObject of the decoded key finds the object: NOT-SSE class=STANDARD)",
    });
  });

  it("ignores what HeadObject found for a row that needed no look", () => {
    for (const now of [{ exists: false } as const, { exists: true, compliant: true, found: "SSE-KMS" } as const]) {
      const t = tallyWithJob();
      const outcome = t.recordReportRow("j", row({ httpStatus: 403, errorCode: "AccessDenied" }), now);
      expect(outcome).toMatchObject({ outcome: "failed", category: "access-or-kms" });
      expect(t.snapshot.jobs[0]).toMatchObject({ gone: 0, changed: 0, failed: { "access-or-kms": 1 } });
    }
  });

  it("keeps a failure sample without a status or code when the row has none", () => {
    const t = tallyWithJob();
    t.recordReportRow("j", row({ errorCode: "AccessDenied" }));
    expect(t.snapshot.failureSamples["access-or-kms"]).toStrictEqual([
      { key: "k", message: "message", errorCode: "AccessDenied" },
    ]);
  });
});

describe("recordJob", () => {
  it("records a redrive's parent and a reused job's run and time only when given", () => {
    const t = new RunTally();
    t.recordJob({ operation: "copy", jobId: "a", storageClass: "STANDARD", manifestRows: 1 });
    t.recordJob({
      operation: "copy",
      jobId: "b",
      storageClass: "STANDARD",
      manifestRows: 1,
      redriveOf: "a",
      createdBy: "run-0",
      createdAt: "2026-01-01T00:00:00.000Z",
    });
    const [a, b] = t.snapshot.jobs;
    expect(a).toStrictEqual({
      jobId: "a",
      operation: "copy",
      storageClass: "STANDARD",
      redrive: false,
      attempt: 1,
      manifestRows: 1,
      reported: false,
      succeeded: 0,
      gone: 0,
      failed: {},
      changed: 0,
    });
    expect(b).toMatchObject({
      redrive: true,
      attempt: 2,
      redriveOf: "a",
      createdBy: "run-0",
      createdAt: "2026-01-01T00:00:00.000Z",
    });
  });
});

describe("recordNotCurrent", () => {
  it("adds versions counted in place as recordClassification adds them one by one", () => {
    const counted = new RunTally();
    counted.recordNotCurrent("noncurrent-version", { count: 2, bytes: 30 });
    counted.recordNotCurrent("noncurrent-version", { count: 1, bytes: 5 });
    counted.recordNotCurrent("delete-marker", { count: 0, bytes: 0 });
    const oneByOne = new RunTally();
    for (const size of [10, 20, 5]) {
      oneByOne.recordClassification({ kind: "not-current", reason: "noncurrent-version" }, { key: "k", size });
    }
    expect(counted.toJSON()).toEqual(oneByOne.toJSON());
    expect(counted.snapshot.notCurrent["delete-marker"]).toBeUndefined();
    expect(counted.snapshot.seen).toEqual({ count: 3, bytes: 35 });
  });
});
