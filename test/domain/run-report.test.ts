import { describe, expect, it } from "vitest";
import { VerificationFailedError } from "../../contract/errors.ts";
import { runReportSchema } from "../../contract/final-report.ts";
import { LARGE_COPY_OUTCOMES, type LargeCopyOutcomeKind } from "../../contract/large-objects.ts";
import { classifyInventoryRow } from "../../steps/domain/classify.ts";
import { buildRunReport, renderSummary } from "../../steps/domain/run-report.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { inventoryObject, reportRow } from "./helpers.ts";

/** A small run: 3 STANDARD copies, 1 STANDARD_IA copy, SSE-S3, GLACIER, a noncurrent version. */
function plannedTally(): RunTally {
  const tally = new RunTally();
  const objects = [
    inventoryObject("a"),
    inventoryObject("b"),
    inventoryObject("c"),
    inventoryObject("ia", { storageClass: "STANDARD_IA", size: 50 }),
    inventoryObject("c-key", { encryptionStatus: "SSE-C" }),
    inventoryObject("cold", { storageClass: "GLACIER" }),
    inventoryObject("old", { isLatest: false }),
  ];
  for (const o of objects) tally.recordClassification(classifyInventoryRow(o), o);
  tally.recordJob({ operation: "copy", jobId: "job-std", storageClass: "STANDARD", manifestRows: 3 });
  tally.recordJob({ operation: "copy", jobId: "job-ia", storageClass: "STANDARD_IA", manifestRows: 1 });
  return tally;
}

