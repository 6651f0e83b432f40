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
    expect(text).toMatch(/COPY requests \(STANDARD\): 1,000,000 × \$0\.005\/1,000 = \$5\.00/);
    expect(formatDuration(3 * 86_400)).toBe("3.0 days");
  });
});

const NOTHING = { objects: 0, bytes: 0 };
const IDLE: EstimateInput = {
  copy: {},
  updateEncryption: { fromSseS3: NOTHING, fromSseKms: NOTHING },
  multipartCopy: {},
  skipped: NOTHING,
  verifySample: 0,
  versioning: "Enabled",
};

/** An unversioned bucket listed by the manifest generator: IA copies, SSE-KMS updates, one planned multipart copy. */
const generated: EstimateInput = {
  ...IDLE,
  copy: { ONEZONE_IA: { objects: 10, bytes: 3 * GiB }, STANDARD: { objects: 0, bytes: 0 } },
  updateEncryption: { fromSseS3: NOTHING, fromSseKms: { objects: 5, bytes: GiB } },
  multipartCopy: { GLACIER_IR: { objects: 1, bytes: 6 * GiB, parts: 3 }, STANDARD: { objects: 0, bytes: 0 } },
  versioning: "Unversioned",
  candidateListJobs: 2,
  sizesKnown: false,
};

