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
import type { FleetStateMachine } from "./constructs/fleet-state-machine.ts";
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
  /** The fleet state machine, which starts runs of the one above. */
  fleet: FleetStateMachine;
  athena: AthenaWorkGroup;
  operatorPolicy: OperatorPolicy;
  /** The configured bucket names and patterns (RekeyConfig.buckets): each gets its own object-wildcard finding. */
  buckets: string[];
}

/** The acknowledgements the stack's resources need; the resource ids in the finding ids are as cdk-nag prints them. */
export function planNagAcknowledgements(scopes: NagAcknowledgementScopes): NagAcknowledgement[] {
  const { workBucket, batchRole, steps, stateMachine, fleet, athena, operatorPolicy, buckets } = scopes;
  const stack = Stack.of(workBucket);
  const partition = "<AWS::Partition>";
  const workBucketArn = `<${stack.getLogicalId(workBucket.node.defaultChild as CfnBucket)}.Arn>`;
  const iam5 = (resource: string) => `AwsSolutions-IAM5[Resource::${resource}]`;
  const step = (state: TaskStateName) => steps[state];
  const S = StateNames;
  const smName = stack.getLogicalId(stateMachine.node.defaultChild as CfnStateMachine);
  const fleetName = stack.getLogicalId(fleet.stateMachine.node.defaultChild as CfnStateMachine);
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
      scopes: [...Object.values(steps), stateMachine, fleet, operatorPolicy],
      reason:
        "Actions without resource-level permissions (Service Authorization Reference): xray:PutTraceSegments and " +
        "xray:PutTelemetryRecords (active tracing, of the functions and both state machines); the " +
        "logs:*LogDelivery/Describe* actions Step Functions logging needs (both state machines); " +
        "s3:CreateJob and s3:ListJobs, whose jobs are bounded by iam:PassRole on the Batch Operations role only; " +
        "the operator's states:ListStateMachines (finding the rekey and fleet machines by name) and s3:ListJobs (a " +
        "run's jobs); " +
        "preflight's kms:DescribeCustomKeyStores (the target key's store) and iam:ListRoles and iam:ListUsers, which " +
        "read the account's roles and users to find the bucket's readers (Preflight checks and the operator's start); " +
        "rekey scan's cloudwatch:GetMetricData and AWS Config reads (config:DescribeConfigRules, " +
        "config:GetComplianceDetailsByConfigRule: a rule's ARN holds an id AWS Config chooses).",
    },
    ...(["role", "user"] as const).map((kind) => ({
      id: iam5(`arn:${partition}:iam::${stack.account}:${kind}/*`),
      scopes: [step(S.preflight), operatorPolicy],
      reason:
        "Preflight asks IAM's policy simulator (iam:SimulatePrincipalPolicy, read-only) whether each role and user " +
        "of the account can read the bucket and decrypt under the target key; which principals read a bucket is " +
        "what it finds out, so it cannot name them ahead. Limited to the stack's own account.",
    })),
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
      scopes: [...[S.findInventory, S.sliceInventory, S.writeManifests].map(step), operatorPolicy],
      reason:
        "S3 Inventory names its deliveries by date and configuration (inventory/<bucket>/<config>/<date>/…); the " +
        "grant is read-only and limited to the inventory/ prefix of the stack's own work bucket (for the operator's " +
        "policy, rekey scan's counts of the latest delivery).",
    },
    {
      id: iam5(`arn:${partition}:s3:${stack.region}:${stack.account}:job/*`),
      scopes: [
        ...[
          S.findInventory,
          S.sliceInventory,
          S.writeManifests,
          S.createCopyJobs,
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
        "list jobs, Check copy jobs a copy job whose tasks fail for access or key reasons, Create copy jobs and Check " +
        "copy jobs a job they made after the run was stopped) can only stop a job; both are " +
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
      scopes: [
        ...[S.validateInput, S.createCopyJobs, S.checkCopyJobs, S.recordFailure].map(step),
        stateMachine,
        fleet,
        operatorPolicy,
      ],
      reason:
        "A run's execution name is chosen when it starts (by rekey start or rekey fleet start). Validate input asks " +
        "whether the execution holding a bucket's lock still runs, Create copy jobs and Check copy jobs whether their " +
        "own run still runs after making a job; Record failure lists a failed run's Map Runs " +
        "(ListMapRuns); the state machine describes its own executions, as AWS's Distributed Map policy does; all " +
        "read only. The fleet machine starts bucket runs with startExecution.sync:2 and, as AWS documents for it, " +
        "describes them and stops those it started when a fleet is stopped. The operator's policy reads runs and " +
        "their history and stops a run (rekey status, runs, approve, stop). Only this state machine's executions.",
    },
    {
      id: iam5(`arn:${partition}:states:${stack.region}:${stack.account}:execution:<${fleetName}.Name>:*`),
      scopes: [fleet, operatorPolicy],
      reason:
        "A fleet's execution name is chosen by rekey fleet start. The fleet machine describes its own executions, " +
        "as AWS's Distributed Map policy does; the operator's policy reads a fleet and stops it (rekey fleet status, " +
        "fleet stop). Only the fleet machine's executions, not its children or any other machine's.",
    },
    {
      id: iam5(`arn:${partition}:states:${stack.region}:${stack.account}:execution:<${fleetName}.Name>/*`),
      scopes: [fleet],
      reason:
        "Each bucket of a fleet is a child execution of the fleet machine, named by Step Functions when its Map Run " +
        "starts it (execution:<machine>/<label>:<id>): the fleet machine follows and stops its own children; " +
        "limited to that machine's child executions.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.fleetItems}`),
      scopes: [fleet, operatorPolicy],
      reason:
        "A fleet's buckets are fleets/<fleet>/buckets.json, the fleet's name chosen when rekey fleet start starts " +
        "it: the operator's policy writes and reads that one file per fleet (rekey fleet start, status, stop) and " +
        "nothing else under fleets/; the fleet machine's Distributed Map reads it as its items.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.fleetResults}`),
      scopes: [fleet],
      reason:
        "The fleet's Distributed Map writes its Map Run's results under fleets/<fleet>/results/, named by Map Run " +
        "id; nothing else of the work bucket can be written by the fleet machine.",
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
      scopes: [step(S.sliceInventory), step(S.writeManifests), operatorPolicy],
      reason:
        "Athena names each query's result files by its query execution id (athena-results/<id>.csv), known only " +
        "once the query starts; the workgroup enforces that prefix of the stack's own work bucket. The slices read " +
        "the files the athena engine's UNLOAD wrote there; rekey scan counts large inventories with Athena, with the " +
        "operator's credentials.",
    },
    {
      id: iam5(`arn:${partition}:glue:${stack.region}:${stack.account}:table/${athena.databaseName}/*`),
      scopes: [step(S.sliceInventory), operatorPolicy],
      reason:
        "The athena engine (and rekey scan's count, for the operator) creates its inventory tables under names " +
        "chosen at run time from the inventory read, in the stack's own Glue database; the grant reads and creates " +
        "tables of that database only.",
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
      scopes: [batchRole, operatorPolicy],
      reason:
        "Batch Operations reads the copy manifests a run writes under plans/<bucket>/<delivery>/manifests/; rekey " +
        "evidence records their ETags (HeadObject, which S3 authorizes as s3:GetObject), read-only.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.planFiles}`),
      scopes: [operatorPolicy],
      reason:
        "rekey evidence reads a run's plan, plans/<bucket>/<delivery>/plan.json (the counts before the run), the " +
        "delivery known only at run time; read-only, that file of each plan.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.largeObjectLists}`),
      scopes: [operatorPolicy],
      reason:
        "rekey evidence records the ETag of a plan's list of objects over 5 GiB, plans/<bucket>/<delivery>/" +
        "large-objects.jsonl, the delivery known only at run time; read-only, that file of each plan.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.reportManifests}`),
      scopes: [operatorPolicy],
      reason:
        "rekey evidence reads each job's completion report manifest, plans/<bucket>/<delivery>/batch-reports/" +
        "job-<id>/manifest.json, named by Batch Operations' job id; read-only, not the result files.",
    },
    {
      id: iam5(`${workBucketArn}/${WorkBucketPrefixes.evidence}`),
      scopes: [operatorPolicy],
      reason:
        "rekey evidence writes a run's bundle under runs/<bucket>/<execution>/evidence/, the execution known only " +
        "at run time, and replaces an earlier bundle there (PutObject, DeleteObject); nothing else of a run.",
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