describe("RunTally", () => {
  it("reconciles a run where every object has an outcome", () => {
    const tally = plannedTally();
    tally.recordReportRow("job-std", reportRow("a", "succeeded"));
    tally.recordReportRow("job-std", reportRow("b", "succeeded"));
    tally.recordReportRow("job-std", reportRow("c", "failed", 404, "NoSuchKey"), { exists: false });
    tally.recordReportRow("job-ia", reportRow("ia", "failed", 403, "AccessDenied"));

    const result = tally.assertReconciled();

    expect(result.totals).toEqual({
      seen: 7,
      reencrypted: 2,
      alreadyCompliant: 0,
      skipped: 2,
      failed: 1,
      gone: 1,
      notCurrent: 1,
      pending: 0,
      changed: 0,
      doneEarlier: 0,
    });
  });

  it("counts a 404 as gone only when the object is absent, and names the likely key encoding problem otherwise", () => {
    const tally = plannedTally();
    expect(() => tally.recordReportRow("job-std", reportRow("a", "failed", 404, "NoSuchKey"))).toThrow(
      VerificationFailedError,
    );
    const present = { exists: true, compliant: false, found: "none key=- bucketKey=false class=STANDARD" } as const;
    expect(tally.recordReportRow("job-std", reportRow("a", "failed", 404, "NoSuchKey"), present)).toMatchObject({
      outcome: "failed",
      category: "missing-but-present",
    });
    expect(tally.recordReportRow("job-std", reportRow("b", "failed", 404, "NotFound"), { exists: false })).toEqual({
      outcome: "gone",
    });
    tally.recordReportRow("job-std", reportRow("c", "succeeded"));
    tally.recordReportRow("job-ia", reportRow("ia", "succeeded"));

    const result = tally.assertReconciled();
    expect(result.totals).toMatchObject({ reencrypted: 2, gone: 1, failed: 1, changed: 0 });
    const built = buildRunReport(tally, {
      bucket: "src",
      kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      startedAt: new Date("2026-01-01T00:00:00Z"),
      finishedAt: new Date("2026-01-01T01:00:00Z"),
    });
    expect(built.failed).toMatchObject([{ category: "missing-but-present", count: 1, samples: [{ key: "a" }] }]);
    expect(renderSummary(built)).toMatch(/1 missing-but-present: .*key encoding/);
  });

  it("counts a copy refused as modified since planning as changed when compliant now, as a failure otherwise", () => {
    const tally = plannedTally();
    const refused = (key: string) => reportRow(key, "failed", 412, "PreconditionFailed");
    expect(() => tally.recordReportRow("job-std", refused("a"))).toThrow(VerificationFailedError);
    const compliant = {
      exists: true,
      compliant: true,
      found: "aws:kms key=k bucketKey=true class=STANDARD_IA",
    } as const;
    expect(tally.recordReportRow("job-std", refused("a"), compliant)).toEqual({ outcome: "changed" });
    const sseS3 = { exists: true, compliant: false, found: "AES256 key=- bucketKey=false class=STANDARD" } as const;
    expect(tally.recordReportRow("job-std", refused("b"), sseS3)).toMatchObject({
      outcome: "failed",
      category: "changed-not-compliant",
    });
    expect(tally.recordReportRow("job-std", refused("c"), { exists: false })).toEqual({ outcome: "gone" });
    tally.recordReportRow("job-ia", reportRow("ia", "succeeded"));

    const result = tally.assertReconciled();
    expect(result.totals).toEqual({
      seen: 7,
      reencrypted: 1,
      alreadyCompliant: 0,
      skipped: 2,
      failed: 1,
      gone: 1,
      notCurrent: 1,
      pending: 0,
      changed: 1,
      doneEarlier: 0,
    });
    const built = buildRunReport(tally, {
      bucket: "src",
      kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      startedAt: new Date("2026-01-01T00:00:00Z"),
      finishedAt: new Date("2026-01-01T01:00:00Z"),
    });
    expect(built.failed).toMatchObject([
      {
        category: "changed-not-compliant",
        count: 1,
        samples: [{ key: "b", message: expect.stringContaining("AES256") }],
      },
    ]);
    expect(built.routes[0]).toMatchObject({ route: "copy", changed: 1, failed: 1, gone: 1, reencrypted: 1 });
    const text = renderSummary(built);
    expect(text).toMatch(/Changed since planning, compliant through default encryption\s+1/);
    expect(text).toContain("finished with problems");
  });

  it("does not reconcile when a changed object is counted twice", () => {
    const tally = plannedTally();
    const refused = reportRow("a", "failed", 412, "PreconditionFailed");
    const compliant = { exists: true, compliant: true, found: "aws:kms" } as const;
    tally.recordReportRow("job-std", refused, compliant);
    tally.recordReportRow("job-std", refused, compliant);
    tally.recordReportRow("job-std", reportRow("b", "succeeded"));
    tally.recordReportRow("job-std", reportRow("c", "succeeded"));
    tally.recordReportRow("job-ia", reportRow("ia", "succeeded"));
    expect(tally.reconcile({ final: true }).problems.join(" ")).toContain(
      "report accounts for 4 (2 succeeded, 0 failed, 0 gone, 2 changed since planning); 1 extra",
    );
  });

  it("catches an object missing from a completion report", () => {
    const tally = plannedTally();
    tally.recordReportRow("job-std", reportRow("a", "succeeded"));
    tally.recordReportRow("job-std", reportRow("b", "succeeded"));
    tally.recordReportRow("job-ia", reportRow("ia", "succeeded"));

    const result = tally.reconcile({ final: true });

    expect(result.ok).toBe(false);
    expect(result.problems.join(" ")).toContain("Job job-std: manifest has 3 rows but the report accounts for 2");
    expect(() => tally.assertReconciled()).toThrow(VerificationFailedError);
  });

  it("catches a planned copy that never reached a manifest", () => {
    const tally = new RunTally();
    for (const key of ["a", "b"])
      tally.recordClassification(classifyInventoryRow(inventoryObject(key)), inventoryObject(key));
    tally.recordJob({ operation: "copy", jobId: "job-1", storageClass: "STANDARD", manifestRows: 1 });
    tally.recordReportRow("job-1", reportRow("a", "succeeded"));

    const result = tally.reconcile({ final: true });

    expect(result.ok).toBe(false);
    expect(result.problems[0]).toContain("2 STANDARD copies planned but the STANDARD job manifests hold 1 rows");
  });

  it("is not final while a job has not reported, but is consistent", () => {
    const tally = plannedTally();

    expect(tally.reconcile().ok).toBe(true);
    expect(tally.reconcile().totals.pending).toBe(4);
    expect(tally.reconcile({ final: true }).ok).toBe(false);
  });

  it("moves transient failures into a redrive job instead of counting them twice", () => {
    const tally = new RunTally();
    for (const key of ["a", "b"])
      tally.recordClassification(classifyInventoryRow(inventoryObject(key)), inventoryObject(key));
    tally.recordJob({ operation: "copy", jobId: "job-1", storageClass: "STANDARD", manifestRows: 2 });
    tally.recordReportRow("job-1", reportRow("a", "succeeded"));
    tally.recordReportRow("job-1", reportRow("b", "failed", 503, "SlowDown"));
    tally.recordJob({ operation: "copy", jobId: "job-2", storageClass: "STANDARD", manifestRows: 1, redrive: true });
    tally.recordReportRow("job-2", reportRow("b", "succeeded"));

    const result = tally.assertReconciled();

    expect(result.totals).toMatchObject({ seen: 2, reencrypted: 2, failed: 0 });
  });

  it("survives a round trip through JSON, as steps hand it on", () => {
    const tally = plannedTally();
    tally.recordReportRow("job-std", reportRow("a", "succeeded"));

    const restored = RunTally.fromJSON(JSON.parse(JSON.stringify(tally)));

    expect(restored.toJSON()).toEqual(tally.toJSON());
    expect(() => RunTally.fromJSON({ ...tally.toJSON(), jobs: "nope" })).toThrow();
  });

  it("records a job once when a step re-runs, and refuses a conflicting re-record", () => {
    const tally = plannedTally();
    tally.recordJob({ operation: "copy", jobId: "job-std", storageClass: "STANDARD", manifestRows: 3 });

    expect(tally.snapshot.jobs).toHaveLength(2);
    expect(() =>
      tally.recordJob({ operation: "copy", jobId: "job-std", storageClass: "STANDARD", manifestRows: 4 }),
    ).toThrow(VerificationFailedError);
  });

  it("refuses report rows of a job it does not know", () => {
    expect(() => plannedTally().recordReportRow("job-x", reportRow("a", "succeeded"))).toThrow(VerificationFailedError);
  });
});

