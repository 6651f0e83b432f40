import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { VerificationFailedError } from "../../contract/errors.ts";
import type { LargeObject } from "../../contract/large-objects.ts";
import { type LargeObjectList, type PlanFile, PlanFileSchema, type WorkManifest } from "../../contract/plan.ts";
import { planGenerationPrefix, planKeys, type RunContext } from "../../contract/run-context.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { encodeManifestKey, manifestLine } from "../domain/batch-manifest.ts";
import type { Classification } from "../domain/classify.ts";
import type { EarlierDoer } from "../domain/earlier-work.ts";
import type { RouteCount } from "../domain/estimate.ts";
import type { InventoryRow } from "../domain/inventory.ts";
import { RunTally } from "../domain/tally.ts";
import type { StepDeps } from "../runtime/step.ts";
import { ENDED_WITHOUT_FINISHING, jobsOfPlan } from "./batch-jobs.ts";
import { LineUpload } from "./manifest-upload.ts";
import { getTextIfExists, httpStatusOf } from "./s3-io.ts";

/**
 * The files of a plan in the work bucket (contract/run-context.ts planKeys), written as "Filter inventory and write
 * manifests" classifies each object: one Batch Operations manifest per copied storage class, one for encryption
 * updates, the list of objects over 5 GiB, and skipped.csv with each skipped object's reason.
 */

const SKIPPED_HEADER = "bucket,key,reason,storage_class,encryption_status,size\n";

/** What the plan records of one object: the inventory row, or what a candidate list and HeadObject tell. */
export type PlannedObject = Pick<
  InventoryRow,
  "bucket" | "key" | "size" | "storageClass" | "encryptionStatus" | "eTag" | "lastModified"
>;

/** The files a plan writes, fed one classified object at a time; one route per object. */
export class PlanWriter {
  readonly tally = new RunTally();
  readonly updatesFrom = { sseS3: { objects: 0, bytes: 0 }, sseKms: { objects: 0, bytes: 0 } };
  readonly largeByClass: Partial<Record<CopyStorageClass, RouteCount>> = {};
  private readonly copies = new Map<CopyStorageClass, LineUpload>();
  private readonly updates: LineUpload;
  private readonly skipped: LineUpload;
  private readonly large: LineUpload;

  constructor(
    private readonly run: RunContext,
    private readonly keys: ReturnType<typeof planKeys>,
    private readonly deps: StepDeps,
  ) {
    const { s3 } = deps.clients;
    this.updates = new LineUpload(s3, run.workBucket, keys.updateManifest, "text/csv", "AES256");
    this.skipped = new LineUpload(s3, run.workBucket, keys.skipped, "text/csv");
    this.large = new LineUpload(s3, run.workBucket, keys.largeObjects, "application/x-ndjson", "AES256");
  }

  start(): Promise<void> {
    return this.skipped.write(SKIPPED_HEADER);
  }

  /** An object an earlier run's job already made compliant: counted as that run's work, not planned. */
  addDoneEarlier(object: PlannedObject, by: EarlierDoer): void {
    this.tally.recordDoneEarlier(by.runId, { size: object.size });
  }

  async add(object: PlannedObject, result: Classification): Promise<void> {
    this.tally.recordClassification(result, { key: object.key, size: object.size });
    if (result.kind === "update-encryption") {
      const from =
        object.encryptionStatus?.toUpperCase() === "SSE-S3" ? this.updatesFrom.sseS3 : this.updatesFrom.sseKms;
      from.objects += 1;
      from.bytes += object.size ?? 0;
      await this.updates.write(manifestLine(this.run.bucket, object.key));
    } else if (result.kind === "copy") {
      let upload = this.copies.get(result.storageClass);
      if (!upload) {
        upload = new LineUpload(
          this.deps.clients.s3,
          this.run.workBucket,
          this.keys.manifest(result.storageClass),
          "text/csv",
          "AES256",
        );
        this.copies.set(result.storageClass, upload);
      }
      await upload.write(manifestLine(this.run.bucket, object.key));
    } else if (result.kind === "large-copy") {
      // The estimate prices an unknown class (an encrypted object of a generated list) as STANDARD.
      const priced = result.storageClass ?? "STANDARD";
      const slot = this.largeByClass[priced] ?? { objects: 0, bytes: 0 };
      this.largeByClass[priced] = slot;
      slot.objects += 1;
      slot.bytes += object.size ?? 0;
      const line: LargeObject = {
        key: object.key,
        size: object.size ?? 0,
        ...(object.eTag === undefined ? {} : { etag: object.eTag }),
        ...(result.storageClass === undefined ? {} : { storageClass: result.storageClass }),
        ...(result.why === undefined ? {} : { why: result.why }),
      };
      await this.large.write(`${JSON.stringify(line)}\n`);
    } else if (result.kind === "skipped") {
      await this.skipped.write(
        skippedLine(
          object.bucket,
          object.key,
          result.reason,
          object.storageClass,
          object.encryptionStatus,
          object.size,
        ),
      );
    }
  }

