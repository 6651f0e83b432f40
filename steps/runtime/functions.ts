import { StateNames, type TaskStateName } from "../../contract/states.ts";

/** One Lambda function per Task state: what infra/ deploys to AWS and local/ deploys into the sandbox. */
export interface StepFunctionSpec {
  /** The export of steps/runtime/lambda-handlers.ts this function runs. */
  handler: string;
  description: string;
  timeoutSeconds: number;
  memoryMiB: number;
}

/** Typed by state name, so a new Task state without a function does not compile. */
export const STEP_FUNCTIONS: Record<TaskStateName, StepFunctionSpec> = {
  [StateNames.validateInput]: {
    handler: "validateInputHandler",
    description: "rekey: check the run request and read-only facts about bucket, key and inventory configuration",
    timeoutSeconds: 60,
    memoryMiB: 256,
  },
  [StateNames.preflight]: {
    handler: "preflightHandler",
    description: "rekey: read-only preflight of bucket and key configurations; blockers stop the run",
    timeoutSeconds: 60,
    memoryMiB: 256,
  },
  [StateNames.enforceDefaultEncryption]: {
    handler: "enforceDefaultEncryptionHandler",
    description: "rekey: set bucket default encryption to SSE-KMS with Bucket Key and record when",
    timeoutSeconds: 60,
    memoryMiB: 256,
  },
  [StateNames.findInventory]: {
    handler: "findInventoryHandler",
    description: "rekey: look for an S3 Inventory delivered after default encryption was enforced",
    timeoutSeconds: 120,
    memoryMiB: 256,
  },
  [StateNames.sliceInventory]: {
    handler: "sliceInventoryHandler",
    // The athena engine's queries run here (DDL, a count and an UNLOAD), polled to their end.
    description: "rekey: choose how to read the inventory and cut it into slices planned in parallel",
    timeoutSeconds: 900,
    memoryMiB: 512,
  },
  [StateNames.writeManifests]: {
    handler: "writeManifestsHandler",
    // Streams a slice of the inventory (gunzip, parse, classify, multipart upload of the parts): the longest step,
    // stopped and called again at its time budget (workflow PLANNING_TIME_BUDGET_MS).
    description: "rekey: filter one slice of the inventory and write its part of the manifests",
    timeoutSeconds: 900,
    memoryMiB: 1024,
  },
  [StateNames.combinePlan]: {
    handler: "combinePlanHandler",
    // Joins the slices' parts mostly by UploadPartCopy; reads at most 5 MiB of each part.
    description: "rekey: join the slices' parts into the plan's manifests and write plan.json",
    timeoutSeconds: 900,
    memoryMiB: 512,
  },
  [StateNames.createCopyJobs]: {
    handler: "createCopyJobsHandler",
    description: "rekey: create one S3PutObjectCopy Batch Operations job per manifest",
    timeoutSeconds: 60,
    memoryMiB: 256,
  },
  [StateNames.checkCopyJobs]: {
    handler: "checkCopyJobsHandler",
    // Reads the failed rows of ended jobs' completion reports and writes redrive manifests (streamed, bounded memory).
    description: "rekey: read the copy jobs' status, redrive transient failures, and choose the next wait",
    timeoutSeconds: 300,
    memoryMiB: 512,
  },
  [StateNames.copyLargeObjects]: {
    handler: "copyLargeObjectsHandler",
    // Each invocation stops starting parts at its time budget (workflow LARGE_COPY_TIME_BUDGET_MS), saves its
    // progress and returns; the state machine calls it again. The copies are server-side: little memory.
    description:
      "rekey: copy in place under the target key what Batch Operations cannot take (over 5 GiB part by part, long keys with CopyObject)",
    timeoutSeconds: 900,
    memoryMiB: 512,
  },
  [StateNames.sliceReports]: {
    handler: "sliceReportsHandler",
    // One report manifest and one listing per job.
    description: "rekey: list the jobs' completion report files and cut them into slices verified in parallel",
    timeoutSeconds: 300,
    memoryMiB: 512,
  },
  [StateNames.readReports]: {
    handler: "readReportsHandler",
    // Parses (and MD5s) a slice's report rows and HEADs those that need a look: stopped and called again at its time
    // budget (workflow VERIFY_TIME_BUDGET_MS).
    description: "rekey: read one slice of the completion reports, count its rows and list its failures",
    timeoutSeconds: 600,
    memoryMiB: 1024,
  },
  [StateNames.verifyResults]: {
    handler: "verifyResultsHandler",
    // Merges the slices' results, joins failed.csv mostly by UploadPartCopy, and HEADs the spot check's sample.
    description: "rekey: account for every object from the slices' results and spot-check re-encrypted objects",
    timeoutSeconds: 600,
    memoryMiB: 1024,
  },
  [StateNames.lookForNonCompliantObjects]: {
    handler: "lookForNonCompliantObjectsHandler",
    // HEADs every planned object of a small plan, or up to LISTED_HEAD_LIMIT listed ones: long for large buckets.
    description: "rekey: look for non-compliant current objects from a source other than the plan",
    timeoutSeconds: 900,
    memoryMiB: 512,
  },
  [StateNames.writeFinalReport]: {
    handler: "writeFinalReportHandler",
    description: "rekey: write the run report and summary to the work bucket",
    timeoutSeconds: 60,
    memoryMiB: 256,
  },
  [StateNames.recordFailure]: {
    handler: "recordFailureHandler",
    description: "rekey: record why a run stopped in the work bucket",
    timeoutSeconds: 60,
    memoryMiB: 256,
  },
};

/** The environment every step function gets from its deployment; steps/runtime/lambda-handlers.ts parses it. */
export function stepEnvironment(deployment: {
  batchRoleArn: string;
  workBucket: string;
  /** The Athena workgroup and Glue database of the athena engine (steps/runtime/step.ts AthenaConfig). */
  athena?: { workGroup: string; database: string };
}): Record<string, string> {
  return {
    REKEY_BATCH_ROLE_ARN: deployment.batchRoleArn,
    REKEY_WORK_BUCKET: deployment.workBucket,
    ...(deployment.athena
      ? { REKEY_ATHENA_WORKGROUP: deployment.athena.workGroup, REKEY_ATHENA_DATABASE: deployment.athena.database }
      : {}),
  };
}
