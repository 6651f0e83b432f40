import { describe, expect, it } from "vitest";
import { VerificationFailedError } from "../../contract/errors.ts";
import type { ReportRow } from "../../steps/domain/completion-report.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { reportRow } from "./helpers.ts";

/** A report row whose failure message names its code and key, so failure samples can be told apart. */
const row = (key: string, taskStatus: "succeeded" | "failed", httpStatus = 200, errorCode?: string): ReportRow =>
  reportRow(key, taskStatus, httpStatus, errorCode, taskStatus === "failed" ? `${errorCode} for ${key}` : "");

// The reconciliation is rekey's proof that nothing was lost between inventory, manifests and reports: each problem
// it can find is pinned here with the exact sentence the final report carries.

function copies(n: number, storageClass: "STANDARD" | "STANDARD_IA" = "STANDARD", size = 10): RunTally {
  const t = new RunTally();
  for (let i = 0; i < n; i++) t.recordClassification({ kind: "copy", storageClass }, { key: `k${i}`, size });
  return t;
}

function thrown(fn: () => unknown): VerificationFailedError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VerificationFailedError);
    return e as VerificationFailedError;
  }
  throw new Error("expected VerificationFailedError");
}

describe("reconcile names each way counts can fail to add up", () => {
  it("a class's jobs holding more or fewer rows than its planned copies", () => {
    const t = copies(2, "STANDARD_IA");
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD_IA", manifestRows: 3 });
    expect(t.reconcile().problems).toContain(
      "2 STANDARD_IA copies planned but the STANDARD_IA job manifests hold 3 rows.",
    );
  });

  it("planned copies and updates with no job, only once the run is final", () => {
    const t = copies(2);
    t.recordClassification({ kind: "update-encryption" }, { key: "u", size: 1 });
    expect(t.reconcile().problems).toStrictEqual([]);
    expect(t.reconcile({ final: true }).problems).toStrictEqual([
      "2 STANDARD copies planned but no STANDARD job was created.",
      "1 encryption updates planned but no update job was created.",
      "3 planned copies have no outcome yet.",
    ]);
  });

  it("a job whose report accounts for fewer or more rows than its manifest", () => {
    const t = copies(3);
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 3 });
    t.recordReportRow("j", row("k0", "succeeded"));
    t.recordReportRow("j", row("k1", "failed", 403, "AccessDenied"));
    t.markJobReported("j");
    expect(t.reconcile().problems).toStrictEqual([
      "Job j: manifest has 3 rows but the report accounts for 2 (1 succeeded, 1 failed, 0 gone, 0 changed since planning); 1 missing.",
    ]);
    t.recordReportRow("j", row("k2", "succeeded"));
    t.recordReportRow("j", row("k2", "succeeded"));
    expect(t.reconcile().problems).toStrictEqual([
      "Job j: manifest has 3 rows but the report accounts for 4 (3 succeeded, 1 failed, 0 gone, 0 changed since planning); 1 extra.",
    ]);
  });

  it("more large-object outcomes than planned", () => {
    const t = new RunTally();
    t.recordClassification({ kind: "large-copy", storageClass: "STANDARD" }, { key: "big", size: 6e9 });
    t.recordLargeCopies({
      reencrypted: 1,
      "already-compliant": 0,
      "changed-during-copy": 0,
      gone: 0,
      skipped: 0,
      failed: 1,
    });
    expect(t.reconcile().problems).toContain("2 large-object outcomes recorded for 1 planned.");
  });

  it("redrive jobs holding more rows than tasks failed transiently", () => {
    const t = copies(1);
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 1 });
    t.recordReportRow("j", row("k0", "failed", 503, "SlowDown"));
    t.recordJob({ operation: "copy", jobId: "r", storageClass: "STANDARD", manifestRows: 2, redriveOf: "j" });
    expect(t.reconcile().problems).toContain("Redrive jobs hold 2 rows but only 1 tasks failed transiently.");
  });

  it("objects seen but not classified", () => {
    const state = copies(1).toJSON();
    state.seen.count = 2;
    expect(RunTally.fromJSON(state).reconcile().problems).toContain("2 objects seen but 1 classified.");
  });

  it("refuses to call a run done, with every problem and what to do", () => {
    const t = copies(1);
    const e = thrown(() => t.assertReconciled());
    expect(e.problem).toBe(
      "The run's counts do not reconcile: 1 STANDARD copies planned but no STANDARD job was created. 1 planned copies have no outcome yet.",
    );
    expect(e.fix).toBe(
      "Do not treat the bucket as done. Compare the named job's manifest with its completion report; run rekey again to pick up any object that was missed.",
    );
  });
});

