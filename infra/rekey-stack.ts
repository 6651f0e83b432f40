/**
 * rekey on AWS: one stack per account and region. The state machine is workflow/'s definition, deployed as is; each
 * Task state is one Lambda function running the same step code the sandbox runs; each function may make exactly the
 * AWS calls its step makes, on the buckets and keys the configuration names (infra/config.ts) and nothing wider.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { Topic } from "aws-cdk-lib/aws-sns";
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from "aws-cdk-lib/aws-stepfunctions";
import type { Construct, IConstruct } from "constructs";
import { FunctionPlaceholders, StateNames, type TaskStateName } from "../contract/states.ts";
import { STEP_FUNCTIONS, type StepFunctionSpec, stepEnvironment } from "../steps/runtime/functions.ts";
import { rekeyDefinitionJson } from "../workflow/definition.ts";
import type { RekeyConfig } from "./config.ts";
import { StepFunction } from "./constructs/step-function.ts";

/**
 * Where things live in the work bucket (mirrors steps/run-context.ts; test/infra checks the keys the steps build
 * against these grants):
 * - `runs/<bucket>/<execution>/…`: one execution's plan, skipped list, verification, report, summary, failure;
 *   `runs/<bucket>/default-encryption.json` records when default encryption was enforced;
 * - `plans/<bucket>/<delivery>-<digest>/…`: the copy manifests planned from one inventory delivery and the completion
 *   reports of their jobs, shared by every execution planning from that delivery;
 * - `inventory/…`: the destination prefix the operator gives S3 Inventory.
 */
export const WorkBucketPrefixes = {
  runs: "runs/",
  plans: "plans/",
  inventory: "inventory/",
  /** Batch Operations reads the copy manifests (planKeys().manifest). */
  manifests: "plans/*/manifests/*",
  /** Batch Operations writes completion reports under planKeys().reportsPrefix. */
  reports: "plans/*/batch-reports/*",
  /** The manifest generator writes candidate lists under candidatePrefix() (source: generate). */
  candidates: "runs/*/candidates/*",
} as const;

/** One Lambda function per Task state, as steps/runtime/functions.ts specifies them. */
export const StepSpecs = Object.fromEntries(
  Object.entries(STEP_FUNCTIONS).map(([state, spec]) => [
    state,
    { ...spec, timeout: Duration.seconds(spec.timeoutSeconds), memorySize: spec.memoryMiB },
  ]),
) as Record<TaskStateName, StepFunctionSpec & { timeout: Duration; memorySize: number }>;

export interface RekeyStackProps extends StackProps {
  config: RekeyConfig;
  /**
   * cdk-nag acknowledgements (by finding id) NOT to apply. Only for tests that prove each acknowledgement is needed:
   * a synth without one must fail.
   */
  omitNagAcknowledgements?: string[];
}

export class RekeyStack extends Stack {
  readonly workBucket: Bucket;
  readonly batchRole: Role;
  readonly stateMachine: StateMachine;
  readonly steps: Record<TaskStateName, StepFunction>;
  readonly failedAlarm: Alarm;
  readonly timedOutAlarm: Alarm;
  readonly nagAcknowledgements: NagAcknowledgement[];

