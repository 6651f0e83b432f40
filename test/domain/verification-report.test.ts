import { describe, expect, it } from "vitest";
import { BUCKET_CHECK_METHODS, type BucketCheckFile } from "../../contract/verification.ts";
import { classifyInventoryRow } from "../../steps/domain/classify.ts";
import { buildRunReport, renderSummary } from "../../steps/domain/run-report.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import {
  copiedDirectlySection,
  independentCheckSection,
  renderVerification,
} from "../../steps/domain/verification-report.ts";

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

function reportWith(
  file: BucketCheckFile | undefined,
  direct = { reencryptedBy: { "copy-object": 1, multipart: 2 }, copiedWithCopyObject: ["é".repeat(3)] },
) {
  const tally = new RunTally();
  const row = { bucket: "b", key: "done", isLatest: true, isDeleteMarker: false, size: 1, storageClass: "STANDARD" };
  tally.recordClassification(classifyInventoryRow({ ...row, encryptionStatus: "SSE-KMS" }), { key: "done", size: 1 });
  return buildRunReport(tally, {
    bucket: "b",
    kmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/k",
    startedAt: new Date("2026-12-02T09:00:00Z"),
    finishedAt: new Date("2026-12-02T10:02:00Z"),
    ...(file ? { independentCheck: independentCheckSection(file) } : {}),
    copiedDirectly: copiedDirectlySection(direct),
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

describe("independentCheckSection and copiedDirectlySection", () => {
  const finding = (i: number) => ({
    key: `k${i}`,
    verdict: "left-non-compliant" as const,
    found: "SSE-S3",
    reason: "r",
  });

  it("describes the method and lists at most 100 findings, counting the rest as omitted", () => {
    const many = check(
      { "left-non-compliant": 120, "written-after-planning": 20, "not-fixable": 10 },
      Array.from({ length: 150 }, (_, i) => finding(i)),
    );
    const section = independentCheckSection(many);
    expect(section.description).toBe(BUCKET_CHECK_METHODS["head-planned-objects"]);
    expect(section.findings).toHaveLength(100);
    expect(section.findings[99]?.key).toBe("k99");
    expect(section.findingsOmitted).toBe(50);
    expect(section.failing).toBe(140);
    const few = check({ "left-non-compliant": 2, "written-after-planning": 0, "not-fixable": 0 }, [
      finding(0),
      finding(1),
    ]);
    expect(independentCheckSection(few)).toMatchObject({ findingsOmitted: 0, failing: 2 });
  });

  it("has no direct-copy section without direct copies, and copies the key list", () => {
    expect(copiedDirectlySection(undefined)).toBeUndefined();
    const keys = ["a"];
    const section = copiedDirectlySection({
      reencryptedBy: { "copy-object": 1, multipart: 0 },
      copiedWithCopyObject: keys,
    });
    expect(section).toEqual({ copyObject: 1, multipart: 0, copyObjectKeys: ["a"] });
    expect(section?.copyObjectKeys).not.toBe(keys);
  });
});

describe("renderVerification", () => {
  const counts = { "left-non-compliant": 1, "written-after-planning": 0, "not-fixable": 6 };
  const findings = [
    { key: "bad", verdict: "left-non-compliant" as const, found: "SSE-S3", reason: "missed" },
    ...Array.from({ length: 6 }, (_, i) => ({
      key: `c${i}`,
      verdict: "not-fixable" as const,
      found: "SSE-C",
      reason: "r",
    })),
  ];

  it("prints both sections, at most five keys each, and no findings rekey cannot fix", () => {
    const keys = ["k1", "k2", "k3", "k4", "k5", "k6"];
    const report = reportWith(
      { ...check(counts, findings), examined: 1234, unexamined: 2 },
      { reencryptedBy: { "copy-object": 6, multipart: 1000 }, copiedWithCopyObject: keys },
    );
    expect(renderVerification(report)).toEqual([
      "",
      "Copied directly by rekey: 6 with one CopyObject (keys a Batch manifest cannot carry), 1,000 part by part (over 5 GiB)",
      '  "k1"',
      '  "k2"',
      '  "k3"',
      '  "k4"',
      '  "k5"',
      "",
      `Independent check (head-planned-objects: ${BUCKET_CHECK_METHODS["head-planned-objects"]}), 2026-12-02T10:00:00.000Z to 2026-12-02T10:01:00.000Z:`,
      "  1,234 examined; non-compliant: 1 rekey could have fixed, 0 written after planning by another writer, 6 rekey cannot fix (skipped); 2 listed but not examined",
      '  "bad" left-non-compliant: SSE-S3. missed',
    ]);
  });

  it("prints nothing for a run with neither section, and no direct-copy lines when nothing was copied directly", () => {
    const none = { reencryptedBy: { "copy-object": 0, multipart: 0 }, copiedWithCopyObject: [] };
    expect(renderVerification(reportWith(undefined, none))).toEqual([]);
    const lines = renderVerification(reportWith(check(counts, findings), none));
    expect(lines[0]).toBe("");
    expect(lines[1]).toMatch(/^Independent check/);
    expect(lines[2]).toBe(
      "  3 examined; non-compliant: 1 rekey could have fixed, 0 written after planning by another writer, 6 rekey cannot fix (skipped)",
    );
    expect(
      renderVerification(reportWith(undefined, { ...none, reencryptedBy: { "copy-object": 0, multipart: 1 } }))[1],
    ).toBe(
      "Copied directly by rekey: 0 with one CopyObject (keys a Batch manifest cannot carry), 1 part by part (over 5 GiB)",
    );
  });

  it("lists at most five findings", () => {
    const fixable = Array.from({ length: 7 }, (_, i) => ({
      key: `f${i}`,
      verdict: "left-non-compliant" as const,
      found: "SSE-S3",
      reason: "r",
    }));
    const none = { reencryptedBy: { "copy-object": 0, multipart: 0 }, copiedWithCopyObject: [] };
    const lines = renderVerification(reportWith(check({ ...counts, "left-non-compliant": 7 }, fixable), none));
    expect(lines.filter((l) => l.includes("left-non-compliant: SSE-S3"))).toHaveLength(5);
  });
});