describe("buildRunReport and renderSummary", () => {
  function finishedReport() {
    const tally = plannedTally();
    tally.recordReportRow("job-std", reportRow("a", "succeeded"));
    tally.recordReportRow("job-std", reportRow("b", "succeeded"));
    tally.recordReportRow("job-std", reportRow("c", "succeeded"));
    tally.recordReportRow("job-ia", reportRow("ia", "failed", 403, "AccessDenied"));
    return buildRunReport(tally, {
      bucket: "src",
      kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      startedAt: new Date("2026-01-01T00:00:00Z"),
      finishedAt: new Date("2026-01-01T01:00:00Z"),
      reportLocation: "s3://work-bucket/reports/exec-1/report.json",
    });
  }

  it("builds a versioned report that validates against its schema", () => {
    const r = finishedReport();

    expect(r.reportVersion).toBe(1);
    expect(runReportSchema.parse(JSON.parse(JSON.stringify(r)))).toEqual(r);
    expect(r.skipped.map((s) => [s.reason, s.count, s.sampleKeys])).toEqual([
      ["archived", 1, ["cold"]],
      ["sse-c", 1, ["c-key"]],
    ]);
    expect(r.failed).toMatchObject([
      { category: "access-or-kms", count: 1, samples: [{ key: "ia", httpStatus: 403 }] },
    ]);
    expect(r.copyPlanned).toEqual([
      { storageClass: "STANDARD", count: 3, bytes: 300 },
      { storageClass: "STANDARD_IA", count: 1, bytes: 50 },
    ]);
    expect(() => runReportSchema.parse({ ...r, reportVersion: 2 })).toThrow();
  });

  it("summarises bucket, key, counts, skip reasons with what to do, and where the report is", () => {
    const text = renderSummary(finishedReport());

    expect(text).toContain("finished with problems: s3://src");
    expect(text).toContain("arn:aws:kms:eu-west-1:123456789012:key/");
    expect(text).toMatch(/Re-encrypted\s+3/);
    expect(text).toMatch(/Failed\s+1/);
    expect(text).toContain("1 archived (100 B): Restore the objects");
    expect(text).toContain("1 access-or-kms: Stop and fix permissions");
    expect(text).toContain("Full report: s3://work-bucket/reports/exec-1/report.json");
    expect(text.split("\n").length).toBeLessThan(30);
  });

  it("gives a line per route with planned and settled counts, and no size where none is known", () => {
    const r = finishedReport();
    expect(r.routes).toEqual([
      {
        route: "copy",
        planned: 4,
        bytes: 350,
        reencrypted: 3,
        alreadyCompliant: 0,
        failed: 1,
        gone: 0,
        skipped: 0,
        changed: 0,
        doneEarlier: 0,
      },
      {
        route: "update-encryption",
        planned: 0,
        bytes: 0,
        reencrypted: 0,
        alreadyCompliant: 0,
        failed: 0,
        gone: 0,
        skipped: 0,
        changed: 0,
        doneEarlier: 0,
      },
      {
        route: "multipart-copy",
        planned: 0,
        bytes: 0,
        reencrypted: 0,
        alreadyCompliant: 0,
        failed: 0,
        gone: 0,
        skipped: 0,
        changed: 0,
        doneEarlier: 0,
      },
    ]);
    const text = renderSummary(r);
    expect(text).toMatch(
      /By route:\n {2}Copied in place by Batch Operations \(S3PutObjectCopy\).*: 4 planned \(350 B\); 3 re-encrypted, 1 failed\n/,
    );
    expect(text).toMatch(/Encryption updated by Batch Operations .*: 0 planned; 0 re-encrypted\n/);
  });
});

