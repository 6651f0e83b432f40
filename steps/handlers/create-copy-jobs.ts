import { createHash } from "node:crypto";
import {
  CreateJobCommand,
  type JobListDescriptor,
  type JobManifest,
  type JobOperation,
  type JobReport,
  ListJobsCommand,
  type S3ControlClient,
} from "@aws-sdk/client-s3-control";
import { z } from "zod";
import { type Jobs, PlanSchema, type WorkManifest } from "../../contract/plan.ts";
import { bucketArn, planKeys, type RunContext, RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { defineStep } from "../runtime/step.ts";

/** The name of one unit of a plan's work in tokens and descriptions: the storage class of a copy, or "update-encryption". */
export function workUnit(manifest: Pick<WorkManifest, "operation" | "storageClass">): string {
  return manifest.operation === "copy" ? (manifest.storageClass ?? "STANDARD") : "update-encryption";
}

/**
 * The CreateJob token for one work unit: the plan (bucket, inventory delivery, target key), the unit, and how many
 * earlier jobs for that unit were cancelled or failed. A retried step, a re-run of the state, or a second execution
 * from the same inventory sends the same token and gets the same job back instead of a second one; after a stopped
 * job, the next attempt gets a new job. 64 hex characters, the token's maximum length.
 */
export function jobToken(planPrefix: string, unit: string, attempt: number): string {
  return createHash("sha256").update(`${planPrefix}\n${unit}\n${attempt}`).digest("hex");
}

/** The description names the work unit, so jobs can be found again by it (ListJobs returns descriptions). */
export function jobDescription(run: RunContext, planPrefix: string, unit: string): string {
  return `rekey ${run.bucket} ${unit} ${planPrefix} (${run.runId})`.slice(0, 256);
}

const ENDED_WITHOUT_FINISHING = new Set(["Cancelled", "Cancelling", "Failed", "Failing"]);

/** S3PutObjectCopy in place: same bucket and key, target key with Bucket Key, the manifest's own storage class. */
export function copyOperation(run: RunContext, storageClass: string): JobOperation {
  return {
    S3PutObjectCopy: {
      TargetResource: bucketArn(run.bucket),
      // COPY keeps user metadata, content type and the other system metadata; unset NewObjectTagging keeps tags.
      MetadataDirective: "COPY",
      NewObjectMetadata: { SSEAlgorithm: "KMS" },
      SSEAwsKmsKeyId: run.kmsKeyArn,
      BucketKeyEnabled: true,
      // Unset, S3 would move every object to STANDARD.
      StorageClass: storageClass as NonNullable<JobOperation["S3PutObjectCopy"]>["StorageClass"],
    },
  };
}

/** S3UpdateObjectEncryption: the key changes, the data is not copied; class, dates and ETag stay (aws-facts 3.4). */
export function updateEncryptionOperation(run: RunContext): JobOperation {
  return {
    S3UpdateObjectEncryption: { ObjectEncryption: { SSEKMS: { KMSKeyArn: run.kmsKeyArn, BucketKeyEnabled: true } } },
  };
}

export function jobReport(run: RunContext, planPrefix: string): JobReport {
  return {
    Enabled: true,
    Bucket: bucketArn(run.workBucket),
    Format: "Report_CSV_20180820",
    Prefix: planKeys(planPrefix).reportsPrefix,
    ReportScope: "AllTasks",
  };
}

function jobManifest(run: RunContext, manifest: WorkManifest): JobManifest {
  return {
    Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
    Location: { ObjectArn: `${bucketArn(run.workBucket)}/${manifest.key}`, ETag: manifest.etag.replaceAll('"', "") },
  };
}

export const createCopyJobs = defineStep({
  state: StateNames.createCopyJobs,
  input: z.object({ run: RunContextSchema, plan: PlanSchema }),
  async run({ run, plan }, { clients, config, now, log }): Promise<Jobs> {
    const jobs: Jobs["jobs"] = [];
    const earlier = await jobsOfPlan(clients.s3control, run.accountId, `rekey ${run.bucket} `, ` ${plan.planPrefix} (`);
    for (const manifest of plan.manifests) {
      const unit = workUnit(manifest);
      const work = {
        operation: manifest.operation,
        storageClass: manifest.storageClass,
        manifestKey: manifest.key,
        objects: manifest.objects,
      };
      const mine = earlier.filter((j) => j.Description?.startsWith(`rekey ${run.bucket} ${unit} ${plan.planPrefix} (`));
      const live = mine.find((j) => !ENDED_WITHOUT_FINISHING.has(j.Status ?? ""));
      if (live?.JobId) {
        log.info("job reused", { bucket: run.bucket, jobId: live.JobId, unit, status: live.Status });
        jobs.push({ jobId: live.JobId, ...work, reused: true });
        continue;
      }
      const out = await clients.s3control.send(
        new CreateJobCommand({
          AccountId: run.accountId,
          ConfirmationRequired: run.options.requireApproval,
          Operation: manifest.operation === "copy" ? copyOperation(run, unit) : updateEncryptionOperation(run),
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
      if (!out.JobId) throw new Error("CreateJob returned no JobId");
      log.info("job created", { bucket: run.bucket, jobId: out.JobId, unit, objects: manifest.objects });
      jobs.push({ jobId: out.JobId, ...work });
    }
    return { createdAt: now().toISOString(), jobs };
  },
});

/** Jobs whose description marks them as work of this plan (any status ListJobs still returns: 90 days). */
async function jobsOfPlan(
  s3control: S3ControlClient,
  accountId: string,
  prefix: string,
  planMarker: string,
): Promise<JobListDescriptor[]> {
  const found: JobListDescriptor[] = [];
  let nextToken: string | undefined;
  do {
    const page = await s3control.send(
      new ListJobsCommand({ AccountId: accountId, NextToken: nextToken, MaxResults: 1000 }),
    );
    for (const j of page.Jobs ?? [])
      if (j.Description?.startsWith(prefix) && j.Description.includes(planMarker)) found.push(j);
    nextToken = page.NextToken;
  } while (nextToken);
  return found;
}
