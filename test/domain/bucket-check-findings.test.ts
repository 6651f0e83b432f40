import { describe, expect, it } from "vitest";
import { COPYABLE_STORAGE_CLASSES } from "../../contract/storage-classes.ts";
import { AFTER_RUN_LISTS, judgeObject, type ObjectFacts } from "../../steps/domain/bucket-check.ts";

const TARGET = "arn:aws:kms:eu-west-1:111122223333:key/target";
const OTHER = "arn:aws:kms:eu-west-1:111122223333:key/other";
const enforcedAt = new Date("2026-12-01T00:00:00Z");
const ctx = { kmsKeyArn: TARGET, enforcedAt, now: new Date("2026-12-02T00:00:00Z") };
const before = new Date("2026-11-01T00:00:00Z");
const found = (f: Omit<ObjectFacts & { kind: "found" }, "kind">): ObjectFacts => ({ kind: "found", ...f });
const leftReason = (enc: string) =>
  `Current since before default encryption was enforced (2026-12-01T00:00:00.000Z) and still ${enc}: rekey could have re-encrypted it and did not (see failed.csv and the report's failures). Run rekey again.`;

describe("AFTER_RUN_LISTS", () => {
  it("lists unencrypted objects in the copyable classes, and SSE-S3 or SSE-KMS without Bucket Key in any class", () => {
    expect(AFTER_RUN_LISTS).toStrictEqual([
      {
        name: "after-run-unencrypted",
        filter: { MatchAnyObjectEncryption: [{ NOTSSE: {} }], MatchAnyStorageClass: [...COPYABLE_STORAGE_CLASSES] },
        route: { kind: "update-encryption", from: "SSE-S3" },
      },
      {
        name: "after-run-sse-s3-or-no-bucket-key",
        filter: { MatchAnyObjectEncryption: [{ SSES3: {} }, { SSEKMS: { BucketKeyEnabled: false } }] },
        route: { kind: "update-encryption", from: "SSE-KMS" },
      },
    ]);
    expect(COPYABLE_STORAGE_CLASSES.length).toBeGreaterThan(0);
  });
});

describe("judgeObject: the exact finding", () => {
  it("describes the encryption found, with class and time", () => {
    expect(
      judgeObject(
        "k",
        found({ ServerSideEncryption: "AES256", StorageClass: "STANDARD_IA", LastModified: before }),
        ctx,
      ),
    ).toStrictEqual({
      key: "k",
      verdict: "left-non-compliant",
      found: "SSE-S3 class=STANDARD_IA lastModified=2026-11-01T00:00:00.000Z",
      reason: leftReason("SSE-S3"),
    });
    expect(judgeObject("k", found({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: OTHER }), ctx)).toStrictEqual({
      key: "k",
      verdict: "left-non-compliant",
      found: `SSE-KMS key=${OTHER} bucketKey=false class=STANDARD`,
      reason: leftReason(`SSE-KMS key=${OTHER} bucketKey=false`),
    });
    expect(judgeObject("k", found({ ServerSideEncryption: "aws:kms", BucketKeyEnabled: true }), ctx)?.found).toBe(
      "SSE-KMS key=- bucketKey=true class=STANDARD",
    );
  });

  it("names a later writer's choice, counting only writes strictly after enforcement", () => {
    const after = new Date("2026-12-01T12:00:00Z");
    expect(judgeObject("k", found({ LastModified: after }), ctx)).toStrictEqual({
      key: "k",
      verdict: "written-after-planning",
      found: "unencrypted class=STANDARD lastModified=2026-12-01T12:00:00.000Z",
      reason:
        "Written at 2026-12-01T12:00:00.000Z, after default encryption was enforced (2026-12-01T00:00:00.000Z), by a writer that asked for unencrypted instead of the bucket default. Find that writer and make it use the default, then run rekey again.",
    });
    expect(judgeObject("k", found({ LastModified: enforcedAt }), ctx)?.verdict).toBe("left-non-compliant");
  });

  it("gives the reason rekey cannot fix SSE-C, DSSE-KMS, archived unencrypted and locked objects", () => {
    expect(judgeObject("k", { kind: "sse-c" }, ctx)).toStrictEqual({
      key: "k",
      verdict: "not-fixable",
      found: "SSE-C",
      reason: "Encrypted with a customer-provided key: rekey cannot read it (skipped).",
    });
    expect(judgeObject("k", found({ ServerSideEncryption: "aws:kms:dsse" }), ctx)).toStrictEqual({
      key: "k",
      verdict: "not-fixable",
      found: "aws:kms:dsse class=STANDARD",
      reason: "DSSE-KMS: rekey leaves dual-layer encryption as it is (skipped).",
    });
    const archived = "Unencrypted and archived: restore it, then run rekey again (skipped).";
    expect(judgeObject("k", found({ StorageClass: "GLACIER" }), ctx)?.reason).toBe(archived);
    expect(
      judgeObject("k", found({ StorageClass: "INTELLIGENT_TIERING", ArchiveStatus: "ARCHIVE_ACCESS" }), ctx)?.reason,
    ).toBe(archived);
    expect(judgeObject("k", found({ StorageClass: "STANDARD" }), ctx)?.verdict).toBe("left-non-compliant");
    expect(judgeObject("k", found({ ServerSideEncryption: "AES256", StorageClass: "GLACIER" }), ctx)?.verdict).toBe(
      "left-non-compliant",
    );
    const locked = "Under Object Lock retention or legal hold (skipped).";
    const future = new Date("2027-01-01T00:00:00Z");
    expect(judgeObject("k", found({ ObjectLockMode: "GOVERNANCE" }), ctx)?.reason).toBe(locked);
    expect(
      judgeObject("k", found({ ObjectLockMode: "GOVERNANCE", ObjectLockRetainUntilDate: future }), ctx)?.reason,
    ).toBe(locked);
    expect(judgeObject("k", found({ ObjectLockLegalHoldStatus: "ON" }), ctx)?.reason).toBe(locked);
    for (const f of [
      found({ ObjectLockMode: "GOVERNANCE", ObjectLockRetainUntilDate: ctx.now }),
      found({ ObjectLockRetainUntilDate: future }),
      found({ ObjectLockLegalHoldStatus: "OFF" }),
    ]) {
      expect(judgeObject("k", f, ctx)?.verdict).toBe("left-non-compliant");
    }
  });
});
