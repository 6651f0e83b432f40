import { describe, expect, it } from "vitest";
import { progressPrinter } from "../../cli/commands/scan.ts";
import { judgeBucket } from "../../steps/domain/bucket-verdict.ts";
import {
  applyKeyChecks,
  emptyEncryptionCounts,
  emptyRunWork,
  type InventoryCounts,
  nonCompliantObjects,
  SCAN_STREAM_MAX_BYTES,
  scanCountEngine,
} from "../../steps/domain/inventory-counts.ts";
import {
  estimateForEmptyBucket,
  estimateFromCounts,
  estimateFromStorageMetrics,
} from "../../steps/domain/scan-estimate.ts";

const TARGET = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";

/** A delivery's counts: 10 unencrypted objects of 100 bytes, and `unknown` SSE-KMS ones with Bucket Key of 50. */
function counts(unknown: number): InventoryCounts {
  const encryption = emptyEncryptionCounts();
  encryption.notEncrypted = { objects: 10, bytes: 1000 };
  encryption.sseKmsKeyUnknown = { objects: unknown, bytes: unknown * 50 };
  const run = emptyRunWork();
  run.copy = { STANDARD: { objects: 10, bytes: 1000 } };
  return {
    delivery: { bucket: "inv", manifestKey: "m/manifest.json", createdAt: "2026-11-30T00:00:00.000Z" },
    countedBy: "stream",
    why: "test",
    current: { objects: 10 + unknown, bytes: 1000 + unknown * 50 },
    notCurrent: { objects: 0, bytes: 0 },
    encryption,
    run,
    keyChecks: { checked: 0, gone: 0 },
  };
}