  constructor(scope: Construct, id: string, props: RekeyStackProps) {
    super(scope, id, props);
    const { config } = props;
    const partition = this.partition;
    const logRetention = config.logRetentionDays as RetentionDays;

    // ---- What rekey may touch -------------------------------------------------------------------------------
    // A bucket pattern "data-*" becomes arn:…:s3:::data-* (the bucket) and arn:…:s3:::data-*/* (its objects).
    const targetBuckets = config.buckets.map((b) => `arn:${partition}:s3:::${b}`);
    const targetObjects = targetBuckets.map((arn) => `${arn}/*`);
    const targetKeys = config.kmsKeyArns;
    // Job ids are only known at run time; this account's and region's jobs, nothing else.
    const copyJobs = `arn:${partition}:s3:${this.region}:${this.account}:job/*`;

    // ---- Work bucket ----------------------------------------------------------------------------------------
    this.workBucket = new Bucket(this, "WorkBucket", {
      versioned: true,
      // SSE-S3, not SSE-KMS: S3 Inventory and Batch Operations write here and Batch Operations reads the
      // manifests (the steps write those with SSE-S3 explicitly: Batch Operations refuses KMS-encrypted CSV
      // manifests); with a KMS key every writer and reader, and the key policy, would need KMS grants too. The
      // bucket holds object keys and run reports, never object data.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Run reports are the evidence of a migration: `cdk destroy` leaves the bucket (runbooks/deploy.md).
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: "expire-run-artifacts",
          prefix: WorkBucketPrefixes.runs,
          expiration: Duration.days(config.runArtifactExpirationDays),
          noncurrentVersionExpiration: Duration.days(30),
        },
        {
          id: "expire-plans",
          prefix: WorkBucketPrefixes.plans,
          expiration: Duration.days(config.runArtifactExpirationDays),
          noncurrentVersionExpiration: Duration.days(30),
        },
        {
          id: "expire-inventory-deliveries",
          prefix: WorkBucketPrefixes.inventory,
          expiration: Duration.days(config.inventoryExpirationDays),
          noncurrentVersionExpiration: Duration.days(7),
        },
        { id: "abort-incomplete-multipart-uploads", abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
    // S3 Inventory delivers with the service principal; AWS's example policy for an inventory destination
    // (UG "Grant permissions for S3 Inventory and S3 analytics"), narrowed to the inventory/ prefix and to the
    // buckets rekey may touch in this account.
    this.workBucket.addToResourcePolicy(
      new PolicyStatement({
        sid: "AllowS3InventoryDelivery",
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal("s3.amazonaws.com")],
        actions: ["s3:PutObject"],
        resources: [this.workBucket.arnForObjects(`${WorkBucketPrefixes.inventory}*`)],
        conditions: {
          ArnLike: { "aws:SourceArn": targetBuckets },
          StringEquals: { "aws:SourceAccount": this.account, "s3:x-amz-acl": "bucket-owner-full-control" },
        },
      }),
    );
    const workObjects = (prefix: string) => this.workBucket.arnForObjects(prefix);
    const runObjects = workObjects(`${WorkBucketPrefixes.runs}*`);
    const planObjects = workObjects(`${WorkBucketPrefixes.plans}*`);
    const inventoryObjects = workObjects(`${WorkBucketPrefixes.inventory}*`);

    // ---- Batch Operations role --------------------------------------------------------------------------------
    this.batchRole = new Role(this, "BatchOperationsRole", {
      assumedBy: new ServicePrincipal("batchoperations.s3.amazonaws.com"),
      description: "rekey: S3 Batch Operations copies objects in place to SSE-KMS with Bucket Key",
    });
    // Copy in place (S3PutObjectCopy, MetadataDirective COPY, tags kept): read the object and its tags, write it
    // back. No *Version actions on the data: manifests never carry a VersionId (DESIGN safety rule), and
    // version-specific actions are only needed when one is given (aws-facts 2.9). No ACL actions: the jobs set no
    // ACL. ListBucket makes a key deleted since planning fail with 404 (reported "gone") instead of 403
    // (which verification must treat as an access problem).
    this.batchRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "CopyObjectsInPlace",
        actions: ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"],
        resources: targetObjects,
      }),
    );
    this.batchRole.addToPrincipalPolicy(
      new PolicyStatement({ sid: "ListTargetBuckets", actions: ["s3:ListBucket"], resources: targetBuckets }),
    );
    this.batchRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadManifests",
        actions: ["s3:GetObject", "s3:GetObjectVersion"],
        resources: [workObjects(WorkBucketPrefixes.manifests)],
      }),
    );
    this.batchRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "WriteCandidateLists",
        actions: ["s3:PutObject"],
        resources: [workObjects(WorkBucketPrefixes.candidates)],
      }),
    );
    this.batchRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "WriteCompletionReports",
        actions: ["s3:PutObject"],
        resources: [workObjects(WorkBucketPrefixes.reports)],
      }),
    );
    // S3UpdateObjectEncryption (aws-facts 3.5): s3:UpdateObjectEncryption on the objects, and on the keys
    // kms:Encrypt, kms:Decrypt, kms:GenerateDataKey and kms:ReEncrypt* (ReEncryptFrom/ReEncryptTo spelled out).
    this.batchRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "UpdateEncryptionInPlace",
        actions: ["s3:UpdateObjectEncryption"],
        resources: targetObjects,
      }),
    );
    // Writing SSE-KMS needs GenerateDataKey; CopyObject's documented permissions add Decrypt; the encryption
    // update adds Encrypt and ReEncrypt*. Copies read only unencrypted objects, so no other key is needed for them.
    this.batchRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "EncryptUnderTargetKeys",
        actions: ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
        resources: targetKeys,
      }),
    );
    // SSE-KMS objects under an older key: the update decrypts (re-encrypts from) their data keys under that key.
    if (config.sourceKmsKeyArns.length > 0) {
      this.batchRole.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "ReEncryptFromSourceKeys",
          actions: ["kms:Decrypt", "kms:ReEncryptFrom"],
          resources: config.sourceKmsKeyArns,
        }),
      );
    }

    // ---- Step functions ---------------------------------------------------------------------------------------
    const environment = stepEnvironment({
      batchRoleArn: this.batchRole.roleArn,
      workBucket: this.workBucket.bucketName,
    });
    const steps = {} as Record<TaskStateName, StepFunction>;
    for (const [state, spec] of Object.entries(StepSpecs) as [TaskStateName, (typeof StepSpecs)[TaskStateName]][]) {
      steps[state] = new StepFunction(this, pascal(spec.handler.replace(/Handler$/, "Step")), {
        ...spec,
        environment,
        logRetention,
      });
    }
    this.steps = steps;
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
    allow(S.validateInput, "HeadBuckets", ["s3:ListBucket"], [...targetBuckets, this.workBucket.bucketArn]);
    allow(S.validateInput, "DescribeTargetKeys", ["kms:DescribeKey"], targetKeys);
    allow(S.validateInput, "ReadInventoryConfiguration", ["s3:GetInventoryConfiguration"], targetBuckets);

    // Preflight only reads configurations; each SDK call maps to one bucket-level Get permission.
    allow(
      S.preflight,
      "ReadBucketConfigurations",
      [
        "s3:GetBucketVersioning",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetReplicationConfiguration",
        "s3:GetBucketNotification",
        "s3:GetLifecycleConfiguration",
        "s3:GetBucketOwnershipControls",
        "s3:GetBucketPolicy",
        "s3:GetEncryptionConfiguration",
      ],
      targetBuckets,
    );
    allow(S.preflight, "ReadTargetKeys", ["kms:DescribeKey", "kms:GetKeyPolicy"], targetKeys);
    // Whether the inventory's fields show Object Lock (finding object-lock-unseen).
    allow(S.preflight, "ReadInventoryConfiguration", ["s3:GetInventoryConfiguration"], targetBuckets);

    // PutBucketEncryption needs s3:PutEncryptionConfiguration only: S3 does not validate (or use) the key ID then
    // (API reference, PutBucketEncryption), so the caller needs no KMS permission.
    allow(
      S.enforceDefaultEncryption,
      "SetDefaultEncryption",
      ["s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"],
      targetBuckets,
    );
    allow(S.enforceDefaultEncryption, "RecordEnforcement", ["s3:GetObject", "s3:PutObject"], [runObjects]);
    allow(S.enforceDefaultEncryption, "ListWorkBucket", ["s3:ListBucket"], [this.workBucket.bucketArn]);

    allow(S.findInventory, "ReadInventoryConfiguration", ["s3:GetInventoryConfiguration"], targetBuckets);
    // source: generate: one manifest-generator job per candidate list (CreateJob has no resource type, see
    // Create copy jobs), read until listed, then cancelled.
    allow(S.findInventory, "CreateCandidateListJobs", ["s3:CreateJob"], ["*"]);
    allow(S.findInventory, "ReadAndCancelCandidateListJobs", ["s3:DescribeJob", "s3:UpdateJobStatus"], [copyJobs]);
    allow(S.findInventory, "PassBatchOperationsRole", ["iam:PassRole"], [this.batchRole.roleArn], {
      StringEquals: { "iam:PassedToService": "batchoperations.s3.amazonaws.com" },
    });
    allow(S.findInventory, "ListWorkBucket", ["s3:ListBucket"], [this.workBucket.bucketArn]);
    allow(S.findInventory, "ReadInventoryManifests", ["s3:GetObject"], [inventoryObjects]);

    // Manifests and skipped.csv are written with multipart uploads (steps/manifest-upload.ts): Create/UploadPart/
    // Complete are authorized by s3:PutObject, the abort on failure by s3:AbortMultipartUpload.
    allow(
      S.writeManifests,
      "ReadInventory",
      ["s3:GetObject"],
      [inventoryObjects, workObjects(WorkBucketPrefixes.candidates)],
    );
    allow(S.writeManifests, "WritePlan", ["s3:PutObject", "s3:AbortMultipartUpload"], [runObjects, planObjects]);
    // A plan already written for the same inventory is reused as it is (plans/<bucket>/<delivery>/plan.json); a 404
    // for a plan not yet written needs ListBucket.
    allow(S.writeManifests, "ReadPlan", ["s3:GetObject"], [planObjects]);
    allow(S.writeManifests, "ListWorkBucket", ["s3:ListBucket"], [this.workBucket.bucketArn]);
    // HeadObject tells which key an SSE-KMS object is under (the inventory does not say); no KMS permission needed.
    allow(S.writeManifests, "HeadTargetObjects", ["s3:GetObject"], targetObjects);
    allow(S.writeManifests, "ListTargetBuckets", ["s3:ListBucket"], targetBuckets);

    // CreateJob and ListJobs (finding an earlier execution's job for the same plan) have no resource type
    // (Service Authorization Reference), so "*". Tags given in CreateJob are authorized by CreateJob itself
    // (aws:RequestTag), not s3:PutJobTagging. What a job can do is bounded by the one role it may pass:
    // iam:PassRole on the Batch Operations role only, and only to Batch Operations.
    allow(S.createCopyJobs, "CreateCopyJobs", ["s3:CreateJob", "s3:ListJobs"], ["*"]);
    allow(S.createCopyJobs, "PassBatchOperationsRole", ["iam:PassRole"], [this.batchRole.roleArn], {
      StringEquals: { "iam:PassedToService": "batchoperations.s3.amazonaws.com" },
    });

    allow(S.checkCopyJobs, "DescribeCopyJobs", ["s3:DescribeJob"], [copyJobs]);

    // The multipart copy in place (steps/large-object-copy.ts). HeadObject/UploadPartCopy's source read need
    // s3:GetObject, and s3:GetObjectVersion when they name the version read at the start; tags are read from and
    // written to a named version; Create/UploadPartCopy/Complete need s3:PutObject, plus s3:PutObjectRetention and
    // s3:PutObjectLegalHold when they carry the source's Object Lock settings; ListParts resumes an upload;
    // ListObjectVersions checks that nothing landed between source and copy. Writing SSE-KMS parts needs
    // GenerateDataKey and Decrypt on the target key (UG, "multipart upload with SSE-KMS"). Progress lives under
    // the plan's prefix.
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
      targetObjects,
    );
    allow(S.copyLargeObjects, "ListTargetBuckets", ["s3:ListBucket", "s3:ListBucketVersions"], targetBuckets);
    allow(S.copyLargeObjects, "EncryptUnderTargetKeys", ["kms:GenerateDataKey", "kms:Decrypt"], targetKeys);
    allow(S.copyLargeObjects, "ReadPlan", ["s3:GetObject"], [planObjects]);
    allow(S.copyLargeObjects, "WriteProgress", ["s3:PutObject"], [planObjects]);
    allow(S.copyLargeObjects, "ListWorkBucket", ["s3:ListBucket"], [this.workBucket.bucketArn]);
    // With approval required, the copies start only after the jobs show they were confirmed.
    allow(S.copyLargeObjects, "DescribeCopyJobs", ["s3:DescribeJob"], [copyJobs]);

    // HeadObject needs s3:GetObject (no KMS permission: it returns no data); ListBucket turns a deleted key into 404.
    allow(S.verifyResults, "DescribeCopyJobs", ["s3:DescribeJob"], [copyJobs]);
    allow(S.verifyResults, "ReadPlanAndReports", ["s3:GetObject"], [runObjects, planObjects]);
    allow(S.verifyResults, "WriteVerification", ["s3:PutObject", "s3:AbortMultipartUpload"], [runObjects]);
    allow(S.verifyResults, "ListWorkBucket", ["s3:ListBucket"], [this.workBucket.bucketArn]);
    allow(S.verifyResults, "HeadTargetObjects", ["s3:GetObject"], targetObjects);
    allow(S.verifyResults, "ListTargetBuckets", ["s3:ListBucket"], targetBuckets);

    allow(S.writeFinalReport, "ReadVerification", ["s3:GetObject"], [runObjects]);
    allow(S.writeFinalReport, "WriteReport", ["s3:PutObject"], [runObjects]);

    allow(S.recordFailure, "WriteFailure", ["s3:PutObject"], [runObjects]);

    // ---- State machine ----------------------------------------------------------------------------------------
    const stateMachineLogs = new LogGroup(this, "StateMachineLogs", {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const definitionSubstitutions = Object.fromEntries(
      (Object.keys(FunctionPlaceholders) as TaskStateName[]).map((state) => [
        FunctionPlaceholders[state],
        steps[state].function.functionArn,
      ]),
    );
    this.stateMachine = new StateMachine(this, "StateMachine", {
      stateMachineType: StateMachineType.STANDARD,
      // workflow/'s JSON, character for character; the machine-level timeout is its TimeoutSeconds.
      definitionBody: DefinitionBody.fromString(rekeyDefinitionJson()),
      definitionSubstitutions,
      logs: { destination: stateMachineLogs, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // The definition invokes the functions by unqualified ARN: exactly those, no versions or aliases.
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        sid: "InvokeStepFunctions",
        actions: ["lambda:InvokeFunction"],
        resources: Object.values(steps).map((s) => s.function.functionArn),
      }),
    );

    // ---- Alarms -------------------------------------------------------------------------------------------------
    const alarmTopic = config.alarmTopicArn ? Topic.fromTopicArn(this, "AlarmTopic", config.alarmTopicArn) : undefined;
    const alarmOn = (id: string, metric: IMetric, what: string) => {
      const alarm = new Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: `rekey: ${what}. The execution's "Record failure" output and s3://<work bucket>/runs/<bucket>/<execution>/ say why.`,
      });
      if (alarmTopic) alarm.addAlarmAction(new SnsAction(alarmTopic));
      return alarm;
    };
    const period = Duration.minutes(5);
    this.failedAlarm = alarmOn(
      "ExecutionsFailedAlarm",
      this.stateMachine.metricFailed({ period, statistic: "Sum" }),
      "a run failed (stopped, or finished with objects that were not re-encrypted)",
    );
    this.timedOutAlarm = alarmOn(
      "ExecutionsTimedOutAlarm",
      this.stateMachine.metricTimedOut({ period, statistic: "Sum" }),
      "a run exceeded the state machine's timeout",
    );

    // ---- Outputs ------------------------------------------------------------------------------------------------
    new CfnOutput(this, "StateMachineArn", {
      value: this.stateMachine.stateMachineArn,
      description: "Start one execution per bucket: rekey start --state-machine-arn <this>",
    });
    new CfnOutput(this, "WorkBucketName", {
      value: this.workBucket.bucketName,
      description: "Manifests, reports and run summaries; point S3 Inventory here with prefix inventory",
    });
    new CfnOutput(this, "BatchOperationsRoleArn", {
      value: this.batchRole.roleArn,
      description: "The role S3 Batch Operations assumes for rekey's copy jobs",
    });

    this.nagAcknowledgements = this.planNagAcknowledgements(config);
    for (const ack of this.nagAcknowledgements) {
      if (props.omitNagAcknowledgements?.includes(ack.id)) continue;
      for (const scope of ack.scopes) Validations.of(scope).acknowledge({ id: ack.id, reason: ack.reason });
    }
  }

  /**
   * cdk-nag (AwsSolutions) runs at synth. Each finding it reports on this stack is acknowledged here, with its exact
   * id, on the constructs it concerns, and why it is acceptable; any other finding fails the synth.
   */
  private planNagAcknowledgements(config: RekeyConfig): NagAcknowledgement[] {
    const partition = "<AWS::Partition>";
    const workBucketArn = `<${this.getLogicalId(this.workBucket.node.defaultChild as CfnBucket)}.Arn>`;
    const iam5 = (resource: string) => `AwsSolutions-IAM5[Resource::${resource}]`;
    const step = (state: TaskStateName) => this.steps[state];
    const S = StateNames;
    const acks: NagAcknowledgement[] = [
      {
        id: "AwsSolutions-S1",
        scopes: [this.workBucket],
        reason:
          "The work bucket holds manifests and reports written by rekey's own roles and by S3; who did what is in " +
          "CloudTrail. A server access log bucket would itself need this exemption.",
      },
      {
        id: "AwsSolutions-L1",
        scopes: Object.values(this.steps),
        reason:
          "Node.js 22 is pinned on purpose: the steps are bundled for node22 and tested on it; a newer runtime is a " +
          "deliberate, tested change, not something a synth should pick.",
      },
      {
        id: iam5("*"),
        scopes: [...Object.values(this.steps), this.stateMachine],
        reason:
          "Actions without resource-level permissions (Service Authorization Reference): xray:PutTraceSegments and " +
          "xray:PutTelemetryRecords (active tracing); the logs:*LogDelivery/Describe* actions Step Functions logging " +
          "needs; s3:CreateJob and s3:ListJobs, whose jobs are bounded by iam:PassRole on the Batch Operations role only.",
      },
      {
        id: iam5(`${workBucketArn}/${WorkBucketPrefixes.runs}*`),
        scopes: [
          S.enforceDefaultEncryption,
          S.writeManifests,
          S.verifyResults,
          S.writeFinalReport,
          S.recordFailure,
        ].map(step),
        reason:
          "Run artifacts are keyed by bucket and execution name (runs/<bucket>/<execution>/…), known only at run " +
          "time; the grant is limited to the runs/ prefix of the stack's own work bucket.",
      },
      {
        id: iam5(`${workBucketArn}/${WorkBucketPrefixes.plans}*`),
        scopes: [S.writeManifests, S.copyLargeObjects, S.verifyResults].map(step),
        reason:
          "Manifests, completion reports and multipart-copy progress are keyed by bucket and inventory delivery " +
          "(plans/<bucket>/<delivery>/…), known only at run time; the grant is limited to the plans/ prefix of the " +
          "stack's own work bucket.",
      },
      {
        id: iam5(`${workBucketArn}/${WorkBucketPrefixes.inventory}*`),
        scopes: [S.findInventory, S.writeManifests].map(step),
        reason:
          "S3 Inventory names its deliveries by date and configuration (inventory/<bucket>/<config>/<date>/…); the " +
          "grant is read-only and limited to the inventory/ prefix of the stack's own work bucket.",
      },
      {
        id: iam5(`arn:${partition}:s3:${this.region}:${this.account}:job/*`),
        scopes: [S.findInventory, S.checkCopyJobs, S.copyLargeObjects, S.verifyResults].map(step),
        reason:
          "Batch Operations job ids exist only once a run creates its jobs; DescribeJob is read-only, and " +
          "UpdateJobStatus (Find inventory cancels its own unrun candidate-list jobs) can only stop a job; both are " +
          "limited to this account's jobs in this region.",
      },
      {
        id: iam5(`${workBucketArn}/${WorkBucketPrefixes.manifests}`),
        scopes: [this.batchRole],
        reason: "Batch Operations reads the copy manifests a run writes under plans/<bucket>/<delivery>/manifests/.",
      },
      {
        id: iam5(`${workBucketArn}/${WorkBucketPrefixes.candidates}`),
        scopes: [this.batchRole, step(S.writeManifests)],
        reason:
          "With source: generate, the manifest generator writes each run's candidate lists under " +
          "runs/<bucket>/<execution>/candidates/, named by job id; the plan step reads them.",
      },
      {
        id: iam5(`${workBucketArn}/${WorkBucketPrefixes.reports}`),
        scopes: [this.batchRole],
        reason:
          "Batch Operations writes completion reports under plans/<bucket>/<delivery>/batch-reports/, named by job id.",
      },
    ];
    for (const bucket of config.buckets) {
      acks.push({
        id: iam5(`arn:${partition}:s3:::${bucket}/*`),
        scopes: [this.batchRole, step(S.writeManifests), step(S.copyLargeObjects), step(S.verifyResults)],
        reason:
          `rekey re-encrypts every current object of ${bucket}, whose keys are known only from its inventory: the ` +
          "Batch Operations role copies them in place or updates their encryption, planning HEADs SSE-KMS objects for " +
          "their key, Copy large objects copies objects over 5 GiB part by part, Verify results HEADs a sample.",
      });
      if (bucket.endsWith("*")) {
        acks.push({
          id: iam5(`arn:${partition}:s3:::${bucket}`),
          scopes: [
            this.batchRole,
            step(S.validateInput),
            step(S.preflight),
            step(S.enforceDefaultEncryption),
            step(S.findInventory),
            step(S.writeManifests),
            step(S.copyLargeObjects),
            step(S.verifyResults),
          ],
          reason: `The configuration allows every bucket whose name starts with "${bucket.slice(0, -1)}" (rekey:buckets).`,
        });
      }
    }
    return acks;
  }
}

/** One acknowledged cdk-nag finding: its exact id, where it applies, and why it is acceptable. */
export interface NagAcknowledgement {
  id: string;
  scopes: IConstruct[];
  reason: string;
}

function pascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