describe("estimateRun: what it counts and what it leaves out", () => {
  it("skips classes with no objects, and bills the generator's listing jobs as jobs", () => {
    const e = estimateRun(generated);
    expect(e.jobs).toBe(2);
    expect(e.lines.map((l) => [l.item, l.quantity, l.confidence])).toEqual([
      ["Batch Operations jobs", 2, "3p"],
      ["Batch Operations object operations", 15, "unverified"],
      ["COPY requests (ONEZONE_IA)", 10, "assumed"],
      ["UpdateObjectEncryption requests", 5, "3p"],
      ["Multipart copy PUT-tier requests (GLACIER_IR): create + 3 parts + complete", 5, "assumed"],
      ["Multipart copy HeadObject + GetObjectTagging", 2, "3p"],
      ["Batch Operations jobs listing candidates (cancelled unrun)", 2, "3p"],
    ]);
    expect(e.lines.at(-1)?.usd).toBe(0.5);
  });

  it("says what the estimate does not include, for what this run does", () => {
    expect(estimateRun(generated).notIncluded).toEqual([
      "CloudTrail data events, Lambda, Step Functions and CloudWatch charges of the run",
      "the 20,000 free KMS requests a month (not deducted)",
      "data-retrieval charges for reading 3 GiB of ONEZONE_IA, 6 GiB of GLACIER_IR (price not retrieved)",
      "early-deletion charges for overwriting IA / Glacier IR objects before their minimum duration",
      "fewer Decrypts for SSE-KMS sources that already use a Bucket Key (counted per object)",
      "any charge of the manifest generator for listing the bucket (price not retrieved)",
      "the size of objects up to 5 GiB (the generated lists name keys only): durations and retrieval count objects, not bytes",
    ]);
  });

  it("leaves out retrieval and early deletion for classes without them, and names a suspended bucket's null versions", () => {
    const standard = { STANDARD: { objects: 1, bytes: GiB }, INTELLIGENT_TIERING: { objects: 1, bytes: GiB } };
    expect(estimateRun({ ...IDLE, copy: standard, versioning: "Unversioned" }).notIncluded).toEqual([
      "CloudTrail data events, Lambda, Step Functions and CloudWatch charges of the run",
      "the 20,000 free KMS requests a month (not deducted)",
    ]);
    const ia = { STANDARD_IA: { objects: 1, bytes: GiB } };
    expect(estimateRun({ ...IDLE, copy: ia, versioning: "Suspended", sizesKnown: true }).notIncluded).toEqual([
      "CloudTrail data events, Lambda, Step Functions and CloudWatch charges of the run",
      "the 20,000 free KMS requests a month (not deducted)",
      "data-retrieval charges for reading 1 GiB of STANDARD_IA (price not retrieved)",
      "the saving where a copy replaces a null version instead of keeping it (versioning suspended)",
    ]);
  });

  it("states every modelling assumption with its number", () => {
    expect(estimateRun(IDLE).assumptions).toEqual([
      "COPY and UploadPartCopy requests of non-Standard classes are priced at S3 Standard's PUT price (others not found); UpdateObjectEncryption at the PUT price (no official price found)",
      "with Bucket Keys, one KMS request per bucket-level key, assumed to live 5 min with up to 100 at once (AWS publishes neither)",
      "multipart copies: rekey's own calls, parts of 512 MiB where the plan gives no count (an upper bound); one KMS Decrypt per part without Bucket Key",
      "S3UpdateObjectEncryption leaves no old version behind (not documented)",
      "duration: setup 5–60 min; copies 100–1000 objects/s plus 100 MiB–1 GiB/s; updates 500–5000 objects/s; multipart 100 MiB–500 MiB/s (no published rates)",
      "a month is 30 days; a GB is 2^30 bytes",
    ]);
  });

  it("caps the Bucket Key requests at one per object written and part, plus a Decrypt per SSE-KMS source", () => {
    const kms = estimateRun(generated).kms;
    // 10 copies + 5 updates + 1 multipart copy written, 3 parts, 5 SSE-KMS sources; far fewer than 13 × 100 keys.
    expect(kms).toEqual({
      requestsWithBucketKey: 24,
      requestsWithoutBucketKey: 24,
      usdWithBucketKey: expect.closeTo(0.000072, 12),
      usdWithoutBucketKey: expect.closeTo(0.000072, 12),
      confidence: "3p",
    });
  });

  it("a run that only reads an inventory writes nothing: no KMS, and its weakest price is the inventory's", () => {
    const e = estimateRun({ ...IDLE, inventoryObjectsListed: 2_000_000 });
    expect(e.lines).toEqual([
      {
        item: "S3 Inventory objects listed",
        quantity: 2_000_000,
        unit: "object listed by S3 Inventory",
        unitUsd: 0.0025 / 1_000_000,
        usd: 0.005,
        confidence: "official",
        source: "AWS Storage Blog 'Encrypting objects with Amazon S3 Batch Operations'",
      },
    ]);
    expect(e.kms.requestsWithBucketKey).toBe(0);
    expect(e.confidence).toBe("official");
  });

  it("bills one object operation per copied and per updated object, even when they are as many", () => {
    const e = estimateRun({
      ...IDLE,
      copy: { STANDARD: { objects: 7, bytes: 0 } },
      updateEncryption: { fromSseS3: { objects: 7, bytes: 0 }, fromSseKms: NOTHING },
    });
    expect(e.lines.find((l) => l.item === "Batch Operations object operations")?.quantity).toBe(14);
    // Setup plus 7 copies and 7 updates at the fast and the slow rates (no bytes).
    expect(e.duration.lowSeconds).toBeCloseTo(300 + 7 / 1000 + 7 / 5000, 9);
    expect(e.duration.highSeconds).toBeCloseTo(3600 + 7 / 100 + 7 / 500, 9);
  });

  it("takes time for any work: a tiny multipart copy beside as many copies as it has bytes", () => {
    const e = estimateRun({
      ...IDLE,
      copy: { STANDARD: { objects: 5, bytes: 0 } },
      multipartCopy: { STANDARD: { objects: 1, bytes: 5, parts: 1 } },
    });
    expect(e.duration.highSeconds).toBeGreaterThan(3600);
  });

  it("counts a class given as undefined as absent", () => {
    const e = estimateRun({
      ...IDLE,
      copy: { STANDARD: undefined, ONEZONE_IA: { objects: 1, bytes: GiB } },
      multipartCopy: { GLACIER_IR: undefined },
    });
    expect(e.jobs).toBe(1);
    expect(e.objects.multipartCopy).toBe(0);
  });

  it("a run that only multipart-copies S3 Standard objects rests on secondary sources at worst", () => {
    const e = estimateRun({
      ...IDLE,
      multipartCopy: { STANDARD: { objects: 1, bytes: 6 * GiB } },
      inventoryObjectsListed: 1000,
    });
    expect(e.lines.map((l) => l.confidence)).toEqual(["3p", "3p", "official"]);
    expect(e.confidence).toBe("3p");
  });

  it("a run with nothing priced is as sure as the best source", () => {
    expect(estimateRun(IDLE).confidence).toBe("official");
  });

  it("counts the parts of a multipart copy without a planned count at 512 MiB, rounded down, plus one per object", () => {
    const e = estimateRun({ ...IDLE, multipartCopy: { STANDARD: { objects: 3, bytes: 6 * GiB - 1 } } });
    // floor((6 GiB - 1) / 512 MiB) = 11, plus 3: 14 parts; 2 × 3 creates and completes.
    expect(e.lines.find((l) => l.item.startsWith("Multipart copy PUT-tier"))?.item).toBe(
      "Multipart copy PUT-tier requests (STANDARD): create + 14 parts + complete",
    );
    expect(e.kms.requestsWithoutBucketKey).toBe(3 + 14);
    expect(e.jobs).toBe(0);
  });
});

