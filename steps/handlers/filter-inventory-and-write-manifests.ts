import type { HeadObjectCommandOutput } from "@aws-sdk/client-s3";
import { z } from "zod";
import { type FoundCandidates, FoundCandidatesSchema, FoundInventorySchema } from "../../contract/candidates.ts";
import { type PlanEngine, PlanEngineSchema } from "../../contract/engines.ts";
import { InventoryFormatError, VerificationFailedError } from "../../contract/errors.ts";
import type { Plan, PlanningProgress } from "../../contract/plan.ts";
import type { NotCurrentReason } from "../../contract/reasons.ts";
import { planKeys, planPrefix, type RunContext, RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { GeneratedListKeys } from "../aws/candidate-lists.ts";
import { readEarlierWork } from "../aws/earlier-work.ts";
import { HeadObjects, OrderedBatches } from "../aws/head-pipeline.ts";
import type { UnloadedFile } from "../aws/inventory-athena.ts";
import { dataFileRows, readDelivery } from "../aws/inventory-sources.ts";
import { currentPlanGeneration, type PlannedObject, PlanWriter } from "../aws/plan-writer.ts";
import { getText, putJson } from "../aws/s3-io.ts";
import { type CandidateRoute, candidateList, classifyCandidate, needsHead } from "../domain/candidates.ts";
import { type Classification, classifyInventoryRow, needsKeyCheck } from "../domain/classify.ts";
import type { EarlierDoer, EarlierVerdict, EarlierWork } from "../domain/earlier-work.ts";
import { chooseEngine } from "../domain/engine-choice.ts";
import type { EncryptionStatus, InventoryRow } from "../domain/inventory.ts";
import { type InventoryManifest, parseInventoryManifest, requireColumns } from "../domain/inventory-manifest.ts";
import { planEstimate } from "../domain/plan-estimate.ts";
import { FileTimeBudget } from "../domain/time-budget.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

/**
 * Plans the run from its candidates: an S3 Inventory (every row classified by classifyInventoryRow) or the manifest
 * generator's lists (each list's filter decides its route, steps/domain/candidates.ts). Either way the data files
 * are streamed once; planned copies go into one manifest per storage class, encryption updates into one manifest,
 * objects over 5 GiB into a list for the multipart copy, skipped objects into skipped.csv with their reason. Memory
 * holds the rows waiting for their HeadObject answers (at most ROWS_PENDING, steps/aws/head-pipeline.ts), one part
 * per file being written and the counts, whatever the bucket's size.
 */
export const writeManifests = defineStep({
  state: StateNames.writeManifests,
  input: z.object({
    run: RunContextSchema,
    inventory: z.union([FoundInventorySchema, FoundCandidatesSchema]),
    preflight: z
      .object({ facts: z.object({ versioning: z.string(), noncurrentExpirationDays: z.number().optional() }) })
      .optional(),
    /**
     * After this long the step stops between data files, saves its progress and returns `planning`; the state machine
     * calls it again (workflow/definition.ts PLANNING_TIME_BUDGET_MS). Absent: no limit.
     */
    timeBudgetMs: z.number().int().nonnegative().optional(),
  }),
  async run({ run, inventory, preflight, timeBudgetMs }, deps): Promise<Plan | PlanningProgress> {
    const startedAt = deps.now().getTime();
    const { clients, log } = deps;
    let source: {
      key: string;
      createdAt: Date;
      engine?: PlanEngine;
      /**
       * Reads the candidates into the writer from file `from` (asking `stopAfter` at the end of each file whether to
       * stop there); says where it stopped, if it did, and what Athena unloaded and scanned. Generated lists are read
       * in one invocation.
       */
      read: (
        writer: ResumingWriter,
        plan: string,
        from: number,
        stopAfter: () => boolean,
        saved: PlanPosition | undefined,
      ) => Promise<SourceRead>;
    };
    if ("lists" in inventory) {
      source = {
        key: `${run.runPrefix}candidates/`,
        createdAt: deps.now(),
        read: async (writer) => {
          await readCandidateLists(run, inventory, deps, writer);
          return {};
        },
      };
    } else {
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
      const engine = chooseEngine(run.engine ?? "auto", {
        fileFormat: manifest.fileFormat,
        dataFiles: manifest.files.length,
        dataBytes: manifest.files.reduce((n, f) => n + f.size, 0),
        athenaDeployed: deps.config.athena !== undefined,
      });
      const manifestKey = inventory.manifestKey;
      source = {
        key: manifestKey,
        createdAt: manifest.creationTimestamp,
        engine,
        read: (writer, planPrefix, from, stopAfter, saved) =>
          readInventory(
            run,
            manifest,
            { manifestKey, planPrefix, engine: saved?.engine ?? engine, from, stopAfter, saved },
            deps,
            writer,
          ),
      };
    }
    const base = planPrefix(run.bucket, source.key, run.kmsKeyArn);
    const { prefix: plan, stored, stale } = await currentPlanGeneration(run, base, deps);
    const keys = planKeys(plan);
    if (stale.length > 0) log.info("plan made again", { bucket: run.bucket, plan, stale });
    if (stored !== undefined) {
      // Planning again could differ (objects re-encrypted since answer key checks differently) and would no longer
      // match the jobs an earlier execution created from this plan.
      log.info("plan reused", { bucket: run.bucket, plan: keys.plan });
      return {
        inventoryManifestKey: stored.inventoryManifestKey,
        inventoryCreatedAt: stored.inventoryCreatedAt,
        manifests: stored.manifests,
        planKey: keys.plan,
        planPrefix: plan,
        ...(stored.largeObjects ? { largeObjects: stored.largeObjects } : {}),
        ...(stored.estimate ? { estimate: stored.estimate } : {}),
        ...(stored.engine ? { engine: stored.engine } : {}),
      };
    }
    // A plan an earlier invocation began continues where it stopped, with the engine it began with.
    const resumed = "lists" in inventory ? undefined : await PlanWriter.resume(run, keys, deps);
    const progress = resumed ? PlanPositionSchema.parse(resumed.position) : undefined;
    const engine = progress?.engine ?? source.engine;
    if (engine) {
      const how = progress ? "engine continued" : "engine chosen";
      log.info(how, { bucket: run.bucket, engine: engine.name, why: engine.why, filesRead: progress?.nextFile ?? 0 });
    }
    // What earlier runs' jobs already did is left out, whatever inventory or list they planned from.
    const earlier = await readEarlierWork(run, source.createdAt, deps);
    const writer = resumed?.writer ?? new PlanWriter(run, keys, deps);
    let written: Awaited<ReturnType<PlanWriter["finish"]>>;
    let planning: SourceRead;
    const heads = new HeadObjects(clients.s3, run.bucket);
    const reader = new ResumingWriter(run, writer, earlier, heads);
    reader.keyChecksSkipped = progress?.keyChecksSkipped ?? 0;
    const headsBefore = progress?.headsSent ?? 0;
    const budget = new FileTimeBudget(timeBudgetMs, startedAt);
    const overBudget = () => budget.stopAfterFile(deps.now().getTime());
    try {
      await writer.start();
      planning = await source.read(reader, plan, progress?.nextFile ?? 0, overBudget, progress);
      if (planning.stoppedAt !== undefined && engine) {
        const position: PlanPosition = {
          nextFile: planning.stoppedAt,
          headsSent: headsBefore + heads.sent,
          keyChecksSkipped: reader.keyChecksSkipped,
          engine,
          ...(planning.athena
            ? { athenaFiles: planning.athena.files, athenaScanned: planning.athena.scannedBytes }
            : {}),
        };
        await writer.suspend(position);
        log.info("planning continues in the next invocation", {
          bucket: run.bucket,
          filesRead: planning.stoppedAt,
          files: planning.files,
          seen: writer.tally.snapshot.seen.count,
        });
        return { planning: { filesRead: planning.stoppedAt, files: planning.files ?? 0 } };
      }
      written = await writer.finish();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const { tally } = writer;
    const reconciliation = tally.reconcile();
    if (!reconciliation.ok) {
      throw new VerificationFailedError(`Plan counts do not add up: ${reconciliation.problems.join(" ")}`, {
        fix: "This is a bug in planning; report it with the execution's history. No object was changed.",
      });
    }
    const estimate = planEstimate(run, tally, writer.updatesFrom, writer.largeByClass, preflight?.facts, {
      listJobs: "lists" in inventory ? inventory.lists.length : 0,
      sizesKnown: !("lists" in inventory),
      planningHeadRequests: headsBefore + heads.sent,
      keyChecksSkipped: reader.keyChecksSkipped,
      ...(planning?.athena ? { athenaQueriesScanned: planning.athena.scannedBytes } : {}),
    });
    await putJson(clients.s3, run.workBucket, keys.plan, {
      inventoryManifestKey: source.key,
      inventoryCreatedAt: source.createdAt.toISOString(),
      manifests: written.manifests,
      ...(written.largeObjects ? { largeObjects: written.largeObjects } : {}),
      tally: tally.toJSON(),
      estimate,
      ...(engine ? { engine } : {}),
    });
    await writer.forgetCheckpoint();
    log.info("plan written", { bucket: run.bucket, plan: keys.plan, oneTimeUsd: estimate.oneTimeUsd });
    return {
      inventoryManifestKey: source.key,
      inventoryCreatedAt: source.createdAt.toISOString(),
      manifests: written.manifests,
      planKey: keys.plan,
      planPrefix: plan,
      ...(written.largeObjects ? { largeObjects: written.largeObjects } : {}),
      estimate,
      ...(engine ? { engine } : {}),
    };
  },
});

/**
 * Every row the engine reads, classified (SSE-KMS rows with a Bucket Key have their key checked first); versions the
 * engine counted where they are stored go into the tally as counts.
 */
async function readInventory(
  run: RunContext,
  manifest: InventoryManifest,
  source: {
    manifestKey: string;
    planPrefix: string;
    engine: PlanEngine;
    from: number;
    stopAfter: () => boolean;
    saved?: PlanPosition | undefined;
  },
  deps: StepDeps,
  writer: ResumingWriter,
): Promise<SourceRead> {
  const now = deps.now();
  const batches = writer.batches();
  const checkKeys = run.options.sseKmsWithBucketKey === "check-key";
  const prepare = async (batch: InventoryRow[]) => {
    const unknown = batch.filter(needsKeyCheck);
    const heads = checkKeys ? await writer.heads.each(unknown) : new Map<string, HeadObjectCommandOutput>();
    if (!checkKeys) writer.keyChecksSkipped += unknown.length;
    // Without checks, an object whose key is unknown counts as under another key: it is updated.
    const isTarget = (r: InventoryRow) => (checkKeys ? underTargetKey(run, heads.get(r.key)) : false);
    const options = { sseKmsKeyIsTarget: isTarget, now };
    return writer.prepare(batch.map((row) => ({ object: row, result: classifyInventoryRow(row, options) })));
  };
  const chunks = readDelivery(
    source.engine,
    run,
    manifest,
    source.manifestKey,
    source.planPrefix,
    deps,
    source.from,
    source.saved,
  );
  let stoppedAt: number | undefined;
  let files = manifest.files.length;
  let athena: SourceRead["athena"] = source.saved?.athenaFiles
    ? { files: source.saved.athenaFiles, scannedBytes: source.saved.athenaScanned ?? [] }
    : undefined;
  for await (const chunk of chunks) {
    if (chunk.kind === "rows") await batches.push(chunk.rows.length, prepare(chunk.rows));
    else if (chunk.kind === "not-current") {
      for (const [reason, counted] of Object.entries(chunk.counts.byReason)) {
        writer.tally.recordNotCurrent(reason as NotCurrentReason, counted);
      }
    } else if (chunk.kind === "unloaded") {
      athena = { files: chunk.files, scannedBytes: chunk.scannedBytes };
      deps.log.info("inventory unloaded by Athena", {
        bucket: run.bucket,
        files: chunk.files.length,
        scannedBytes: chunk.scannedBytes,
      });
    } else {
      files = chunk.files;
      // Between files, the plan may stop and continue in the next invocation.
      if (source.stopAfter() && chunk.nextFile < chunk.files) stoppedAt = chunk.nextFile;
      deps.log.info("inventory file read", {
        bucket: run.bucket,
        engine: source.engine.name,
        file: chunk.source,
        // Rows written so far: those of the last batches may still wait for their HeadObject answers.
        seen: writer.tally.snapshot.seen.count,
      });
      if (stoppedAt !== undefined) break;
    }
  }
  await batches.drain();
  return { files, ...(athena ? { athena } : {}), ...(stoppedAt === undefined ? {} : { stoppedAt }) };
}

/** What reading the candidates left: where it stopped (of `files`), if it did, and what Athena unloaded and scanned. */
interface SourceRead {
  stoppedAt?: number;
  files?: number;
  athena?: { files: UnloadedFile[]; scannedBytes: number[] };
}

/** Where a plan stopped (PlanWriter.suspend's `position`): data files read, HeadObjects sent, the engine used. */
const PlanPositionSchema = z.object({
  nextFile: z.number().int().nonnegative(),
  headsSent: z.number().int().nonnegative(),
  keyChecksSkipped: z.number().int().nonnegative().default(0),
  engine: PlanEngineSchema,
  /** The athena engine's unloaded files and what its queries scanned, so a continued plan queries nothing again. */
  athenaFiles: z.array(z.object({ bucket: z.string(), key: z.string() })).optional(),
  athenaScanned: z.array(z.number()).optional(),
});
type PlanPosition = z.infer<typeof PlanPositionSchema>;

/** Every generated list: each object routed by its list, with HeadObject where the list cannot tell enough. */
async function readCandidateLists(
  run: RunContext,
  found: FoundCandidates,
  deps: StepDeps,
  writer: ResumingWriter,
): Promise<void> {
  const batches = writer.batches();
  for (const listed of found.lists) {
    const list = candidateList(listed.name);
    const text = await getText(deps.clients.s3, listed.bucket, listed.manifestKey);
    const manifest = parseInventoryManifest(text, listed.manifestKey);
    if (manifest.sourceBucket.replace(/^arn:[^:]+:s3:::/, "") !== run.bucket) {
      throw new InventoryFormatError(`the generated list is of bucket ${manifest.sourceBucket}, not ${run.bucket}.`, {
        file: listed.manifestKey,
        fix: "This is a bug in how rekey names its candidate lists; start a new run and report it.",
      });
    }
    const route = list.route;
    const listKeys = new GeneratedListKeys(run, deps);
    for (const file of manifest.files) {
      for await (const rows of dataFileRows(run, manifest, file, deps, "either")) {
        // How the generator writes keys is not documented (steps/aws/candidate-lists.ts); it is learnt in order.
        const keys = await listKeys.keysOf(rows);
        const batch = rows.map((row, i) => ({ ...row, key: keys[i] ?? row.key }));
        await batches.push(batch.length, prepareListed(run, route, batch, writer));
      }
    }
    deps.log.info("candidate list read", {
      bucket: run.bucket,
      list: list.name,
      seen: writer.tally.snapshot.seen.count,
    });
  }
  await batches.drain();
}

/** One batch of a generated list, routed by its list, with HeadObject where the list cannot tell enough. */
async function prepareListed(
  run: RunContext,
  route: CandidateRoute,
  batch: InventoryRow[],
  writer: ResumingWriter,
): Promise<Prepared[]> {
  const heads = needsHead(route) ? await writer.heads.each(batch) : undefined;
  const planned: Parameters<ResumingWriter["prepare"]>[0] = [];
  for (const row of batch) {
    const head = heads?.get(row.key);
    const storageClass =
      route.kind === "copy" ? route.storageClass : head ? (head.StorageClass ?? "STANDARD") : undefined;
    const result = classifyCandidate(route, row.key, {
      keyIsTarget: underTargetKey(run, head),
      largeStorageClass: storageClass as CopyStorageClass | undefined,
      archiveStatus: head?.ArchiveStatus,
    });
    planned.push({
      object: {
        bucket: row.bucket,
        key: row.key,
        // Sizes only where every object of the route has one: a partial sum would read as the route's bytes.
        ...(head && route.kind === "large-copy" ? { size: head.ContentLength ?? 0, eTag: head.ETag ?? "" } : {}),
        ...(storageClass ? { storageClass } : {}),
        encryptionStatus: encryptionOfList(route),
      },
      result,
    });
  }
  return writer.prepare(planned);
}

/**
 * The plan writer, with what earlier runs did taken out: an object the plan would copy or update that an earlier
 * job already made compliant (steps/domain/earlier-work.ts) is counted as that run's work; where the reports cannot
 * say, HeadObject decides. An object found compliant that an earlier job reports doing is that run's work too.
 */
class ResumingWriter {
  constructor(
    private readonly run: RunContext,
    readonly writer: PlanWriter,
    private readonly earlier: EarlierWork,
    /** Every HeadObject of the plan goes through this one bound. */
    readonly heads: HeadObjects,
  ) {
    this.nothingEarlier = earlier.size.keys === 0 && earlier.size.unreportedJobs === 0;
  }

  private readonly nothingEarlier: boolean;
  /** SSE-KMS objects with a Bucket Key updated without a key check (options.sseKmsWithBucketKey "update"). */
  keyChecksSkipped = 0;

  get tally() {
    return this.writer.tally;
  }

  /** A queue of batches being prepared, written in the order they are pushed. */
  batches(): OrderedBatches<Prepared[]> {
    return new OrderedBatches((prepared) => this.write(prepared));
  }

  /** What to write for each object of a batch: planned, or done by an earlier run. Reads EarlierWork only. */
  async prepare(batch: { object: PlannedObject; result: Classification }[]): Promise<Prepared[]> {
    // Most plans have no earlier work: every verdict would be "plan".
    if (this.nothingEarlier) return batch;
    const verdicts = batch.map(({ object, result }): EarlierVerdict => {
      if (result.kind === "copy" || result.kind === "update-encryption") {
        return this.earlier.verdict(object.key, object.lastModified);
      }
      // Compliant now (a key check found the target key) because an earlier job updated it: that run's work.
      const verdict = result.kind === "compliant" ? this.earlier.verdict(object.key, object.lastModified) : undefined;
      return verdict?.kind === "done" ? verdict : { kind: "plan" };
    });
    const toCheck = batch.filter((_, i) => verdicts[i]?.kind === "check").map((b) => b.object);
    const heads = await this.heads.each(toCheck);
    return batch.map(({ object, result }, i): Prepared => {
      const verdict = verdicts[i];
      const by =
        verdict?.kind === "done"
          ? verdict.by
          : verdict?.kind === "check" && isCompliant(this.run, heads.get(object.key))
            ? (verdict.by ?? { runId: "an earlier run (checked with HeadObject)", jobId: "" })
            : undefined;
      return by ? { object, result, by } : { object, result };
    });
  }

  /** Writes a prepared batch; batches are written one at a time, in order. */
  async write(prepared: Prepared[]): Promise<void> {
    for (const { object, result, by } of prepared) {
      if (by) this.writer.addDoneEarlier(object, by);
      else await this.writer.add(object, result);
    }
  }
}

/** One object of a batch once its HeadObject answers are in: its route, or the earlier run that made it compliant. */
interface Prepared {
  object: PlannedObject;
  result: Classification;
  by?: EarlierDoer;
}

function isCompliant(run: RunContext, head: HeadObjectCommandOutput | undefined): boolean {
  return underTargetKey(run, head) === true && head?.BucketKeyEnabled === true;
}

function encryptionOfList(route: CandidateRoute): EncryptionStatus {
  switch (route.kind) {
    case "copy":
    case "large-copy":
      return "NOT-SSE";
    case "update-encryption":
      return route.from;
    case "check-key":
      return "SSE-KMS";
    case "skipped":
      return route.reason === "sse-c" ? "SSE-C" : route.reason === "dsse-kms" ? "DSSE-KMS" : "NOT-SSE";
  }
}

/** Under the target key (compliant once it has a Bucket Key), under another, or unknown (gone, or not SSE-KMS). */
function underTargetKey(run: RunContext, head: HeadObjectCommandOutput | undefined): boolean | undefined {
  return head?.ServerSideEncryption === "aws:kms" ? head.SSEKMSKeyId === run.kmsKeyArn : undefined;
}
