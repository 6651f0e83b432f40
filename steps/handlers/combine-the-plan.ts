import { z } from "zod";
import { FoundCandidatesSchema, FoundInventorySchema } from "../../contract/candidates.ts";
import { VerificationFailedError } from "../../contract/errors.ts";
import {
  type LargeObjectList,
  type Plan,
  type PlanFile,
  PlanFileSchema,
  planOf,
  SlicesToPlanSchema,
  type WorkManifest,
} from "../../contract/plan.ts";
import type { NotCurrentReason } from "../../contract/reasons.ts";
import { planKeys, RunContextSchema, type SliceKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import type { TallyState } from "../../contract/tally.ts";
import { type JoinSource, joinObjects } from "../aws/join-objects.ts";
import { loadSliceSummaries, requirePlanSource, type SliceSummary } from "../aws/plan-slices.ts";
import { SKIPPED_HEADER } from "../aws/plan-writer.ts";
import { deleteKeys, getTextIfExists, listSizes, putJson } from "../aws/s3-io.ts";
import type { RouteCount } from "../domain/estimate.ts";
import { routedLines } from "../domain/inventory-routes.ts";
import { planEstimate } from "../domain/plan-estimate.ts";
import { RunTally } from "../domain/tally.ts";
import { defineStep } from "../runtime/step.ts";

/**
 * Joins what every slice planned into the plan: each file's parts, in slice order, into one object (one Batch
 * Operations manifest per copied storage class, one for encryption updates, the large-object list, skipped.csv),
 * copied by S3 where it can (steps/aws/join-objects.ts); the slices' tallies into one, reconciled; the estimate; then
 * plan.json, written last, and the slices' parts deleted. A single CSV per job, the format Batch Operations documents
 * for lists it did not generate (S3BatchOperations_CSV_20180820,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobManifestSpec.html): the other format it reads is
 * an S3 Inventory report's manifest.json, which rekey does not forge.
 */
export const combinePlan = defineStep({
  state: StateNames.combinePlan,
  input: z.object({
    run: RunContextSchema,
    inventory: z.union([FoundInventorySchema, FoundCandidatesSchema]),
    slicing: SlicesToPlanSchema,
    preflight: z
      .object({ facts: z.object({ versioning: z.string(), noncurrentExpirationDays: z.number().optional() }) })
      .optional(),
  }),
  async run({ run, inventory, slicing, preflight }, deps): Promise<Plan> {
    const { clients, log } = deps;
    const keys = planKeys(slicing.planPrefix);
    const handOn = (file: Omit<PlanFile, "tally">): Plan => planOf(file, keys.plan, slicing.planPrefix);
    // A retry after plan.json was written hands on what it says (the slices' parts may be gone).
    const written = await getTextIfExists(clients.s3, run.workBucket, keys.plan);
    if (written !== undefined) {
      return handOn(PlanFileSchema.parse(JSON.parse(written)));
    }
    const source = await requirePlanSource(run, keys.delivery, deps);
    const slices = Array.from({ length: slicing.slices }, (_, i) => keys.slice(i));
    const summaries = await loadSliceSummaries(run, slices, deps);
    const tally = new RunTally();
    // What Athena routed itself is counted by its query (steps/domain/inventory-routes.ts); the slices count the rest.
    const routed = source.athena?.routed;
    tally.merge([...(routed ? [routed.tally] : []), ...summaries.map((s) => s.tally)]);
    for (const [reason, counted] of Object.entries(source.athena?.notCurrent ?? {})) {
      if (counted) tally.recordNotCurrent(reason as NotCurrentReason, counted);
    }
    if (routed) checkRoutedLines(routed.tally, summaries, slicing.planPrefix, run.workBucket);
    const reconciliation = tally.reconcile();
    if (!reconciliation.ok) {
      throw new VerificationFailedError(`Plan counts do not add up: ${reconciliation.problems.join(" ")}`, {
        fix: "This is a bug in planning; report it with the execution's history. No object was changed.",
      });
    }
    const sizes = await listSizes(clients.s3, run.workBucket, keys.slicesPrefix);
    const join = async (
      key: string,
      part: (slice: SliceKeys) => string,
      content: { contentType: string; serverSideEncryption?: "AES256" },
      head = "",
    ) => {
      const sources: JoinSource[] = slices.flatMap((slice) => {
        const size = sizes.get(part(slice));
        return size === undefined ? [] : [{ key: part(slice), size }];
      });
      const joined = await joinObjects(clients.s3, { bucket: run.workBucket, key, ...content }, head, sources);
      log.info("plan file joined", { bucket: run.bucket, key, parts: sources.length, bytes: joined.bytes });
      return joined.etag;
    };
    const t = tally.snapshot;
    const manifests: WorkManifest[] = [];
    for (const [storageClass, planned] of Object.entries(t.copyPlanned)) {
      if (!planned || planned.count === 0) continue;
      const key = keys.manifest(storageClass);
      const etag = await join(key, (s) => s.manifest(storageClass), MANIFEST);
      manifests.push({ operation: "copy", storageClass, key, etag, objects: planned.count, bytes: planned.bytes });
    }
    if (t.updatePlanned.count > 0) {
      const etag = await join(keys.updateManifest, (s) => s.updateManifest, MANIFEST);
      const { count: objects, bytes } = t.updatePlanned;
      manifests.push({ operation: "update-encryption", key: keys.updateManifest, etag, objects, bytes });
    }
    let largeObjects: LargeObjectList | undefined;
    if (t.largeCopyPlanned.count > 0) {
      await join(keys.largeObjects, (s) => s.largeObjects, {
        contentType: "application/x-ndjson",
        serverSideEncryption: "AES256",
      });
      largeObjects = { key: keys.largeObjects, objects: t.largeCopyPlanned.count, bytes: t.largeCopyPlanned.bytes };
    }
    await join(keys.skipped, (s) => s.skipped, { contentType: "text/csv" }, SKIPPED_HEADER);
    const sum = (f: (s: (typeof summaries)[number]) => number) => summaries.reduce((n, s) => n + f(s), 0);
    const parts = [...(routed ? [routed] : []), ...summaries];
    const estimate = planEstimate(run, tally, updatesFrom(parts), largeByClass(summaries), preflight?.facts, {
      listJobs: "lists" in inventory ? inventory.lists.length : 0,
      sizesKnown: !("lists" in inventory),
      planningHeadRequests: sum((s) => s.headsSent),
      keyChecksSkipped: sum((s) => s.keyChecksSkipped) + (routed?.keyChecksSkipped ?? 0),
      ...(source.athena ? { athenaQueriesScanned: source.athena.scannedBytes } : {}),
    });
    const file: Omit<PlanFile, "tally"> = {
      inventoryManifestKey: source.key,
      inventoryCreatedAt: source.createdAt,
      manifests,
      ...(largeObjects ? { largeObjects } : {}),
      estimate,
      ...(source.engine ? { engine: source.engine } : {}),
    };
    await putJson(clients.s3, run.workBucket, keys.plan, { ...file, tally: tally.toJSON() });
    log.info("plan written", {
      bucket: run.bucket,
      plan: keys.plan,
      slices: slicing.slices,
      oneTimeUsd: estimate.oneTimeUsd,
    });
    // The slices' parts, summaries and items, once plan.json holds what they said.
    await deleteKeys(clients.s3, run.workBucket, [...sizes.keys(), keys.sliceItems]);
    return handOn(file);
  },
});

const MANIFEST = { contentType: "text/csv", serverSideEncryption: "AES256" } as const;

function updatesFrom(summaries: { updatesFrom: { sseS3: RouteCount; sseKms: RouteCount } }[]) {
  const total = { sseS3: { objects: 0, bytes: 0 }, sseKms: { objects: 0, bytes: 0 } };
  for (const s of summaries) {
    for (const k of ["sseS3", "sseKms"] as const) {
      total[k].objects += s.updatesFrom[k].objects;
      total[k].bytes += s.updatesFrom[k].bytes;
    }
  }
  return total;
}

function largeByClass(summaries: { largeByClass: Record<string, RouteCount> }[]) {
  const total: Partial<Record<CopyStorageClass, RouteCount>> = {};
  for (const s of summaries) {
    for (const [storageClass, counted] of Object.entries(s.largeByClass)) {
      const slot = total[storageClass as CopyStorageClass] ?? { objects: 0, bytes: 0 };
      total[storageClass as CopyStorageClass] = slot;
      slot.objects += counted.objects;
      slot.bytes += counted.bytes;
    }
  }
  return total;
}

/** The lines the slices appended from Athena's files are as many as Athena counted, route by route. */
function checkRoutedLines(
  counted: TallyState,
  summaries: readonly SliceSummary[],
  planPrefix: string,
  workBucket: string,
): void {
  const appended = new Map<string, number>();
  for (const s of summaries) {
    for (const [part, lines] of Object.entries(s.routedLines)) appended.set(part, (appended.get(part) ?? 0) + lines);
  }
  const expected: Map<string, number> = routedLines(counted);
  const problems = [...new Set([...expected.keys(), ...appended.keys()])].flatMap((part) => {
    const want = expected.get(part) ?? 0;
    const got = appended.get(part) ?? 0;
    return want === got ? [] : [`${part}: Athena counted ${want}, its files held ${got} line(s)`];
  });
  if (problems.length > 0) {
    throw new VerificationFailedError(`Athena's routed files do not match its count: ${problems.join("; ")}.`, {
      fix: `No object was changed. Delete s3://${workBucket}/${planPrefix} and start the run again; if it recurs, run with engine stream and report it.`,
    });
  }
}
