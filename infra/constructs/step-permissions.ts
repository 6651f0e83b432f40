import { Arn, ArnFormat, Stack } from "aws-cdk-lib";
import { Policy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import type { IConstruct } from "constructs";
import { StateNames, type TaskStateName } from "../../contract/states.ts";
import type { RekeyTargets } from "../targets.ts";
import type { AthenaWorkGroup } from "./athena-workgroup.ts";
import type { BatchOperationsRole } from "./batch-operations-role.ts";
import type { StepFunction } from "./step-function.ts";
import { type WorkBucket, WorkBucketPrefixes } from "./work-bucket.ts";

/**
 * What preflight reads of a bucket (steps/aws/preflight-reads.ts), each SDK call one bucket-level Get permission:
 * granted to the Preflight step, and to the operator, whose `rekey start` reads the same before it starts a run.
 */
export const PREFLIGHT_BUCKET_READS = [
  "s3:GetBucketVersioning",
  "s3:GetBucketObjectLockConfiguration",
  "s3:GetReplicationConfiguration",
  "s3:GetBucketNotification",
  "s3:GetLifecycleConfiguration",
  "s3:GetBucketOwnershipControls",
  "s3:GetBucketPolicy",
  "s3:GetEncryptionConfiguration",
] as const;

/** Preflight's reads of the target key's custom key store, granted to the step and to the operator. */
export const PREFLIGHT_KEY_STORE_READS = ["kms:DescribeCustomKeyStores"] as const;

/** Preflight's listing of the account's readers (ListRoles, ListUsers: the whole account, `*`). */
export const PREFLIGHT_PRINCIPAL_LISTS = ["iam:ListRoles", "iam:ListUsers"] as const;

/** The roles and users of the stack's account, whose policies preflight simulates: arn:…:iam::<account>:role/* and user/*. */
export function accountPrincipals(scope: IConstruct): string[] {
  const stack = Stack.of(scope);
  return ["role", "user"].map((resource) =>
    Arn.format({ service: "iam", region: "", resource, resourceName: "*" }, stack),
  );
}

export interface StepPermissionsProps {
  targets: RekeyTargets;
  workBucket: WorkBucket;
  batchRole: BatchOperationsRole;
  athena: AthenaWorkGroup;
}

/**
 * The least-privilege policy of every step function, in one place: each step's role starts with its log group only
 * (infra/constructs/step-function.ts) and gets here exactly the AWS calls that step makes, on the buckets, keys and
 * jobs the configuration names. test/infra/rekey-stack.test.ts checks the calls against these grants. The statements
 * go to each role's default policy, so adding them creates no construct of its own.
 */
export function grantStepPermissions(steps: Record<TaskStateName, StepFunction>, props: StepPermissionsProps): void {
  const { targets, workBucket, batchRole, athena } = props;
  const allow = (state: TaskStateName, sid: string, actions: string[], resources: string[], conditions?: object) =>
    steps[state].role.addToPrincipalPolicy(
      new PolicyStatement({
        sid,
        actions,
        resources,
        ...(conditions ? { conditions: conditions as Record<string, Record<string, unknown>> } : {}),
      }),
    );
  const S = StateNames;
  // HeadBucket is authorized by s3:ListBucket. A GetObject of a missing key answers 404 (what "…IfExists" reads
  // rely on) only to a caller with s3:ListBucket on the bucket; otherwise 403.
  // sts:GetCallerIdentity needs no permission.
  allow(S.validateInput, "HeadBuckets", ["s3:ListBucket"], [...targets.buckets, workBucket.bucketArn]);
  allow(S.validateInput, "DescribeTargetKeys", ["kms:DescribeKey"], targets.keys);
  allow(S.validateInput, "ReadInventoryConfiguration", ["s3:GetInventoryConfiguration"], targets.buckets);

  allow(S.preflight, "ReadBucketConfigurations", [...PREFLIGHT_BUCKET_READS], targets.buckets);
  allow(S.preflight, "ReadTargetKeys", ["kms:DescribeKey", "kms:GetKeyPolicy"], targets.keys);
  // A target key in a custom key store (finding key-in-custom-key-store): which kind of store.
  // DescribeCustomKeyStores has no resource type.
  allow(S.preflight, "DescribeKeyStores", [...PREFLIGHT_KEY_STORE_READS], ["*"]);
  // Reader impact (steps/aws/reader-impact.ts): the account's roles and users, listed whole, and each one's
  // policies simulated (read-only; the simulator's resource types are users, groups and roles).
  allow(S.preflight, "ListAccountPrincipals", [...PREFLIGHT_PRINCIPAL_LISTS], ["*"]);
  allow(
    S.preflight,
    "SimulateAccountPrincipals",
    ["iam:SimulatePrincipalPolicy"],
    accountPrincipals(steps[S.preflight]),
  );
  // Whether the inventory's fields show Object Lock (finding object-lock-unseen).
  allow(S.preflight, "ReadInventoryConfiguration", ["s3:GetInventoryConfiguration"], targets.buckets);

  // PutBucketEncryption needs s3:PutEncryptionConfiguration only: S3 does not validate (or use) the key ID then
  // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html), so the caller needs no KMS
  // permission.
  allow(
    S.enforceDefaultEncryption,
    "SetDefaultEncryption",
    ["s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"],
    targets.buckets,
  );
  allow(S.enforceDefaultEncryption, "RecordEnforcement", ["s3:GetObject", "s3:PutObject"], [workBucket.runObjects]);
  allow(S.enforceDefaultEncryption, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);

  allow(S.findInventory, "ReadInventoryConfiguration", ["s3:GetInventoryConfiguration"], targets.buckets);
  // source: generate: one manifest-generator job per candidate list (CreateJob has no resource type, see
  // Create copy jobs), read until listed, then cancelled.
  // ListJobs finds a list job already created before CreateJob is sent again (steps/aws/candidate-lists.ts).
  allow(S.findInventory, "CreateCandidateListJobs", ["s3:CreateJob", "s3:ListJobs"], ["*"]);
  allow(S.findInventory, "ReadAndCancelCandidateListJobs", ["s3:DescribeJob", "s3:UpdateJobStatus"], [targets.jobs]);
  allow(S.findInventory, "PassBatchOperationsRole", ["iam:PassRole"], [batchRole.roleArn], {
    StringEquals: { "iam:PassedToService": "batchoperations.s3.amazonaws.com" },
  });
  allow(S.findInventory, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
  allow(S.findInventory, "ReadInventoryManifests", ["s3:GetObject"], [workBucket.inventoryObjects]);
  // The list jobs' ids, recorded once so later polls describe them (steps/aws/candidate-lists.ts candidateJobsKey).
  allow(
    S.findInventory,
    "RecordCandidateListJobs",
    ["s3:GetObject", "s3:PutObject"],
    [workBucket.arnForObjects(WorkBucketPrefixes.candidateJobs)],
  );

  // Slice the inventory: reads the inventory manifest (or finds the generated lists), looks for a complete plan of the
  // same delivery (plan.json; a 404 for a plan not yet written needs ListBucket; its manifests' ETags and its jobs,
  // steps/aws/plan-writer.ts currentPlanGeneration), and writes delivery.json and slices.json.
  allow(
    S.sliceInventory,
    "ReadInventory",
    ["s3:GetObject"],
    [workBucket.inventoryObjects, workBucket.arnForObjects(WorkBucketPrefixes.candidates)],
  );
  allow(S.sliceInventory, "ReadAndWritePlan", ["s3:GetObject", "s3:PutObject"], [workBucket.planObjects]);
  allow(S.sliceInventory, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
  allow(S.sliceInventory, "FindEarlierJobs", ["s3:ListJobs"], ["*"]);
  allow(S.sliceInventory, "DescribeEarlierJobs", ["s3:DescribeJob"], [targets.jobs]);
  // The athena engine (steps/handlers/slice-the-inventory.ts) runs its queries in the stack's
  // workgroup only: start, poll, read the results, stop on a timeout. Every Athena query action has the workgroup
  // as its resource (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonathena.html).
  allow(
    S.sliceInventory,
    "RunInventoryQueries",
    ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution"],
    [athena.workGroupArn],
  );
  // Athena calls Glue as the caller. CREATE EXTERNAL TABLE IF NOT EXISTS needs GetDatabase, GetTable and
  // CreateTable, a SELECT GetDatabase and GetTable, each on the table or database and on all its ancestors (the
  // database, the catalog); and Athena's guide asks, for any use of the Data Catalog, GetDatabase and
  // CreateDatabase on the `default` database and the catalog
  // (https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html). CreateDatabase is
  // authorized on the catalog and the database it creates together, so only `default` can be created. No
  // glue:GetPartitions: the inventory table projects its `dt` partitions, and with partition projection Athena does
  // not call GetPartitions (https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html).
  allow(
    S.sliceInventory,
    "ReadDatabases",
    ["glue:GetDatabase"],
    [athena.catalogArn, athena.databaseArn, athena.defaultDatabaseArn],
  );
  allow(
    S.sliceInventory,
    "CreateDefaultDatabase",
    ["glue:CreateDatabase"],
    [athena.catalogArn, athena.defaultDatabaseArn],
  );
  allow(
    S.sliceInventory,
    "ReadAndCreateInventoryTables",
    ["glue:GetTable", "glue:CreateTable"],
    [athena.catalogArn, athena.databaseArn, athena.tablesArn],
  );
  // Athena reads the table's data with the caller's credentials: the inventory's symlink lists and data files are
  // under inventory/ (ReadInventory above; S3 Select's SelectObjectContent needs s3:GetObject too,
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_SelectObjectContent.html), listed with ListWorkBucket.
  // It writes results with them too: Put and the multipart calls under athena-results/, read back (and sized with
  // HeadObject) by the step (GetObject) and by GetQueryResults, plus GetBucketLocation on the bucket
  // (https://docs.aws.amazon.com/athena/latest/ug/managed-policies.html, AmazonAthenaFullAccess's statement on
  // query result buckets; https://repost.aws/knowledge-center/athena-output-bucket-error).
  allow(
    S.sliceInventory,
    "WriteAndReadQueryResults",
    ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
    [workBucket.athenaResultObjects],
  );
  allow(S.sliceInventory, "LocateWorkBucket", ["s3:GetBucketLocation"], [workBucket.bucketArn]);

  // Filter inventory and write manifests (one slice): its parts and skipped list are written with multipart uploads
  // (steps/aws/manifest-upload.ts): Create/UploadPart/Complete are authorized by s3:PutObject, the abort on failure
  // by s3:AbortMultipartUpload. It reads delivery.json and its own summary under plans/, and the files the athena
  // engine's UNLOAD wrote.
  allow(
    S.writeManifests,
    "ReadInventory",
    ["s3:GetObject"],
    [
      workBucket.inventoryObjects,
      workBucket.arnForObjects(WorkBucketPrefixes.candidates),
      workBucket.athenaResultObjects,
    ],
  );
  allow(
    S.writeManifests,
    "WritePlan",
    ["s3:PutObject", "s3:AbortMultipartUpload"],
    [workBucket.runObjects, workBucket.planObjects],
  );
  allow(S.writeManifests, "ReadPlan", ["s3:GetObject"], [workBucket.planObjects]);
  // A slice planned over several invocations deletes its progress once its summary is written.
  allow(
    S.writeManifests,
    "ForgetSliceCheckpoint",
    ["s3:DeleteObject"],
    [workBucket.arnForObjects(WorkBucketPrefixes.planSlices)],
  );
  allow(S.writeManifests, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
  // HeadObject tells which key an SSE-KMS object is under (the inventory does not say); no KMS permission needed.
  allow(S.writeManifests, "HeadTargetObjects", ["s3:GetObject"], targets.objects);
  allow(S.writeManifests, "ListTargetBuckets", ["s3:ListBucket"], targets.buckets);
  // What earlier runs' jobs on the bucket already did (steps/aws/earlier-work.ts): ListJobs (no resource type) finds
  // them, DescribeJob tells their key and report, whose files are read under plans/ (ReadPlan above).
  allow(S.writeManifests, "FindEarlierJobs", ["s3:ListJobs"], ["*"]);
  allow(S.writeManifests, "DescribeEarlierJobs", ["s3:DescribeJob"], [targets.jobs]);

  // Combine the plan: reads the slices' summaries and parts (GetObject, and UploadPartCopy's source), writes the
  // joined files and plan.json (multipart: s3:PutObject, s3:AbortMultipartUpload), then deletes the slices.
  allow(
    S.combinePlan,
    "ReadAndWritePlan",
    ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
    [workBucket.planObjects],
  );
  allow(S.combinePlan, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
  allow(
    S.combinePlan,
    "DeleteSlices",
    ["s3:DeleteObject"],
    [
      workBucket.arnForObjects(WorkBucketPrefixes.planSlices),
      workBucket.arnForObjects(WorkBucketPrefixes.planSliceItems),
    ],
  );

  // CreateJob and ListJobs (finding an earlier execution's job for the same plan) have no resource type
  // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html), so "*". Tags given in
  // CreateJob are authorized by CreateJob itself (aws:RequestTag), not s3:PutJobTagging. What a job can do is
  // bounded by the one role it may pass: iam:PassRole on the Batch Operations role only, and only to Batch
  // Operations.
  allow(S.createCopyJobs, "CreateCopyJobs", ["s3:CreateJob", "s3:ListJobs"], ["*"]);
  allow(S.createCopyJobs, "PassBatchOperationsRole", ["iam:PassRole"], [batchRole.roleArn], {
    StringEquals: { "iam:PassedToService": "batchoperations.s3.amazonaws.com" },
  });
  // A job made after the run was stopped is cancelled (steps/aws/run-execution.ts).
  allow(S.createCopyJobs, "CancelJobsOfAStoppedRun", ["s3:UpdateJobStatus"], [targets.jobs]);

  allow(S.checkCopyJobs, "DescribeCopyJobs", ["s3:DescribeJob"], [targets.jobs]);
  // Early cancellation of a job whose tasks fail for access or key reasons, and redrive jobs of the tasks that
  // failed transiently (steps/handlers/check-copy-jobs.ts): their completion reports are read, a manifest of just
  // those objects written under the plan prefix, and a job created (or found again by ListJobs) as Create copy
  // jobs does.
  allow(S.checkCopyJobs, "CancelCopyJobs", ["s3:UpdateJobStatus"], [targets.jobs]);
  allow(S.checkCopyJobs, "CreateRedriveJobs", ["s3:CreateJob", "s3:ListJobs"], ["*"]);
  allow(S.checkCopyJobs, "PassBatchOperationsRole", ["iam:PassRole"], [batchRole.roleArn], {
    StringEquals: { "iam:PassedToService": "batchoperations.s3.amazonaws.com" },
  });
  allow(S.checkCopyJobs, "ReadReports", ["s3:GetObject"], [workBucket.planObjects]);
  allow(
    S.checkCopyJobs,
    "WriteRedriveManifests",
    ["s3:PutObject", "s3:AbortMultipartUpload"],
    [workBucket.planObjects],
  );
  allow(S.checkCopyJobs, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);

  // The multipart copy in place (steps/handlers/copy-large-objects.ts, steps/domain/large-copy.ts).
  // HeadObject/UploadPartCopy's source read need s3:GetObject, and s3:GetObjectVersion when they name the version
  // read at the start; tags are read from and written to a named version; Create/UploadPartCopy/Complete need
  // s3:PutObject, plus s3:PutObjectRetention and s3:PutObjectLegalHold when they carry the source's Object Lock
  // settings; ListParts resumes an upload; ListObjectVersions checks that nothing landed between source and copy.
  // Writing SSE-KMS parts needs GenerateDataKey and Decrypt on the target key
  // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions). Progress lives
  // under the plan's prefix.
  allow(
    S.copyLargeObjects,
    "CopyLargeObjectsInPlace",
    [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectTagging",
      "s3:GetObjectVersionTagging",
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:PutObjectVersionTagging",
      "s3:PutObjectRetention",
      "s3:PutObjectLegalHold",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ],
    targets.objects,
  );
  allow(S.copyLargeObjects, "ListTargetBuckets", ["s3:ListBucket", "s3:ListBucketVersions"], targets.buckets);
  allow(S.copyLargeObjects, "EncryptUnderTargetKeys", ["kms:GenerateDataKey", "kms:Decrypt"], targets.keys);
  // A key too long for a manifest may be SSE-KMS under another key today: its CopyObject reads it with that key.
  if (targets.sourceKeys.length > 0) {
    allow(S.copyLargeObjects, "DecryptSourceKeys", ["kms:Decrypt"], targets.sourceKeys);
  }
  allow(S.copyLargeObjects, "ReadPlan", ["s3:GetObject"], [workBucket.planObjects]);
  allow(S.copyLargeObjects, "WriteProgress", ["s3:PutObject"], [workBucket.planObjects]);
  allow(S.copyLargeObjects, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
  // With approval required, the copies start only after the jobs show they were confirmed.
  allow(S.copyLargeObjects, "DescribeCopyJobs", ["s3:DescribeJob"], [targets.jobs]);

  const verifySlices = workBucket.arnForObjects(WorkBucketPrefixes.verifySlices);
  // Slice the completion reports: report manifests and their folders' listings in, the slices out (verify/).
  allow(S.sliceReports, "ReadReports", ["s3:GetObject"], [workBucket.planObjects]);
  allow(S.sliceReports, "WriteSlices", ["s3:PutObject"], [verifySlices]);
  allow(S.sliceReports, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);

  // Read completion reports (a slice): report files in, its progress, failed.csv parts and result out (verify/);
  // HeadObject needs s3:GetObject (no KMS permission: it returns no data); ListBucket turns a deleted key into 404.
  allow(S.readReports, "ReadReports", ["s3:GetObject"], [workBucket.planObjects, verifySlices]);
  allow(S.readReports, "WriteSliceResults", ["s3:PutObject", "s3:AbortMultipartUpload"], [verifySlices]);
  allow(S.readReports, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
  allow(S.readReports, "HeadTargetObjects", ["s3:GetObject"], targets.objects);
  allow(S.readReports, "ListTargetBuckets", ["s3:ListBucket"], targets.buckets);

  // Verify results: the slices' files read (UploadPartCopy's source too), failed.csv and verification.json written,
  // the slices' files deleted.
  allow(S.verifyResults, "DescribeCopyJobs", ["s3:DescribeJob"], [targets.jobs]);
  allow(S.verifyResults, "ReadPlanAndReports", ["s3:GetObject"], [workBucket.runObjects, workBucket.planObjects]);
  allow(S.verifyResults, "WriteVerification", ["s3:PutObject", "s3:AbortMultipartUpload"], [workBucket.runObjects]);
  allow(S.verifyResults, "DeleteSlices", ["s3:DeleteObject"], [verifySlices]);
  allow(S.verifyResults, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
  // Versions: the spot check compares a copy with the version it was copied from (steps/handlers/verify-results.ts).
  allow(
    S.verifyResults,
    "HeadTargetObjects",
    ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"],
    targets.objects,
  );
  allow(S.verifyResults, "ListTargetBuckets", ["s3:ListBucket", "s3:ListBucketVersions"], targets.buckets);

  // The independent check (steps/handlers/look-for-non-compliant-objects.ts): HeadObject of planned keys, or
  // manifest-generator list jobs like Find inventory's, whose lists and job ids live under the run prefix.
  allow(S.lookForNonCompliantObjects, "HeadTargetObjects", ["s3:GetObject"], targets.objects);
  allow(S.lookForNonCompliantObjects, "ListTargetBuckets", ["s3:ListBucket"], targets.buckets);
  allow(S.lookForNonCompliantObjects, "ReadPlan", ["s3:GetObject"], [workBucket.planObjects]);
  allow(S.lookForNonCompliantObjects, "ReadAndWriteCheck", ["s3:GetObject", "s3:PutObject"], [workBucket.runObjects]);
  allow(S.lookForNonCompliantObjects, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
  allow(S.lookForNonCompliantObjects, "CreateListJobs", ["s3:CreateJob"], ["*"]);
  allow(
    S.lookForNonCompliantObjects,
    "ReadAndCancelListJobs",
    ["s3:DescribeJob", "s3:UpdateJobStatus"],
    [targets.jobs],
  );
  allow(S.lookForNonCompliantObjects, "PassBatchOperationsRole", ["iam:PassRole"], [batchRole.roleArn], {
    StringEquals: { "iam:PassedToService": "batchoperations.s3.amazonaws.com" },
  });

  allow(S.writeFinalReport, "ReadVerification", ["s3:GetObject"], [workBucket.runObjects]);
  allow(S.writeFinalReport, "WriteReport", ["s3:PutObject"], [workBucket.runObjects]);

  allow(S.recordFailure, "WriteFailure", ["s3:PutObject"], [workBucket.runObjects]);

  // One run per bucket (steps/aws/bucket-lock.ts): Validate input reads and conditionally writes the bucket's lock;
  // the end states read it and delete it with If-Match. A write with If-Match needs s3:GetObject besides
  // s3:PutObject (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html), a delete with
  // If-Match s3:GetObject besides s3:DeleteObject
  // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html); a lock already gone answers 404
  // only with s3:ListBucket on the work bucket.
  const lockObjects = workBucket.arnForObjects(WorkBucketPrefixes.locks);
  allow(S.validateInput, "TakeBucketLock", ["s3:GetObject", "s3:PutObject"], [lockObjects]);
  for (const state of [S.writeFinalReport, S.recordFailure]) {
    allow(state, "ReleaseBucketLock", ["s3:GetObject", "s3:DeleteObject"], [lockObjects]);
    allow(state, "ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
  }
}

/**
 * DescribeExecution on this state machine's executions only, for the steps that ask whether an execution still runs
 * (steps/aws/run-execution.ts): Validate input, of the execution holding a bucket's lock; the steps that create
 * Batch Operations jobs, of their own run, so that a job made after `rekey stop` is cancelled. A Policy of its own
 * (not the role's default policy): it names the state machine, which names the functions, which depend on their
 * roles' default policies; here it closes no cycle.
 */
export function grantExecutionChecks(steps: Record<TaskStateName, StepFunction>, stateMachine: StateMachine): void {
  for (const state of [StateNames.validateInput, StateNames.createCopyJobs, StateNames.checkCopyJobs]) {
    const step = steps[state];
    const policy = new Policy(step, "DescribeRunExecutions", {
      statements: [
        new PolicyStatement({
          sid: "DescribeRunExecutions",
          actions: ["states:DescribeExecution"],
          resources: [executionsOf(stateMachine)],
        }),
      ],
    });
    step.role.attachInlinePolicy(policy);
  }
}

/**
 * Record failure, when "Plan each slice" failed, reads why from the failed slice's own execution: ListMapRuns on
 * this run, ListExecutions on its Map Runs, DescribeExecution on their child executions
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html). A Policy of its
 * own, for the reason grantExecutionChecks gives.
 */
export function grantFailedSliceLookups(steps: Record<TaskStateName, StepFunction>, stateMachine: StateMachine): void {
  const step = steps[StateNames.recordFailure];
  const arn = (resource: string, resourceName: string) =>
    Arn.format(
      { service: "states", resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME },
      stateMachine.stack,
    );
  const policy = new Policy(step, "ReadFailedSlices", {
    statements: [
      new PolicyStatement({
        sid: "ListMapRuns",
        actions: ["states:ListMapRuns"],
        resources: [executionsOf(stateMachine)],
      }),
      new PolicyStatement({
        sid: "ListSliceExecutions",
        actions: ["states:ListExecutions"],
        resources: [arn("mapRun", `${stateMachine.stateMachineName}/*`)],
      }),
      new PolicyStatement({
        sid: "DescribeSliceExecutions",
        actions: ["states:DescribeExecution"],
        resources: [arn("execution", `${stateMachine.stateMachineName}/*`)],
      }),
    ],
  });
  step.role.attachInlinePolicy(policy);
}

/** Every execution of the state machine: `arn:…:states:<region>:<account>:execution:<name>:*`. */
export function executionsOf(stateMachine: StateMachine): string {
  return Arn.format(
    {
      service: "states",
      resource: "execution",
      resourceName: `${stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    },
    stateMachine.stack,
  );
}
