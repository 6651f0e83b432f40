import type { JobDescriptor } from "@aws-sdk/client-s3-control";
import { z } from "zod";
import type { CopyJobsProgress, JobProgress } from "../../contract/copy-jobs.ts";
import { BatchJobFailedError, SystemicTaskFailureError } from "../../contract/errors.ts";
import { JobsSchema, PlanSchema, type WorkJob, workLabel } from "../../contract/plan.ts";
import { type RunContext, RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { copyOperation, updateEncryptionOperation } from "../aws/batch-job-requests.ts";
import {
  AWAITING_CONFIRMATION_STATUSES,
  cancelJob,
  describeCreatedJob,
  isTerminalJobStatus,
  jobProgressOf,
} from "../aws/batch-jobs.ts";
import { redriveJob, summarizeFailedRows } from "../aws/redrive-jobs.ts";
import { nextJobPollSeconds } from "../domain/polling.ts";
import { decideRedrive, describeSystemicCauses, type SystemicCause, shouldCancelEarly } from "../domain/redrive.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

/** Starts the StatusUpdateReason of a job rekey cancelled itself, so a later check knows why it ended. */
const EARLY_CANCEL_REASON = "rekey cancelled early:";

export const checkCopyJobs = defineStep({
  state: StateNames.checkCopyJobs,
  input: z.object({
    run: RunContextSchema,
    jobs: JobsSchema,
    plan: PlanSchema,
    /** Redrive jobs carry the same unmodified-since guard as the plan's copies (batch-job-requests.ts). */
    defaultEncryption: z.object({ enforcedAt: z.iso.datetime() }),
  }),
  async run({ run, jobs, plan, defaultEncryption }, deps): Promise<CopyJobsProgress> {
    const { clients, now, log } = deps;
    const progress: JobProgress[] = [];
    const all: WorkJob[] = [...jobs.jobs];
    let redriveWaitSeconds: number | undefined;
    for (const job of jobs.jobs) {
      // Not yet known to S3 Control (just created): New, until the grace runs out (batch-jobs.ts).
      const d =
        (await describeCreatedJob(
          clients.s3control,
          run.accountId,
          job.jobId,
          job.createdAt ?? jobs.createdAt,
          now(),
        )) ?? ({ Status: "New" } as JobDescriptor);
      const counts = jobProgressOf(d, job.objects);
      if (counts.status === "Active" && shouldCancelEarly(counts, run.options.cancelAfterFailedTasks)) {
        const reason = `${EARLY_CANCEL_REASON} ${counts.failed} of ${counts.succeeded + counts.failed} tasks failed`;
        if (await cancelJob(clients.s3control, run.accountId, job.jobId, reason)) {
          log.warn("job cancelled early", { bucket: run.bucket, jobId: job.jobId, ...counts });
          counts.status = "Cancelling";
        }
      }
      const attempt = job.attempt ?? 1;
      progress.push({ jobId: job.jobId, storageClass: workLabel(job), attempt, ...counts });
      if (!isTerminalJobStatus(counts.status) || counts.failed === 0) continue;
      if (all.some((j) => j.redriveOf === job.jobId)) continue;
      const summary = await summarizeFailedRows(run, plan.planPrefix, job.jobId, deps);
      if (summary === undefined) continue;
      if (counts.status !== "Complete") {
        const stop = stoppedEarlyError(job, d, summary.systemicCauses(), summary.transient);
        if (stop) {
          // The cause (a permission, the key) is the same for the run's other jobs: they stop too.
          await cancelOthers(run, jobs.jobs, job.jobId, deps);
          throw stop;
        }
        continue;
      }
      const decision = decideRedrive({
        status: counts.status,
        attempt,
        transientFailures: summary.transient,
        maxAttempts: run.options.taskAttempts,
        endedAt: d?.TerminationDate,
        now: now(),
        backoffBaseSeconds: run.options.redriveBackoffSeconds,
      });
      if (decision.action === "wait") {
        redriveWaitSeconds = Math.min(redriveWaitSeconds ?? decision.seconds, decision.seconds);
      } else if (decision.action === "redrive") {
        const operation =
          job.operation === "copy"
            ? copyOperation(run, workLabel(job, "job"), defaultEncryption.enforcedAt)
            : updateEncryptionOperation(run);
        const next = await redriveJob(
          run,
          {
            planPrefix: plan.planPrefix,
            previous: job,
            attempt: decision.attempt,
            operation,
            transientFailures: summary.transient,
          },
          deps,
        );
        if (next) all.push(next);
      } else if (decision.reason === "attempts-exhausted") {
        log.warn("transient failures left after the last attempt", {
          bucket: run.bucket,
          jobId: job.jobId,
          attempt,
          transient: summary.transient,
        });
      }
    }
    const redriven = all.length > jobs.jobs.length;
    return summarize(run, jobs, progress, { redriven, redriveWaitSeconds, all }, deps);
  },
});

function summarize(
  run: RunContext,
  jobs: z.infer<typeof JobsSchema>,
  progress: JobProgress[],
  redrive: { redriven: boolean; redriveWaitSeconds: number | undefined; all: WorkJob[] },
  { now, log }: StepDeps,
): CopyJobsProgress {
  const total = sum(progress, (j) => j.total);
  const succeeded = sum(progress, (j) => j.succeeded);
  const failed = sum(progress, (j) => j.failed);
  const done =
    !redrive.redriven &&
    redrive.redriveWaitSeconds === undefined &&
    progress.every((j) => isTerminalJobStatus(j.status));
  const awaitingApproval =
    run.options.requireApproval && progress.some((j) => AWAITING_CONFIRMATION_STATUSES.includes(j.status));
  const activeSeconds = Math.max(0, ...progress.map((j) => j.elapsedActiveSeconds));
  const checkedAt = now();
  const pollSeconds = nextJobPollSeconds({
    elapsedSeconds: jobs.createdAt ? (checkedAt.getTime() - Date.parse(jobs.createdAt)) / 1000 : 0,
    totalTasks: total,
    finishedTasks: succeeded + failed,
    tasksPerSecond: activeSeconds > 0 ? (succeeded + failed) / activeSeconds : undefined,
    minSeconds: run.options.jobPollMinSeconds,
    maxSeconds: run.options.jobPollMaxSeconds,
  });
  // Waiting only for a redrive's backoff: wait exactly that; a running job may need a look sooner.
  const allEnded = progress.every((j) => isTerminalJobStatus(j.status));
  const waitSeconds =
    redrive.redriveWaitSeconds === undefined
      ? pollSeconds
      : allEnded
        ? redrive.redriveWaitSeconds
        : Math.min(pollSeconds, redrive.redriveWaitSeconds);
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
    ...(redrive.redriven ? { redriven: { ...jobs, jobs: redrive.all } } : {}),
  };
}

