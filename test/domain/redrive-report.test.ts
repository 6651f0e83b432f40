import { describe, expect, it } from "vitest";
import { TASK_FAILURE_CATEGORIES } from "../../contract/reasons.ts";
import { classifyInventoryRow } from "../../steps/domain/classify.ts";
import { buildRunReport, renderSummary } from "../../steps/domain/run-report.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { inventoryObject, reportRow } from "./helpers.ts";

/** Three attempts at four objects: two throttled at first, one of them throttled again, then all done but one. */
function redrivenTally(): RunTally {
  const tally = new RunTally();
  for (const key of ["a", "b", "c", "d"])
    tally.recordClassification(classifyInventoryRow(inventoryObject(key)), inventoryObject(key));
  tally.recordJob({ operation: "copy", jobId: "job-1", storageClass: "STANDARD", manifestRows: 4 });
  tally.recordReportRow("job-1", reportRow("a", "succeeded"));
  tally.recordReportRow("job-1", reportRow("b", "failed", 503, "SlowDown"));
  tally.recordReportRow("job-1", reportRow("c", "failed", 500, "InternalError"));
  tally.recordReportRow("job-1", reportRow("d", "failed", 403, "AccessDenied"));
  tally.recordJob({
    operation: "copy",
    jobId: "job-2",
    storageClass: "STANDARD",
    manifestRows: 2,
    redriveOf: "job-1",
    attempt: 2,
  });
  tally.recordReportRow("job-2", reportRow("b", "succeeded"));
  tally.recordReportRow("job-2", reportRow("c", "failed", 503, "SlowDown"));
  tally.recordJob({
    operation: "copy",
    jobId: "job-3",
    storageClass: "STANDARD",
    manifestRows: 1,
    redriveOf: "job-2",
    attempt: 3,
  });
  tally.recordReportRow("job-3", reportRow("c", "failed", 503, "SlowDown"));
  return tally;
}

describe("a tally with redrive jobs", () => {
  it("counts each object once, by its last attempt", () => {
    const { totals } = redrivenTally().reconcile({ final: true });
    expect(totals).toMatchObject({ seen: 4, reencrypted: 2, failed: 2, pending: 0 });
    expect(redrivenTally().failedByCategory()).toEqual({ "throttled-or-transient": 1, "access-or-kms": 1 });
  });

  it("counts the copy route's objects once too", () => {
    const copy = redrivenTally()
      .routes()
      .find((r) => r.route === "copy");
    expect(copy).toMatchObject({ planned: 4, reencrypted: 2, failed: 2 });
  });

  it("shows each attempt in the report and the summary", () => {
    const report = buildRunReport(redrivenTally(), {
      bucket: "src",
      kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/k",
      startedAt: new Date(0),
      finishedAt: new Date(1000),
    });
    expect(report.jobs.map((j) => [j.jobId, j.attempt, j.redriveOf])).toEqual([
      ["job-1", 1, undefined],
      ["job-2", 2, "job-1"],
      ["job-3", 3, "job-2"],
    ]);
    const summary = renderSummary(report);
    expect(summary).toContain(
      "attempt 1: job job-1 (STANDARD): 4 object(s), 1 succeeded, 3 failed (2 transient, 1 systemic)",
    );
    expect(summary).toContain(
      "attempt 2: job job-2 (STANDARD, redrive of job-1): 2 object(s), 1 succeeded, 1 failed (1 transient, 0 systemic)",
    );
    expect(summary).toContain("attempt 3: job job-3 (STANDARD, redrive of job-2): 1 object(s), 0 succeeded, 1 failed");
  });

  it("no longer tells the operator to run rekey again to retry throttled tasks", () => {
    const advice = TASK_FAILURE_CATEGORIES["throttled-or-transient"].whatToDo;
    expect(advice).not.toMatch(/Run rekey again to retry/);
    expect(advice).toMatch(/does not retry them/);
  });
});
