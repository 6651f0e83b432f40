import { describe, expect, it } from "vitest";
import { type EstimateInput, estimateRun, formatDuration, renderEstimate } from "../../steps/domain/estimate.ts";

const GiB = 1024 ** 3;

/**
 * The worked example, computed by hand from the constants in steps/domain/prices.ts and estimate.ts:
 *
 * Input: copy STANDARD 1,000,000 objects / 1,000 GiB; copy STANDARD_IA 200,000 / 400 GiB; update from SSE-S3 300,000,
 * from SSE-KMS 100,000; multipart STANDARD 2 objects / 12 GiB (no part count); 10 skipped; 1,000 verified; versioning
 * Enabled; noncurrent versions expire after 60 days.
 *
 * Jobs: copy STANDARD, copy STANDARD_IA, one update job = 3 → 3 × $0.25 = $0.75
 * Batch object operations: 1,000,000 + 200,000 + 400,000 = 1,600,000 × $1/1M = $1.60
 * COPY STANDARD: 1,000,000 × $0.005/1,000 = $5.00
 * COPY STANDARD_IA (priced as Standard): 200,000 × $0.005/1,000 = $1.00
 * UpdateObjectEncryption: 400,000 × $0.005/1,000 = $2.00
 * Multipart parts (upper bound): floor(12 GiB / 512 MiB) + 2 = 24 + 2 = 26;
 *   PUT tier: 2 × 2 (create + complete) + 26 = 30 × $0.000005 = $0.00015
 *   GET tier: HeadObject + GetObjectTagging = 4 × $0.0000004 = $0.0000016
 * Verification: 1,000 × $0.0000004 = $0.0004
 * Lines total: 0.75 + 1.60 + 5.00 + 1.00 + 2.00 + 0.00015 + 0.0000016 + 0.0004 = $10.3505516
 *
 * Duration (slow): 3,600 + 1,200,000 / 100 + 1,400 GiB / 100 MiB/s + 400,000 / 500 + 12 GiB / 100 MiB/s
 *                = 3,600 + 12,000 + 14,336 + 800 + 122.88 = 30,858.88 s
 * Duration (fast): 300 + 1,200,000 / 1,000 + 1,400 GiB / 1 GiB/s + 400,000 / 5,000 + 12 GiB / 500 MiB/s
 *                = 300 + 1,200 + 1,400 + 80 + 24.576 = 3,004.576 s
 *
 * KMS without Bucket Key: writes 1,000,000 + 200,000 + 400,000 + 2 = 1,600,002; part Decrypts 26; SSE-KMS source
 *   Decrypts 100,000 → 1,700,028 requests × $0.03/10,000 = $5.100084
 * KMS with Bucket Key: ceil(30,858.88 / 300) × 100 = 103 × 100 = 10,300 (< 1,600,028, so not capped)
 *   + 100,000 source Decrypts = 110,300 × $0.03/10,000 = $0.3309
 * One-time: 10.3505516 + 0.3309 = $10.6814516; without Bucket Key 10.3505516 + 5.100084 = $15.4506356
 *
 * Old versions: STANDARD 1,000 + 12 = 1,012 GiB × $0.023 = $23.276; STANDARD_IA 400 GiB × $0.0125 = $5.00
 *   → $28.276 per month; 60 days / 30 = 2 months → $56.552
 */
const example: EstimateInput = {
  copy: { STANDARD: { objects: 1_000_000, bytes: 1000 * GiB }, STANDARD_IA: { objects: 200_000, bytes: 400 * GiB } },
  updateEncryption: {
    fromSseS3: { objects: 300_000, bytes: 100 * GiB },
    fromSseKms: { objects: 100_000, bytes: 50 * GiB },
  },
  multipartCopy: { STANDARD: { objects: 2, bytes: 12 * GiB } },
  skipped: { objects: 10, bytes: 1 * GiB },
  verifySample: 1000,
  versioning: "Enabled",
  noncurrentExpirationDays: 60,
};