/**
 * A job that ended before running all its tasks (Cancelled or Failed) is not redriven. When its report shows tasks
 * that failed for a reason no retry fixes, the run stops here and says what is missing; when rekey cancelled it
 * early for failures that were not systemic, the run stops too, as the job left tasks unrun. The error to stop with.
 */
function stoppedEarlyError(
  job: WorkJob,
  d: JobDescriptor | undefined,
  causes: readonly SystemicCause[],
  transient: number,
): Error | undefined {
  const status = d?.Status ?? "Unknown";
  if (causes.length > 0) {
    return new SystemicTaskFailureError(`Copy job ${job.jobId} ended ${status}: ${describeSystemicCauses(causes)}.`, {
      jobId: job.jobId,
      fix: "Grant what is missing (or enable the key, or cancel its deletion), then start a new run: it makes a new job for this work; objects this job already copied are not copied again (each copy is conditional on the object being unmodified since default encryption was enforced), and repeating an encryption update changes nothing.",
    });
  }
  if (d?.StatusUpdateReason?.startsWith(EARLY_CANCEL_REASON)) {
    return new BatchJobFailedError(
      `rekey cancelled copy job ${job.jobId} early (${d.StatusUpdateReason.slice(EARLY_CANCEL_REASON.length).trim()}), but its report shows no access or key failure: ${transient} task(s) failed transiently.`,
      {
        jobId: job.jobId,
        fix: "Raise cancelAfterFailedTasks, lower jobPriority or raise the KMS request quota, then start a new run: it makes a new job for this work, and the objects this job already copied are not copied again.",
      },
    );
  }
  return undefined;
}

/** Cancels the run's other jobs that may still run tasks. */
async function cancelOthers(run: RunContext, jobs: readonly WorkJob[], stoppedJobId: string, deps: StepDeps) {
  for (const other of jobs) {
    if (other.jobId === stoppedJobId) continue;
    const reason = `${EARLY_CANCEL_REASON} job ${stoppedJobId} failed for access or key reasons`;
    if (await cancelJob(deps.clients.s3control, run.accountId, other.jobId, reason)) {
      deps.log.warn("job cancelled with the run", { bucket: run.bucket, jobId: other.jobId, cause: stoppedJobId });
    }
  }
}

function sum<T>(items: T[], f: (t: T) => number): number {
  return items.reduce((acc, t) => acc + f(t), 0);
}
