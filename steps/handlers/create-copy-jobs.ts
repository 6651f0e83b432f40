import { CreateJobCommand } from "@aws-sdk/client-s3-control";
import { z } from "zod";
import { UnexpectedResponseError } from "../../contract/errors.ts";
import { type Jobs, PlanSchema, workLabel } from "../../contract/plan.ts";
import { RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { copyOperation, jobManifest, jobReport, updateEncryptionOperation } from "../aws/batch-job-requests.ts";
import {
  describesUnitJob,
  ENDED_WITHOUT_FINISHING,
  jobDescription,
  jobsOfPlan,
  jobToken,
  runIdOfDescription,
  runningRekeyJobs,
} from "../aws/batch-jobs.ts";
import { cancelIfRunStopped } from "../aws/run-execution.ts";
import { jobSlotWait } from "../domain/job-slots.ts";
import { defineStep } from "../runtime/step.ts";

export const createCopyJobs = defineStep({
  state: StateNames.createCopyJobs,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema,
    /** What "Enforce default encryption" returned: copies are guarded by its moment (batch-job-requests.ts). */
    defaultEncryption: z.object({ enforcedAt: z.iso.datetime() }),
  }),
  async run({ run, plan, defaultEncryption }, deps): Promise<Jobs> {
    const { clients, config, now, log } = deps;
    const jobs: Jobs["jobs"] = [];
    const earlier = await jobsOfPlan(clients.s3control, run.accountId, run.bucket, plan.planPrefix);
    if (run.options.maxActiveJobs !== undefined) {
      const needed = plan.manifests.filter(
        (m) =>
          !earlier.some(
            (j) =>
              describesUnitJob(j.Description, run.bucket, plan.planPrefix, workLabel(m, "job")) &&
              !ENDED_WITHOUT_FINISHING.has(j.Status ?? ""),
          ),
      ).length;
      const active = needed
        ? await runningRekeyJobs(clients.s3control, run.accountId, { bucket: run.bucket, planPrefix: plan.planPrefix })
        : 0;
      const waiting = jobSlotWait({ active, needed }, run.options.maxActiveJobs, run.options.jobPollMinSeconds);
      if (waiting) {
        log.info("waiting for copy job slots", { bucket: run.bucket, ...waiting });
        return { jobs: [], waitingForSlots: waiting };
      }
    }
    for (const manifest of plan.manifests) {
      const unit = workLabel(manifest, "job");
      const work = {
        operation: manifest.operation,
        storageClass: manifest.storageClass,
        manifestKey: manifest.key,
        objects: manifest.objects,
      };
      const mine = earlier.filter((j) => describesUnitJob(j.Description, run.bucket, plan.planPrefix, unit));
      const live = mine.find((j) => !ENDED_WITHOUT_FINISHING.has(j.Status ?? ""));
      if (live?.JobId) {
        // Another execution's job: its work is counted as that run's (and said to be), not as this run's own.
        const createdBy = runIdOfDescription(live.Description);
        const other =
          createdBy !== undefined && createdBy !== run.runId
            ? {
                createdBy,
                ...(live.CreationTime ? { createdAt: live.CreationTime.toISOString() } : {}),
                ...(live.Status ? { reusedStatus: live.Status } : {}),
              }
            : {};
        log.info("job reused", { bucket: run.bucket, jobId: live.JobId, unit, status: live.Status, ...other });
        jobs.push({ jobId: live.JobId, ...work, reused: true, ...other });
        continue;
      }
      const out = await clients.s3control.send(
        new CreateJobCommand({
          AccountId: run.accountId,
          ConfirmationRequired: run.options.requireApproval,
          Operation:
            manifest.operation === "copy"
              ? copyOperation(run, unit, defaultEncryption.enforcedAt)
              : updateEncryptionOperation(run),
          Report: jobReport(run, plan.planPrefix),
          // Every earlier job of this unit ended without finishing (a live one was reused above).
          ClientRequestToken: jobToken(plan.planPrefix, unit, mine.length),
          Manifest: jobManifest(run, manifest),
          Description: jobDescription(run, plan.planPrefix, unit),
          Priority: run.options.jobPriority,
          RoleArn: config.batchRoleArn,
          Tags: [
            { Key: "rekey:bucket", Value: run.bucket },
            { Key: "rekey:run", Value: run.runId.slice(0, 256) },
          ],
        }),
      );
      if (!out.JobId) {
        throw new UnexpectedResponseError(`CreateJob for ${unit} of s3://${run.bucket} returned no JobId.`, {
          fix: "Start the run again: CreateJob is idempotent by its request token, so no second job is made.",
        });
      }
      log.info("job created", { bucket: run.bucket, jobId: out.JobId, unit, objects: manifest.objects });
      jobs.push({ jobId: out.JobId, ...work });
      // A stopped execution takes no output: the run's own jobs are cancelled (another run's, reused, are left
      // alone) and no more are made.
      const ours = jobs.filter((j) => j.createdBy === undefined).map((j) => j.jobId);
      if (await cancelIfRunStopped(run, ours, deps)) break;
    }
    return { createdAt: now().toISOString(), jobs };
  },
});
