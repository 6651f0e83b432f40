import { describe, expect, it } from "vitest";
import {
  bucketCheckMethod,
  FINDINGS_KEPT,
  FindingTally,
  failingFindings,
  judgeObject,
  type ObjectFacts,
} from "../../steps/domain/bucket-check.ts";
import { copiedAttributeProblems } from "../../steps/domain/spot-check.ts";

const TARGET = "arn:aws:kms:eu-west-1:111122223333:key/target";
const OTHER = "arn:aws:kms:eu-west-1:111122223333:key/other";
const enforcedAt = new Date("2026-12-01T00:00:00Z");
const ctx = { kmsKeyArn: TARGET, enforcedAt, now: new Date("2026-12-02T00:00:00Z") };
const before = new Date("2026-11-01T00:00:00Z");
const after = new Date("2026-12-01T12:00:00Z");

const found = (f: Omit<ObjectFacts & { kind: "found" }, "kind">): ObjectFacts => ({ kind: "found", ...f });
const verdict = (facts: ObjectFacts) => judgeObject("k", facts, ctx)?.verdict ?? "compliant-or-gone";

describe("judgeObject: what a current object found after the jobs means", () => {
  it.each<[string, ObjectFacts, string]>([
    ["gone", { kind: "missing" }, "compliant-or-gone"],
    [
      "compliant",
      found({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: TARGET, BucketKeyEnabled: true, LastModified: before }),
      "compliant-or-gone",
    ],
    ["unencrypted since before planning", found({ LastModified: before }), "left-non-compliant"],
    [
      "SSE-S3 since before planning",
      found({ ServerSideEncryption: "AES256", LastModified: before }),
      "left-non-compliant",
    ],
    [
      "under the target key without Bucket Key",
      found({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: TARGET, BucketKeyEnabled: false, LastModified: before }),
      "left-non-compliant",
    ],
    [
      "under another key, written after planning",
      found({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: OTHER, BucketKeyEnabled: true, LastModified: after }),
      "written-after-planning",
    ],
    [
      "SSE-S3 written after planning",
      found({ ServerSideEncryption: "AES256", LastModified: after }),
      "written-after-planning",
    ],
    ["SSE-C", { kind: "sse-c" }, "not-fixable"],
    ["DSSE-KMS", found({ ServerSideEncryption: "aws:kms:dsse", LastModified: before }), "not-fixable"],
    ["unencrypted in GLACIER", found({ StorageClass: "GLACIER", LastModified: before }), "not-fixable"],
    [
      "unencrypted in an Intelligent-Tiering archive tier",
      found({ StorageClass: "INTELLIGENT_TIERING", ArchiveStatus: "ARCHIVE_ACCESS", LastModified: before }),
      "not-fixable",
    ],
    // An encryption update needs no restore: rekey could have fixed it.
    [
      "SSE-S3 in GLACIER",
      found({ ServerSideEncryption: "AES256", StorageClass: "GLACIER", LastModified: before }),
      "left-non-compliant",
    ],
    [
      "under a running retention",
      found({ ObjectLockMode: "GOVERNANCE", ObjectLockRetainUntilDate: new Date("2030-01-01"), LastModified: before }),
      "not-fixable",
    ],
    [
      "under a retention that has ended",
      found({ ObjectLockMode: "GOVERNANCE", ObjectLockRetainUntilDate: new Date("2026-01-01"), LastModified: before }),
      "left-non-compliant",
    ],
    ["under a legal hold", found({ ObjectLockLegalHoldStatus: "ON", LastModified: before }), "not-fixable"],
  ])("%s", (_label, facts, expected) => {
    expect(verdict(facts)).toBe(expected);
  });

  it("says what was found and why, in words an operator can act on", () => {
    const f = judgeObject("a/b", found({ ServerSideEncryption: "AES256", LastModified: after }), ctx);
    expect(f).toEqual({
      key: "a/b",
      verdict: "written-after-planning",
      found: "SSE-S3 class=STANDARD lastModified=2026-12-01T12:00:00.000Z",
      reason: expect.stringContaining("after default encryption was enforced (2026-12-01T00:00:00.000Z)"),
    });
  });
});

describe("the outcome of the check", () => {
  it("fails a run for what rekey could have fixed, writers since planning and unexamined objects, not for skips", () => {
    const none = { "left-non-compliant": 0, "written-after-planning": 0, "not-fixable": 0 };
    expect(failingFindings({ ...none, "not-fixable": 7 }, 0)).toBe(0);
    expect(failingFindings({ ...none, "left-non-compliant": 1 }, 0)).toBe(1);
    expect(failingFindings({ ...none, "written-after-planning": 2 }, 0)).toBe(2);
    expect(failingFindings(none, 3)).toBe(3);
  });

  it("HEADs every planned object up to the threshold, lists the bucket afresh above it", () => {
    expect(bucketCheckMethod(0, 0)).toBe("head-planned-objects");
    expect(bucketCheckMethod(10_000, 10_000)).toBe("head-planned-objects");
    expect(bucketCheckMethod(10_001, 10_000)).toBe("manifest-generator");
  });

  it("counts every finding, keeps a bounded number by key, failing ones first", () => {
    const tally = new FindingTally();
    tally.add(undefined);
    for (let i = 0; i < FINDINGS_KEPT + 5; i++) {
      tally.add({ key: `s${i}`, verdict: "not-fixable", found: "SSE-C", reason: "r" });
    }
    tally.add({ key: "late", verdict: "left-non-compliant", found: "unencrypted", reason: "r" });
    expect(tally.examined).toBe(FINDINGS_KEPT + 7);
    expect(tally.counts).toEqual({
      "left-non-compliant": 1,
      "written-after-planning": 0,
      "not-fixable": FINDINGS_KEPT + 5,
    });
    expect(tally.findings).toHaveLength(FINDINGS_KEPT);
    const early = new FindingTally();
    early.add({ key: "skip", verdict: "not-fixable", found: "SSE-C", reason: "r" });
    early.add({ key: "fix", verdict: "left-non-compliant", found: "unencrypted", reason: "r" });
    expect(early.findings.map((f) => f.key)).toEqual(["fix", "skip"]);
  });
});

describe("copiedAttributeProblems: the spot check of a copy against the version it was copied from", () => {
  const source = {
    StorageClass: "STANDARD_IA",
    ContentType: "text/csv",
    Metadata: { a: "1", b: "2" },
    tags: { project: "atlas" },
  };

  it("finds nothing when class, content type, metadata and tags are kept (in any order)", () => {
    expect(copiedAttributeProblems(source, { ...source, Metadata: { b: "2", a: "1" } })).toEqual([]);
  });

  it("names each attribute the copy lost", () => {
    expect(
      copiedAttributeProblems(source, {
        StorageClass: undefined,
        ContentType: "binary/octet-stream",
        Metadata: {},
        tags: {},
      }),
    ).toEqual([
      "expected class STANDARD_IA",
      "content type binary/octet-stream, expected text/csv",
      "user metadata differs",
      "tags differ",
    ]);
  });

  it("compares only a known class when there is no copied-from version", () => {
    expect(
      copiedAttributeProblems({ StorageClass: "GLACIER_IR" }, { StorageClass: "STANDARD" }, { classOnly: true }),
    ).toEqual(["expected class GLACIER_IR"]);
    expect(copiedAttributeProblems({}, { StorageClass: "ONEZONE_IA", ContentType: "x" }, { classOnly: true })).toEqual(
      [],
    );
  });
});
