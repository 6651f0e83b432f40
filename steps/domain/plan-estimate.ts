import type { PlanEstimate } from "../../contract/plan.ts";
import type { RunContext } from "../../contract/run-context.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { estimateRun, type RouteCount, renderEstimate } from "./estimate.ts";
import type { VersioningStatus } from "./preflight-facts.ts";
import type { RunTally } from "./tally.ts";

/** The cost and duration of what the plan will do, from its counts (estimate.ts). */
export function planEstimate(
  run: RunContext,
  tally: RunTally,
  updatesFrom: { sseS3: RouteCount; sseKms: RouteCount },
  multipartCopy: Partial<Record<CopyStorageClass, RouteCount>>,
  facts: { versioning: string; noncurrentExpirationDays?: number | undefined } | undefined,
  source: {
    listJobs: number;
    sizesKnown: boolean;
    /** HeadObject requests planning made. */
    planningHeadRequests?: number;
    /** SSE-KMS objects with a Bucket Key updated without a key check (options.sseKmsWithBucketKey "update"). */
    keyChecksSkipped?: number;
    /** What each of planning's Athena queries scanned (the athena engine). */
    athenaQueriesScanned?: number[];
  },
): PlanEstimate {
  const t = tally.snapshot;
  const copy = Object.fromEntries(
    Object.entries(t.copyPlanned).map(([storageClass, c]) => [storageClass, { objects: c.count, bytes: c.bytes }]),
  );
  let skipped: RouteCount = { objects: 0, bytes: 0 };
  for (const c of Object.values(t.skipped))
    skipped = { objects: skipped.objects + c.count, bytes: skipped.bytes + c.bytes };
  const changed =
    Object.values(t.copyPlanned).reduce((n, c) => n + c.count, 0) + t.updatePlanned.count + t.largeCopyPlanned.count;
  const versioning: VersioningStatus =
    facts?.versioning === "Enabled" || facts?.versioning === "Suspended" ? facts.versioning : "Unversioned";
  const e = estimateRun({
    copy,
    updateEncryption: { fromSseS3: updatesFrom.sseS3, fromSseKms: updatesFrom.sseKms },
    multipartCopy,
    skipped,
    verifySample: Math.min(run.options.verifySampleSize, changed),
    versioning,
    ...(facts?.noncurrentExpirationDays === undefined
      ? {}
      : { noncurrentExpirationDays: facts.noncurrentExpirationDays }),
    ...(source.listJobs > 0
      ? { candidateListJobs: source.listJobs, sizesKnown: source.sizesKnown }
      : { inventoryObjectsListed: t.seen.count }),
    ...(source.planningHeadRequests ? { planningHeadRequests: source.planningHeadRequests } : {}),
    ...(source.keyChecksSkipped ? { keyChecksSkipped: source.keyChecksSkipped } : {}),
    ...(source.athenaQueriesScanned ? { athenaQueriesScanned: source.athenaQueriesScanned } : {}),
  });
  return {
    oneTimeUsd: e.oneTimeUsd,
    durationLowSeconds: e.duration.lowSeconds,
    durationHighSeconds: e.duration.highSeconds,
    text: renderEstimate(e),
  };
}
