import { HeadObjectCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { z } from "zod";
import { StateNames } from "../workflow/definition.ts";
import { encodeManifestKey, manifestLine } from "./domain/batch-manifest.ts";
import { type CopyStorageClass, classifyInventoryRow, needsKeyCheck } from "./domain/classify.ts";
import { estimateRun, type RouteCount, renderEstimate } from "./domain/estimate.ts";
import {
  type InventoryManifest,
  type InventoryRow,
  inventoryRowBatches,
  parseInventoryManifest,
  requireColumns,
} from "./domain/inventory.ts";
import type { VersioningStatus } from "./domain/preflight.ts";
import { RunTally } from "./domain/run-report.ts";
import { InventoryFormatError } from "./errors.ts";
import { FoundInventorySchema } from "./find-inventory.ts";
import type { LargeObject } from "./large-object-copy.ts";
import { LineUpload } from "./manifest-upload.ts";
import { type LargeObjectList, type Plan, type PlanEstimate, PlanFileSchema } from "./plan.ts";
import { planKeys, planPrefix, type RunContext, RunContextSchema } from "./run-context.ts";
import { getStreamWithMd5, getText, getTextIfExists, httpStatusOf, putJson } from "./s3-io.ts";
import { defineStep, type StepDeps } from "./step.ts";

const SKIPPED_HEADER = "bucket,key,reason,storage_class,encryption_status,size\n";

/**
 * Streams every data file of the inventory once: each row is classified, planned copies go into one manifest per
 * storage class, skipped objects into skipped.csv with their reason. Memory holds one line of each file, the
 * upload buffers and the counts, whatever the inventory's size.
 */
export const writeManifests = defineStep({
  state: StateNames.writeManifests,
  input: z.object({
    run: RunContextSchema,
    inventory: FoundInventorySchema,
    preflight: z
      .object({ facts: z.object({ versioning: z.string(), noncurrentExpirationDays: z.number().optional() }) })
      .optional(),
  }),
  async run({ run, inventory, preflight }, deps): Promise<Plan> {
    const { clients, log } = deps;
    const manifestText = await getText(clients.s3, inventory.bucket, inventory.manifestKey);
    const manifest = parseInventoryManifest(manifestText, inventory.manifestKey);
    if (manifest.sourceBucket !== run.bucket) {
      throw new InventoryFormatError(`the inventory is of bucket ${manifest.sourceBucket}, not ${run.bucket}.`, {
        file: inventory.manifestKey,
        fix: "Pass the inventory configuration id of the bucket being re-encrypted.",
      });
    }
    // A delivery without these columns would classify every row as missing-columns and copy nothing.
    requireColumns(manifest.columns);
    const plan = planPrefix(run.bucket, inventory.manifestKey, run.kmsKeyArn);
    const keys = planKeys(plan);
    const earlier = await getTextIfExists(clients.s3, run.workBucket, keys.plan);
    if (earlier !== undefined) {
      // Planning again could differ (objects re-encrypted since answer key checks differently) and would no longer
      // match the jobs an earlier execution created from this plan.
      const stored = PlanFileSchema.parse(JSON.parse(earlier));
      log.info("plan reused", { bucket: run.bucket, plan: keys.plan });
      return {
        inventoryManifestKey: stored.inventoryManifestKey,
        inventoryCreatedAt: stored.inventoryCreatedAt,
        manifests: stored.manifests,
        planKey: keys.plan,
        planPrefix: plan,
        ...(stored.largeObjects ? { largeObjects: stored.largeObjects } : {}),
        ...(stored.estimate ? { estimate: stored.estimate } : {}),
      };
    }
    const tally = new RunTally();
    const manifests = new Map<CopyStorageClass, LineUpload>();
    const updates = new LineUpload(clients.s3, run.workBucket, keys.updateManifest, "text/csv", "AES256");
    const skipped = new LineUpload(clients.s3, run.workBucket, keys.skipped, "text/csv");
    const large = new LineUpload(clients.s3, run.workBucket, keys.largeObjects, "application/x-ndjson", "AES256");
    const largeByClass: Partial<Record<CopyStorageClass, RouteCount>> = {};
    let largeObjects: LargeObjectList | undefined;
    const written: Plan["manifests"] = [];
    const updatesFrom = { sseS3: { objects: 0, bytes: 0 }, sseKms: { objects: 0, bytes: 0 } };
    try {
      await skipped.write(SKIPPED_HEADER);
      for (const file of manifest.files) {
        await streamDataFile(run, manifest, file, deps, async (batch) => {
          const underTarget = await targetKeyChecks(run, batch.filter(needsKeyCheck), deps);
          for (const row of batch) {
            const result = classifyInventoryRow(row, {
              sseKmsKeyIsTarget: (r) => underTarget.get(r.key),
              now: deps.now(),
            });
            tally.recordClassification(result, { key: row.key, size: row.size });
            if (result.kind === "update-encryption") {
              const from = row.encryptionStatus?.toUpperCase() === "SSE-S3" ? updatesFrom.sseS3 : updatesFrom.sseKms;
              from.objects += 1;
              from.bytes += row.size ?? 0;
              await updates.write(manifestLine(run.bucket, row.key));
            } else if (result.kind === "copy") {
              let upload = manifests.get(result.storageClass);
              if (!upload) {
                upload = new LineUpload(
                  clients.s3,
                  run.workBucket,
                  keys.manifest(result.storageClass),
                  "text/csv",
                  "AES256",
                );
                manifests.set(result.storageClass, upload);
              }
              await upload.write(manifestLine(run.bucket, row.key));
            } else if (result.kind === "large-copy") {
              const slot = largeByClass[result.storageClass] ?? { objects: 0, bytes: 0 };
              largeByClass[result.storageClass] = slot;
              slot.objects += 1;
              slot.bytes += row.size ?? 0;
              const object: LargeObject = {
                key: row.key,
                size: row.size ?? 0,
                ...(row.eTag === undefined ? {} : { etag: row.eTag }),
                storageClass: result.storageClass,
              };
              await large.write(`${JSON.stringify(object)}\n`);
            } else if (result.kind === "skipped") {
              await skipped.write(
                skippedLine(row.bucket, row.key, result.reason, row.storageClass, row.encryptionStatus, row.size),
              );
            }
          }
        });
        log.info("inventory file read", { bucket: run.bucket, file: file.key, seen: tally.snapshot.seen.count });
      }
      await skipped.finish();
      for (const [storageClass, upload] of manifests) {
        const etag = await upload.finish();
        const planned = tally.snapshot.copyPlanned[storageClass] ?? { count: 0, bytes: 0 };
        written.push({
          operation: "copy",
          storageClass,
          key: upload.key,
          etag,
          objects: planned.count,
          bytes: planned.bytes,
        });
        log.info("manifest written", { bucket: run.bucket, storageClass, key: upload.key, objects: planned.count });
      }
      const updatePlanned = tally.snapshot.updatePlanned;
      if (updatePlanned.count > 0) {
        const etag = await updates.finish();
        written.push({
          operation: "update-encryption",
          key: updates.key,
          etag,
          objects: updatePlanned.count,
          bytes: updatePlanned.bytes,
        });
        log.info("manifest written", {
          bucket: run.bucket,
          operation: "update-encryption",
          key: updates.key,
          objects: updatePlanned.count,
        });
      } else {
        await updates.abort();
      }
      const largePlanned = tally.snapshot.largeCopyPlanned;
      if (largePlanned.count > 0) {
        await large.finish();
        largeObjects = { key: large.key, objects: largePlanned.count, bytes: largePlanned.bytes };
        log.info("large-object list written", { bucket: run.bucket, key: large.key, objects: largePlanned.count });
      } else {
        await large.abort();
      }
    } catch (err) {
      await Promise.all([skipped, updates, large, ...manifests.values()].map((u) => u.abort()));
      throw err;
    }
    const reconciliation = tally.reconcile();
    if (!reconciliation.ok) throw new Error(`Plan counts do not add up: ${reconciliation.problems.join(" ")}`);
    const estimate = planEstimate(run, tally, updatesFrom, largeByClass, preflight?.facts);
    await putJson(clients.s3, run.workBucket, keys.plan, {
      inventoryManifestKey: inventory.manifestKey,
      inventoryCreatedAt: manifest.creationTimestamp.toISOString(),
      manifests: written,
      ...(largeObjects ? { largeObjects } : {}),
      tally: tally.toJSON(),
      estimate,
    });
    log.info("plan written", { bucket: run.bucket, plan: keys.plan, oneTimeUsd: estimate.oneTimeUsd });
    return {
      inventoryManifestKey: inventory.manifestKey,
      inventoryCreatedAt: manifest.creationTimestamp.toISOString(),
      manifests: written,
      planKey: keys.plan,
      planPrefix: plan,
      ...(largeObjects ? { largeObjects } : {}),
      estimate,
    };
  },
});

/** Reads one gzipped data file, checking its MD5 against the inventory manifest as the bytes go by. */
async function streamDataFile(
  run: RunContext,
  manifest: InventoryManifest,
  file: InventoryManifest["files"][number],
  { clients }: StepDeps,
  onBatch: (rows: InventoryRow[]) => Promise<void>,
): Promise<void> {
  const { body, md5 } = await getStreamWithMd5(clients.s3, manifest.destinationBucket, file.key);
  for await (const batch of inventoryRowBatches(body, manifest.columns, file.key)) {
    for (const row of batch) {
      if (row.bucket !== run.bucket) {
        throw new InventoryFormatError(`a row names bucket ${row.bucket}, not ${run.bucket}.`, {
          file: file.key,
          fix: "The inventory does not belong to this bucket; check the inventory configuration.",
        });
      }
    }
    await onBatch(batch);
  }
  const digest = md5();
  if (digest !== file.md5.toLowerCase()) {
    throw new InventoryFormatError(`the file's MD5 is ${digest}, but manifest.json says ${file.md5}.`, {
      file: file.key,
      fix: "The file is damaged or was replaced. Wait for the next inventory delivery and start a new run.",
    });
  }
}

function skippedLine(
  bucket: string,
  key: string,
  reason: string,
  storageClass: string | undefined,
  encryption: string | undefined,
  size: number | undefined,
): string {
  // The key is percent-encoded like a manifest key, so commas, quotes and newlines in keys cannot break the CSV.
  return `${bucket},${encodeManifestKey(key)},${reason},${storageClass ?? ""},${encryption ?? ""},${size ?? ""}\n`;
}

/** HeadObject calls in flight while checking which key SSE-KMS objects are under. */
const KEY_CHECK_CONCURRENCY = 32;

/**
 * S3 Inventory does not name the KMS key (aws-facts 1.1), so SSE-KMS objects with a Bucket Key are checked one by
 * one: under the target key they are compliant, under another they need an encryption update. An object deleted
 * since the inventory answers 404 and stays unverified.
 */
async function targetKeyChecks(
  run: RunContext,
  rows: InventoryRow[],
  { clients }: StepDeps,
): Promise<Map<string, boolean | undefined>> {
  const limit = pLimit(KEY_CHECK_CONCURRENCY);
  const results = await Promise.all(
    rows.map((row) =>
      limit(async (): Promise<[string, boolean | undefined]> => {
        try {
          const head = await clients.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: row.key }));
          return [row.key, head.ServerSideEncryption === "aws:kms" ? head.SSEKMSKeyId === run.kmsKeyArn : undefined];
        } catch (err) {
          if (httpStatusOf(err) === 404) return [row.key, undefined];
          throw err;
        }
      }),
    ),
  );
  return new Map(results);
}

/** The cost and duration of what the plan will do, from its counts (steps/domain/estimate.ts). */
function planEstimate(
  run: RunContext,
  tally: RunTally,
  updatesFrom: { sseS3: RouteCount; sseKms: RouteCount },
  multipartCopy: Partial<Record<CopyStorageClass, RouteCount>>,
  facts: { versioning: string; noncurrentExpirationDays?: number | undefined } | undefined,
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
    inventoryObjectsListed: t.seen.count,
  });
  return {
    oneTimeUsd: e.oneTimeUsd,
    durationLowSeconds: e.duration.lowSeconds,
    durationHighSeconds: e.duration.highSeconds,
    text: renderEstimate(e),
  };
}
