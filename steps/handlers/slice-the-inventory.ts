import { HeadObjectCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { z } from "zod";
import { FoundCandidatesSchema, FoundInventorySchema } from "../../contract/candidates.ts";
import { EngineUnavailableError, InventoryFormatError } from "../../contract/errors.ts";
import { type PlanSlice, planOf, type Slicing } from "../../contract/plan.ts";
import { planKeys, planPrefix, RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { earlierJobs } from "../aws/earlier-work.ts";
import { AthenaQueryRunning, queryInventory } from "../aws/inventory-athena.ts";
import { loadPlanSource, type PlanSource, savePlanSource } from "../aws/plan-slices.ts";
import { currentPlanGeneration } from "../aws/plan-writer.ts";
import { getText, putJson } from "../aws/s3-io.ts";
import { chooseEngine, others } from "../domain/engine-choice.ts";
import { parseInventoryManifest, requireColumns } from "../domain/inventory-manifest.ts";
import { inventoryTable } from "../domain/inventory-queries.ts";
import { sliceFiles } from "../domain/slices.ts";
import { defineStep } from "../runtime/step.ts";

/**
 * Decides how the candidates are read and cuts them into slices that "Plan each slice" plans in parallel: the
 * inventory's data files in runs of about `sliceTargetBytes` (steps/domain/slices.ts), or, for the athena engine,
 * the files its UNLOAD wrote (the queries run here, once). Generated candidate lists are one slice. A plan already
 * complete for this delivery is handed on as it is, and nothing is sliced.
 */
export const sliceInventory = defineStep({
  state: StateNames.sliceInventory,
  input: z.object({
    run: RunContextSchema,
    inventory: z.union([FoundInventorySchema, FoundCandidatesSchema]),
    /** Bytes of data files a slice aims at (workflow/definition.ts PLANNING_SLICE_BYTES). */
    sliceTargetBytes: z.number().int().positive(),
    /**
     * How long to wait for Athena's queries before returning `querying` (workflow/definition.ts
     * SLICING_TIME_BUDGET_MS); absent: until they end.
     */
    timeBudgetMs: z.number().int().nonnegative().optional(),
  }),
  async run({ run, inventory, sliceTargetBytes, timeBudgetMs }, deps): Promise<Slicing> {
    const { clients, log } = deps;
    const startedAt = deps.now().getTime();
    const manifest =
      "lists" in inventory
        ? undefined
        : parseInventoryManifest(
            await getText(clients.s3, inventory.bucket, inventory.manifestKey),
            inventory.manifestKey,
          );
    const sourceKey = "lists" in inventory ? `${run.runPrefix}candidates/` : inventory.manifestKey;
    const { prefix, stored, stale } = await currentPlanGeneration(
      run,
      planPrefix(run.bucket, sourceKey, run.kmsKeyArn),
      deps,
    );
    const keys = planKeys(prefix);
    if (stale.length > 0) log.info("plan made again", { bucket: run.bucket, plan: prefix, stale });
    if (stored !== undefined) {
      // Planning again could differ (objects re-encrypted since answer key checks differently) and would no longer
      // match the jobs an earlier execution created from this plan.
      log.info("plan reused", { bucket: run.bucket, plan: keys.plan });
      return { stored: true, plan: planOf(stored, keys.plan, prefix) };
    }
    // A slicing retried, or a plan whose slices failed and is planned again by a new run, keeps the source it began
    // with: the same engine, and Athena's queries are not run again.
    let source = await loadPlanSource(run, keys.delivery, deps);
    if (!source) {
      if (!manifest) source = { key: sourceKey, createdAt: deps.now().toISOString() };
      else {
        if (manifest.sourceBucket !== run.bucket) {
          throw new InventoryFormatError(`the inventory is of bucket ${manifest.sourceBucket}, not ${run.bucket}.`, {
            file: sourceKey,
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
        source = { key: sourceKey, createdAt: manifest.creationTimestamp.toISOString(), engine };
        if (engine.name === "athena") {
          const config = deps.config.athena;
          if (!config) {
            throw new EngineUnavailableError(
              "The plan uses the athena engine, but this deployment has no Athena workgroup.",
              {
                fix: `Deploy rekey with its Athena workgroup (infra/), or start the run with engine ${others("athena")}.`,
              },
            );
          }
          const { destinationBucket, columns, fileFormat } = manifest;
          const table = inventoryTable(config.database, destinationBucket, sourceKey, columns, fileFormat);
          // Athena routes the rows itself unless earlier runs' work must be left out object by object (the step's).
          const earlier = await earlierJobs(run, new Date(source.createdAt), deps);
          const routes =
            earlier.length === 0
              ? {
                  bucket: run.bucket,
                  now: new Date(source.createdAt),
                  checkKeys: run.options.sseKmsWithBucketKey === "check-key",
                }
              : undefined;
          const deadline =
            timeBudgetMs === undefined ? undefined : { at: startedAt + timeBudgetMs, now: () => deps.now().getTime() };
          let queried: Awaited<ReturnType<typeof queryInventory>>;
          try {
            queried = await queryInventory(clients.athena, clients.s3, config, table, prefix, routes, deadline);
          } catch (err) {
            if (!(err instanceof AthenaQueryRunning)) throw err;
            log.info("Athena's queries still running; the run waits and asks again", {
              bucket: run.bucket,
              queryId: err.queryId,
              state: err.state,
            });
            return { stored: false, querying: { queryId: err.queryId, state: err.state } };
          }
          source.athena = {
            files: queried.files,
            scannedBytes: queried.scannedBytes,
            notCurrent: queried.notCurrent.byReason,
            ...(queried.routed ? { routed: queried.routed } : {}),
          };
          log.info(queried.routed ? "inventory routed by Athena" : "inventory unloaded by Athena", {
            bucket: run.bucket,
            files: queried.files.length,
            scannedBytes: queried.scannedBytes,
            ...(queried.routed ? { rowsLeftToTheStep: queried.routed.stepRows } : { earlierJobs: earlier.length }),
          });
        }
      }
      await savePlanSource(run, keys.delivery, source, deps);
    }
    const sizes = await fileSizes(source, manifest, deps);
    const slices: PlanSlice[] = manifest
      ? sliceFiles(sizes, { targetBytes: sliceTargetBytes })
      : [{ index: 0, from: 0, to: 0 }];
    await putJson(clients.s3, run.workBucket, keys.sliceItems, slices);
    log.info("inventory sliced", {
      bucket: run.bucket,
      engine: source.engine?.name,
      why: source.engine?.why,
      files: sizes.length,
      slices: slices.length,
    });
    return {
      stored: false,
      planPrefix: prefix,
      itemsKey: keys.sliceItems,
      resultsPrefix: keys.sliceResults,
      slices: slices.length,
      files: sizes.length,
      ...(source.engine ? { engine: source.engine } : {}),
    };
  },
});

/** The sizes of the files the slices read: the manifest's data files, or the files Athena's UNLOAD wrote. */
async function fileSizes(
  source: PlanSource,
  manifest: ReturnType<typeof parseInventoryManifest> | undefined,
  { clients }: Parameters<typeof sliceInventory.run>[1],
): Promise<number[]> {
  if (!manifest) return [];
  if (!source.athena) return manifest.files.map((f) => f.size);
  const limit = pLimit(16);
  return Promise.all(
    source.athena.files.map((f) =>
      limit(
        async () => (await clients.s3.send(new HeadObjectCommand({ Bucket: f.bucket, Key: f.key }))).ContentLength ?? 0,
      ),
    ),
  );
}
