import { z } from "zod";
import { JobsSchema } from "../../contract/plan.ts";
import type { RecordedFailure } from "../../contract/recorded-failure.ts";
import { RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
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
    const error = state.failure.Error;
    const jobIds = (state.jobs?.jobs ?? []).map((j) => j.jobId);
    // Jobs already created keep running after the run stops: the operator must be able to find them.
    const cause =
      causeMessage(state.failure.Cause ?? "") +
      (jobIds.length ? `\nCopy jobs this run created or reused, which may still be running: ${jobIds.join(", ")}` : "");
    const run = state.run;
    log.error("run failed", { bucket: run?.bucket, error, cause });
    if (!run) return { error, cause };
    const key = runKeys(run).failure;
    try {
      await putJson(clients.s3, run.workBucket, key, {
        error,
        cause,
        jobIds,
        failedAt: now().toISOString(),
        runId: run.runId,
      });
    } catch (err) {
      // The failure itself matters more than its record; say so in the cause instead of failing this state too.
      return {
        error,
        cause: `${cause}\n(rekey could not write s3://${run.workBucket}/${key}: ${(err as Error).message})`,
      };
    }
    return { error, cause, failureLocation: `s3://${run.workBucket}/${key}` };
  },
});
