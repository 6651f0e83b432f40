import { describe, expect, it } from "vitest";
import { EarlierWork } from "../../steps/domain/earlier-work.ts";
import { buildRunReport, renderSummary } from "../../steps/domain/run-report.ts";
import { RunTally } from "../../steps/domain/tally.ts";

const first = { runId: "run-1", jobId: "job-1" };
const second = { runId: "run-2", jobId: "job-2" };
const jobCreated = new Date("2026-01-10T12:00:00Z");

describe("EarlierWork: what earlier jobs already did", () => {
  it("a version written before the job was created is done; one written after is planned", () => {
    const work = new EarlierWork();
    work.addSucceeded("a", first, jobCreated);
    expect(work.verdict("a", "2026-01-10T11:59:59.000Z")).toEqual({ kind: "done", by: first });
    expect(work.verdict("a", "2026-01-10T12:00:00.000Z")).toEqual({ kind: "done", by: first });
    expect(work.verdict("a", "2026-01-10T12:00:01.000Z")).toEqual({ kind: "plan" });
    expect(work.verdict("b", "2026-01-01T00:00:00.000Z")).toEqual({ kind: "plan" });
  });

  it("without a last-modified date, HeadObject decides", () => {
    const work = new EarlierWork();
    work.addSucceeded("a", first, jobCreated);
    expect(work.verdict("a", undefined)).toEqual({ kind: "check", by: first });
  });

  it("the later job's success on a key wins", () => {
    const work = new EarlierWork();
    work.addSucceeded("a", first, jobCreated);
    work.addSucceeded("a", second, new Date("2026-01-11T00:00:00Z"));
    work.addSucceeded("a", first, jobCreated);
    expect(work.verdict("a", "2026-01-10T18:00:00.000Z")).toEqual({ kind: "done", by: second });
  });

  it("a job that left no report makes every object it may have done a check", () => {
    const work = new EarlierWork();
    work.addUnreported(first);
    expect(work.verdict("x", "2026-01-01T00:00:00.000Z")).toEqual({ kind: "check", by: first });
    work.addUnreported(second);
    expect(work.verdict("x", "2026-01-01T00:00:00.000Z")).toEqual({ kind: "check" });
  });

  it("holds at most its limit of keys and counts the rest, which are planned again", () => {
    const work = new EarlierWork(2);
    for (const key of ["a", "b", "c", "d"]) work.addSucceeded(key, first, jobCreated);
    expect(work.size).toEqual({ keys: 2, dropped: 2, unreportedJobs: 0 });
    expect(work.verdict("b", "2026-01-01T00:00:00.000Z").kind).toBe("done");
    expect(work.verdict("c", "2026-01-01T00:00:00.000Z").kind).toBe("plan");
  });
});

describe("the tally and report of work done earlier", () => {
  it("counts objects left out of the plan and reused jobs' work apart, per earlier run, and still reconciles", () => {
    const tally = new RunTally();
    tally.recordDoneEarlier("run-1", { size: 10 });
    tally.recordDoneEarlier("run-1", { size: 10 });
    tally.recordClassification({ kind: "copy", storageClass: "STANDARD" }, { key: "own", size: 5 });
    tally.recordClassification({ kind: "update-encryption" }, { key: "reused", size: 5 });
    tally.recordJob({ jobId: "mine", operation: "copy", storageClass: "STANDARD", manifestRows: 1 });
    tally.recordJob({
      jobId: "theirs",
      operation: "update-encryption",
      manifestRows: 1,
      createdBy: "run-0",
      createdAt: "2026-01-09T00:00:00.000Z",
    });
    const row = (key: string) =>
      ({ bucket: "b", key, rawKey: key, taskStatus: "succeeded", resultMessage: "" }) as const;
    tally.recordReportRow("mine", row("own"));
    tally.recordReportRow("theirs", row("reused"));
    tally.markJobReported("mine");
    tally.markJobReported("theirs");

    const result = tally.reconcile({ final: true });
    expect(result.problems).toEqual([]);
    expect(result.totals).toMatchObject({ seen: 4, reencrypted: 1, doneEarlier: 3, pending: 0 });
    const update = tally.routes().find((r) => r.route === "update-encryption");
    expect(update).toMatchObject({ reencrypted: 0, doneEarlier: 1 });

    const report = buildRunReport(tally, {
      bucket: "b",
      kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/k",
      startedAt: new Date("2026-01-10T00:00:00Z"),
      finishedAt: new Date("2026-01-10T01:00:00Z"),
    });
    expect(report.earlierRuns).toEqual([
      { runId: "run-1", objects: 2, reusedJobs: [] },
      { runId: "run-0", objects: 1, reusedJobs: [{ jobId: "theirs", createdAt: "2026-01-09T00:00:00.000Z" }] },
    ]);
    const summary = renderSummary(report);
    expect(summary).toMatch(/Done by earlier runs \(not by this one\)\s+3/);
    expect(summary).toContain("earlier run run-1: 2 object(s) made compliant");
    expect(summary).toContain(
      "earlier run run-0: 1 object(s) made compliant; this run reused its job theirs created 2026-01-09T00:00:00.000Z",
    );
  });
});
