import { z } from "zod";
import { JobsSchema } from "../../contract/plan.ts";
import type { RecordedFailure } from "../../contract/recorded-failure.ts";
import { bucketLockKey, RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { releaseBucketLock } from "../aws/bucket-lock.ts";
import { firstFailedChild, MAP_RUN_FAILED } from "../aws/failed-slices.ts";
import { putJson } from "../aws/s3-io.ts";
import { defineStep } from "../runtime/step.ts";

/**
 * On AWS a failed Lambda's Cause is the JSON `{"errorType","errorMessage","trace"}`; locally it is the message.
 * The operator gets the message, which already ends with what to do.
 */
export function causeMessage(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === "string") return parsed.errorMessage;
  } catch {
    // not JSON: already the message
  }
  return cause;
}

export const recordFailure = defineStep({
  state: StateNames.recordFailure,
  input: z.object({
    state: z
      .object({
        run: RunContextSchema.optional(),
        failure: z.object({ Error: z.string(), Cause: z.string().optional() }),
        jobs: JobsSchema.optional(),
      })
      .passthrough(),
  }),
  async run({ state }, { clients, now, log }): Promise<RecordedFailure> {
    const run = state.run;
    const notes: string[] = [];
    let error = state.failure.Error;
    let why = causeMessage(state.failure.Cause ?? "");
    if (error === MAP_RUN_FAILED && run) {
      // A slice failed: its error names the problem and the fix; the Map state's says only that one failed.
      try {
        const child = await firstFailedChild(clients.sfn, run.executionId);
        if (child) {
          error = child.error;
          why = `${causeMessage(child.cause)}\n(Planning stopped: slice execution ${child.executionArn} failed with this error.)`;
        }
      } catch (err) {
        notes.push(`(rekey could not read the failed slice's error: ${(err as Error).message})`);
      }
    }
    const jobIds = (state.jobs?.jobs ?? []).map((j) => j.jobId);
    // Jobs already created keep running after the run stops: the operator must be able to find them.
    const cause =
      why +
      (jobIds.length ? `\nCopy jobs this run created or reused, which may still be running: ${jobIds.join(", ")}` : "");
    log.error("run failed", { bucket: run?.bucket, error, cause });
    // No run context: "Validate input" failed, before or while taking the bucket's lock (BucketBusyError), so there
    // is no lock of this execution to release.
    if (!run) return { error, cause };
    const key = runKeys(run).failure;
    let written = false;
    try {
      await putJson(clients.s3, run.workBucket, key, {
        error,
        cause,
        jobIds,
        failedAt: now().toISOString(),
        runId: run.runId,
      });
      written = true;
    } catch (err) {
      // The failure itself matters more than its record; say so in the cause instead of failing this state too.
      notes.push(`(rekey could not write s3://${run.workBucket}/${key}: ${(err as Error).message})`);
    }
    try {
      // Only a lock naming this execution is deleted (steps/aws/bucket-lock.ts).
      await releaseBucketLock(clients.s3, run.workBucket, run.bucket, run.executionId);
    } catch (err) {
      // Left behind, the lock names an ended execution, and the next run takes it over.
      notes.push(
        `(rekey could not release s3://${run.workBucket}/${bucketLockKey(run.bucket)}: ${(err as Error).message})`,
      );
    }
    const fullCause = [cause, ...notes].join("\n");
    return written
      ? { error, cause: fullCause, failureLocation: `s3://${run.workBucket}/${key}` }
      : { error, cause: fullCause };
  },
});
