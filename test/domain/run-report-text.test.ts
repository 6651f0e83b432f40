import { describe, expect, it } from "vitest";
import { runReportSchema } from "../../contract/final-report.ts";
import { NOT_CURRENT_REASONS, SKIP_REASONS, TASK_FAILURE_CATEGORIES } from "../../contract/reasons.ts";
import { ROUTES } from "../../contract/tally.ts";
import { classifyInventoryRow } from "../../steps/domain/classify.ts";
import type { InventoryRow } from "../../steps/domain/inventory.ts";
import { buildRunReport, type RunReportMeta, renderSummary } from "../../steps/domain/run-report.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { independentCheckSection } from "../../steps/domain/verification-report.ts";
import { inventoryObject, reportRow } from "./helpers.ts";

// The summary is what an operator reads at the end of a change window (CLI, console, notifications): these tests
// pin its exact words and numbers, section by section.

const META: RunReportMeta = {
  bucket: "src",
  kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/k",
  startedAt: new Date("2026-01-01T00:00:00Z"),
  finishedAt: new Date("2026-01-01T01:00:00Z"),
};

function classifyAll(tally: RunTally, objects: InventoryRow[]): void {
  for (const o of objects) tally.recordClassification(classifyInventoryRow(o), o);
}

/**
 * Four copies (one failing transiently twice, then for good on redrive), an archived and an SSE-C object, a
 * noncurrent version, and an object an earlier run made compliant; the redrive job recorded before its parent.
 */
function redrivenRun(): RunTally {
  const t = new RunTally();
  classifyAll(t, [
    inventoryObject("a"),
    inventoryObject("b"),
    inventoryObject("c"),
    inventoryObject("d"),
    inventoryObject("cold", { storageClass: "GLACIER", size: 2048 }),
    inventoryObject("c-key", { encryptionStatus: "SSE-C", size: 0 }),
    inventoryObject("old", { isLatest: false }),
  ]);
  t.recordDoneEarlier("run-early", { size: 100 });
  t.recordJob({
    operation: "copy",
    jobId: "job-b",
    storageClass: "STANDARD",
    manifestRows: 2,
    redriveOf: "job-a",
    attempt: 2,
  });
  t.recordJob({ operation: "copy", jobId: "job-a", storageClass: "STANDARD", manifestRows: 4 });
  t.recordReportRow("job-a", reportRow("a", "succeeded"));
  t.recordReportRow("job-a", reportRow("b", "succeeded"));
  t.recordReportRow("job-a", reportRow("c", "failed", 503, "SlowDown"));
  t.recordReportRow("job-a", reportRow("d", "failed", 503, "SlowDown"));
  t.recordReportRow("job-b", reportRow("c", "succeeded"));
  t.recordReportRow("job-b", reportRow("d", "failed", 403, "AccessDenied"));
  return t;
}