function largeCounts(counts: Partial<Record<LargeCopyOutcomeKind, number>>): Record<LargeCopyOutcomeKind, number> {
  return Object.fromEntries(LARGE_COPY_OUTCOMES.map((o) => [o, counts[o] ?? 0])) as Record<
    LargeCopyOutcomeKind,
    number
  >;
}

describe("RunTally with every route", () => {
  function routedTally(): RunTally {
    const tally = new RunTally();
    tally.recordClassification({ kind: "copy", storageClass: "STANDARD" }, { key: "c", size: 10 });
    tally.recordClassification({ kind: "update-encryption" }, { key: "u1", size: 20 });
    tally.recordClassification({ kind: "update-encryption" }, { key: "u2", size: 20 });
    tally.recordClassification({ kind: "large-copy", storageClass: "STANDARD" }, { key: "big1", size: 6e9 });
    tally.recordClassification({ kind: "large-copy", storageClass: "STANDARD" }, { key: "big2", size: 7e9 });
    tally.recordJob({ operation: "copy", jobId: "copy-1", storageClass: "STANDARD", manifestRows: 1 });
    tally.recordJob({ operation: "update-encryption", jobId: "update-1", manifestRows: 2 });
    return tally;
  }

  it("reconciles copies, encryption updates and multipart copies together", () => {
    const tally = routedTally();
    tally.recordReportRow("copy-1", reportRow("c", "succeeded"));
    tally.recordReportRow("update-1", reportRow("u1", "succeeded"));
    tally.recordReportRow("update-1", reportRow("u2", "failed", 400, "InvalidRequest"));
    tally.recordLargeCopies(largeCounts({ reencrypted: 1, "changed-during-copy": 1 }));
    const r = tally.assertReconciled();
    expect(r.totals).toMatchObject({ seen: 5, reencrypted: 3, failed: 2, pending: 0 });
    expect(tally.failedByCategory()).toEqual({ other: 1, precondition: 1 });
    expect(tally.snapshot.updatePlanned).toEqual({ count: 2, bytes: 40 });
  });

  it("counts unfinished multipart copies as pending, and an update job that lost rows as a problem", () => {
    const tally = routedTally();
    tally.recordReportRow("copy-1", reportRow("c", "succeeded"));
    tally.recordReportRow("update-1", reportRow("u1", "succeeded"));
    tally.markJobReported("update-1");
    tally.recordLargeCopies(largeCounts({ reencrypted: 1 }));
    const r = tally.reconcile({ final: true });
    expect(r.ok).toBe(false);
    expect(r.totals.pending).toBe(1);
    expect(r.problems.join(" ")).toMatch(/update-1: manifest has 2 rows but the report accounts for 1/);
  });

  it("counts multipart copies of objects deleted or changed to another encryption since planning as gone and skipped", () => {
    const tally = routedTally();
    tally.recordReportRow("copy-1", reportRow("c", "succeeded"));
    tally.recordReportRow("update-1", reportRow("u1", "succeeded"));
    tally.recordReportRow("update-1", reportRow("u2", "succeeded"));
    tally.recordLargeCopies(largeCounts({ gone: 1, skipped: 1 }));
    const r = tally.assertReconciled();
    expect(r.totals).toMatchObject({ seen: 5, reencrypted: 3, gone: 1, skipped: 1, failed: 0, pending: 0 });
    const built = buildRunReport(tally, {
      bucket: "src",
      kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      startedAt: new Date(0),
      finishedAt: new Date(1),
    });
    // Every skipped object has a reason in the report, also those the copy step skipped after planning.
    expect(built.skipped.map((s) => [s.reason, s.count])).toEqual([["changed-before-copy", 1]]);
    expect(built.skipped.reduce((n, s) => n + s.count, 0)).toBe(built.totals.skipped);
  });

  it("refuses an update job that does not match the plan", () => {
    const tally = new RunTally();
    tally.recordClassification({ kind: "update-encryption" }, { key: "u1", size: 1 });
    tally.recordJob({ operation: "update-encryption", jobId: "u", manifestRows: 3 });
    expect(tally.reconcile().problems.join(" ")).toMatch(
      /1 encryption updates planned but the update job manifests hold 3 rows/,
    );
  });

  it("reads tallies written before the routes existed", () => {
    const old = new RunTally().toJSON() as Record<string, unknown>;
    delete old.updatePlanned;
    delete old.largeCopyPlanned;
    delete old.largeCopy;
    expect(RunTally.fromJSON(old).snapshot.updatePlanned).toEqual({ count: 0, bytes: 0 });
  });
});
