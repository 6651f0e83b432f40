/**
 * cdk-nag (AwsSolutions) runs at synth (infra/rekey-app.ts). Each finding it reports on the stack is acknowledged
 * here, with its exact id, on the constructs it concerns, and why it is acceptable; any other finding fails the synth.
 * test/infra/nag.test.ts proves each one is needed.
 */
import { Stack, Validations } from "aws-cdk-lib";
import type { CfnBucket } from "aws-cdk-lib/aws-s3";
import type { CfnStateMachine, StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import type { IConstruct } from "constructs";
import { StateNames, type TaskStateName } from "../contract/states.ts";
import type { AthenaWorkGroup } from "./constructs/athena-workgroup.ts";
import type { BatchOperationsRole } from "./constructs/batch-operations-role.ts";
import type { OperatorPolicy } from "./constructs/operator-policy.ts";
import type { StepFunction } from "./constructs/step-function.ts";
import { type WorkBucket, WorkBucketPrefixes } from "./constructs/work-bucket.ts";

/** One acknowledged cdk-nag finding: its exact id, where it applies, and why it is acceptable. */
export interface NagAcknowledgement {
  id: string;
  scopes: IConstruct[];
  reason: string;
}

export interface NagAcknowledgementScopes {
  workBucket: WorkBucket;
  batchRole: BatchOperationsRole;
  steps: Record<TaskStateName, StepFunction>;
  stateMachine: StateMachine;
  athena: AthenaWorkGroup;
  operatorPolicy: OperatorPolicy;
  /** The configured bucket names and patterns (RekeyConfig.buckets): each gets its own object-wildcard finding. */
  buckets: string[];
}

/** The acknowledgements the stack's resources need; the resource ids in the finding ids are as cdk-nag prints them. */
export function planNagAcknowledgements(scopes: NagAcknowledgementScopes): NagAcknowledgement[] {
  const { workBucket, batchRole, steps, stateMachine, athena, operatorPolicy, buckets } = scopes;
  const stack = Stack.of(workBucket);
  const partition = "<AWS::Partition>";
  const workBucketArn = `<${stack.getLogicalId(workBucket.node.defaultChild as CfnBucket)}.Arn>`;
  const iam5 = (resource: string) => `AwsSolutions-IAM5[Resource::${resource}]`;
  const step = (state: TaskStateName) => steps[state];
  const S = StateNames;
  const smName = stack.getLogicalId(stateMachine.node.defaultChild as CfnStateMachine);
  const acks: NagAcknowledgement[] = [
    {
      id: "AwsSolutions-S1",
      scopes: [workBucket],
      reason:
        "The work bucket holds manifests and reports written by rekey's own roles and by S3; who did what is in " +
        "CloudTrail. A server access log bucket would itself need this exemption.",
    },
    {
      id: "AwsSolutions-L1",
      scopes: Object.values(steps),
      reason:
        "Node.js 22 is pinned on purpose: the steps are bundled for node22 and tested on it; a newer runtime is a " +
        "deliberate, tested change, not something a synth should pick.",
    },
    {
      id: iam5("*"),
      scopes: [...Object.values(steps), stateMachine, operatorPolicy],
      reason:
        "Actions without resource-level permissions (Service Authorization Reference): xray:PutTraceSegments and " +
        "xray:PutTelemetryRecords (active tracing); the logs:*LogDelivery/Describe* actions Step Functions logging " +
        "needs; s3:CreateJob and s3:ListJobs, whose jobs are bounded by iam:PassRole on the Batch Operations role only; " +
        "the operator's states:ListStateMachines (finding the rekey machine by name) and s3:ListJobs (a run's jobs).",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.runs}*`),
      scopes: [
        ...[
          S.enforceDefaultEncryption,
          S.writeManifests,
          S.verifyResults,
          S.lookForNonCompliantObjects,
          S.writeFinalReport,
          S.recordFailure,
        ].map(step),
        operatorPolicy,
      ],
      reason:
        "Run artifacts are keyed by bucket and execution name (runs/<bucket>/<execution>/…), known only at run " +
        "time; the grant is limited to the runs/ prefix of the stack's own work bucket (for the operator's policy, " +
        "read-only: a run's report, summary and failed list).",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.plans}*`),
      scopes: [
        S.sliceInventory,
        S.writeManifests,
        S.combinePlan,
        S.checkCopyJobs,
        S.copyLargeObjects,
        S.sliceReports,
        S.readReports,
        S.verifyResults,
        S.lookForNonCompliantObjects,
      ].map(step),
      reason:
        "Manifests, completion reports and multipart-copy progress are keyed by bucket and inventory delivery " +
        "(plans/<bucket>/<delivery>/…), known only at run time; the grant is limited to the plans/ prefix of the " +
        "stack's own work bucket.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.inventory}*`),
      scopes: [S.findInventory, S.sliceInventory, S.writeManifests].map(step),
      reason:
        "S3 Inventory names its deliveries by date and configuration (inventory/<bucket>/<config>/<date>/…); the " +
        "grant is read-only and limited to the inventory/ prefix of the stack's own work bucket.",
    },
    {
      id: iam5(`arn:${partition}:s3:${stack.region}:${stack.account}:job/*`),
      scopes: [
        ...[
          S.findInventory,
          S.sliceInventory,
          S.writeManifests,
          S.checkCopyJobs,
          S.copyLargeObjects,
          S.verifyResults,
          S.lookForNonCompliantObjects,
        ].map(step),
        operatorPolicy,
      ],
      reason:
        "Batch Operations job ids exist only once a run creates its jobs (planning reads earlier runs' jobs); " +
        "DescribeJob is read-only, and UpdateJobStatus (Find inventory and the bucket check cancel their own unrun " +
        "list jobs, Check copy jobs a copy job whose tasks fail for access or key reasons) can only stop a job; both are " +
        "limited to this account's jobs in this region. The operator's policy may also confirm a suspended job " +
        "(rekey approve) and cancel a run's jobs (rekey stop), and creates none.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.locks}`),
      scopes: [S.validateInput, S.writeFinalReport, S.recordFailure].map(step),
      reason:
        "Each bucket's one-run lock is runs/<bucket>/lock.json, the bucket known only from the run request; the " +
        "grant names that one file per bucket in the stack's own work bucket.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.candidateJobs}`),
      scopes: [step(S.findInventory)],
      reason:
        "A run records the candidate-list jobs it created in runs/<bucket>/<execution>/candidates/jobs.json, known " +
        "only at run time; the grant names that one file per run in the stack's own work bucket.",
    },
    {
      id: iam5(`arn:${partition}:states:${stack.region}:${stack.account}:execution:<${smName}.Name>:*`),
      scopes: [step(S.validateInput), step(S.recordFailure), operatorPolicy],
      reason:
        "Validate input asks whether the execution holding a bucket's lock still runs; execution names are chosen " +
        "at start. Record failure lists a failed run's Map Runs (ListMapRuns). Both read only, and only this state " +
        "machine's executions. The operator's policy reads runs and their history and stops a run (rekey status, " +
        "runs, approve, stop), on this state machine's executions only.",
    },
    {
      id: iam5(`arn:${partition}:states:${stack.region}:${stack.account}:mapRun:<${smName}.Name>/*`),
      scopes: [step(S.recordFailure), operatorPolicy],
      reason:
        'Record failure lists the failed child executions of a run\'s Map Run ("Plan each slice"), whose id Step ' +
        "Functions chooses when it starts; ListExecutions is read-only and limited to this state machine's Map Runs. " +
        "The operator's policy describes them (rekey status: how many slices are done), read-only as well.",
    },
    {
      id: iam5(`arn:${partition}:states:${stack.region}:${stack.account}:execution:<${smName}.Name>/*`),
      scopes: [step(S.recordFailure), stateMachine],
      reason:
        "The slices' child executions are named by Step Functions when a Map Run starts them " +
        "(execution:<machine>/<label>:<id>): the state machine follows and stops its own, Record failure reads why " +
        "one failed; limited to this state machine's child executions.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.planSliceResults}`),
      scopes: [stateMachine],
      reason:
        "The Distributed Map writes its Map Run's results under plans/<bucket>/<delivery>/slice-results/, named by " +
        "Map Run id; nothing else of the work bucket can be written by the state machine.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.athenaResults}*`),
      scopes: [step(S.sliceInventory), step(S.writeManifests)],
      reason:
        "Athena names each query's result files by its query execution id (athena-results/<id>.csv), known only " +
        "once the query starts; the workgroup enforces that prefix of the stack's own work bucket. The slices read " +
        "the files the athena engine's UNLOAD wrote there.",
    },
    {
      id: iam5(`arn:${partition}:glue:${stack.region}:${stack.account}:table/${athena.databaseName}/*`),
      scopes: [step(S.sliceInventory)],
      reason:
        "The athena engine creates its inventory tables under names chosen at run time from the inventory read, " +
        "in the stack's own Glue database; the grant reads and creates tables of that database only.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.planSlices}`),
      scopes: [step(S.writeManifests), step(S.combinePlan)],
      reason:
        "Each slice of a plan writes its parts, summary and progress under plans/<bucket>/<delivery>/slices/<n>/, " +
        "the delivery known only at run time; a slice deletes its own progress, Combine the plan the slices once " +
        "plan.json holds them. Nothing else under plans/ can be deleted.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.planSliceItems}`),
      scopes: [step(S.combinePlan), stateMachine],
      reason:
        "The slices of a plan (plans/<bucket>/<delivery>/slices.json, the delivery known only at run time) are the " +
        "Distributed Map's items, which the state machine only reads; Combine the plan deletes that one file per " +
        "plan with the slices' parts once plan.json is written.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.verifySlices}`),
      scopes: [step(S.sliceReports), step(S.readReports), step(S.verifyResults)],
      reason:
        "Verification's slices (the jobs' result files listed, the slices, each slice's progress, failed.csv parts " +
        "and result) live under runs/<bucket>/<execution>/verify/, known only at run time; Verify results deletes " +
        "them once verification.json holds them. Nothing else under runs/ can be deleted.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.verifySliceItems}`),
      scopes: [stateMachine],
      reason:
        "The slices of a run's completion reports (runs/<bucket>/<execution>/verify/slices.json, known only at run " +
        "time) are the verification Distributed Map's items, which the state machine only reads.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.verifySliceResults}`),
      scopes: [stateMachine],
      reason:
        "The verification Distributed Map writes its Map Run's results under runs/<bucket>/<execution>/verify-results/, " +
        "named by Map Run id; nothing else of the work bucket can be written by the state machine.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.skippedLists}`),
      scopes: [operatorPolicy],
      reason:
        "rekey report --skipped prints a plan's skipped.csv, under plans/<bucket>/<delivery>/, the delivery known " +
        "only at run time; the operator's policy may read that one file per plan and no manifest or report.",
    },
    {
      id: iam5("arn:<AWS::Partition>:s3:::*"),
      scopes: [operatorPolicy],
      reason:
        "rekey scan judges every bucket of the account, which no configuration can name ahead: it may read each " +
        "bucket's configuration (encryption, versioning, Object Lock, replication, lifecycle, notifications, policy, " +
        "ownership, tags, inventory configurations) and list one version, and read or write no object.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.manifests}`),
      scopes: [batchRole],
      reason: "Batch Operations reads the copy manifests a run writes under plans/<bucket>/<delivery>/manifests/.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.candidates}`),
      scopes: [batchRole, step(S.sliceInventory), step(S.writeManifests)],
      reason:
        "With source: generate, the manifest generator writes each run's candidate lists under " +
        "runs/<bucket>/<execution>/candidates/, named by job id; the plan step reads them.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.reports}`),
      scopes: [batchRole],
      reason:
        "Batch Operations writes completion reports under plans/<bucket>/<delivery>/batch-reports/, named by job id.",
    },
  ];
  for (const bucket of buckets) {
    acks.push({
      id: iam5(`arn:${partition}:s3:::${bucket}/*`),
      scopes: [
        batchRole,
        step(S.writeManifests),
        step(S.copyLargeObjects),
        step(S.readReports),
        step(S.verifyResults),
        step(S.lookForNonCompliantObjects),
      ],
      reason:
        `rekey re-encrypts every current object of ${bucket}, whose keys are known only from its inventory: the ` +
        "Batch Operations role copies them in place or updates their encryption, planning HEADs SSE-KMS objects for " +
        "their key, Copy objects directly copies what Batch Operations cannot take, Read completion reports HEADs rows that say " +
        "missing or modified, Verify results HEADs a sample, " +
        "Look for non-compliant objects HEADs planned or listed ones.",
    });
    if (bucket.endsWith("*")) {
      acks.push({
        id: iam5(`arn:${partition}:s3:::${bucket}`),
        scopes: [
          batchRole,
          step(S.validateInput),
          step(S.preflight),
          step(S.enforceDefaultEncryption),
          step(S.findInventory),
          step(S.writeManifests),
          step(S.copyLargeObjects),
          step(S.readReports),
          step(S.verifyResults),
          step(S.lookForNonCompliantObjects),
          operatorPolicy,
        ],
        reason: `The configuration allows every bucket whose name starts with "${bucket.slice(0, -1)}" (its "buckets").`,
      });
    }
  }
  return acks;
}

/** Records each acknowledgement on its constructs, except those `omit` names (tests proving each is needed). */
export function applyNagAcknowledgements(acks: NagAcknowledgement[], omit: string[] = []): void {
  for (const ack of acks) {
    if (omit.includes(ack.id)) continue;
    for (const scope of ack.scopes) Validations.of(scope).acknowledge({ id: ack.id, reason: ack.reason });
  }
}
