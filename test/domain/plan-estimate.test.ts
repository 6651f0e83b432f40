import { describe, expect, it } from "vitest";
import { RunContextSchema } from "../../contract/run-context.ts";
import { classifyInventoryRow } from "../../steps/domain/classify.ts";
import { estimateRun, renderEstimate } from "../../steps/domain/estimate.ts";
import { planEstimate } from "../../steps/domain/plan-estimate.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { inventoryObject } from "./helpers.ts";

const run = (verifySampleSize: number) =>
  RunContextSchema.parse({
    runId: "r",
    executionId: "e",
    bucket: "src",
    kmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/k",
    region: "eu-west-1",
    accountId: "111122223333",
    workBucket: "work",
    runPrefix: "runs/r/",
    startedAt: "2026-12-02T09:00:00Z",
    options: { verifySampleSize },
  });

/**
 * Three STANDARD copies (300 B), one STANDARD_IA copy (50 B), an SSE-S3 update, a large copy, two skips (SSE-C 7 B,
 * GLACIER 9 B).
 */
function tally(): RunTally {
  const t = new RunTally();
  const rows = [
    inventoryObject("a"),
    inventoryObject("b"),
    inventoryObject("c"),
    inventoryObject("ia", { storageClass: "STANDARD_IA", size: 50 }),
    inventoryObject("s3", { encryptionStatus: "SSE-S3" }),
    inventoryObject("c-key", { encryptionStatus: "SSE-C", size: 7 }),
    inventoryObject("cold", { storageClass: "GLACIER", size: 9 }),
    inventoryObject("big", { size: 6 * 1024 ** 3 }),
  ];
  for (const r of rows) t.recordClassification(classifyInventoryRow(r), r);
  return t;
}

const updatesFrom = { sseS3: { objects: 1, bytes: 100 }, sseKms: { objects: 0, bytes: 0 } };
const multipart = { STANDARD: { objects: 1, bytes: 6 * 1024 ** 3 } };

describe("planEstimate", () => {
  it("prices the plan's counts: copies by class, skips summed, the sample capped by what changes", () => {
    const t = tally();
    expect(t.snapshot.updatePlanned.count).toBe(1);
    expect(t.snapshot.largeCopyPlanned.count).toBe(1);
    const got = planEstimate(
      run(100),
      t,
      updatesFrom,
      multipart,
      { versioning: "Enabled", noncurrentExpirationDays: 30 },
      {
        listJobs: 0,
        sizesKnown: true,
      },
    );
    const e = estimateRun({
      copy: { STANDARD: { objects: 3, bytes: 300 }, STANDARD_IA: { objects: 1, bytes: 50 } },
      updateEncryption: { fromSseS3: updatesFrom.sseS3, fromSseKms: updatesFrom.sseKms },
      multipartCopy: multipart,
      skipped: { objects: 2, bytes: 16 },
      verifySample: 6, // 4 copies, 1 update and 1 large copy change
      versioning: "Enabled",
      noncurrentExpirationDays: 30,
      inventoryObjectsListed: 8,
    });
    expect(got).toEqual({
      oneTimeUsd: e.oneTimeUsd,
      durationLowSeconds: e.duration.lowSeconds,
      durationHighSeconds: e.duration.highSeconds,
      text: renderEstimate(e),
    });
  });

  it("uses the operator's sample when smaller, and counts candidate-list jobs instead of an inventory", () => {
    const got = planEstimate(
      run(2),
      tally(),
      updatesFrom,
      {},
      { versioning: "Suspended" },
      { listJobs: 3, sizesKnown: false },
    );
    const e = estimateRun({
      copy: { STANDARD: { objects: 3, bytes: 300 }, STANDARD_IA: { objects: 1, bytes: 50 } },
      updateEncryption: { fromSseS3: updatesFrom.sseS3, fromSseKms: updatesFrom.sseKms },
      multipartCopy: {},
      skipped: { objects: 2, bytes: 16 },
      verifySample: 2,
      versioning: "Suspended",
      candidateListJobs: 3,
      sizesKnown: false,
    });
    expect(got.text).toBe(renderEstimate(e));
    expect(got.oneTimeUsd).toBe(e.oneTimeUsd);
  });

  it("treats unknown or missing versioning as unversioned", () => {
    const base = { listJobs: 0, sizesKnown: true };
    const unversioned = planEstimate(run(0), tally(), updatesFrom, {}, { versioning: "Unversioned" }, base);
    expect(planEstimate(run(0), tally(), updatesFrom, {}, undefined, base)).toEqual(unversioned);
    expect(planEstimate(run(0), tally(), updatesFrom, {}, { versioning: "Off" }, base)).toEqual(unversioned);
    expect(planEstimate(run(0), tally(), updatesFrom, {}, { versioning: "Enabled" }, base)).not.toEqual(unversioned);
  });
});
