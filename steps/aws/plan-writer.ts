import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { z } from "zod";
import { VerificationFailedError } from "../../contract/errors.ts";
import type { LargeObject } from "../../contract/large-objects.ts";
import { type LargeObjectList, type PlanFile, PlanFileSchema, type WorkManifest } from "../../contract/plan.ts";
import { planGenerationPrefix, planKeys, type RunContext, type SliceKeys } from "../../contract/run-context.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { tallyStateSchema } from "../../contract/tally.ts";
import { encodeManifestKey, manifestLine } from "../domain/batch-manifest.ts";
import type { Classification } from "../domain/classify.ts";
import type { EarlierDoer } from "../domain/earlier-work.ts";
import type { RouteCount } from "../domain/estimate.ts";
import type { InventoryRow } from "../domain/inventory.ts";
import type { RoutedPart } from "../domain/inventory-routes.ts";
import { RunTally } from "../domain/tally.ts";
import type { StepDeps } from "../runtime/step.ts";
import { ENDED_WITHOUT_FINISHING, jobsOfPlan } from "./batch-jobs.ts";
import { LineUpload } from "./manifest-upload.ts";
import { deleteKeys, getBytes, getTextIfExists, httpStatusOf, listSizes, putJson } from "./s3-io.ts";

/**
 * One slice's part of a plan's files in the work bucket (contract/run-context.ts sliceKeys), written as "Filter
 * inventory and write manifests" classifies each object: one Batch Operations manifest per copied storage class, one
 * for encryption updates, the list of objects over 5 GiB, and skipped.csv with each skipped object's reason.
 * "Combine the plan" joins the slices' parts into the plan's files (planKeys), skipped.csv under SKIPPED_HEADER.
 */

export const SKIPPED_HEADER = "bucket,key,reason,storage_class,encryption_status,size\n";

/** What the plan records of one object: the inventory row, or what a candidate list and HeadObject tell. */
export type PlannedObject = Pick<
  InventoryRow,
  "bucket" | "key" | "size" | "storageClass" | "encryptionStatus" | "eTag" | "lastModified"
>;

const SavedUploadSchema = z.object({
  uploadId: z.string().optional(),
  parts: z.array(z.object({ PartNumber: z.number().int().positive(), ETag: z.string() })),
  lines: z.number().int().nonnegative(),
  /** Where the bytes not yet uploaded are kept; absent when there are none. */
  tailKey: z.string().optional(),
});
type StoredUpload = z.infer<typeof SavedUploadSchema>;

/**
 * A slice's planning progress between invocations: `sliceKeys(prefix).checkpoint`, written last, after the tails it names,
 * so it always describes tails and parts that exist. `position` is the caller's (which data files are read).
 */
export const PlanCheckpointSchema = z.object({
  sequence: z.number().int().positive(),
  position: z.record(z.string(), z.json()),
  tally: tallyStateSchema,
  updatesFrom: z.object({
    sseS3: z.object({ objects: z.number(), bytes: z.number() }),
    sseKms: z.object({ objects: z.number(), bytes: z.number() }),
  }),
  largeByClass: z.record(z.string(), z.object({ objects: z.number(), bytes: z.number() })),
  routedLines: z.record(z.string(), z.number().int().nonnegative()).default({}),
  uploads: z.object({
    skipped: SavedUploadSchema,
    updates: SavedUploadSchema,
    large: SavedUploadSchema,
    copies: z.record(z.string(), SavedUploadSchema),
  }),
});
export type PlanCheckpoint = z.infer<typeof PlanCheckpointSchema>;

const CONTENT = {
  manifest: ["text/csv", "AES256"],
  skipped: ["text/csv", undefined],
  large: ["application/x-ndjson", "AES256"],
} as const;

