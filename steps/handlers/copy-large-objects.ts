import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { ApprovalNotPossibleError, ObjectChangedDuringCopyError } from "../../contract/errors.ts";
import {
  type LargeCopyBatch,
  LargeCopyBatchSchema,
  type LargeCopyOutcome,
  type LargeObject,
  type LargeObjectCopyInput,
  LargeObjectCopyInputSchema,
  type LargeObjectCopyResult,
} from "../../contract/large-objects.ts";
import { JobsSchema, PlanSchema } from "../../contract/plan.ts";
import { RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { AWAITING_CONFIRMATION_STATUSES, describeJob, jobProgressOf } from "../aws/batch-jobs.ts";
import { readLargeObjectList } from "../aws/large-object-list.ts";
import { describeError, reencryptLargeObject } from "../aws/multipart-copy.ts";
import { type LargeObjectCopyContext, nearDeadline } from "../aws/multipart-upload.ts";
import { getTextIfExists, putJson } from "../aws/s3-io.ts";
import { batchDigest, batchKey, newBatch, settleNext, summarizeBatch } from "../domain/large-copy.ts";
import { isTransient } from "../runtime/invoke.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

/**
 * "Copy objects directly": the plan's list of what Batch Operations cannot take (unencrypted objects over 5 GiB, keys
 * a manifest cannot carry), copied within one invocation's time budget; the state machine calls it again while
 * `done` is false. Progress lives under the plan's prefix, so an
 * execution started again for the same plan continues the uploads instead of starting them over.
 */
export const copyLargeObjectsStep = defineStep({
  state: StateNames.copyLargeObjects,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema.required({ largeObjects: true }),
    jobs: JobsSchema,
    /** Milliseconds this invocation may spend; the Lambda timeout (15 minutes) minus room to save and return. */
    timeBudgetMs: z.number().int().positive(),
  }),
  async run({ run, plan, jobs, timeBudgetMs }, deps) {
    if (run.options.requireApproval) await requireApprovedJobs(run, plan, jobs, deps);
    return copyLargeObjects(
      {
        target: {
          bucket: run.bucket,
          kmsKeyArn: run.kmsKeyArn,
          workBucket: run.workBucket,
          progressPrefix: plan.planPrefix,
        },
        objects: { listKey: plan.largeObjects.key },
        timeBudgetMs,
      },
      deps,
    );
  },
});

/**
 * Approval confirms Batch Operations jobs, and the direct copies start after them, so with approval
 * required they start only when every job shows it was confirmed: it completed, or ran at least one task. A run
 * without jobs, or whose jobs were cancelled (or failed) before running anything, or whose only jobs were reused
 * from another execution already confirmed, has no approval to show, and its large objects are left as they are.
 */
async function requireApprovedJobs(
  run: z.infer<typeof RunContextSchema>,
  plan: { planKey: string; largeObjects: { objects: number; key: string } },
  jobs: z.infer<typeof JobsSchema>,
  { clients }: StepDeps,
): Promise<void> {
  const fix = `Review the plan (s3://${run.workBucket}/${plan.planKey} and s3://${run.workBucket}/${plan.largeObjects.key}), then start the run again without --require-approval to copy them.`;
  if (jobs.jobs.length === 0) {
    throw new ApprovalNotPossibleError(
      `The run was started with approval required, but its only work is ${plan.largeObjects.objects} object(s) over 5 GiB or with keys too long for a manifest, which rekey copies itself without a Batch Operations job for rekey approve to confirm. No object was changed.`,
      { fix },
    );
  }
  // A job another execution created and someone confirmed before this run began carries no approval of this run.
  const approvable = jobs.jobs.filter(
    (j) => j.createdBy === undefined || AWAITING_CONFIRMATION_STATUSES.includes(j.reusedStatus ?? ""),
  );
  if (approvable.length === 0) {
    const by = [...new Set(jobs.jobs.map((j) => j.createdBy))].join(", ");
    throw new ApprovalNotPossibleError(
      `The run was started with approval required, but its jobs were created and confirmed by earlier run(s) ${by} before it began; nothing of this run's own waited for approval, so its ${plan.largeObjects.objects} object(s) over 5 GiB were not copied.`,
      { fix },
    );
  }
  for (const job of approvable) {
    const progress = jobProgressOf(await describeJob(clients.s3control, run.accountId, job.jobId));
    if (progress.status !== "Complete" && progress.succeeded + progress.failed === 0) {
      throw new ApprovalNotPossibleError(
        `The run was started with approval required, and job ${job.jobId} ended ${progress.status} without running a task, so nobody approved this run's work: its ${plan.largeObjects.objects} object(s) over 5 GiB or with keys too long for a manifest were not copied.`,
        { fix },
      );
    }
  }
}