describe("renderEstimate and formatDuration", () => {
  it("renders the whole text, one line each, lists joined by semicolons", () => {
    const e = estimateRun({ ...IDLE, copy: { STANDARD: { objects: 1000, bytes: GiB } }, noncurrentExpirationDays: 45 });
    // Only the job line: the per-request prices' text is not what this test is about.
    const jobs = e.lines.filter((l) => l.item === "Batch Operations jobs");
    expect(renderEstimate({ ...e, lines: jobs, notIncluded: ["a", "b"], assumptions: ["c", "d"] })).toBe(
      [
        "Estimate (us-east-1 prices as of 2026-11-22; the least sure price is [unverified], see Sources below). Objects: 1,000 copied and 0 updated in 1 Batch Operations job(s), 0 multipart-copied, 0 skipped.",
        "One-time cost: $0.26 with S3 Bucket Keys ($0.26 if every object called KMS).",
        "  Batch Operations jobs: 1 × $0.25 each = $0.25 [3p]",
        "  KMS requests: 1,000 with Bucket Keys = <$0.01; 1,000 without = <$0.01 [3p]",
        "Old versions kept: 1 GiB, $0.02 per month for 1.5 month(s) until lifecycle expires them = $0.03.",
        "Duration: 5 min to 1 h 00 min (assumed rates).",
        "Not included: a; b.",
        "Assumptions: c; d.",
        "Sources in brackets: [3p] a secondary source quoting AWS's list price.",
      ].join("\n"),
    );
  });

  it("shows no old-versions line when no old version is kept", () => {
    const text = renderEstimate(estimateRun(generated));
    expect(text).not.toContain("Old versions kept");
    expect(text).toContain("Duration: 5 min to 1 h 02 min (assumed rates).");
    expect(text).toContain("  Batch Operations jobs listing candidates (cancelled unrun): 2 × $0.25 each = $0.50 [3p]");
  });

  it("writes a unit price of a cent or more as each, smaller ones per 1,000, the smallest per million, and explains its tags", () => {
    const e = estimateRun(IDLE);
    const priced = (unitUsd: number) =>
      renderEstimate({
        ...e,
        lines: [{ item: "x", quantity: 1, unit: "u", unitUsd, usd: 0, confidence: "official", source: "s" }],
      });
    expect(priced(0.01)).toContain("  x: 1 × $0.01 each = $0.00 [official]");
    expect(priced(0.009)).toContain("  x: 1 × $9.00/1,000 = $0.00 [official]");
    // S3 Inventory's $0.0025 per million would round to $0.000003/1,000.
    expect(priced(0.0025 / 1_000_000)).toContain("  x: 1 × $0.0025/million = $0.00 [official]");
    expect(priced(0.0004 / 1000)).toContain("  x: 1 × $0.0004/1,000 = $0.00 [official]");
    expect(priced(0.0004 / 1000)).toContain(
      "Sources in brackets: [official] an AWS pricing page or AWS documentation; [3p]",
    );
  });

  it.each([
    [29, "0 min"],
    [3569, "59 min"],
    [3570, "1 h 00 min"],
    [47 * 3600 + 59 * 60, "47 h 59 min"],
    [48 * 3600, "2.0 days"],
  ])("formats %s seconds as %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