/** The files a plan writes, fed one classified object at a time; one route per object. */
export class PlanWriter {
  readonly tally: RunTally;
  readonly updatesFrom = { sseS3: { objects: 0, bytes: 0 }, sseKms: { objects: 0, bytes: 0 } };
  readonly largeByClass: Partial<Record<CopyStorageClass, RouteCount>> = {};
  /** Lines appended as Athena wrote them, by part (appendRouted), for Combine the plan to check against its count. */
  readonly routedLines: Partial<Record<RoutedPart, number>> = {};
  private readonly copies = new Map<CopyStorageClass, LineUpload>();
  private readonly updates: LineUpload;
  private readonly skipped: LineUpload;
  private readonly large: LineUpload;
  /** The checkpoint this writer continues from (0: a plan begun in this invocation). */
  private sequence = 0;

  constructor(
    private readonly run: RunContext,
    private readonly keys: SliceKeys,
    private readonly deps: StepDeps,
    resumed?: { checkpoint: PlanCheckpoint; uploads: Map<string, LineUpload> },
  ) {
    const { s3 } = deps.clients;
    const open = (key: string, [type, sse]: readonly [string, "AES256" | undefined]) =>
      resumed?.uploads.get(key) ?? new LineUpload(s3, run.workBucket, key, type, sse);
    this.updates = open(keys.updateManifest, CONTENT.manifest);
    this.skipped = open(keys.skipped, CONTENT.skipped);
    this.large = open(keys.largeObjects, CONTENT.large);
    this.tally = resumed ? new RunTally(resumed.checkpoint.tally) : new RunTally();
    if (resumed) {
      const { checkpoint } = resumed;
      this.sequence = checkpoint.sequence;
      Object.assign(this.updatesFrom, structuredClone(checkpoint.updatesFrom));
      Object.assign(this.largeByClass, structuredClone(checkpoint.largeByClass));
      Object.assign(this.routedLines, structuredClone(checkpoint.routedLines));
      for (const storageClass of Object.keys(checkpoint.uploads.copies)) {
        const upload = resumed.uploads.get(keys.manifest(storageClass));
        if (upload) this.copies.set(storageClass as CopyStorageClass, upload);
      }
    }
  }

  /**
   * The writer a checkpoint saved, with its uploads continued, or undefined when the plan has none (never suspended,
   * or finished). `position` comes back as it was saved.
   */
  static async resume(
    run: RunContext,
    keys: SliceKeys,
    deps: StepDeps,
  ): Promise<{ writer: PlanWriter; position: PlanCheckpoint["position"] } | undefined> {
    const { s3 } = deps.clients;
    const text = await getTextIfExists(s3, run.workBucket, keys.checkpoint);
    if (text === undefined) return undefined;
    const checkpoint = PlanCheckpointSchema.parse(JSON.parse(text));
    const uploads = new Map<string, LineUpload>();
    const load = async (key: string, stored: StoredUpload, [type, sse]: readonly [string, "AES256" | undefined]) => {
      const tail = stored.tailKey ? await getBytes(s3, run.workBucket, stored.tailKey) : Buffer.alloc(0);
      uploads.set(key, LineUpload.resume(s3, run.workBucket, key, type, sse, stored, tail));
    };
    const { uploads: saved } = checkpoint;
    await load(keys.skipped, saved.skipped, CONTENT.skipped);
    await load(keys.updateManifest, saved.updates, CONTENT.manifest);
    await load(keys.largeObjects, saved.large, CONTENT.large);
    for (const [storageClass, stored] of Object.entries(saved.copies)) {
      await load(keys.manifest(storageClass), stored, CONTENT.manifest);
    }
    return { writer: new PlanWriter(run, keys, deps, { checkpoint, uploads }), position: checkpoint.position };
  }

