import { DescribeJobCommand, type JobDescriptor, type S3ControlClient } from "@aws-sdk/client-s3-control";
import { z } from "zod";
import { JobsSchema, workLabel } from "../../contract/plan.ts";
import { RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { nextJobPollSeconds } from "../domain/polling.ts";
import { defineStep } from "../runtime/step.ts";

export const TERMINAL_JOB_STATUSES = ["Complete", "Failed", "Cancelled"] as const;

export interface JobProgress {
  jobId: string;
  storageClass: string;
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  elapsedActiveSeconds: number;
  failureReasons: string[];
}

export interface CopyJobsProgress {
  done: boolean;
  /** Some job waits for the operator's confirmation (created with ConfirmationRequired). */
  awaitingApproval: boolean;
  waitSeconds: number;
  checkedAt: string;
  total: number;
  succeeded: number;
  failed: number;
  jobs: JobProgress[];
}

export const checkCopyJobs = defineStep({
  state: StateNames.checkCopyJobs,
  input: z.object({ run: RunContextSchema, jobs: JobsSchema }),
  async run({ run, jobs }, { clients, now, log }): Promise<CopyJobsProgress> {
    const progress: JobProgress[] = [];
    for (const job of jobs.jobs) {
      const d = await describeJob(clients.s3control, run.accountId, job.jobId, jobs.createdAt, now());
      const p = d?.ProgressSummary;
      progress.push({
        jobId: job.jobId,
        storageClass: workLabel(job),
        status: d?.Status ?? "Unknown",
        total: p?.TotalNumberOfTasks ?? job.objects,
        succeeded: p?.NumberOfTasksSucceeded ?? 0,
        failed: p?.NumberOfTasksFailed ?? 0,
        elapsedActiveSeconds: p?.Timers?.ElapsedTimeInActiveSeconds ?? 0,
        failureReasons: failureReasonsOf(d),
      });
    }
    const total = sum(progress, (j) => j.total);
    const succeeded = sum(progress, (j) => j.succeeded);
    const failed = sum(progress, (j) => j.failed);
    const done = progress.every((j) => (TERMINAL_JOB_STATUSES as readonly string[]).includes(j.status));
    // Preparing comes before Suspended: a job created with ConfirmationRequired has not been confirmed until it
    // has passed Suspended, so it is awaited from creation on.
    const awaitingApproval =
      run.options.requireApproval && progress.some((j) => ["New", "Preparing", "Suspended"].includes(j.status));
    const activeSeconds = Math.max(0, ...progress.map((j) => j.elapsedActiveSeconds));
    const checkedAt = now();
    const waitSeconds = nextJobPollSeconds({
      elapsedSeconds: jobs.createdAt ? (checkedAt.getTime() - Date.parse(jobs.createdAt)) / 1000 : 0,
      totalTasks: total,
      finishedTasks: succeeded + failed,
      tasksPerSecond: activeSeconds > 0 ? (succeeded + failed) / activeSeconds : undefined,
      minSeconds: run.options.jobPollMinSeconds,
      maxSeconds: run.options.jobPollMaxSeconds,
    });
    log.info("copy jobs checked", { bucket: run.bucket, done, total, succeeded, failed, waitSeconds });
    return {
      done,
      awaitingApproval,
      waitSeconds,
      checkedAt: checkedAt.toISOString(),
      total,
      succeeded,
      failed,
      jobs: progress,
    };
  },
});

function sum<T>(items: T[], f: (t: T) => number): number {
  return items.reduce((acc, t) => acc + f(t), 0);
}

/** AWS may answer NotFound for a few moments after CreateJob, before the job is registered (aws-facts 2.8). */
const REGISTRATION_GRACE_MS = 5 * 60 * 1000;

async function describeJob(
  s3control: S3ControlClient,
  accountId: string,
  jobId: string,
  createdAt: string | undefined,
  now: Date,
) {
  try {
    return (await s3control.send(new DescribeJobCommand({ AccountId: accountId, JobId: jobId }))).Job;
  } catch (err) {
    const justCreated = createdAt !== undefined && now.getTime() - Date.parse(createdAt) < REGISTRATION_GRACE_MS;
    if (justCreated && (err as Error).name === "NotFoundException") return { Status: "New" } as JobDescriptor;
    throw err;
  }
}

/** A job's failure reasons as "Code: reason" lines, for logs, reports and the operator. */
export function failureReasonsOf(job: Pick<JobDescriptor, "FailureReasons"> | undefined): string[] {
  return (job?.FailureReasons ?? []).map((f) => `${f.FailureCode ?? ""}: ${f.FailureReason ?? ""}`);
}
