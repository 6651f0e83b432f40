import { describe, expect, it } from "vitest";
import { fleetRow, fleetTable, type RunStatusForFleet, rollUp } from "../../cli/fleet-rollup.ts";
import type { FinalReportOutput } from "../../contract/final-report.ts";

function report(outcome: "succeeded" | "failed", t: Partial<FinalReportOutput["totals"]>): FinalReportOutput {
  return {
    outcome,
    bucket: "b",
    reportLocation: "s3://w/r.json",
    summaryLocation: "s3://w/s.txt",
    summary: "",
    totals: {
      seen: 0,
      reencrypted: 0,
      alreadyCompliant: 0,
      skipped: 0,
      failed: 0,
      gone: 0,
      notCurrent: 0,
      pending: 0,
      changed: 0,
      doneEarlier: 0,
      ...t,
    },
  };
}

function run(over: Partial<RunStatusForFleet>): RunStatusForFleet {
  return {
    executionArn: "arn:aws:states:us-east-1:111122223333:execution:rekey:x",
    status: "SUCCEEDED",
    currentState: undefined,
    jobs: [],
    progress: undefined,
    report: undefined,
    error: undefined,
    cause: undefined,
    ...over,
  };
}

describe("fleet roll-up", () => {
  const rows = [
    fleetRow(
      { bucket: "a", name: "a-1" },
      run({ report: report("succeeded", { reencrypted: 7, alreadyCompliant: 2, skipped: 1 }) }),
      false,
    ),
    fleetRow({ bucket: "b", name: "b-1" }, run({ report: report("failed", { reencrypted: 3, failed: 2 }) }), false),
    fleetRow(
      { bucket: "c", name: "c-1" },
      run({
        status: "RUNNING",
        currentState: "Wait for copy jobs",
        jobs: [
          { storageClass: "STANDARD", total: 100, succeeded: 40, failed: 1 },
          { storageClass: "encryption update", total: 10, succeeded: 10, failed: 0 },
        ],
        progress: { secondsLeft: 120 },
      }),
      false,
    ),
    fleetRow({ bucket: "d", name: "d-1" }, run({ status: "FAILED", error: "PreflightBlocked", cause: "acls" }), false),
    fleetRow({ bucket: "e", name: "e-1" }, undefined, false),
  ];

  it("takes an ended run's counts from its report, a running one's from its jobs", () => {
    expect(rows[0]).toMatchObject({
      status: "SUCCEEDED",
      outcome: "succeeded",
      reencrypted: 7,
      alreadyCompliant: 2,
      skipped: 1,
    });
    expect(rows[2]).toMatchObject({ reencrypted: 50, failed: 1, secondsLeft: 120, currentState: "Wait for copy jobs" });
    expect(rows[2]?.routes.map((r) => r.route)).toEqual(["STANDARD", "encryption update"]);
    expect(rows[3]).toMatchObject({ status: "FAILED", error: "PreflightBlocked: acls" });
    expect(rows[4]).toMatchObject({ status: "QUEUED", reencrypted: 0 });
    expect(fleetRow({ bucket: "e", name: "e-1" }, undefined, true).status).toBe("NOT_STARTED");
  });

  it("adds the buckets up: counts, states, runs that failed (a report that failed counts), the longest time left", () => {
    const totals = rollUp(rows);
    expect(totals).toEqual({
      buckets: 5,
      byStatus: { SUCCEEDED: 2, RUNNING: 1, FAILED: 1, QUEUED: 1 },
      succeeded: 1,
      failedRuns: 2,
      reencrypted: 7 + 3 + 50,
      alreadyCompliant: 2,
      skipped: 1,
      failedObjects: 2 + 1,
      secondsLeft: 120,
    });
  });

  it("prints a line per bucket and the totals", () => {
    const text = fleetTable(rows, rollUp(rows));
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^BUCKET\s+STATE/);
    expect(lines.find((l) => l.startsWith("b "))).toContain("done, with failures");
    expect(lines.find((l) => l.startsWith("c "))).toContain("STANDARD 41/100");
    expect(lines.at(-1)).toMatch(/^TOTAL \(5\).*60.*1 run\(s\) succeeded, 2 failed or stopped/);
  });
});