  /**
   * Saves the plan so far for the next invocation and stops writing: the bytes not yet uploaded go to tail objects
   * of a new sequence number, then the checkpoint naming them. A crash before the checkpoint leaves the previous one
   * whole; the next invocation redoes what came after it.
   */
  async suspend(position: PlanCheckpoint["position"]): Promise<void> {
    const { s3 } = this.deps.clients;
    const sequence = this.sequence + 1;
    const save = async (name: string, upload: LineUpload): Promise<StoredUpload> => {
      const { saved, tail } = upload.suspend();
      if (tail.length === 0) return saved;
      const tailKey = this.keys.checkpointTail(sequence, name);
      await s3.send(
        new PutObjectCommand({ Bucket: this.run.workBucket, Key: tailKey, Body: tail, ServerSideEncryption: "AES256" }),
      );
      return { ...saved, tailKey };
    };
    const copies: Record<string, StoredUpload> = {};
    for (const [storageClass, upload] of this.copies) copies[storageClass] = await save(`copy-${storageClass}`, upload);
    const checkpoint: PlanCheckpoint = {
      sequence,
      position,
      tally: this.tally.toJSON(),
      updatesFrom: this.updatesFrom,
      largeByClass: this.largeByClass as PlanCheckpoint["largeByClass"],
      routedLines: this.routedLines as PlanCheckpoint["routedLines"],
      uploads: {
        skipped: await save("skipped", this.skipped),
        updates: await save("update-encryption", this.updates),
        large: await save("large-objects", this.large),
        copies,
      },
    };
    await putJson(s3, this.run.workBucket, this.keys.checkpoint, checkpoint);
    this.sequence = sequence;
  }

  /** Whether this writer continues a plan begun in an earlier invocation. */
  get resumed(): boolean {
    return this.sequence > 0;
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
      await this.copyManifest(result.storageClass).write(manifestLine(this.run.bucket, object.key));
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

  /**
   * Lines Athena wrote for `part` (a gunzipped UNLOAD file, steps/domain/inventory-routes.ts), appended as they are:
   * their objects are counted in the plan's tally by Combine the plan, from Athena's own count.
   */
  async appendRouted(part: RoutedPart, bytes: Buffer): Promise<void> {
    let lines = 0;
    for (let at = bytes.indexOf(10); at >= 0; at = bytes.indexOf(10, at + 1)) lines += 1;
    this.routedLines[part] = (this.routedLines[part] ?? 0) + lines;
    if (part === "skipped") await this.skipped.writeBytes(bytes, lines);
    else if (part === "update-encryption") await this.updates.writeBytes(bytes, lines);
    else await this.copyManifest(part.slice("copy.".length) as CopyStorageClass).writeBytes(bytes, lines);
  }

  private copyManifest(storageClass: CopyStorageClass): LineUpload {
    let upload = this.copies.get(storageClass);
    if (!upload) {
      const key = this.keys.manifest(storageClass);
      upload = new LineUpload(this.deps.clients.s3, this.run.workBucket, key, ...CONTENT.manifest);
      this.copies.set(storageClass, upload);
    }
    return upload;
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
      log.info("slice part written", { bucket, storageClass, key: upload.key, objects: planned.count });
    }
    const updatePlanned = this.tally.snapshot.updatePlanned;
    if (updatePlanned.count > 0 || this.updates.lines > 0) {
      const etag = await this.updates.finish();
      manifests.push({
        operation: "update-encryption",
        key: this.updates.key,
        etag,
        objects: updatePlanned.count,
        bytes: updatePlanned.bytes,
      });
      log.info("slice part written", { bucket, operation: "update-encryption", key: this.updates.key });
    } else {
      await this.updates.abort();
    }
    const largePlanned = this.tally.snapshot.largeCopyPlanned;
    if (largePlanned.count === 0) {
      await this.large.abort();
      return { manifests };
    }
    await this.large.finish();
    log.info("slice part written", { bucket, list: "large-objects", key: this.large.key, objects: largePlanned.count });
    return { manifests, largeObjects: { key: this.large.key, objects: largePlanned.count, bytes: largePlanned.bytes } };
  }

  /**
   * Abandons the plan after an error. A plan continued from a checkpoint keeps its uploads: the step's retry resumes
   * from that checkpoint, and would find the uploads gone.
   */
  async abort(): Promise<void> {
    if (this.resumed) return;
    await Promise.all([this.skipped, this.updates, this.large, ...this.copies.values()].map((u) => u.abort()));
  }

  /** Deletes the checkpoint and its tails once the plan is complete (plan.json written). */
  async forgetCheckpoint(): Promise<void> {
    if (!this.resumed) return;
    const { s3 } = this.deps.clients;
    const bucket = this.run.workBucket;
    const tails = await listSizes(s3, bucket, this.keys.checkpointTails);
    await deleteKeys(s3, bucket, [this.keys.checkpoint, ...tails.keys()]);
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
