import { describe, expect, it } from "vitest";
import { RunTally } from "../../steps/domain/tally.ts";
import { reportRow } from "./helpers.ts";

/** Two jobs' report rows, in the order verification reads them; the first job's rows span two slices below. */
const rows: { jobId: string; row: ReturnType<typeof reportRow> }[] = [
  { jobId: "j1", row: reportRow("a", "succeeded") },
  { jobId: "j1", row: reportRow("b", "failed", 403, "AccessDenied", "AccessDenied for b") },
  { jobId: "j1", row: reportRow("c", "succeeded") },
  { jobId: "j1", row: reportRow("d", "failed", 403, "AccessDenied", "AccessDenied for d") },
  { jobId: "j2", row: reportRow("e", "succeeded") },
  { jobId: "j2", row: reportRow("f", "failed", 500, "InternalError", "We encountered an internal error") },
];
const jobs = [
  { operation: "copy" as const, jobId: "j1", storageClass: "STANDARD" as const, manifestRows: 4 },
  { operation: "update-encryption" as const, jobId: "j2", manifestRows: 2 },
];

/** A tally of report rows only, as a slice keeps it: its jobs registered, its rows recorded. */
function slice(part: typeof rows): RunTally {
  const tally = new RunTally(undefined, { sampleLimit: 1 });
  for (const job of jobs) if (part.some((r) => r.jobId === job.jobId)) tally.recordJob(job);
  for (const { jobId, row } of part) tally.recordReportRow(jobId, row);
  return tally;
}

describe("RunTally.mergeReportRows", () => {
  it("adds slices' row counts into the jobs of the same id: the tally of reading every report in one pass", () => {
    const whole = new RunTally(undefined, { sampleLimit: 1 });
    for (const job of jobs) whole.recordJob(job);
    for (const { jobId, row } of rows) whole.recordReportRow(jobId, row);
    for (const cut of [
      [0, 6],
      [0, 3, 6],
      [0, 1, 2, 3, 4, 5, 6],
    ]) {
      const merged = new RunTally(undefined, { sampleLimit: 1 });
      for (const job of jobs) merged.recordJob(job);
      const parts = cut.slice(1).map((to, i) => slice(rows.slice(cut[i], to)).toJSON());
      merged.mergeReportRows(parts);
      expect(merged.toJSON(), `cut at ${cut.join(",")}`).toEqual(whole.toJSON());
    }
    // The first failure sample of each category, in reading order.
    expect(whole.snapshot.failureSamples["access-or-kms"]?.map((s) => s.key)).toEqual(["b"]);
    expect(whole.snapshot.jobs.map((j) => [j.jobId, j.succeeded])).toEqual([
      ["j1", 2],
      ["j2", 1],
    ]);
  });

  it("sums the rows each slice found gone or changed since planning into the job of the same id", () => {
    const gone = () => reportRow("g", "failed", 404, "NoSuchKey", "gone");
    const changed = () => reportRow("h", "failed", 412, "PreconditionFailed", "changed");
    const part = (n: number) => {
      const t = new RunTally();
      t.recordJob(jobs[0] as (typeof jobs)[number]);
      for (let i = 0; i < n; i++) {
        t.recordReportRow("j1", gone(), { exists: false });
        t.recordReportRow("j1", changed(), { exists: true, compliant: true, found: "SSE-KMS" });
        t.recordReportRow("j1", changed(), { exists: true, compliant: true, found: "SSE-KMS" });
      }
      return t.toJSON();
    };
    const merged = new RunTally();
    merged.mergeReportRows([part(1), part(2)]);
    expect(merged.snapshot.jobs).toMatchObject([{ jobId: "j1", gone: 3, changed: 6, succeeded: 0 }]);
  });

  it("registers a job the tally did not have, and leaves the planned counts as they were", () => {
    const plan = new RunTally();
    plan.recordClassification({ kind: "copy", storageClass: "STANDARD" }, { key: "a", size: 3 });
    const before = plan.toJSON();
    plan.mergeReportRows([slice(rows.slice(0, 2)).toJSON()]);
    expect(plan.snapshot.seen).toEqual(before.seen);
    expect(plan.snapshot.copyPlanned).toEqual(before.copyPlanned);
    expect(plan.snapshot.jobs).toMatchObject([{ jobId: "j1", manifestRows: 4, succeeded: 1, reported: true }]);
  });

  it("refuses a slice whose job differs from the one recorded under the same id", () => {
    const merged = new RunTally();
    merged.recordJob({ ...jobs[0], manifestRows: 5 } as (typeof jobs)[0]);
    expect(() => merged.mergeReportRows([slice(rows.slice(0, 1)).toJSON()])).toThrow(/recorded twice/);
  });
});