/**
 * The step: re-encrypts each listed object in turn; returns `done: false` when the deadline comes first.
 * Transient AWS errors propagate (the upload is kept and the workflow retries); any other failure of one
 * object aborts its upload, is recorded with its reason and the next object follows.
 */
export async function copyLargeObjects(input: LargeObjectCopyInput, deps: StepDeps): Promise<LargeObjectCopyResult> {
  const parsed = LargeObjectCopyInputSchema.parse(input);
  const { target: run, options } = parsed;
  const started = deps.now().getTime();
  const deadlines = [parsed.deadlineMs, parsed.timeBudgetMs === undefined ? undefined : started + parsed.timeBudgetMs];
  const deadline = deadlines.reduce<number | undefined>(
    (a, b) => (b === undefined ? a : a === undefined ? b : Math.min(a, b)),
    undefined,
  );
  const ctx: LargeObjectCopyContext = { target: run, options, deadline };
  const log = deps.log.child({ bucket: run.bucket });

  const objects = await loadObjects(parsed.objects, run.workBucket, deps.clients.s3);
  const digest = batchDigest(
    run.kmsKeyArn,
    objects.map((o) => o.key),
  );
  const key = batchKey(run.progressPrefix, digest);
  let batch = await loadBatch(deps.clients.s3, run.workBucket, key, digest, objects.length);
  const finish = async (done: boolean): Promise<LargeObjectCopyResult> => {
    await putJson(deps.clients.s3, run.workBucket, key, batch);
    const summary = summarizeBatch(batch, options.problemsInResult);
    log.info(done ? "large objects done" : "large objects paused at deadline", { ...summary.counts, batchKey: key });
    return { done, batchKey: key, ...summary };
  };

  while (batch.nextIndex < objects.length) {
    if (nearDeadline(ctx, deps)) return finish(false);
    const object = objects[batch.nextIndex];
    if (!object) break;
    let outcome: LargeCopyOutcome;
    try {
      const result = await reencryptLargeObject(object, ctx, deps);
      if (result.status === "paused") return finish(false);
      outcome = result.outcome;
    } catch (err) {
      if (err instanceof ObjectChangedDuringCopyError) {
        outcome = { key: object.key, outcome: "changed-during-copy", reason: err.problem };
      } else if (isTransient(err)) {
        await putJson(deps.clients.s3, run.workBucket, key, batch);
        throw err;
      } else {
        outcome = { key: object.key, outcome: "failed", reason: describeError(err) };
      }
    }
    batch = settleNext(batch, outcome);
    await putJson(deps.clients.s3, run.workBucket, key, batch);
  }
  return finish(true);
}

// ---------------------------------------------------------------------------------------------------------
// Input and batch files

async function loadObjects(
  objects: LargeObject[] | { listKey: string },
  workBucket: string,
  s3: S3Client,
): Promise<LargeObject[]> {
  const list = Array.isArray(objects) ? objects : await readLargeObjectList(s3, workBucket, objects.listKey);
  // A key listed twice is copied once.
  const seen = new Set<string>();
  return list.filter((o) => !seen.has(o.key) && seen.add(o.key));
}

async function loadBatch(
  s3: S3Client,
  workBucket: string,
  key: string,
  digest: string,
  total: number,
): Promise<LargeCopyBatch> {
  const text = await getTextIfExists(s3, workBucket, key);
  if (text === undefined) return newBatch(digest, total);
  const saved = LargeCopyBatchSchema.parse(JSON.parse(text));
  return saved.inputDigest === digest && saved.total === total ? saved : newBatch(digest, total);
}
