import { CreateJobCommand, type JobOperation } from "@aws-sdk/client-s3-control";
import { UnexpectedResponseError } from "../../contract/errors.ts";
import type { WorkJob } from "../../contract/plan.ts";
import { planKeys, type RunContext } from "../../contract/run-context.ts";
import { manifestLine } from "../domain/batch-manifest.ts";
import { FailedRowSummary } from "../domain/redrive.ts";
import type { StepDeps } from "../runtime/step.ts";
import { redriveJobRequest } from "./batch-job-requests.ts";
import { describesUnitJob, jobDescription, jobsOfPlan, redriveToken, redriveUnit } from "./batch-jobs.ts";
import { planReportManifestKey, readCompletionReport } from "./completion-reports.ts";
import { LineUpload } from "./manifest-upload.ts";
import { cancelIfRunStopped } from "./run-execution.ts";

/**
 * Redrive jobs in S3 Control and the work bucket: what a job's failed rows come to, and a new job of just the
 * objects whose tasks failed transiently (steps/domain/redrive.ts decides when).
 */

/** Reads the failed rows of a job's completion report; undefined when the job wrote none. */
export async function summarizeFailedRows(
  run: RunContext,
  planPrefix: string,
  jobId: string,
  { clients }: Pick<StepDeps, "clients">,
): Promise<FailedRowSummary | undefined> {
  const summary = new FailedRowSummary();
  const rows = await readCompletionReport(
    run.workBucket,
    planReportManifestKey(planPrefix, jobId),
    { clients },
    (row) => {
      summary.add(row);
      return undefined;
    },
    "failed",
  );
  return rows === undefined ? undefined : summary;
}

/**
 * The redrive job for attempt `attempt` of `previous`'s transiently failed tasks: found again by its description
 * when a retried step or an earlier execution created it, otherwise created with a manifest of just those objects
 * (the same `Bucket,Key` lines as the plan's manifests, no VersionId) and a token derived from plan, job and
 * attempt. Undefined when no task of `previous` failed transiently.
 */
export async function redriveJob(
  run: RunContext,
  params: {
    planPrefix: string;
    previous: WorkJob;
    attempt: number;
    operation: JobOperation;
    transientFailures: number;
  },
  deps: Pick<StepDeps, "clients" | "config" | "log" | "now">,
): Promise<WorkJob | undefined> {
  const { clients, config, log, now } = deps;
  const { planPrefix, previous, attempt } = params;
  const unit = redriveUnit(previous.jobId, attempt);
  const base = {
    operation: previous.operation,
    ...(previous.storageClass === undefined ? {} : { storageClass: previous.storageClass }),
    redriveOf: previous.jobId,
    attempt,
  };
  const manifestKey = planKeys(planPrefix).redriveManifest(previous.jobId, attempt);
  const existing = (await jobsOfPlan(clients.s3control, run.accountId, run.bucket, planPrefix)).find((j) =>
    describesUnitJob(j.Description, run.bucket, planPrefix, unit),
  );
  if (existing?.JobId) {
    // Its manifest holds the previous job's transient failures, however far Batch Operations has counted it.
    const objects = params.transientFailures;
    log.info("redrive job reused", { bucket: run.bucket, jobId: existing.JobId, redriveOf: previous.jobId, attempt });
    const createdAt = (existing.CreationTime ?? now()).toISOString();
    return { jobId: existing.JobId, manifestKey, objects, ...base, reused: true, createdAt };
  }
  const upload = new LineUpload(clients.s3, run.workBucket, manifestKey, "text/csv", "AES256");
  let etag: string;
  try {
    const summary = new FailedRowSummary();
    await readCompletionReport(
      run.workBucket,
      planReportManifestKey(planPrefix, previous.jobId),
      { clients },
      (row) => (summary.add(row) === "transient" ? upload.write(manifestLine(run.bucket, row.key)) : undefined),
      "failed",
    );
    if (upload.lines === 0) {
      await upload.abort();
      return undefined;
    }
    etag = await upload.finish();
  } catch (err) {
    await upload.abort();
    throw err;
  }
  const objects = upload.lines;
  const out = await clients.s3control.send(
    new CreateJobCommand(
      redriveJobRequest(run, {
        planPrefix,
        operation: params.operation,
        manifest: { operation: previous.operation, key: manifestKey, etag, objects, bytes: 0 },
        token: redriveToken(planPrefix, previous.jobId, attempt),
        description: jobDescription(run, planPrefix, unit),
        roleArn: config.batchRoleArn,
      }),
    ),
  );
  if (!out.JobId) {
    throw new UnexpectedResponseError(`CreateJob for ${unit} of s3://${run.bucket} returned no JobId.`, {
      fix: "Start the run again: the redrive job's request token makes CreateJob return the same job.",
    });
  }
  log.info("redrive job created", {
    bucket: run.bucket,
    jobId: out.JobId,
    redriveOf: previous.jobId,
    attempt,
    objects,
  });
  await cancelIfRunStopped(run, [out.JobId], deps);
  // Its own creation time: S3 Control may not know a new job for a while (describeCreatedJob in batch-jobs.ts).
  return { jobId: out.JobId, manifestKey, objects, ...base, createdAt: now().toISOString() };
}
