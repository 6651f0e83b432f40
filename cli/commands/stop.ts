import { DescribeExecutionCommand, StopExecutionCommand } from "@aws-sdk/client-sfn";
import {
  cancelJob,
  describeJob,
  isTerminalJobStatus,
  jobProgressOf,
  liveJobsOfRun,
} from "../../steps/aws/batch-jobs.ts";
import { formatCount } from "../../steps/domain/format.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { type AwsOptions, clientsFor, executionArnFor } from "../aws.ts";
import { CommandFailedError } from "../errors.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";
import { readRun } from "../runs.ts";

export interface StopOptions extends AwsOptions {
  execution: string;
  reason?: string | undefined;
  output: OutputChoice;
}

/** How long stop waits for cancelled jobs to settle before it reports what they did. */
const SETTLE_SECONDS = 60;

/**
 * `rekey stop`: stops the execution, then cancels its Batch Operations jobs (a cancelled job runs no new task;
 * each task is one atomic CopyObject, so no object is left half-written), and says what was already done.
 */
export async function stopCommand(options: StopOptions, io: Io): Promise<number> {
  const clients = await clientsFor(options, io);
  const executionArn = await executionArnFor(clients, options, io);
  const before = await readRun(clients, executionArn);
  if (before.status !== "RUNNING") {
    throw new CommandFailedError(`${before.name} is not running (it is ${before.status}); nothing to stop.`);
  }
  const reason = options.reason ?? "Stopped by the operator with rekey stop";
  const { run, results } = await stopRun(clients, executionArn, reason, io);
  const data = { executionArn, status: "ABORTED", jobs: results };
  printResult(io, options.output, "Stop", data, () => stoppedText(run, executionArn, results));
  return 0;
}

export interface StoppedJob {
  jobId: string;
  status: string;
  succeeded: number;
  failed: number;
  total: number;
}

/**
 * Stops an execution (unless it has stopped already), then cancels its Batch Operations jobs (a cancelled job runs no new task; each task is
 * one atomic CopyObject, so no object is left half-written), and waits a while for them to settle.
 */
export async function stopRun(
  clients: AwsClients,
  executionArn: string,
  reason: string,
  io: Io,
): Promise<{ run: Awaited<ReturnType<typeof readRun>>; results: StoppedJob[] }> {
  // A fleet's stop may have stopped it already (Step Functions stops the runs a stopped fleet was waiting for): its
  // jobs are cancelled all the same.
  const { status } = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  if (status === "RUNNING") {
    await clients.sfn.send(new StopExecutionCommand({ executionArn, error: "RekeyStopped", cause: reason }));
  }
  // Read again: a job created while the stop was on its way is in the history now.
  const run = await readRun(clients, executionArn);
  const accountId = executionArn.split(":")[4] ?? "";
  const jobIds = new Set((run.jobs?.jobs ?? []).map((j) => j.jobId));
  // Jobs rekey created for this run, found by the run id in their description, in case the history lags.
  for (const id of await liveJobsOfRun(clients.s3control, accountId, run.name)) jobIds.add(id);

  const results: StoppedJob[] = [];
  for (const jobId of jobIds) {
    // A job that ends between this look and the cancel is left to end; settled() reports how it did.
    if (!isTerminalJobStatus(await jobStatus(clients, accountId, jobId))) {
      await cancelJob(clients.s3control, accountId, jobId, reason);
    }
  }
  for (const jobId of jobIds) results.push(await settled(clients, accountId, jobId, io));

  return { run, results };
}

function stoppedText(
  run: Awaited<ReturnType<typeof readRun>>,
  executionArn: string,
  results: { jobId: string; status: string; succeeded: number; failed: number; total: number }[],
): string {
  const lines = [`Stopped ${run.name} (${executionArn}).`];
  if (results.length === 0 && !run.largeCopyStarted) {
    lines.push("No copy job had been created: no object was changed by this run.");
  }
  for (const r of results) {
    lines.push(
      `  job ${r.jobId}: ${r.status}; ${formatCount(r.succeeded)} of ${formatCount(r.total)} objects were re-encrypted before the stop, ${formatCount(r.failed)} failed; the others were not touched.`,
    );
  }
  const large = run.plan?.largeObjects;
  if (large && !run.largeCopyStarted) {
    lines.push(`  ${formatCount(large.objects)} object(s) over 5 GiB were planned; their copy had not started.`);
  } else if (large) {
    const done = run.largeCopy
      ? `${formatCount(run.largeCopy.processed)} of ${formatCount(large.objects)} settled (${formatCount(run.largeCopy.counts.reencrypted)} re-encrypted) at the last report`
      : `none settled at the last report`;
    lines.push(
      `  objects over 5 GiB: ${done}. The copy under way when the run stopped may still complete (a running Lambda invocation is not interrupted); an unfinished one stays an incomplete multipart upload in the bucket, which a new run from the same inventory continues. List them with: aws s3api list-multipart-uploads --bucket ${run.bucket ?? "<bucket>"}`,
    );
  }
  lines.push("Bucket default encryption stays on the target key. Start a new run (rekey start) to finish the bucket.");
  return `${lines.join("\n")}\n`;
}

async function jobStatus(clients: AwsClients, accountId: string, jobId: string): Promise<string> {
  return (await describeJob(clients.s3control, accountId, jobId))?.Status ?? "Unknown";
}

async function settled(clients: AwsClients, accountId: string, jobId: string, io: Io) {
  for (let waited = 0; ; waited += 1) {
    const { status, succeeded, failed, total } = jobProgressOf(await describeJob(clients.s3control, accountId, jobId));
    if (isTerminalJobStatus(status) || waited >= SETTLE_SECONDS) return { jobId, status, succeeded, failed, total };
    await io.sleep(1000);
  }
}
