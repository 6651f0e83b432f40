import { z } from "zod";
import type { CopyJobsProgress, JobProgress } from "../../contract/copy-jobs.ts";
import { JobsSchema, workLabel } from "../../contract/plan.ts";
import { RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import {
  AWAITING_CONFIRMATION_STATUSES,
  describeCreatedJob,
  isTerminalJobStatus,
  jobProgressOf,
} from "../aws/batch-jobs.ts";
import { nextJobPollSeconds } from "../domain/polling.ts";
import { defineStep } from "../runtime/step.ts";

export const checkCopyJobs = defineStep({
  state: StateNames.checkCopyJobs,
  input: z.object({ run: RunContextSchema, jobs: JobsSchema }),
  async run({ run, jobs }, { clients, now, log }): Promise<CopyJobsProgress> {
    const progress: JobProgress[] = [];
    for (const job of jobs.jobs) {
      // Not yet known to S3 Control (just created): New, until the grace runs out (batch-jobs.ts).
      const d =
        (await describeCreatedJob(clients.s3control, run.accountId, job.jobId, jobs.createdAt, now())) ??
        ({ Status: "New" } as const);
      progress.push({ jobId: job.jobId, storageClass: workLabel(job), ...jobProgressOf(d, job.objects) });
    }
    const total = sum(progress, (j) => j.total);
    const succeeded = sum(progress, (j) => j.succeeded);
    const failed = sum(progress, (j) => j.failed);
    const done = progress.every((j) => isTerminalJobStatus(j.status));
    const awaitingApproval =
      run.options.requireApproval && progress.some((j) => AWAITING_CONFIRMATION_STATUSES.includes(j.status));
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
