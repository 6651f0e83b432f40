import { describe, expect, it } from "vitest";
import { NOT_CURRENT_REASONS, SKIP_REASONS } from "../../contract/reasons.ts";
import { MAX_COPY_OBJECT_BYTES } from "../../contract/storage-classes.ts";
import { type Classification, classifyInventoryRow, needsKeyCheck } from "../../steps/domain/classify.ts";
import type { InventoryRow } from "../../steps/domain/inventory.ts";

function row(overrides: Partial<InventoryRow> = {}): InventoryRow {
  return {
    bucket: "src",
    key: "data/a.txt",
    isLatest: true,
    isDeleteMarker: false,
    size: 1024,
    storageClass: "STANDARD",
    encryptionStatus: "NOT-SSE",
    ...overrides,
  };
}

function outcome(c: Classification): string {
  switch (c.kind) {
    case "copy":
      return `copy:${c.storageClass}`;
    case "compliant":
      return "compliant";
    case "update-encryption":
      return "update-encryption";
    case "large-copy":
      return `large-copy:${c.storageClass}${c.why ? `:${c.why}` : ""}`;
    case "skipped":
      return `skipped:${c.reason}`;
    case "not-current":
      return `not-current:${c.reason}`;
  }
}

describe("classifyInventoryRow", () => {
  it.each<[string, Partial<InventoryRow>, string]>([
    ["NOT-SSE STANDARD", {}, "copy:STANDARD"],
    ["NOT-SSE STANDARD_IA", { storageClass: "STANDARD_IA" }, "copy:STANDARD_IA"],
    ["NOT-SSE ONEZONE_IA", { storageClass: "ONEZONE_IA" }, "copy:ONEZONE_IA"],
    ["NOT-SSE GLACIER_IR", { storageClass: "GLACIER_IR" }, "copy:GLACIER_IR"],
    ["NOT-SSE Intelligent-Tiering, tier unknown", { storageClass: "INTELLIGENT_TIERING" }, "copy:INTELLIGENT_TIERING"],
    [
      "NOT-SSE Intelligent-Tiering frequent",
      { storageClass: "INTELLIGENT_TIERING", intelligentTieringAccessTier: "FREQUENT" },
      "copy:INTELLIGENT_TIERING",
    ],
    [
      "NOT-SSE Intelligent-Tiering archive instant",
      { storageClass: "INTELLIGENT_TIERING", intelligentTieringAccessTier: "ARCHIVE_INSTANT_ACCESS" },
      "copy:INTELLIGENT_TIERING",
    ],
    ["exactly 5 GiB", { size: MAX_COPY_OBJECT_BYTES }, "copy:STANDARD"],
    ["lower-case values", { storageClass: "standard", encryptionStatus: "not-sse" }, "copy:STANDARD"],
    ["one byte over 5 GiB", { size: MAX_COPY_OBJECT_BYTES + 1 }, "large-copy:STANDARD"],
    [
      "over 5 GiB in STANDARD_IA, key too long for a manifest",
      { size: MAX_COPY_OBJECT_BYTES * 2, storageClass: "STANDARD_IA", key: "k".repeat(1100) },
      "large-copy:STANDARD_IA",
    ],
    ["over 5 GiB in GLACIER", { size: MAX_COPY_OBJECT_BYTES * 2, storageClass: "GLACIER" }, "skipped:archived"],
    ["NOT-SSE under compliance-mode Object Lock", { objectLockMode: "COMPLIANCE" }, "skipped:object-lock-compliance"],
    [
      "NOT-SSE under governance-mode Object Lock (a Batch copy would not carry it)",
      { objectLockMode: "GOVERNANCE" },
      "skipped:object-lock-governance",
    ],
    ["NOT-SSE under legal hold", { objectLockLegalHoldStatus: "On" }, "skipped:object-lock-governance"],
    ["GLACIER", { storageClass: "GLACIER" }, "skipped:archived"],
    ["DEEP_ARCHIVE", { storageClass: "DEEP_ARCHIVE", size: MAX_COPY_OBJECT_BYTES * 2 }, "skipped:archived"],
    [
      "Intelligent-Tiering archive tier",
      { storageClass: "INTELLIGENT_TIERING", intelligentTieringAccessTier: "ARCHIVE_ACCESS" },
      "skipped:archived",
    ],
    [
      "Intelligent-Tiering deep archive tier",
      { storageClass: "INTELLIGENT_TIERING", intelligentTieringAccessTier: "DEEP_ARCHIVE" },
      "skipped:archived",
    ],
    ["REDUCED_REDUNDANCY", { storageClass: "REDUCED_REDUNDANCY" }, "skipped:storage-class-not-copyable"],
    ["OUTPOSTS", { storageClass: "OUTPOSTS" }, "skipped:storage-class-not-copyable"],
    ["SSE-S3", { encryptionStatus: "SSE-S3" }, "update-encryption"],
    [
      "SSE-S3 in DEEP_ARCHIVE (no restore needed)",
      { encryptionStatus: "SSE-S3", storageClass: "DEEP_ARCHIVE" },
      "update-encryption",
    ],
    [
      "SSE-S3 under compliance lock",
      { encryptionStatus: "SSE-S3", objectLockMode: "Compliance" },
      "skipped:object-lock-compliance",
    ],
    [
      "SSE-S3 under governance lock",
      { encryptionStatus: "SSE-S3", objectLockMode: "Governance" },
      "skipped:object-lock-governance",
    ],
    [
      "SSE-S3 under legal hold",
      { encryptionStatus: "SSE-S3", objectLockLegalHoldStatus: "On" },
      "skipped:object-lock-governance",
    ],
    [
      "SSE-KMS, Bucket Key on",
      { encryptionStatus: "SSE-KMS", bucketKeyStatus: "ENABLED" },
      "skipped:sse-kms-key-unverified",
    ],
    ["SSE-KMS, no BucketKeyStatus column", { encryptionStatus: "SSE-KMS" }, "skipped:sse-kms-key-unverified"],
    ["SSE-KMS, Bucket Key off", { encryptionStatus: "SSE-KMS", bucketKeyStatus: "DISABLED" }, "update-encryption"],
    ["SSE-C", { encryptionStatus: "SSE-C" }, "skipped:sse-c"],
    ["DSSE-KMS", { encryptionStatus: "DSSE-KMS" }, "skipped:dsse-kms"],
    ["an unknown encryption status", { encryptionStatus: "SSE-QUANTUM" }, "skipped:unknown-encryption-status"],
    ["no EncryptionStatus", { encryptionStatus: undefined }, "skipped:missing-columns"],
    ["no StorageClass", { storageClass: undefined }, "skipped:missing-columns"],
    ["no Size", { size: undefined }, "skipped:missing-columns"],
    ["a key too long once encoded", { key: "ü".repeat(200) }, "large-copy:STANDARD:key-too-long-for-manifest"],
    [
      "an SSE-S3 key too long once encoded",
      { key: "ü".repeat(200), encryptionStatus: "SSE-S3", storageClass: "ONEZONE_IA" },
      "large-copy:ONEZONE_IA:key-too-long-for-manifest",
    ],
    [
      "an archived SSE-S3 key too long once encoded (a copy cannot read it)",
      { key: "ü".repeat(200), encryptionStatus: "SSE-S3", storageClass: "GLACIER" },
      "skipped:key-too-long-for-manifest",
    ],
    [
      "a locked SSE-S3 key too long once encoded",
      { key: "ü".repeat(200), encryptionStatus: "SSE-S3", objectLockLegalHoldStatus: "On" },
      "skipped:object-lock-governance",
    ],
    ["a noncurrent version", { isLatest: false }, "not-current:noncurrent-version"],
    [
      "a delete marker",
      { isDeleteMarker: true, size: undefined, encryptionStatus: undefined },
      "not-current:delete-marker",
    ],
    ["a noncurrent delete marker", { isDeleteMarker: true, isLatest: false }, "not-current:delete-marker"],
    ["a noncurrent SSE-C version", { isLatest: false, encryptionStatus: "SSE-C" }, "not-current:noncurrent-version"],
  ])("routes %s", (_label, overrides, expected) => {
    expect(outcome(classifyInventoryRow(row(overrides)))).toBe(expected);
  });

  it("ignores an Object Lock retention whose retain-until date has passed at planning time", () => {
    const now = new Date("2026-11-22T00:00:00Z");
    const lock = (mode: string, until: string) => ({ objectLockMode: mode, objectLockRetainUntilDate: until });
    const expired = lock("Compliance", "2026-01-01T00:00:00.000Z");
    const running = lock("Compliance", "2030-01-01T00:00:00.000Z");
    expect(outcome(classifyInventoryRow(row(expired), { now }))).toBe("copy:STANDARD");
    expect(outcome(classifyInventoryRow(row(running), { now }))).toBe("skipped:object-lock-compliance");
    const sseS3 = { encryptionStatus: "SSE-S3" as const };
    expect(
      outcome(classifyInventoryRow(row({ ...sseS3, ...lock("Governance", "2026-01-01T00:00:00Z") }), { now })),
    ).toBe("update-encryption");
    expect(
      outcome(classifyInventoryRow(row({ ...sseS3, ...lock("Governance", "2030-01-01T00:00:00Z") }), { now })),
    ).toBe("skipped:object-lock-governance");
    // Without a date column the retention is taken as running.
    expect(outcome(classifyInventoryRow(row({ objectLockMode: "Compliance" }), { now }))).toBe(
      "skipped:object-lock-compliance",
    );
  });

  it("keeps 1,024-character keys of unreserved characters on the copy route, and copies longer ones directly", () => {
    expect(outcome(classifyInventoryRow(row({ key: "a".repeat(1024) })))).toBe("copy:STANDARD");
    expect(outcome(classifyInventoryRow(row({ key: `${"a".repeat(1022)} ` })))).toBe(
      "large-copy:STANDARD:key-too-long-for-manifest",
    );
    // 1,024 bytes of UTF-8 (the longest key S3 takes), 3,072 characters once encoded.
    expect(outcome(classifyInventoryRow(row({ key: "é".repeat(512), storageClass: "GLACIER_IR" })))).toBe(
      "large-copy:GLACIER_IR:key-too-long-for-manifest",
    );
  });

  it.each<[Partial<InventoryRow>, string]>([
    [{ encryptionStatus: undefined }, "no EncryptionStatus"],
    [{ encryptionStatus: "sse-c" }, "EncryptionStatus SSE-C"],
    [{ encryptionStatus: "DSSE-KMS" }, "EncryptionStatus DSSE-KMS"],
    [{ encryptionStatus: "SSE-Quantum" }, "EncryptionStatus SSE-Quantum"],
    [{ storageClass: undefined }, "no StorageClass"],
    [{ storageClass: "glacier" }, "StorageClass GLACIER"],
    [
      { storageClass: "INTELLIGENT_TIERING", intelligentTieringAccessTier: "archive" },
      "INTELLIGENT_TIERING tier ARCHIVE",
    ],
    [
      { storageClass: "INTELLIGENT_TIERING", intelligentTieringAccessTier: "DEEP_ARCHIVE_ACCESS" },
      "INTELLIGENT_TIERING tier DEEP_ARCHIVE_ACCESS",
    ],
    [
      { storageClass: "REDUCED_REDUNDANCY" },
      "REDUCED_REDUNDANCY is not in the Batch Operations copy StorageClass enum",
    ],
    [{ storageClass: "OUTPOSTS" }, "StorageClass OUTPOSTS is not in the Batch Operations copy StorageClass enum"],
    [{ size: undefined }, "no Size"],
    [{ objectLockMode: "COMPLIANCE" }, "ObjectLockMode Compliance"],
    [{ objectLockMode: "governance" }, "ObjectLockMode Governance"],
    [{ objectLockLegalHoldStatus: "ON" }, "legal hold on"],
    [{ objectLockMode: "COMPLIANCE", objectLockLegalHoldStatus: "ON" }, "ObjectLockMode Compliance"],
    [{ objectLockMode: "GOVERNANCE", objectLockLegalHoldStatus: "ON" }, "ObjectLockMode Governance"],
    [
      { encryptionStatus: "SSE-S3", storageClass: "GLACIER", key: "ü".repeat(200) },
      "200 characters, StorageClass GLACIER",
    ],
    [{ encryptionStatus: "SSE-KMS" }, "SSE-KMS, key and Bucket Key status unknown"],
    [{ encryptionStatus: "SSE-KMS", bucketKeyStatus: "ENABLED" }, "SSE-KMS with Bucket Key, key unknown"],
  ])("says why a skipped row was skipped: %o", (overrides, detail) => {
    expect(classifyInventoryRow(row(overrides))).toMatchObject({ kind: "skipped", detail });
  });

  it("copies Intelligent-Tiering objects in tiers that need no restore", () => {
    for (const tier of ["FREQUENT", "INFREQUENT", "ARCHIVE_INSTANT_ACCESS", "ARCHIVE_INSTANT"]) {
      const r = row({ storageClass: "INTELLIGENT_TIERING", intelligentTieringAccessTier: tier });
      expect(outcome(classifyInventoryRow(r))).toBe("copy:INTELLIGENT_TIERING");
    }
    // The tier of another class means nothing: only Intelligent-Tiering has archive tiers.
    const standard = row({ storageClass: "STANDARD", intelligentTieringAccessTier: "ARCHIVE_ACCESS" });
    expect(outcome(classifyInventoryRow(standard))).toBe("copy:STANDARD");
  });

  it("copies an SSE-S3 key too long for a manifest in the class it is in, STANDARD when the list does not say", () => {
    const long = { key: "ü".repeat(200), encryptionStatus: "SSE-S3" as const };
    expect(outcome(classifyInventoryRow(row({ ...long, storageClass: undefined })))).toBe(
      "large-copy:STANDARD:key-too-long-for-manifest",
    );
    expect(outcome(classifyInventoryRow(row({ ...long, storageClass: "standard_ia" })))).toBe(
      "large-copy:STANDARD_IA:key-too-long-for-manifest",
    );
    expect(outcome(classifyInventoryRow(row({ ...long, storageClass: "REDUCED_REDUNDANCY" })))).toBe(
      "skipped:key-too-long-for-manifest",
    );
  });

  it("takes a retention as running until the moment its date passes, and without a planning time", () => {
    const until = "2026-11-22T00:00:00.000Z";
    const locked = row({ objectLockMode: "COMPLIANCE", objectLockRetainUntilDate: until });
    const at = (iso: string) => outcome(classifyInventoryRow(locked, { now: new Date(iso) }));
    expect(at("2026-11-21T23:59:59.999Z")).toBe("skipped:object-lock-compliance");
    expect(at(until)).toBe("copy:STANDARD");
    expect(outcome(classifyInventoryRow(locked))).toBe("skipped:object-lock-compliance");
    expect(outcome(classifyInventoryRow(locked, {}))).toBe("skipped:object-lock-compliance");
    const unreadable = row({ objectLockMode: "COMPLIANCE", objectLockRetainUntilDate: "soon" });
    expect(outcome(classifyInventoryRow(unreadable, { now: new Date(until) }))).toBe("skipped:object-lock-compliance");
  });

  describe("the SSE-KMS key hook", () => {
    const kms = row({ encryptionStatus: "SSE-KMS", bucketKeyStatus: "ENABLED" });

    it("calls a row compliant only when the hook confirms the target key and the Bucket Key is on", () => {
      expect(outcome(classifyInventoryRow(kms, { sseKmsKeyIsTarget: () => true }))).toBe("compliant");
      expect(
        outcome(classifyInventoryRow({ ...kms, bucketKeyStatus: undefined }, { sseKmsKeyIsTarget: () => true })),
      ).toBe("skipped:sse-kms-key-unverified");
      expect(
        outcome(classifyInventoryRow({ ...kms, bucketKeyStatus: "DISABLED" }, { sseKmsKeyIsTarget: () => true })),
      ).toBe("update-encryption");
    });

    it("routes another key and an unknown answer", () => {
      expect(outcome(classifyInventoryRow(kms, { sseKmsKeyIsTarget: () => false }))).toBe("update-encryption");
      expect(outcome(classifyInventoryRow(kms, { sseKmsKeyIsTarget: () => undefined }))).toBe(
        "skipped:sse-kms-key-unverified",
      );
    });

    it("leaves the key unverified when options come without the hook", () => {
      expect(outcome(classifyInventoryRow(kms, { now: new Date() }))).toBe("skipped:sse-kms-key-unverified");
    });

    it("is not asked about rows that are not SSE-KMS", () => {
      const asked: string[] = [];
      classifyInventoryRow(row(), {
        sseKmsKeyIsTarget: (r) => {
          asked.push(r.key);
          return true;
        },
      });

      expect(asked).toEqual([]);
    });
  });

  it("gives every reason operator-facing text", () => {
    for (const text of [...Object.values(SKIP_REASONS), ...Object.values(NOT_CURRENT_REASONS)]) {
      expect(text.summary.length).toBeGreaterThan(5);
      expect(text.whatToDo.length).toBeGreaterThan(5);
    }
  });

  describe("needsKeyCheck", () => {
    it("asks for a key check only for the current SSE-KMS version whose Bucket Key is not known to be off", () => {
      const kms = { encryptionStatus: "SSE-KMS" };
      expect(needsKeyCheck(row({ ...kms, bucketKeyStatus: "ENABLED" }))).toBe(true);
      expect(needsKeyCheck(row({ encryptionStatus: "sse-kms" }))).toBe(true);
      expect(needsKeyCheck(row({ ...kms, bucketKeyStatus: "DISABLED" }))).toBe(false);
      expect(needsKeyCheck(row({ ...kms, isLatest: false }))).toBe(false);
      expect(needsKeyCheck(row({ ...kms, isDeleteMarker: true }))).toBe(false);
      expect(needsKeyCheck(row({ encryptionStatus: "SSE-S3" }))).toBe(false);
      expect(needsKeyCheck(row({ encryptionStatus: undefined }))).toBe(false);
      expect(needsKeyCheck(row())).toBe(false);
    });
  });
});