describe("renderSummary", () => {
  it("gives every section of a run with a redrive, skips, a failure, earlier work and warnings, in order", () => {
    const report = buildRunReport(redrivenRun(), { ...META, warnings: ["The inventory is 3 days old."] });
    const access = TASK_FAILURE_CATEGORIES["access-or-kms"].whatToDo;
    expect(renderSummary(report)).toBe(
      [
        "rekey finished with problems: s3://src",
        "Target key: arn:aws:kms:us-east-1:111122223333:key/k",
        "",
        "  Objects seen                                                  8",
        "  Re-encrypted                                                  3",
        "  Already compliant                                             0",
        "  Skipped                                                       2",
        "  Failed                                                        1",
        "  Gone since planning                                           0",
        "  Changed since planning, compliant through default encryption  0",
        "  Done by earlier runs (not by this one)                        1",
        "  Not current (versions, delete markers)                        1",
        "",
        "By route:",
        `  ${ROUTES.copy}: 4 planned (400 B); 3 re-encrypted, 1 failed`,
        `  ${ROUTES["update-encryption"]}: 0 planned; 0 re-encrypted`,
        `  ${ROUTES["multipart-copy"]}: 0 planned; 0 re-encrypted`,
        "",
        "Done by earlier runs (counted apart from this run's own work):",
        "  earlier run run-early: 1 object(s) made compliant",
        "",
        "Attempts (tasks that failed transiently ran again):",
        "  attempt 1: job job-a (STANDARD): 4 object(s), 2 succeeded, 2 failed (2 transient, 0 systemic)",
        "  attempt 2: job job-b (STANDARD, redrive of job-a): 2 object(s), 1 succeeded, 1 failed (0 transient, 1 systemic)",
        "",
        "Skipped (not touched):",
        `  1 archived (2.0 KiB): ${SKIP_REASONS.archived.whatToDo}`,
        `  1 sse-c: ${SKIP_REASONS["sse-c"].whatToDo}`,
        "",
        "Failed:",
        `  1 access-or-kms: ${access}`,
        "",
        "Warnings:",
        "  The inventory is 3 days old.",
        "",
      ].join("\n"),
    );
  });

  it("names a copy job's class STANDARD when the job does not record one (jobs from before classes were recorded)", () => {
    const report = buildRunReport(redrivenRun(), META);
    const jobs = report.jobs.map(({ storageClass: _, ...job }) => job);
    expect(renderSummary({ ...report, jobs })).toContain("\n  attempt 1: job job-a (STANDARD): 4 object(s)");
    const ia = report.jobs.map((job) => ({ ...job, storageClass: "STANDARD_IA" as const }));
    expect(renderSummary({ ...report, jobs: ia })).toContain("\n  attempt 1: job job-a (STANDARD_IA): 4 object(s)");
  });

  it("says a bucket with skipped objects still needs attention, and a clean one is done", () => {
    const skipped = new RunTally();
    classifyAll(skipped, [
      inventoryObject("cold", { storageClass: "GLACIER" }),
      inventoryObject("ssec", { encryptionStatus: "SSE-C" }),
    ]);
    expect(renderSummary(buildRunReport(skipped, META)).split("\n")[0]).toBe(
      "rekey finished: s3://src; 2 current object(s) skipped still need attention (see Skipped)",
    );
    const clean = new RunTally();
    classifyAll(clean, [inventoryObject("a")]);
    clean.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 1 });
    clean.recordReportRow("j", reportRow("a", "succeeded"));
    const text = renderSummary(buildRunReport(clean, { ...META, reportLocation: "s3://work/reports/r.json" }));
    expect(text.split("\n")[0]).toBe(
      "rekey finished: s3://src; every current object it saw is re-encrypted or was already compliant",
    );
    expect(text).not.toContain("Attempts");
    expect(text).not.toContain("Skipped (not touched)");
    expect(text).not.toContain("Warnings");
    expect(text).not.toContain("Done by earlier runs (counted");
    expect(text).not.toContain("Failed:");
    expect(text).not.toContain("Counts do not reconcile");
    expect(text.endsWith("\n\nFull report: s3://work/reports/r.json\n")).toBe(true);
  });

  it("calls a run with problems when a copy is still pending or the independent check found an object", () => {
    const pending = new RunTally();
    classifyAll(pending, [inventoryObject("a")]);
    pending.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 1 });
    const text = renderSummary(buildRunReport(pending, META));
    expect(text.split("\n")[0]).toBe("rekey finished with problems: s3://src");
    expect(text).toMatch(/\n {2}Still pending {3,}1\n/);
    expect(text).toContain("1\n\nBy route:");
    expect(text).toContain(" re-encrypted\n\nCounts do not reconcile:\n  Job j: no completion report was read.\n");

    const clean = new RunTally();
    classifyAll(clean, [inventoryObject("a")]);
    clean.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 1 });
    clean.recordReportRow("j", reportRow("a", "succeeded"));
    const checked = (failing: number) =>
      buildRunReport(clean, {
        ...META,
        independentCheck: independentCheckSection({
          method: "head-planned-objects",
          startedAt: "2026-01-01T00:50:00.000Z",
          finishedAt: "2026-01-01T00:51:00.000Z",
          examined: 1,
          unexamined: 0,
          counts: { "left-non-compliant": failing, "written-after-planning": 0, "not-fixable": 0 },
          findings:
            failing > 0
              ? [{ key: "a", verdict: "left-non-compliant", found: "NOT-SSE class=STANDARD", reason: "r" }]
              : [],
          listJobs: [],
        }),
      });
    expect(checked(1).independentCheck?.failing).toBe(1);
    expect(renderSummary(checked(1)).split("\n")[0]).toBe("rekey finished with problems: s3://src");
    expect(renderSummary(checked(0)).split("\n")[0]).toMatch(/^rekey finished: s3:\/\/src; every current object/);
  });

  it("names the jobs this run reused from an earlier run, with their creation time where known", () => {
    const t = new RunTally();
    classifyAll(t, [inventoryObject("a"), inventoryObject("b")]);
    t.recordDoneEarlier("run-old", { size: 1 });
    t.recordJob({
      operation: "copy",
      jobId: "job-1",
      storageClass: "STANDARD",
      manifestRows: 1,
      createdBy: "run-old",
      createdAt: "2026-01-01T00:00:00.000Z",
    });
    t.recordJob({ operation: "copy", jobId: "job-2", storageClass: "STANDARD", manifestRows: 1, createdBy: "run-old" });
    t.recordReportRow("job-1", reportRow("a", "succeeded"));
    t.recordReportRow("job-2", reportRow("b", "succeeded"));
    const report = buildRunReport(t, META);
    expect(report.earlierRuns).toStrictEqual([
      {
        runId: "run-old",
        objects: 3,
        reusedJobs: [{ jobId: "job-1", createdAt: "2026-01-01T00:00:00.000Z" }, { jobId: "job-2" }],
      },
    ]);
    expect(renderSummary(report)).toContain(
      "\n  earlier run run-old: 3 object(s) made compliant; this run reused its job job-1 created 2026-01-01T00:00:00.000Z, job job-2\n",
    );
  });
  it("aligns the counts on the widest number and lists every settled outcome of a route", () => {
    const t = new RunTally();
    classifyAll(
      t,
      Array.from({ length: 1200 }, (_, i) => inventoryObject(`v${i}`, { isLatest: false })),
    );
    for (const key of ["big1", "big2", "big3", "big4", "big5", "big6"]) {
      t.recordClassification({ kind: "large-copy", storageClass: "STANDARD" }, { key, size: 6e9 });
    }
    t.recordLargeCopies({
      reencrypted: 1,
      "already-compliant": 1,
      "changed-during-copy": 1,
      gone: 1,
      skipped: 1,
      failed: 1,
    });
    const report = buildRunReport(t, META);
    const text = renderSummary(report);
    expect(text).toContain("\n  Objects seen                                                  1,206\n");
    expect(text).toContain("\n  Re-encrypted                                                      1\n");
    expect(text).toContain(
      `\n  ${ROUTES["multipart-copy"]}: 6 planned (33.5 GiB); 1 re-encrypted, 1 already compliant, 2 failed, 1 gone, 1 skipped\n`,
    );
    // The multipart copy step reports no per-object failure samples: the categories still appear, with none.
    expect(report.failed).toStrictEqual([
      {
        category: "precondition",
        count: 1,
        summary: TASK_FAILURE_CATEGORIES.precondition.summary,
        whatToDo: TASK_FAILURE_CATEGORIES.precondition.whatToDo,
        samples: [],
      },
      {
        category: "other",
        count: 1,
        summary: TASK_FAILURE_CATEGORIES.other.summary,
        whatToDo: TASK_FAILURE_CATEGORIES.other.whatToDo,
        samples: [],
      },
    ]);
  });

  it("says which copies were refused as changed since planning, on their route", () => {
    const t = new RunTally();
    classifyAll(t, [inventoryObject("a"), inventoryObject("b")]);
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 2 });
    t.recordReportRow("j", reportRow("a", "succeeded"));
    t.recordReportRow("j", reportRow("b", "failed", 412, "PreconditionFailed"), {
      exists: true,
      compliant: true,
      found: "SSE-KMS key=k bucketKey=true",
    });
    expect(renderSummary(buildRunReport(t, META))).toMatch(
      /: 2 planned \(200 B\); 1 re-encrypted, 1 changed since planning \(compliant, not copied\)\n/,
    );
  });

  it("names an encryption update job's attempts by operation", () => {
    const t = new RunTally();
    classifyAll(t, [inventoryObject("s3", { encryptionStatus: "SSE-S3" })]);
    t.recordJob({ operation: "update-encryption", jobId: "u1", manifestRows: 1 });
    t.recordReportRow("u1", reportRow("s3", "failed", 503, "SlowDown"));
    t.recordJob({ operation: "update-encryption", jobId: "u2", manifestRows: 1, redriveOf: "u1" });
    t.recordReportRow("u2", reportRow("s3", "succeeded"));
    expect(renderSummary(buildRunReport(t, META))).toContain(
      "\n  attempt 1: job u1 (encryption update): 1 object(s), 0 succeeded, 1 failed (1 transient, 0 systemic)\n  attempt 2: job u2 (encryption update, redrive of u1): 1 object(s), 1 succeeded, 0 failed (0 transient, 0 systemic)\n",
    );
  });
});