describe("estimateRun", () => {
  it("matches the hand-computed example", () => {
    const e = estimateRun(example);

    expect(e.jobs).toBe(3);
    expect(e.objects).toEqual({ copy: 1_200_000, updateEncryption: 400_000, multipartCopy: 2, skipped: 10 });
    const usd = Object.fromEntries(e.lines.map((l) => [l.item, l.usd]));
    expect(usd["Batch Operations jobs"]).toBeCloseTo(0.75, 10);
    expect(usd["Batch Operations object operations"]).toBeCloseTo(1.6, 10);
    expect(usd["COPY requests (STANDARD)"]).toBeCloseTo(5.0, 10);
    expect(usd["COPY requests (STANDARD_IA)"]).toBeCloseTo(1.0, 10);
    expect(usd["UpdateObjectEncryption requests"]).toBeCloseTo(2.0, 10);
    expect(usd["Multipart copy PUT-tier requests (STANDARD): create + 26 parts + complete"]).toBeCloseTo(0.00015, 10);
    expect(usd["Multipart copy HeadObject + GetObjectTagging"]).toBeCloseTo(0.0000016, 10);
    expect(usd["Verification HeadObject requests"]).toBeCloseTo(0.0004, 10);

    expect(e.duration.highSeconds).toBeCloseTo(30_858.88, 6);
    expect(e.duration.lowSeconds).toBeCloseTo(3_004.576, 6);

    expect(e.kms.requestsWithoutBucketKey).toBe(1_700_028);
    expect(e.kms.usdWithoutBucketKey).toBeCloseTo(5.100084, 10);
    expect(e.kms.requestsWithBucketKey).toBe(110_300);
    expect(e.kms.usdWithBucketKey).toBeCloseTo(0.3309, 10);

    expect(e.oneTimeUsd).toBeCloseTo(10.6814516, 8);
    expect(e.oneTimeUsdWithoutBucketKey).toBeCloseTo(15.4506356, 8);

    expect(e.oldVersions.bytes).toBe(1412 * GiB);
    expect(e.oldVersions.perMonthUsd).toBeCloseTo(28.276, 10);
    expect(e.oldVersions.months).toBe(2);
    expect(e.oldVersions.totalUsd).toBeCloseTo(56.552, 10);

    // COPY into STANDARD_IA and UpdateObjectEncryption are priced with stand-ins.
    expect(e.lines.find((l) => l.item === "COPY requests (STANDARD_IA)")?.confidence).toBe("assumed");
    expect(e.confidence).toBe("assumed");
    expect(e.notIncluded.join("\n")).toContain("data-retrieval charges for reading 400 GiB of STANDARD_IA");
  });

  it("keeps no old versions in an unversioned bucket, and says when no rule expires them", () => {
    expect(estimateRun({ ...example, versioning: "Unversioned" }).oldVersions).toEqual({
      bytes: 0,
      perMonthUsd: 0,
      months: 0,
      totalUsd: 0,
      byClass: [],
    });
    const { noncurrentExpirationDays: _, ...noRule } = example;
    const forever = estimateRun(noRule).oldVersions;
    expect(forever.months).toBeUndefined();
    expect(forever.totalUsd).toBeUndefined();
    expect(renderEstimate(estimateRun(noRule))).toContain("per month until deleted (no lifecycle rule expires them)");
  });

  it("costs nothing and takes no time when there is nothing to do", () => {
    const e = estimateRun({
      copy: {},
      updateEncryption: { fromSseS3: { objects: 0, bytes: 0 }, fromSseKms: { objects: 0, bytes: 0 } },
      multipartCopy: {},
      skipped: { objects: 5, bytes: 10 },
      verifySample: 0,
      versioning: "Enabled",
    });
    expect(e.jobs).toBe(0);
    expect(e.lines).toEqual([]);
    expect(e.oneTimeUsd).toBe(0);
    expect(e.kms.requestsWithBucketKey).toBe(0);
    expect(e.duration).toEqual({ lowSeconds: 0, highSeconds: 0 });
  });

  it("uses the planner's part count when it has one", () => {
    const e = estimateRun({ ...example, multipartCopy: { GLACIER_IR: { objects: 1, bytes: 6 * GiB, parts: 6 } } });
    const mp = e.lines.find((l) => l.item.startsWith("Multipart copy PUT-tier requests (GLACIER_IR)"));
    expect(mp?.quantity).toBe(2 + 6);
    expect(mp?.confidence).toBe("assumed");
  });

  it("renders a short text with the headline numbers", () => {
    const text = renderEstimate(estimateRun(example));
    expect(text).toContain(
      "Objects: 1,200,000 copied and 400,000 updated in 3 Batch Operations job(s), 2 multipart-copied, 10 skipped.",
    );
    expect(text).toContain("One-time cost: $10.68 with S3 Bucket Keys ($15.45 if every object called KMS).");
    expect(text).toContain("KMS requests: 110,300 with Bucket Keys = $0.33; 1,700,028 without = $5.10");
    expect(text).toContain(
      "Old versions kept: 1.4 TiB, $28.28 per month for 2.0 month(s) until lifecycle expires them = $56.55.",
    );
    expect(text).toContain("Duration: 50 min to 8 h 34 min (assumed rates).");
    expect(text).toContain("Batch Operations jobs: 3 × $0.25 each = $0.75");
    expect(text).toMatch(/COPY requests \(STANDARD\): 1,000,000 × \$0\.01\/1,000 = \$5\.00/);
    expect(formatDuration(3 * 86_400)).toBe("3.0 days");
  });
});