describe("rekey scan's inventory counts, engine choice, verdict and estimate (pure parts)", () => {
  it("counts a delivery itself up to the size it reads, and leaves larger ones to Athena where deployed", () => {
    const facts = (dataBytes: number, athenaDeployed: boolean, fileFormat: "CSV" | "ORC" = "CSV") => ({
      fileFormat,
      dataFiles: 3,
      dataBytes,
      athenaDeployed,
    });
    expect(scanCountEngine("auto", facts(SCAN_STREAM_MAX_BYTES, true))).toMatchObject({ engine: "stream" });
    expect(scanCountEngine("auto", facts(SCAN_STREAM_MAX_BYTES + 1, true))).toMatchObject({ engine: "athena" });
    expect(scanCountEngine("auto", facts(SCAN_STREAM_MAX_BYTES + 1, false))).toMatchObject({
      engine: "stream",
      why: expect.stringContaining("no Athena workgroup"),
    });
    expect(scanCountEngine("stream", facts(10 * SCAN_STREAM_MAX_BYTES, true))).toMatchObject({ engine: "stream" });
    expect(scanCountEngine("athena", facts(1, false))).toEqual({
      unavailable: "Athena was asked for, but this deployment has no Athena workgroup",
    });
    expect(scanCountEngine("stream", facts(1, true, "ORC"))).toMatchObject({ engine: "athena" });
    expect(scanCountEngine("auto", facts(1, false, "ORC"))).toMatchObject({
      unavailable: expect.stringContaining("ORC"),
    });
  });

  it("moves checked keys out of the unknown only when every one was checked", () => {
    const three = counts(3);
    const checked = applyKeyChecks(three, [{ kind: "target-with-bucket-key" }, { kind: "other" }, { kind: "gone" }]);
    expect(checked.encryption.compliant).toEqual({ objects: 1, bytes: 50 });
    expect(checked.encryption.sseKmsOtherKey).toEqual({ objects: 1, bytes: 50 });
    expect(checked.encryption.sseKmsKeyUnknown).toEqual({ objects: 0, bytes: 0 });
    expect(checked.current).toEqual({ objects: 12, bytes: 1100 });
    expect(checked.run.updateFromSseKms).toEqual({ objects: 1, bytes: 50 });
    expect(checked.keyChecks).toEqual({ checked: 3, gone: 1 });
    expect(nonCompliantObjects(checked.encryption)).toBe(11);
    // A partial answer (HeadObject denied, say) changes nothing.
    expect(applyKeyChecks(three, [{ kind: "other" }])).toBe(three);
  });

  it("calls a bucket compliant only when nothing non-compliant or unverified is left, and says how sure it is", () => {
    const base = {
      targetKeyArn: TARGET,
      defaultEncryption: { algorithm: "aws:kms" as const, kmsKeyId: TARGET, bucketKeyEnabled: true },
      blockers: [],
      objects: undefined,
      countsAsOf: "2026-11-30",
    };
    expect(judgeBucket({ ...base, nonCompliantObjects: 0, unverifiedObjects: 0 })).toEqual({
      verdict: "compliant",
      why: "every current object (inventory of 2026-11-30) and the default are under the target key with Bucket Key",
    });
    expect(judgeBucket({ ...base, nonCompliantObjects: 0, unverifiedObjects: 5 })).toEqual({
      verdict: "needs-run",
      why: "5 SSE-KMS object(s) (inventory of 2026-11-30) with Bucket Key whose key the inventory does not list: a run checks each and updates those under another key",
    });
    expect(judgeBucket({ ...base, nonCompliantObjects: 1234, unverifiedObjects: 0 }).why).toBe(
      "1,234 current object(s) (inventory of 2026-11-30) not under the target key with Bucket Key",
    );
    expect(
      judgeBucket({
        ...base,
        defaultEncryption: { algorithm: "AES256", bucketKeyEnabled: false },
        nonCompliantObjects: 0,
        unverifiedObjects: 0,
      }).verdict,
    ).toBe("needs-default-encryption");
  });

  it("estimates a run from the counts (key checks priced), from storage metrics as an upper bound, and an empty bucket as free", () => {
    const facts = { versioning: "Enabled" as const, noncurrentExpirationDays: 30, inventory: true };
    const fromCounts = estimateFromCounts(counts(2_000), facts);
    expect(fromCounts.basis).toBe("inventory");
    expect(fromCounts.notes[0]).toMatch(
      /^2,000 SSE-KMS object\(s\) with a Bucket Key whose key the inventory does not list/,
    );
    // The same objects' HeadObject calls cost something: more than the same counts without them.
    expect(fromCounts.oneTimeUsd).toBeGreaterThan(estimateFromCounts(counts(0), facts).oneTimeUsd);
    const fromMetrics = estimateFromStorageMetrics({ objects: 2_010, bytes: 101_000, asOf: "2026-12-02" }, facts);
    expect(fromMetrics).toMatchObject({ basis: "storage-metrics" });
    expect(fromMetrics.notes[0]).toMatch(/^an upper bound from S3's storage metrics of 2026-12-02/);
    expect(fromMetrics.oneTimeUsd).toBeGreaterThan(fromCounts.oneTimeUsd);
    expect(fromMetrics.durationHighSeconds).toBeGreaterThan(fromMetrics.durationLowSeconds);
    expect(estimateForEmptyBucket()).toMatchObject({ basis: "empty", oneTimeUsd: 0, durationHighSeconds: 0 });
  });

  it("prints a progress line on stderr while a large inventory is read: at the start, every few seconds, at the end", () => {
    let err = "";
    let now = 0;
    const io = {
      out: { write: () => true },
      err: { write: (t: string) => (err += t) },
      env: {},
      sleep: async () => {},
      now: () => new Date(now),
    };
    const print = progressPrinter(io);
    const at = (filesRead: number, ms: number, dataBytes = 64 * 1024 ** 2) => {
      now = ms;
      print("big", {
        engine: "stream",
        filesRead,
        files: 4,
        rows: filesRead * 1_000_000,
        delivery: "s3://inv/m.json",
        dataBytes,
      });
    };
    at(0, 0);
    at(1, 1000);
    at(2, 6000);
    at(3, 7000);
    at(4, 8000);
    expect(err.split("\n")).toEqual([
      "rekey scan: big: reading the inventory s3://inv/m.json (64.0 MiB): 0 of 4 file(s) read, 0 rows",
      "rekey scan: big: reading the inventory s3://inv/m.json (64.0 MiB): 2 of 4 file(s) read, 2,000,000 rows",
      "rekey scan: big: reading the inventory s3://inv/m.json (64.0 MiB): 4 of 4 file(s) read, 4,000,000 rows",
      "",
    ]);
    // A small inventory is read too fast to need one.
    err = "";
    at(0, 0, 1024);
    at(4, 60_000, 1024);
    expect(err).toBe("");
  });
});
