import { describe, expect, it } from "vitest";
import type { BucketCheckFile } from "../../contract/verification.ts";
import { classifyInventoryRow } from "../../steps/domain/classify.ts";
import { buildRunReport, renderSummary } from "../../steps/domain/run-report.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { copiedDirectlySection, independentCheckSection } from "../../steps/domain/verification-report.ts";

const check = (counts: BucketCheckFile["counts"], findings: BucketCheckFile["findings"]): BucketCheckFile => ({
  method: "head-planned-objects",
  startedAt: "2026-12-02T10:00:00.000Z",
  finishedAt: "2026-12-02T10:01:00.000Z",
  examined: 3,
  unexamined: 0,
  counts,
  findings,
  listJobs: [],
});

function reportWith(file: BucketCheckFile) {
  const tally = new RunTally();
  const row = { bucket: "b", key: "done", isLatest: true, isDeleteMarker: false, size: 1, storageClass: "STANDARD" };
  tally.recordClassification(classifyInventoryRow({ ...row, encryptionStatus: "SSE-KMS" }), { key: "done", size: 1 });
  return buildRunReport(tally, {
    bucket: "b",
    kmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/k",
    startedAt: new Date("2026-12-02T09:00:00Z"),
    finishedAt: new Date("2026-12-02T10:02:00Z"),
    independentCheck: independentCheckSection(file),
    copiedDirectly: copiedDirectlySection({
      reencryptedBy: { "copy-object": 1, multipart: 2 },
      copiedWithCopyObject: ["é".repeat(3)],
    }),
  });
}

describe("the verification sections of the final report", () => {
  it("states the method and time of the independent check, and a run with a finding rekey could fix has problems", () => {
    const report = reportWith(
      check({ "left-non-compliant": 0, "written-after-planning": 1, "not-fixable": 0 }, [
        { key: "late", verdict: "written-after-planning", found: "SSE-S3 class=STANDARD", reason: "Written at …" },
      ]),
    );
    expect(report.independentCheck).toMatchObject({ method: "head-planned-objects", failing: 1, findingsOmitted: 0 });
    const summary = renderSummary(report);
    expect(summary.split("\n")[0]).toBe("rekey finished with problems: s3://b");
    expect(summary).toContain(
      "Independent check (head-planned-objects: HeadObject of every object the plan routed to a job or a direct copy), 2026-12-02T10:00:00.000Z to 2026-12-02T10:01:00.000Z:",
    );
    expect(summary).toContain('"late" written-after-planning: SSE-S3 class=STANDARD. Written at …');
    expect(summary).toContain("Copied directly by rekey: 1 with one CopyObject");
  });

  it("does not count what rekey cannot fix against the run", () => {
    const report = reportWith(
      check({ "left-non-compliant": 0, "written-after-planning": 0, "not-fixable": 1 }, [
        { key: "c", verdict: "not-fixable", found: "SSE-C", reason: "r" },
      ]),
    );
    expect(report.independentCheck?.failing).toBe(0);
    expect(renderSummary(report).split("\n")[0]).not.toContain("problems");
  });
});