describe("buildRunReport", () => {
  it("carries the execution, the inventory and the warnings, and leaves out what it was not given", () => {
    const full = buildRunReport(redrivenRun(), {
      ...META,
      executionArn: "arn:aws:states:us-east-1:111122223333:execution:rekey:run-1",
      reportLocation: "s3://work/reports/run-1/report.json",
      inventory: { manifestKey: "inv/src/cfg/2025-12-31T00-00Z/manifest.json", creationTimestamp: new Date(0) },
      warnings: ["w"],
    });
    expect(full).toMatchObject({
      executionArn: "arn:aws:states:us-east-1:111122223333:execution:rekey:run-1",
      reportLocation: "s3://work/reports/run-1/report.json",
      inventory: {
        manifestKey: "inv/src/cfg/2025-12-31T00-00Z/manifest.json",
        creationTimestamp: "1970-01-01T00:00:00.000Z",
      },
      warnings: ["w"],
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T01:00:00.000Z",
    });
    expect(full.notCurrent).toEqual([
      {
        reason: "noncurrent-version",
        count: 1,
        bytes: 100,
        whatToDo: NOT_CURRENT_REASONS["noncurrent-version"].whatToDo,
      },
    ]);
    expect(full.failed).toEqual([
      {
        category: "access-or-kms",
        count: 1,
        summary: TASK_FAILURE_CATEGORIES["access-or-kms"].summary,
        whatToDo: TASK_FAILURE_CATEGORIES["access-or-kms"].whatToDo,
        samples: [expect.objectContaining({ key: "d", httpStatus: 403, errorCode: "AccessDenied" })],
      },
    ]);
    const bare = buildRunReport(redrivenRun(), META);
    for (const field of ["executionArn", "reportLocation", "inventory", "independentCheck", "copiedDirectly"]) {
      expect(field in bare, field).toBe(false);
    }
    expect(bare.warnings).toEqual([]);
    expect(runReportSchema.parse(bare)).toEqual(bare);
  });

  it("gives a reason with no sample keys for objects the multipart copy skipped after planning", () => {
    const t = new RunTally();
    t.recordClassification({ kind: "large-copy", storageClass: "STANDARD" }, { key: "big", size: 6e9 });
    t.recordLargeCopies({
      reencrypted: 0,
      "already-compliant": 0,
      "changed-during-copy": 0,
      failed: 0,
      gone: 0,
      skipped: 1,
    });
    const report = buildRunReport(t, META);
    expect(report.skipped).toEqual([
      { reason: "changed-before-copy", count: 1, bytes: 0, ...SKIP_REASONS["changed-before-copy"], sampleKeys: [] },
    ]);
  });

  it("judges the counts as final: a job whose report was never read is a problem, not a pass", () => {
    const t = new RunTally();
    classifyAll(t, [inventoryObject("a")]);
    t.recordJob({ operation: "copy", jobId: "j", storageClass: "STANDARD", manifestRows: 1 });
    expect(t.reconcile().ok).toBe(true);
    const report = buildRunReport(t, META);
    expect(report.reconciliation).toEqual({
      ok: false,
      problems: ["Job j: no completion report was read.", "1 planned copies have no outcome yet."],
    });
  });
});

describe("the inventory a plan was made from", () => {
  it("names the delivery and the engine that filtered it, with why", () => {
    const report = buildRunReport(new RunTally(), {
      ...META,
      inventory: {
        manifestKey: "inv/src/all/2026-01-01T00-00Z/manifest.json",
        creationTimestamp: new Date("2026-01-01T00:00:00Z"),
        engine: { name: "athena", why: "asked for in the run request (3 data file(s), 1.0 KiB compressed)" },
      },
    });
    expect(runReportSchema.parse(report).inventory?.engine?.name).toBe("athena");
    expect(renderSummary(report).split("\n")[2]).toBe(
      "Planned from: inv/src/all/2026-01-01T00-00Z/manifest.json, by the athena engine (asked for in the run request (3 data file(s), 1.0 KiB compressed))",
    );
  });

  it("says nothing of an engine where the plan came from generated lists", () => {
    expect(renderSummary(buildRunReport(new RunTally(), META))).not.toMatch(/Planned from/);
  });
});
