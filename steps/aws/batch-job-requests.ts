import type { CreateJobCommandInput, JobManifest, JobOperation, JobReport } from "@aws-sdk/client-s3-control";
import type { WorkManifest } from "../../contract/plan.ts";
import { bucketArn, planKeys, type RunContext } from "../../contract/run-context.ts";

/**
 * The parts of a CreateJob request that say what rekey's Batch Operations jobs do: the operation (a copy in place or
 * an encryption update), the manifest they read and the completion report they write
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html).
 */

/**
 * S3PutObjectCopy in place: same bucket and key, the manifest's own storage class, and only if the object has not
 * been modified since `enforcedAt`, when default encryption was enforced. The plan was made from what the bucket
 * held before that moment; anything written since is already compliant through the bucket default encryption
 * (unless its writer asked for another encryption), and copying it would replace its storage class with the planned
 * one. S3 answers such a task 412 PreconditionFailed (x-amz-copy-source-if-unmodified-since,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html); "Verify results" then checks the object as
 * it is now.
 *
 * The copy names no encryption and sends no NewObjectMetadata. Its SSEAlgorithm is the only place the operation
 * could name SSE-KMS, and AWS does not say whether a NewObjectMetadata without MetadataDirective REPLACE leaves the
 * metadata alone or replaces it (then user metadata and content type would be lost); without it, "Amazon S3 copies
 * all the metadata from the original objects" (S3CopyObjectOperation in the API reference). A copy that names no
 * encryption gets the bucket's default encryption, the target key with Bucket Key that "Enforce default encryption"
 * set before any job exists (CopyObject, above; https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-copy-example-bucket-key.html).
 * Should someone change the default mid-run, "Verify results" finds the copies non-compliant.
 */
export function copyOperation(run: RunContext, storageClass: string, enforcedAt: string): JobOperation {
  return {
    S3PutObjectCopy: {
      TargetResource: bucketArn(run.bucket),
      // COPY keeps user metadata, content type and the other system metadata; unset NewObjectTagging keeps tags.
      MetadataDirective: "COPY",
      // Unset, S3 would move every object to STANDARD.
      StorageClass: storageClass as NonNullable<JobOperation["S3PutObjectCopy"]>["StorageClass"],
      UnModifiedSinceConstraint: new Date(enforcedAt),
    },
  };
}

/**
 * S3UpdateObjectEncryption: the key changes, the data is not copied; class, dates and ETag stay
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-update-encryption.html).
 */
export function updateEncryptionOperation(run: RunContext): JobOperation {
  return {
    S3UpdateObjectEncryption: { ObjectEncryption: { SSEKMS: { KMSKeyArn: run.kmsKeyArn, BucketKeyEnabled: true } } },
  };
}

/** Every task's result, as CSV, under the plan's reports prefix in the work bucket. */
export function jobReport(run: RunContext, planPrefix: string): JobReport {
  return {
    Enabled: true,
    Bucket: bucketArn(run.workBucket),
    Format: "Report_CSV_20180820",
    Prefix: planKeys(planPrefix).reportsPrefix,
    ReportScope: "AllTasks",
  };
}

/** A CSV manifest of bucket and key per line, pinned to the ETag it was written with. */
export function jobManifest(run: RunContext, manifest: WorkManifest): JobManifest {
  return {
    Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
    Location: { ObjectArn: `${bucketArn(run.workBucket)}/${manifest.key}`, ETag: manifest.etag.replaceAll('"', "") },
  };
}

/**
 * The whole CreateJob request of a redrive job: the operation of the job it redrives (same storage class, same
 * unmodified-since guard), a manifest of just the objects to try again, the same report prefix, never waiting for
 * confirmation (the operator confirmed the work when approving its first job).
 */
export function redriveJobRequest(
  run: RunContext,
  params: {
    planPrefix: string;
    operation: JobOperation;
    manifest: WorkManifest;
    token: string;
    description: string;
    roleArn: string;
  },
): CreateJobCommandInput {
  return {
    AccountId: run.accountId,
    ConfirmationRequired: false,
    Operation: params.operation,
    Report: jobReport(run, params.planPrefix),
    ClientRequestToken: params.token,
    Manifest: jobManifest(run, params.manifest),
    Description: params.description,
    Priority: run.options.jobPriority,
    RoleArn: params.roleArn,
    Tags: [
      { Key: "rekey:bucket", Value: run.bucket },
      { Key: "rekey:run", Value: run.runId.slice(0, 256) },
    ],
  };
}
