import type { HeadObjectCommandOutput } from "@aws-sdk/client-s3";
import { z } from "zod";
import { type FoundCandidates, FoundCandidatesSchema, FoundInventorySchema } from "../../contract/candidates.ts";
import type { PlanEngine } from "../../contract/engines.ts";
import { InvariantViolatedError, InventoryFormatError, VerificationFailedError } from "../../contract/errors.ts";
import { type PlanningProgress, PlanSliceSchema, type SlicePlanned, SlicesToPlanSchema } from "../../contract/plan.ts";
import type { NotCurrentReason } from "../../contract/reasons.ts";
import { planKeys, type RunContext, RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { GeneratedListKeys } from "../aws/candidate-lists.ts";
import { readEarlierWork } from "../aws/earlier-work.ts";
import { HeadObjects, OrderedBatches } from "../aws/head-pipeline.ts";
import type { UnloadedFile } from "../aws/inventory-athena.ts";
import { dataFileRows, readDelivery } from "../aws/inventory-sources.ts";
import { loadSliceSummary, requirePlanSource, type SliceSummary } from "../aws/plan-slices.ts";
import { type PlannedObject, PlanWriter } from "../aws/plan-writer.ts";
import { getText, putJson } from "../aws/s3-io.ts";
import { type CandidateRoute, candidateList, classifyCandidate, needsHead } from "../domain/candidates.ts";
import { type Classification, classifyInventoryRow, needsKeyCheck } from "../domain/classify.ts";
import type { EarlierDoer, EarlierVerdict, EarlierWork } from "../domain/earlier-work.ts";
import type { EncryptionStatus, InventoryRow } from "../domain/inventory.ts";
import { type InventoryManifest, parseInventoryManifest } from "../domain/inventory-manifest.ts";
import { FileTimeBudget } from "../domain/time-budget.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

/**
 * Plans one slice of the run's candidates ("Plan each slice" runs it once per slice, in parallel): data files
 * `from` to `to` of an S3 Inventory (every row classified by classifyInventoryRow, read by the engine "Slice the
 * inventory" chose; the lines of files Athena already routed are appended as they are), or the manifest generator's lists (each list's filter decides its route,
 * steps/domain/candidates.ts). Planned copies go into one manifest part per storage class, encryption updates into
 * one, objects over 5 GiB into a list for the multipart copy, skipped objects into a skipped part with their reason;
 * the slice's summary (its tally) is written last. Memory holds the rows waiting for their HeadObject answers (at
 * most ROWS_PENDING, steps/aws/head-pipeline.ts), one part per file being written and the counts, whatever the
 * bucket's size. At its time budget the step stops between files, saves its progress and is called again.
 */
export const writeManifests = defineStep({
  state: StateNames.writeManifests,
  input: z.object({
    run: RunContextSchema,
    inventory: z.union([FoundInventorySchema, FoundCandidatesSchema]),
    slicing: SlicesToPlanSchema,
    slice: PlanSliceSchema,
    /**
     * After this long the step stops between data files, saves its progress and returns `planning`; the slice's
     * execution calls it again (workflow/definition.ts PLANNING_TIME_BUDGET_MS). Absent: no limit.
     */
    timeBudgetMs: z.number().int().nonnegative().optional(),
  }),
  async run({ run, inventory, slicing, slice, timeBudgetMs }, deps): Promise<SlicePlanned | PlanningProgress> {
    const startedAt = deps.now().getTime();
    const { clients, log } = deps;
    const plan = planKeys(slicing.planPrefix);
    const keys = plan.slice(slice.index);
    // A slice planned already (its execution retried by the Distributed Map) is not planned again.
    const done = await loadSliceSummary(run, keys, deps);
    if (done) return { slice: slice.index, seen: done.tally.seen.count };
    const source = await requirePlanSource(run, plan.delivery, deps);
    const resumed = "lists" in inventory ? undefined : await PlanWriter.resume(run, keys, deps);
    const progress = resumed ? PlanPositionSchema.parse(resumed.position) : undefined;
    // What earlier runs' jobs already did is left out, whatever inventory or list they planned from.
    const earlier = await readEarlierWork(run, new Date(source.createdAt), deps);
    if (source.athena?.routed && (earlier.size.keys > 0 || earlier.size.unreportedJobs > 0)) {
      // Athena's lines were routed when no earlier run had worked on the bucket; they would copy that work again.
      throw new VerificationFailedError(
        "Athena routed this plan's objects before an earlier run's jobs made some of them compliant.",
        {
          fix: `Delete s3://${run.workBucket}/${slicing.planPrefix} (no job was made from it) and start the run again: the plan is then made leaving that run's work out.`,
        },
      );
    }
    const writer = resumed?.writer ?? new PlanWriter(run, keys, deps);
    const heads = new HeadObjects(clients.s3, run.bucket);
    const reader = new ResumingWriter(run, writer, earlier, heads);
    reader.keyChecksSkipped = progress?.keyChecksSkipped ?? 0;
    const headsBefore = progress?.headsSent ?? 0;
    const budget = new FileTimeBudget(timeBudgetMs, startedAt);
    const overBudget = () => budget.stopAfterFile(deps.now().getTime());
    const from = progress?.nextFile ?? slice.from;
    try {
      let stoppedAt: number | undefined;
      if ("lists" in inventory) await readCandidateLists(run, inventory, deps, reader);
      else {
        const manifestText = await getText(clients.s3, inventory.bucket, inventory.manifestKey);
        const manifest = parseInventoryManifest(manifestText, inventory.manifestKey);
        if (!source.engine) {
          throw new InvariantViolatedError(`The plan's source ${plan.delivery} names no engine for an inventory.`, {
            fix: "This is a bug in rekey's planning; start a new run and report it with the execution's history.",
          });
        }
        const range = { from, to: slice.to };
        stoppedAt = await readInventory(
          run,
          manifest,
          source.engine,
          new Date(source.createdAt),
          range,
          source.athena?.files,
          overBudget,
          deps,
          reader,
        );
      }
      if (stoppedAt !== undefined) {
        const position: PlanPosition = {
          nextFile: stoppedAt,
          headsSent: headsBefore + heads.sent,
          keyChecksSkipped: reader.keyChecksSkipped,
        };
        await writer.suspend(position);
        log.info("planning continues in the next invocation", {
          bucket: run.bucket,
          slice: slice.index,
          filesRead: stoppedAt - slice.from,
          files: slice.to - slice.from,
          seen: writer.tally.snapshot.seen.count,
        });
        return { planning: { filesRead: stoppedAt - slice.from, files: slice.to - slice.from } };
      }
      await writer.finish();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const summary: SliceSummary = {
      slice: slice.index,
      tally: writer.tally.toJSON(),
      updatesFrom: writer.updatesFrom,
      largeByClass: writer.largeByClass as SliceSummary["largeByClass"],
      headsSent: headsBefore + heads.sent,
      keyChecksSkipped: reader.keyChecksSkipped,
      routedLines: writer.routedLines,
    };
    await putJson(clients.s3, run.workBucket, keys.plan, summary);
    await writer.forgetCheckpoint();
    const seen = summary.tally.seen.count;
    log.info("slice planned", { bucket: run.bucket, slice: slice.index, seen });
    return { slice: slice.index, seen };
  },
});

/**
 * Every row the engine reads from files `range.from` to `range.to`, classified (SSE-KMS rows with a Bucket Key have
 * their key checked first); versions the engine counted where they are stored go into the tally as counts. Asks
 * `stopAfter` at the end of each file whether to stop there; returns the next file's index if it stopped.
 */
async function readInventory(
  run: RunContext,
  manifest: InventoryManifest,
  engine: PlanEngine,
  /**
   * The inventory's date: a retention that ended by then protects nothing. The same for every slice and engine, so
   * the same inventory gives the same plan whenever it is planned (a retention ending later is treated as running).
   */
  now: Date,
  range: { from: number; to: number },
  unloaded: readonly UnloadedFile[] | undefined,
  stopAfter: () => boolean,
  deps: StepDeps,
  writer: ResumingWriter,
): Promise<number | undefined> {
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
  let stoppedAt: number | undefined;
  for await (const chunk of readDelivery(engine, run, manifest, deps, range, unloaded)) {
    if (chunk.kind === "rows") await batches.push(chunk.rows.length, prepare(chunk.rows));
    else if (chunk.kind === "lines") {
      // Routed by Athena: appended as they are, after the rows read before them.
      await batches.drain();
      for await (const bytes of chunk.bytes) await writer.writer.appendRouted(chunk.part, bytes);
    } else if (chunk.kind === "not-current") {
      for (const [reason, counted] of Object.entries(chunk.counts.byReason)) {
        writer.tally.recordNotCurrent(reason as NotCurrentReason, counted);
      }
    } else {
      // Between files, the slice may stop and continue in the next invocation.
      if (stopAfter() && chunk.nextFile < range.to) stoppedAt = chunk.nextFile;
      deps.log.info("inventory file read", {
        bucket: run.bucket,
        engine: engine.name,
        file: chunk.source,
        // Rows written so far: those of the last batches may still wait for their HeadObject answers.
        seen: writer.tally.snapshot.seen.count,
      });
      if (stoppedAt !== undefined) break;
    }
  }
  await batches.drain();
  return stoppedAt;
}

/** Where a slice stopped (PlanWriter.suspend's `position`): the next file to read, HeadObjects sent so far. */
const PlanPositionSchema = z.object({
  nextFile: z.number().int().nonnegative(),
  headsSent: z.number().int().nonnegative(),
  keyChecksSkipped: z.number().int().nonnegative().default(0),
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