  /** Completes every file with content (and drops the empty ones); returns what the plan hands on. */
  async finish(): Promise<{ manifests: WorkManifest[]; largeObjects?: LargeObjectList }> {
    const { log } = this.deps;
    const bucket = this.run.bucket;
    const manifests: WorkManifest[] = [];
    await this.skipped.finish();
    for (const [storageClass, upload] of this.copies) {
      const etag = await upload.finish();
      const planned = this.tally.snapshot.copyPlanned[storageClass] ?? { count: 0, bytes: 0 };
      manifests.push({
        operation: "copy",
        storageClass,
        key: upload.key,
        etag,
        objects: planned.count,
        bytes: planned.bytes,
      });
      log.info("manifest written", { bucket, storageClass, key: upload.key, objects: planned.count });
    }
    const updatePlanned = this.tally.snapshot.updatePlanned;
    if (updatePlanned.count > 0) {
      const etag = await this.updates.finish();
      manifests.push({
        operation: "update-encryption",
        key: this.updates.key,
        etag,
        objects: updatePlanned.count,
        bytes: updatePlanned.bytes,
      });
      log.info("manifest written", { bucket, operation: "update-encryption", key: this.updates.key });
    } else {
      await this.updates.abort();
    }
    const largePlanned = this.tally.snapshot.largeCopyPlanned;
    if (largePlanned.count === 0) {
      await this.large.abort();
      return { manifests };
    }
    await this.large.finish();
    log.info("large-object list written", { bucket, key: this.large.key, objects: largePlanned.count });
    return { manifests, largeObjects: { key: this.large.key, objects: largePlanned.count, bytes: largePlanned.bytes } };
  }

  async abort(): Promise<void> {
    await Promise.all([this.skipped, this.updates, this.large, ...this.copies.values()].map((u) => u.abort()));
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

/** Plans of one inventory made again after a stop or a failure before rekey stops trying (each one is a new run). */
const MAX_PLAN_GENERATIONS = 100;

/**
 * The newest generation of the plan: a complete one still usable (`stored`), or the first free prefix to plan in.
 * `stale` lists why each earlier generation was not reused, for the log.
 */
export async function currentPlanGeneration(
  run: RunContext,
  base: string,
  deps: StepDeps,
): Promise<{ prefix: string; stored?: PlanFile; stale: string[] }> {
  const stale: string[] = [];
  for (let generation = 0; generation < MAX_PLAN_GENERATIONS; generation++) {
    const prefix = planGenerationPrefix(base, generation);
    const text = await getTextIfExists(deps.clients.s3, run.workBucket, planKeys(prefix).plan);
    if (text === undefined) return { prefix, stale };
    const stored = PlanFileSchema.parse(JSON.parse(text));
    const why = await whyNotReusable(run, prefix, stored, deps);
    if (why === undefined) return { prefix, stored, stale };
    stale.push(`${prefix}: ${why}`);
  }
  throw new VerificationFailedError(`${MAX_PLAN_GENERATIONS} plans of ${base} were stopped or failed.`, {
    fix: `Read why in the plans' jobs (aws s3control list-jobs) and fix that first; ${stale.at(-1) ?? ""}`,
  });
}

async function whyNotReusable(
  run: RunContext,
  prefix: string,
  stored: PlanFile,
  { clients }: StepDeps,
): Promise<string | undefined> {
  for (const m of stored.manifests) {
    let etag: string | undefined;
    try {
      etag = (await clients.s3.send(new HeadObjectCommand({ Bucket: run.workBucket, Key: m.key }))).ETag;
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw err;
    }
    const unquoted = (e: string | undefined) => e?.replaceAll('"', "");
    if (unquoted(etag) !== unquoted(m.etag)) {
      return `manifest ${m.key} ${etag === undefined ? "is gone" : `has ETag ${etag}, not ${m.etag}`}`;
    }
  }
  const jobs = await jobsOfPlan(clients.s3control, run.accountId, run.bucket, prefix);
  const ended = jobs.find((j) => ENDED_WITHOUT_FINISHING.has(j.Status ?? ""));
  return ended ? `job ${ended.JobId ?? "?"} ended ${ended.Status ?? "?"}` : undefined;
}