describe("the tally's records", () => {
  it("refuses a job recorded again with other contents, and a row of a job it does not know", () => {
    const t = copies(1);
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 1 });
    for (const again of [
      { operation: "copy" as const, jobId: "j", storageClass: "STANDARD" as const, manifestRows: 2 },
      { operation: "copy" as const, jobId: "j", storageClass: "STANDARD_IA" as const, manifestRows: 1 },
      { operation: "update-encryption" as const, jobId: "j", storageClass: "STANDARD" as const, manifestRows: 1 },
    ]) {
      const e = thrown(() => t.recordJob(again));
      expect(e.problem).toBe(`Job j was recorded twice with different contents (1 vs ${again.manifestRows} rows).`);
      expect(e.fix).toBe("This is a bug in the step that creates jobs; report it with the execution's history.");
    }
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 1 });
    expect(t.snapshot.jobs).toHaveLength(1);
    const e = thrown(() => t.recordReportRow("other", row("k0", "succeeded")));
    expect(e.problem).toBe("A completion report row names job other, which this run did not create.");
    expect(e.fix).toBe("Check that the report prefix holds only this execution's jobs.");
    expect(() => t.markJobReported("other")).toThrow(VerificationFailedError);
  });

  it("keeps up to the sample limit of keys per skip reason and failure category, with status and code", () => {
    const t = new RunTally(undefined, { sampleLimit: 2 });
    for (const key of ["a", "b", "c"]) {
      t.recordClassification({ kind: "skipped", reason: "sse-c", detail: "" }, { key, size: 1 });
      t.recordClassification({ kind: "copy", storageClass: "STANDARD" }, { key: `c-${key}`, size: 1 });
    }
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 3 });
    t.recordReportRow("j", row("c-a", "failed", 403, "AccessDenied"));
    t.recordReportRow("j", { ...row("c-b", "failed", 403, "AccessDenied"), errorCode: undefined } as ReportRow);
    t.recordReportRow("j", row("c-c", "failed", 403, "AccessDenied"));
    const s = t.snapshot;
    expect(s.skippedSamples["sse-c"]).toStrictEqual(["a", "b"]);
    expect(s.skipped["sse-c"]).toStrictEqual({ count: 3, bytes: 3 });
    expect(s.failureSamples["access-or-kms"]).toStrictEqual([
      { key: "c-a", message: "AccessDenied for c-a", httpStatus: 403, errorCode: "AccessDenied" },
      { key: "c-b", message: "AccessDenied for c-b", httpStatus: 403 },
    ]);
  });

  it("counts sizes when known, and objects without a size as zero bytes", () => {
    const t = new RunTally();
    t.recordClassification({ kind: "compliant" }, { key: "a", size: 5 });
    t.recordClassification({ kind: "compliant" }, { key: "b" });
    t.recordClassification({ kind: "not-current", reason: "delete-marker" }, { key: "c" });
    t.recordDoneEarlier("run-1", { size: 7 });
    t.recordDoneEarlier("run-1", {});
    const s = t.snapshot;
    expect(s.seen).toStrictEqual({ count: 5, bytes: 12 });
    expect(s.alreadyCompliant).toStrictEqual({ count: 2, bytes: 5 });
    expect(s.notCurrent["delete-marker"]).toStrictEqual({ count: 1, bytes: 0 });
    expect(s.doneEarlier["run-1"]).toStrictEqual({ count: 2, bytes: 7 });
    expect(t.totals()).toMatchObject({ seen: 5, alreadyCompliant: 2, notCurrent: 1, doneEarlier: 2 });
  });

  it("hands back a copy of its state, not the state itself", () => {
    const t = copies(1);
    const json = t.toJSON();
    json.seen.count = 99;
    expect(t.snapshot.seen.count).toBe(1);
  });
});

