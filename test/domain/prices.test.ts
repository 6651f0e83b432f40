import { describe, expect, it } from "vitest";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { estimateRun, renderEstimate } from "../../steps/domain/estimate.ts";
import { costOf, PRICES, putCopyRequestPrice } from "../../steps/domain/prices.ts";

const GiB = 1024 ** 3;
const NOTHING = { objects: 0, bytes: 0 };

/** Old versions left by copying one GiB of `storageClass` in a versioned bucket that expires them after a month. */
function oldVersionsOf(storageClass: CopyStorageClass) {
  return estimateRun({
    copy: { [storageClass]: { objects: 1, bytes: GiB } },
    updateEncryption: { fromSseS3: NOTHING, fromSseKms: NOTHING },
    multipartCopy: {},
    skipped: NOTHING,
    verifySample: 0,
    versioning: "Enabled",
    noncurrentExpirationDays: 30,
  }).oldVersions;
}

describe("prices", () => {
  it("costOf scales the price to the quantity", () => {
    expect(costOf(PRICES.kmsRequest, 20_000)).toBeCloseTo(0.06, 12);
    expect(costOf(PRICES.batchOperationsJob, 3)).toBe(0.75);
  });

  it.each<[CopyStorageClass, number, string]>([
    ["STANDARD", 0.023, "3p"],
    ["STANDARD_IA", 0.0125, "unverified"],
    ["ONEZONE_IA", 0.01, "unverified"],
    ["INTELLIGENT_TIERING", 0.023, "unverified"],
    ["GLACIER_IR", 0.004, "unverified"],
  ])("an old %s version costs $%s per GiB-month (confidence: %s)", (storageClass, usd, confidence) => {
    const old = oldVersionsOf(storageClass);
    expect(old.byClass).toEqual([{ storageClass, bytes: GiB, perMonthUsd: usd, confidence }]);
    expect(old.totalUsd).toBeCloseTo(usd, 12);
  });

  it("prices a COPY into S3 Standard at its own PUT price, from a secondary source", () => {
    expect(putCopyRequestPrice("STANDARD")).toEqual({
      usd: 0.005,
      per: 1_000,
      unit: "PUT/COPY/POST request (S3 Standard)",
      confidence: "3p",
      source: "athena.guide; COPY tier by destination class (SDK-S3 CopyObject 'Charge')",
    });
  });

  it("prices a COPY into another class at S3 Standard's PUT price, marked assumed and named as a stand-in", () => {
    expect(putCopyRequestPrice("ONEZONE_IA")).toEqual({
      usd: 0.005,
      per: 1_000,
      unit: "PUT/COPY request (ONEZONE_IA, priced as S3 Standard)",
      confidence: "assumed",
      source: "ONEZONE_IA's request price was not found; S3 Standard's is used (likely an underestimate)",
    });
  });

  it("the estimate names the region and the date of its prices", () => {
    const e = estimateRun({
      copy: { STANDARD: { objects: 1, bytes: GiB } },
      updateEncryption: { fromSseS3: NOTHING, fromSseKms: NOTHING },
      multipartCopy: {},
      skipped: NOTHING,
      verifySample: 0,
      versioning: "Enabled",
    });
    expect(renderEstimate(e)).toMatch(
      /^Estimate \(us-east-1 prices as of 2026-11-22; the least sure price is \[unverified\], see Sources below\)\./,
    );
  });
});
