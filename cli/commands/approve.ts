import { UpdateJobStatusCommand } from "@aws-sdk/client-s3-control";
import { workLabel } from "../../contract/plan.ts";
import { StateNames } from "../../contract/states.ts";
import { describeJob } from "../../steps/aws/batch-jobs.ts";
import { formatCount } from "../../steps/domain/format.ts";
import { type AwsOptions, clientsFor, executionArnFor } from "../aws.ts";
import { CommandFailedError } from "../errors.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";
import { readRun } from "../runs.ts";

export interface ApproveOptions extends AwsOptions {
  execution: string;
  output: OutputChoice;
}

/** `rekey approve`: confirms the copy jobs of a run that waits in "Waiting for approval", so they start copying. */
export async function approveCommand(options: ApproveOptions, io: Io): Promise<number> {
  const clients = await clientsFor(options, io);
  const executionArn = await executionArnFor(clients, options, io);
  const run = await readRun(clients, executionArn);
  // The approval wait loops through "Check copy jobs" (workflow/definition.ts): a run caught in that check, whose
  // last check found the jobs awaiting approval, is waiting all the same.
  const inApprovalLoop =
    run.currentState === StateNames.waitingForApproval ||
    (run.progress?.awaitingApproval === true &&
      (run.currentState === StateNames.checkCopyJobs || run.currentState === StateNames.areJobsDone));
  if (run.status !== "RUNNING" || !inApprovalLoop) {
    throw new CommandFailedError(
      `${run.name} is not waiting for approval (it is ${run.status}${run.currentState ? `, in "${run.currentState}"` : ""}). Check with rekey status --execution ${executionArn}.`,
    );
  }
  const accountId = executionArn.split(":")[4] ?? "";
  const approved: { jobId: string; storageClass: string; objects: number }[] = [];
  for (const job of run.jobs?.jobs ?? []) {
    const status = (await describeJob(clients.s3control, accountId, job.jobId))?.Status;
    if (status === "Suspended") {
      await clients.s3control.send(
        new UpdateJobStatusCommand({
          AccountId: accountId,
          JobId: job.jobId,
          RequestedJobStatus: "Ready",
          StatusUpdateReason: "Approved with rekey approve",
        }),
      );
      approved.push({ jobId: job.jobId, storageClass: workLabel(job), objects: job.objects });
    } else if (status === "New" || status === "Preparing") {
      throw new CommandFailedError(
        `Job ${job.jobId} is still ${status}: Batch Operations has not finished reading its manifest. Try again in a minute.`,
      );
    }
  }
  printResult(io, options.output, "Approve", { executionArn, approved }, () => {
    const lines = [`Approved ${run.name}: ${approved.length} job(s) start copying.`];
    for (const a of approved) lines.push(`  job ${a.jobId}: ${formatCount(a.objects)} ${a.storageClass} objects`);
    lines.push(`Watch: rekey status --execution ${executionArn} --watch`);
    return `${lines.join("\n")}\n`;
  });
  return 0;
}
