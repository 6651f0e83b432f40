import { createHash } from "node:crypto";
import {
  DescribeJobCommand,
  type JobDescriptor,
  type JobListDescriptor,
  type JobStatus,
  ListJobsCommand,
  type S3ControlClient,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import type { JobStatusCounts } from "../../contract/copy-jobs.ts";
import { BatchJobFailedError } from "../../contract/errors.ts";
import type { RunContext } from "../../contract/run-context.ts";
import { httpStatusOf } from "./s3-io.ts";

/**
 * rekey's Batch Operations jobs as S3 Control knows them: how a job names its run, plan and unit of work (its
 * description and request token), which statuses mean what, what DescribeJob says of its progress, and how the
 * jobs of a plan or of a run are found again (ListJobs and the description). Job statuses:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html
 */

/** A job in one of these statuses runs no more tasks. */
export const TERMINAL_JOB_STATUSES = ["Complete", "Failed", "Cancelled"] as const;

export function isTerminalJobStatus(status: string): boolean {
  return (TERMINAL_JOB_STATUSES as readonly string[]).includes(status);
}

/** Cancelled or failed (or on the way there): the job will not finish its work, so a later run makes a new one. */
export const ENDED_WITHOUT_FINISHING: ReadonlySet<string> = new Set(["Cancelled", "Cancelling", "Failed", "Failing"]);

/** The job failed (or is failing). */
export const FAILED_JOB_STATUSES: ReadonlySet<string> = new Set(["Failed", "Failing"]);

/**
 * Not yet confirmed: a job created with ConfirmationRequired waits in Suspended; New and Preparing come before it,
 * so such a job is awaited from creation on.
 */
export const AWAITING_CONFIRMATION_STATUSES: readonly string[] = ["New", "Preparing", "Suspended"];

/** Statuses of a job that may still run tasks, for ListJobs' JobStatuses filter. */
export const LIVE_JOB_STATUSES: JobStatus[] = ["New", "Preparing", "Suspended", "Ready", "Active", "Pausing", "Paused"];

/** Statuses after which a list job writes nothing more: its list is final, or it has none (no object matched). */
export const LIST_FINAL_STATUSES: ReadonlySet<string> = new Set(["Suspended", "Complete", "Cancelling", "Cancelled"]);

/** Statuses in which a list job could still run tasks (someone confirmed it by hand): cancelled once read. */
export const CANCELLABLE_STATUSES: ReadonlySet<string> = new Set(["Suspended", "Ready", "Active", "Pausing", "Paused"]);

/**
 * The CreateJob token for one work unit: the plan (bucket, inventory delivery, target key), the unit, and how many
 * earlier jobs for that unit were cancelled or failed. A retried step, a re-run of the state, or a second execution
 * from the same inventory sends the same token and gets the same job back instead of a second one; after a stopped
 * job, the next attempt gets a new job. 64 hex characters, the token's maximum length.
 */
export function jobToken(planPrefix: string, unit: string, attempt: number): string {
  return createHash("sha256").update(`${planPrefix}\n${unit}\n${attempt}`).digest("hex");
}

/** What every description of the unit's jobs starts with; the run id follows. */
function descriptionHead(bucket: string, unit: string, planPrefix: string): string {
  return `rekey ${bucket} ${unit} ${planPrefix} (`;
}

/**
 * The description names bucket, work unit, plan and run, `rekey <bucket> <unit> <plan prefix> (<run id>)`, so jobs
 * can be found again by it (ListJobs returns descriptions). At most 256 characters.
 */
export function jobDescription(run: Pick<RunContext, "bucket" | "runId">, planPrefix: string, unit: string): string {
  return `${descriptionHead(run.bucket, unit, planPrefix)}${run.runId})`.slice(0, 256);
}

/**
 * A redrive job's unit: the attempt and the job whose transiently failed tasks it runs again. It stands where a
 * unit's storage class stands in the description, so describesPlanJob and describesRunJob find redrive jobs too,
 * and no unit's own jobs (describesUnitJob) are mistaken for one.
 */
export function redriveUnit(previousJobId: string, attempt: number): string {
  return `redrive-${attempt}-of-${previousJobId}`;
}

/**
 * The CreateJob token of a redrive job: the plan, the job it redrives and the attempt. A retried "Check copy jobs",
 * or a later execution that reuses the same jobs, sends the same token and gets the same job back.
 */
export function redriveToken(planPrefix: string, previousJobId: string, attempt: number): string {
  return jobToken(planPrefix, redriveUnit(previousJobId, attempt), 0);
}

/** Whether a description marks a job as work of the plan (any unit). */
export function describesPlanJob(description: string | undefined, bucket: string, planPrefix: string): boolean {
  return description?.startsWith(`rekey ${bucket} `) === true && description.includes(` ${planPrefix} (`);
}

/** Whether a description marks a job as the plan's work on one unit. */
export function describesUnitJob(
  description: string | undefined,
  bucket: string,
  planPrefix: string,
  unit: string,
): boolean {
  return description?.startsWith(descriptionHead(bucket, unit, planPrefix)) === true;
}

/** Whether a description marks a job as created by the run. */
export function describesRunJob(description: string | undefined, runId: string): boolean {
  return description?.endsWith(`(${runId})`) === true;
}

/** The run id a description ends with (jobDescription), or undefined for a description rekey did not write. */
export function runIdOfDescription(description: string | undefined): string | undefined {
  return /\(([^()]+)\)$/.exec(description ?? "")?.[1];
}

/** A job's failure reasons as "Code: reason" lines, for logs, reports and the operator. */
export function failureReasonsOf(job: Pick<JobDescriptor, "FailureReasons"> | undefined): string[] {
  return (job?.FailureReasons ?? []).map((f) => `${f.FailureCode ?? ""}: ${f.FailureReason ?? ""}`);
}

/**
 * A job's status and task counts from its DescribeJob answer; `plannedTasks` stands for the total until Batch
 * Operations has counted the manifest. An unknown job is "Unknown" with nothing done.
 */
export function jobProgressOf(job: JobDescriptor | undefined, plannedTasks = 0): JobStatusCounts {
  const p = job?.ProgressSummary;
  return {
    status: job?.Status ?? "Unknown",
    total: p?.TotalNumberOfTasks ?? plannedTasks,
    succeeded: p?.NumberOfTasksSucceeded ?? 0,
    failed: p?.NumberOfTasksFailed ?? 0,
    elapsedActiveSeconds: p?.Timers?.ElapsedTimeInActiveSeconds ?? 0,
    failureReasons: failureReasonsOf(job),
  };
}

/**
 * UpdateJobStatus Cancelled: running tasks finish, no new one starts, and the job writes its completion report
 * for the tasks that ran (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html).
 * Whether it was cancelled: a job that ended, or began to end (Completing, Failing, Cancelling), after the caller
 * last looked answers JobStatusException, as it cannot move to Cancelled any more; that is no error here.
 */
export async function cancelJob(
  s3control: S3ControlClient,
  accountId: string,
  jobId: string,
  reason: string,
): Promise<boolean> {
  try {
    await s3control.send(
      new UpdateJobStatusCommand({
        AccountId: accountId,
        JobId: jobId,
        RequestedJobStatus: "Cancelled",
        StatusUpdateReason: reason.slice(0, 256),
      }),
    );
    return true;
  } catch (err) {
    if ((err as { name?: string } | null)?.name === "JobStatusException") return false;
    throw err;
  }
}

/** DescribeJob. */
export async function describeJob(
  s3control: S3ControlClient,
  accountId: string,
  jobId: string,
): Promise<JobDescriptor | undefined> {
  return (await s3control.send(new DescribeJobCommand({ AccountId: accountId, JobId: jobId }))).Job;
}

/**
 * S3 Control does not know the job (yet): DescribeJob documents NotFoundException; NoSuchJobException has been
 * reported right after CreateJob; either may arrive as a bare 404. rekey treats them alike wherever a job it has
 * just created may not be visible yet (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_DescribeJob.html).
 */
export function isUnknownJob(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === "NotFoundException" || name === "NoSuchJobException" || httpStatusOf(err) === 404;
}

/**
 * How long after CreateJob rekey lets S3 Control not know a job: the troubleshooting guide names "checking job
 * status immediately after creation before the job is fully registered" as a cause of NoSuchJobException
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshooting-batch-operations.html) without saying for
 * how long.
 */
export const JOB_REGISTRATION_GRACE_MS = 5 * 60 * 1000;

/**
 * DescribeJob of a job rekey created at `createdAt`: undefined while S3 Control does not know it yet, within
 * JOB_REGISTRATION_GRACE_MS; a job still unknown after that (or with no creation time to go by) fails the run,
 * since polling it longer cannot help.
 */
export async function describeCreatedJob(
  s3control: S3ControlClient,
  accountId: string,
  jobId: string,
  createdAt: string | undefined,
  now: Date,
): Promise<JobDescriptor | undefined> {
  try {
    return await describeJob(s3control, accountId, jobId);
  } catch (err) {
    if (!isUnknownJob(err)) throw err;
    const waited = createdAt === undefined ? Number.POSITIVE_INFINITY : now.getTime() - Date.parse(createdAt);
    if (waited < JOB_REGISTRATION_GRACE_MS) return undefined;
    throw new BatchJobFailedError(
      `S3 Control still does not know job ${jobId} (${(err as Error).name}), created ${createdAt ?? "at an unrecorded time"}.`,
      {
        jobId,
        cause: err,
        fix: "Check the job in the S3 console (Batch Operations) and that the run uses the account and region it was created in; then start a new run.",
      },
    );
  }
}

/** Every job ListJobs returns (it keeps jobs for 90 days) that `matches`, optionally only in some statuses. */
async function listMatchingJobs(
  s3control: S3ControlClient,
  accountId: string,
  page: { statuses?: JobStatus[]; maxResults?: number },
  matches: (job: JobListDescriptor) => boolean,
): Promise<JobListDescriptor[]> {
  const found: JobListDescriptor[] = [];
  let nextToken: string | undefined;
  do {
    const out = await s3control.send(
      new ListJobsCommand({
        AccountId: accountId,
        ...(page.statuses ? { JobStatuses: page.statuses } : {}),
        NextToken: nextToken,
        ...(page.maxResults ? { MaxResults: page.maxResults } : {}),
      }),
    );
    for (const j of out.Jobs ?? []) if (matches(j)) found.push(j);
    nextToken = out.NextToken;
  } while (nextToken);
  return found;
}

/** Jobs whose description marks them as work of this plan, in any status. */
export function jobsOfPlan(
  s3control: S3ControlClient,
  accountId: string,
  bucket: string,
  planPrefix: string,
): Promise<JobListDescriptor[]> {
  return listMatchingJobs(s3control, accountId, { maxResults: 1000 }, (j) =>
    describesPlanJob(j.Description, bucket, planPrefix),
  );
}

/** Jobs whose description marks them as rekey's work on the bucket, of any plan or run, in any status. */
export function jobsOfBucket(
  s3control: S3ControlClient,
  accountId: string,
  bucket: string,
): Promise<JobListDescriptor[]> {
  return listMatchingJobs(
    s3control,
    accountId,
    { maxResults: 1000 },
    (j) => j.Description?.startsWith(`rekey ${bucket} `) === true,
  );
}

/** Live statuses of a job that runs, or will run, tasks without an operator's confirmation. */
const RUNNING_JOB_STATUSES = LIVE_JOB_STATUSES.filter((s) => s !== "Suspended");

/**
 * How many of rekey's jobs (any bucket, any run: their description starts with "rekey ") the account runs or is
 * about to run, less those `exceptPlan` made (a retried "Create copy jobs" must not count its own jobs against it).
 */
export async function runningRekeyJobs(
  s3control: S3ControlClient,
  accountId: string,
  exceptPlan?: { bucket: string; planPrefix: string },
): Promise<number> {
  const jobs = await listMatchingJobs(
    s3control,
    accountId,
    { statuses: RUNNING_JOB_STATUSES },
    (j) =>
      j.Description?.startsWith("rekey ") === true &&
      !(exceptPlan && describesPlanJob(j.Description, exceptPlan.bucket, exceptPlan.planPrefix)),
  );
  return jobs.length;
}

/** Ids of the jobs that may still run tasks and whose description names the run. */
export async function liveJobsOfRun(s3control: S3ControlClient, accountId: string, runId: string): Promise<string[]> {
  const jobs = await listMatchingJobs(s3control, accountId, { statuses: LIVE_JOB_STATUSES }, (j) =>
    describesRunJob(j.Description, runId),
  );
  return jobs.flatMap((j) => (j.JobId ? [j.JobId] : []));
}
