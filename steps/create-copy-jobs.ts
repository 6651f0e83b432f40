import { createHash } from "node:crypto";
import { CreateJobCommand, type JobManifest, type JobOperation, type JobReport } from "@aws-sdk/client-s3-control";
import { z } from "zod";
import { StateNames } from "../workflow/definition.ts";
import { type CopyManifest, type Jobs, PlanSchema } from "./plan.ts";
import { bucketArn, type RunContext, RunContextSchema, runKeys } from "./run-context.ts";
import { defineStep } from "./step.ts";

/**
 * The CreateJob token for one work unit of one execution: a retry of the step, or a re-run of the state, sends the
 * same token and gets the same job back instead of a second one. 64 hex characters, the token's maximum length.
 */
export function copyJobToken(executionId: string, storageClass: string): string {
  return createHash("sha256").update(`${executionId}\ncopy\n${storageClass}`).digest("hex");
}

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

export function copyJobReport(run: RunContext): JobReport {
  return {
    Enabled: true,
    Bucket: bucketArn(run.workBucket),
    Format: "Report_CSV_20180820",
    Prefix: runKeys(run).reportsPrefix,
    ReportScope: "AllTasks",
  };
}

function copyJobManifest(run: RunContext, manifest: CopyManifest): JobManifest {
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
    for (const manifest of plan.manifests) {
      const out = await clients.s3control.send(
        new CreateJobCommand({
          AccountId: run.accountId,
          ConfirmationRequired: false,
          Operation: copyOperation(run, manifest.storageClass),
          Report: copyJobReport(run),
          ClientRequestToken: copyJobToken(run.executionId, manifest.storageClass),
          Manifest: copyJobManifest(run, manifest),
          Description: `rekey ${run.bucket} ${manifest.storageClass} (${run.runId})`.slice(0, 256),
          Priority: run.options.jobPriority,
          RoleArn: config.batchRoleArn,
          Tags: [
            { Key: "rekey:bucket", Value: run.bucket },
            { Key: "rekey:run", Value: run.runId.slice(0, 256) },
          ],
        }),
      );
      if (!out.JobId) throw new Error("CreateJob returned no JobId");
      log.info("copy job created", {
        bucket: run.bucket,
        jobId: out.JobId,
        storageClass: manifest.storageClass,
        objects: manifest.objects,
      });
      jobs.push({
        jobId: out.JobId,
        storageClass: manifest.storageClass,
        manifestKey: manifest.key,
        objects: manifest.objects,
      });
    }
    return { createdAt: now().toISOString(), jobs };
  },
});
