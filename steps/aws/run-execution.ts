import { DescribeExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import type { RunContext } from "../../contract/run-context.ts";
import type { StepDeps } from "../runtime/step.ts";
import { cancelJob } from "./batch-jobs.ts";

/** A run's own execution in Step Functions, as the steps that must not outlive it see it. */

/** Whether the execution can still act on the bucket. An execution Step Functions no longer knows cannot. */
export async function executionIsRunning(sfn: SFNClient, executionArn: string): Promise<boolean> {
  try {
    const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    // PENDING_REDRIVE: a redrive of a failed execution is starting; it will run again.
    return status === "RUNNING" || status === "PENDING_REDRIVE";
  } catch (err) {
    if ((err as Error).name === "ExecutionDoesNotExist") return false;
    throw err;
  }
}

/**
 * Cancels the jobs a step has just created if the run's execution has stopped meanwhile, and says whether it had.
 * Lambda cannot stop an invocation under way, so a step that was running when the execution stopped runs to its
 * end; `rekey stop` may have listed the run's jobs before these existed, and they would run on. Looking after
 * CreateJob leaves no gap: a stop before this look is seen here, and a stop after it finds the jobs
 * (cli/commands/stop.ts).
 */
export async function cancelIfRunStopped(
  run: RunContext,
  jobIds: readonly string[],
  deps: Pick<StepDeps, "clients" | "log">,
): Promise<boolean> {
  if (await executionIsRunning(deps.clients.sfn, run.executionId)) return false;
  for (const jobId of jobIds) {
    const reason = `rekey: execution ${run.runId} was stopped while its jobs were being created`;
    const cancelled = await cancelJob(deps.clients.s3control, run.accountId, jobId, reason);
    deps.log.warn("job created after the run stopped", { bucket: run.bucket, jobId, cancelled });
  }
  return true;
}
