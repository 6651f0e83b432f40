import { z } from "zod";
import { PlanSchema } from "../../contract/plan.ts";
import { RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { BucketCheckFile, BucketCheckResult } from "../../contract/verification.ts";
import { checkKeys, forEachListedKey, plannedKeys } from "../aws/bucket-check.ts";
import { generateLists } from "../aws/candidate-lists.ts";
import { getTextIfExists, putJson } from "../aws/s3-io.ts";
import { AFTER_RUN_LISTS, bucketCheckMethod, FindingTally } from "../domain/bucket-check.ts";
import { defineStep } from "../runtime/step.ts";

/** Keys HEADed per batch, so memory stays bounded whatever the number of keys. */
const BATCH = 1_000;
/**
 * Listed objects HEADed at most in the manifest-generator method: after a run the list should hold only what rekey
 * skipped or failed and what writers changed since; beyond this many the rest are counted as not examined.
 */
export const LISTED_HEAD_LIMIT = 100_000;

/**
 * "Look for non-compliant objects": after the jobs and the direct copies, proves from a source other than the plan
 * that no non-compliant current object remains (steps/domain/bucket-check.ts): HeadObject of every planned key for
 * small plans, otherwise a fresh listing by the manifest generator (jobs created once per run, polled like "Find
 * inventory", then cancelled before any task runs). Writes bucket-check.json once; a later call returns it.
 */
export const lookForNonCompliantObjects = defineStep({
  state: StateNames.lookForNonCompliantObjects,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema,
    defaultEncryption: z.object({ enforcedAt: z.string() }),
  }),
  async run({ run, plan, defaultEncryption }, deps): Promise<BucketCheckResult> {
    const { clients, log, now } = deps;
    const keys = runKeys(run);
    if ((await getTextIfExists(clients.s3, run.workBucket, keys.bucketCheck)) !== undefined) {
      return { done: true, checkKey: keys.bucketCheck };
    }
    const planned = plan.manifests.reduce((n, m) => n + m.objects, 0) + (plan.largeObjects?.objects ?? 0);
    const method = bucketCheckMethod(planned, run.options.headCheckMaxObjects);
    const ctx = { kmsKeyArn: run.kmsKeyArn, enforcedAt: new Date(defaultEncryption.enforcedAt), now: now() };
    const tally = new FindingTally();
    let unexamined = 0;
    let startedAt = now().toISOString();
    let listJobs: BucketCheckFile["listJobs"] = [];

    if (method === "head-planned-objects") {
      const all = await plannedKeys(run, plan, deps);
      for (let i = 0; i < all.length; i += BATCH) await checkKeys(run, all.slice(i, i + BATCH), tally, ctx, deps);
    } else {
      const recorded = await getTextIfExists(clients.s3, run.workBucket, keys.bucketCheckStarted);
      const started =
        recorded === undefined ? undefined : z.object({ startedAt: z.string() }).parse(JSON.parse(recorded));
      if (started) startedAt = started.startedAt;
      else await putJson(clients.s3, run.workBucket, keys.bucketCheckStarted, { startedAt });
      const found = await generateLists(
        run,
        { lists: AFTER_RUN_LISTS, jobsKey: keys.bucketCheckJobs, startedAt, enforcedAt: startedAt },
        deps,
      );
      if (!found.found) {
        log.info("bucket check listing", { bucket: run.bucket, pending: found.pending });
        return { done: false, waitSeconds: found.waitSeconds };
      }
      listJobs = found.lists.map((l) => ({ name: l.name, jobId: l.jobId }));
      await forEachListedKey(run, found.lists, deps, async (listed) => {
        const room = Math.max(0, LISTED_HEAD_LIMIT - tally.examined);
        unexamined += Math.max(0, listed.length - room);
        if (room > 0) await checkKeys(run, listed.slice(0, room), tally, ctx, deps);
      });
    }

    const file: BucketCheckFile = {
      method,
      startedAt,
      finishedAt: now().toISOString(),
      examined: tally.examined,
      unexamined,
      counts: tally.counts,
      findings: tally.findings,
      listJobs,
    };
    await putJson(clients.s3, run.workBucket, keys.bucketCheck, file);
    log.info("bucket check done", {
      bucket: run.bucket,
      method,
      examined: tally.examined,
      unexamined,
      ...tally.counts,
    });
    return { done: true, checkKey: keys.bucketCheck };
  },
});