describe("totals and failures after redrives", () => {
  it("moves redriven transient failures out of the failed count, by route and by category", () => {
    const t = copies(2);
    t.recordClassification({ kind: "update-encryption" }, { key: "u", size: 1 });
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 2 });
    t.recordReportRow("j", row("k0", "failed", 503, "SlowDown"));
    t.recordReportRow("j", row("k1", "failed", 503, "SlowDown"));
    t.recordJob({ operation: "copy", jobId: "r", storageClass: "STANDARD", manifestRows: 2, redriveOf: "j" });
    t.recordReportRow("r", row("k0", "succeeded"));
    t.recordReportRow("r", row("k1", "failed", 403, "AccessDenied"));
    t.recordJob({ operation: "update-encryption", jobId: "u", manifestRows: 1 });
    t.recordReportRow("u", row("u", "failed", 400, "InvalidRequest"));
    t.recordLargeCopies({
      reencrypted: 0,
      "already-compliant": 0,
      "changed-during-copy": 0,
      gone: 0,
      skipped: 0,
      failed: 0,
    });
    expect(t.failedByCategory()).toStrictEqual({ "throttled-or-transient": 0, "access-or-kms": 1, other: 1 });
    expect(t.totals()).toMatchObject({ reencrypted: 1, failed: 2, pending: 0 });
    const [copy, update] = t.routes();
    expect(copy).toMatchObject({ route: "copy", planned: 2, bytes: 20, reencrypted: 1, failed: 1 });
    expect(update).toMatchObject({ route: "update-encryption", planned: 1, bytes: 1, reencrypted: 0, failed: 1 });
    expect(t.reconcile({ final: true })).toMatchObject({ ok: true, problems: [] });
  });
});

describe("outcome totals", () => {
  it("settle large objects by every outcome, and count their failures and changes as failed", () => {
    const t = new RunTally();
    for (const key of ["a", "b", "c", "d"]) {
      t.recordClassification({ kind: "large-copy", storageClass: "STANDARD" }, { key, size: 6e9 });
    }
    t.recordLargeCopies({
      reencrypted: 1,
      "already-compliant": 1,
      "changed-during-copy": 0,
      gone: 0,
      skipped: 0,
      failed: 1,
    });
    expect(t.totals()).toMatchObject({ reencrypted: 1, alreadyCompliant: 1, failed: 1, pending: 1 });
  });

  it("count planned copies missing from every manifest as pending, whatever redrive jobs hold", () => {
    const t = copies(3);
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 2 });
    t.recordReportRow("j", row("k0", "succeeded"));
    t.recordReportRow("j", row("k1", "failed", 503, "SlowDown"));
    t.markJobReported("j");
    t.recordJob({ operation: "copy", jobId: "r", storageClass: "STANDARD", manifestRows: 1, redriveOf: "j" });
    t.recordReportRow("r", row("k1", "succeeded"));
    t.markJobReported("r");
    expect(t.totals()).toMatchObject({ reencrypted: 2, failed: 0, pending: 1 });
  });

  it("reconcile a run with re-encrypted and already compliant objects without a problem", () => {
    const t = copies(1);
    t.recordClassification({ kind: "compliant" }, { key: "c", size: 1 });
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 1 });
    t.recordReportRow("j", row("k0", "succeeded"));
    t.markJobReported("j");
    expect(t.reconcile({ final: true })).toMatchObject({ ok: true, problems: [] });
  });
});
