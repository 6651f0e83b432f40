import {
  DescribeJobCommand,
  type JobDescriptor,
  ListJobsCommand,
  type S3ControlClient,
} from "@aws-sdk/client-s3-control";
import { until } from "./until.ts";

/** DescribeJob until the job reaches one of `statuses`; fails naming the job, the status it stayed in and the wanted ones. */
export async function jobInStatus(
  s3control: S3ControlClient,
  accountId: string,
  jobId: string,
  statuses: readonly string[],
  timeoutMs = 30_000,
): Promise<JobDescriptor> {
  let last: string | undefined;
  return until(
    `job ${jobId} to be ${statuses.join("|")}`,
    async () => {
      const job = (await s3control.send(new DescribeJobCommand({ AccountId: accountId, JobId: jobId }))).Job;
      last = job?.Status;
      return job && statuses.includes(job.Status ?? "") ? job : undefined;
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last seen ${last ?? "unknown"})`);
  });
}

/** Tasks succeeded so far over every job in the account (ListJobs, then DescribeJob of each). */
export async function succeededTasks(s3control: S3ControlClient, accountId: string): Promise<number> {
  let n = 0;
  for (const j of (await s3control.send(new ListJobsCommand({ AccountId: accountId }))).Jobs ?? []) {
    const { Job } = await s3control.send(new DescribeJobCommand({ AccountId: accountId, JobId: j.JobId }));
    n += Job?.ProgressSummary?.NumberOfTasksSucceeded ?? 0;
  }
  return n;
}
