import type { JobDescriptor } from "@aws-sdk/client-s3-control";
import { PlanFileSchema } from "../../contract/plan.ts";
import { planKeys, planPrefix, type RunContext } from "../../contract/run-context.ts";
import { type EarlierDoer, EarlierWork } from "../domain/earlier-work.ts";
import type { StepDeps } from "../runtime/step.ts";
import { describeJob, jobsOfBucket, runIdOfDescription } from "./batch-jobs.ts";
import { readCompletionReport, reportManifestKey } from "./completion-reports.ts";
import { getTextIfExists } from "./s3-io.ts";

/**
 * What earlier runs' jobs on the bucket did under the target key, from their completion reports (succeeded rows).
 * Only jobs that had not ended when the inventory or list being planned was made (`listedAt`) count: an older job's
 * work is in that listing already, as compliant objects. Jobs are found by description through ListJobs, which
 * keeps them for 90 days (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_ListJobs.html). A job that
 * ran tasks but left no report, or one still running (its execution stopped without `rekey stop`), makes the plan
 * check the objects it would copy or update with HeadObject instead.
 */
export async function readEarlierWork(run: RunContext, listedAt: Date, deps: StepDeps): Promise<EarlierWork> {
  const { log } = deps;
  const work = new EarlierWork();
  for (const { job, by } of await earlierJobs(run, listedAt, deps)) {
    const createdAt = job.CreationTime ?? new Date(0);
    const report = job.Report;
    const reportBucket = report?.Bucket?.replace(/^arn:[^:]+:s3:::/, "");
    const rows =
      report?.Enabled && reportBucket && report.Prefix
        ? await readCompletionReport(
            reportBucket,
            reportManifestKey(report.Prefix, by.jobId),
            deps,
            (row) => {
              if (row.taskStatus === "succeeded") work.addSucceeded(row.key, by, createdAt);
              return undefined;
            },
            "succeeded",
          )
        : undefined;
    if (rows === undefined) work.addUnreported(by);
    log.info("earlier job read", { bucket: run.bucket, jobId: by.jobId, runId: by.runId, status: job.Status, rows });
  }
  log.info("earlier work known", { bucket: run.bucket, ...work.size });
  return work;
}

/**
 * The jobs of earlier runs whose work readEarlierWork reads: other runs' jobs on the bucket that succeeded in some
 * tasks under the target key and had not ended when the inventory or list was made. None: a plan has no earlier
 * work to leave out (the athena engine's routes need none, steps/domain/inventory-routes.ts).
 */
export async function earlierJobs(
  run: RunContext,
  listedAt: Date,
  deps: StepDeps,
): Promise<{ job: JobDescriptor; by: EarlierDoer }[]> {
  const { clients } = deps;
  const plansForKey = new Map<string, Promise<boolean>>();
  const found: { job: JobDescriptor; by: EarlierDoer }[] = [];
  for (const listed of await jobsOfBucket(clients.s3control, run.accountId, run.bucket)) {
    const runId = runIdOfDescription(listed.Description);
    if (!listed.JobId || runId === undefined || runId === run.runId) continue;
    const job = await describeJob(clients.s3control, run.accountId, listed.JobId);
    const succeeded = job?.ProgressSummary?.NumberOfTasksSucceeded ?? 0;
    if (!job || succeeded === 0 || !(await underTargetKey(job, run, plansForKey, deps))) continue;
    // A job that ended before the inventory (or list) was made is in it already: its objects are listed compliant.
    if (job.TerminationDate !== undefined && job.TerminationDate.getTime() < listedAt.getTime()) continue;
    found.push({
      job: { ...job, CreationTime: job.CreationTime ?? listed.CreationTime },
      by: { runId, jobId: listed.JobId },
    });
  }
  return found;
}

/**
 * The job's operation makes objects SSE-KMS under the run's key: an encryption update names its key. A copy job names
 * one only if an older rekey made it; now it takes the bucket default its run had enforced (batch-job-requests.ts),
 * which is the key that run's plan was made for: the plan's prefix digests bucket, inventory and key (planPrefix),
 * so the plan's own record says whether that key is this run's.
 */
async function underTargetKey(
  job: JobDescriptor,
  run: RunContext,
  plansForKey: Map<string, Promise<boolean>>,
  deps: StepDeps,
): Promise<boolean> {
  const op = job.Operation;
  if (op?.S3UpdateObjectEncryption)
    return op.S3UpdateObjectEncryption.ObjectEncryption?.SSEKMS?.KMSKeyArn === run.kmsKeyArn;
  const copy = op?.S3PutObjectCopy;
  if (!copy) return false;
  if (copy.SSEAwsKmsKeyId !== undefined) return copy.SSEAwsKmsKeyId === run.kmsKeyArn;
  const manifest = /^arn:[^:]+:s3:::([^/]+)\/(plans\/[^/]+\/[^/]+\/)/.exec(job.Manifest?.Location?.ObjectArn ?? "");
  if (!manifest) return false;
  const [, workBucket = "", base = ""] = manifest;
  const cached = plansForKey.get(`${workBucket}/${base}`);
  if (cached) return cached;
  const check = (async () => {
    const text = await getTextIfExists(deps.clients.s3, workBucket, planKeys(base).plan);
    const plan = text === undefined ? undefined : PlanFileSchema.safeParse(JSON.parse(text)).data;
    return plan !== undefined && planPrefix(run.bucket, plan.inventoryManifestKey, run.kmsKeyArn) === base;
  })();
  plansForKey.set(`${workBucket}/${base}`, check);
  return check;
}
