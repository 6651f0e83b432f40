import { Arn, ArnFormat } from "aws-cdk-lib";
import { ManagedPolicy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import type { Construct } from "constructs";
import type { RekeyTargets } from "../targets.ts";
import type { AthenaWorkGroup } from "./athena-workgroup.ts";
import {
  accountPrincipals,
  executionsOf,
  PREFLIGHT_BUCKET_READS,
  PREFLIGHT_KEY_STORE_READS,
  PREFLIGHT_PRINCIPAL_LISTS,
} from "./step-permissions.ts";
import { type WorkBucket, WorkBucketPrefixes } from "./work-bucket.ts";

export interface OperatorPolicyProps {
  targets: RekeyTargets;
  workBucket: WorkBucket;
  stateMachine: StateMachine;
  /** The fleet state machine (infra/constructs/fleet-state-machine.ts), for `rekey fleet`. */
  fleetStateMachine: StateMachine;
  /** The function of the state machine's "Validate input" state, whose environment holds the deployment's settings. */
  settingsFunction: IFunction;
  /** The athena engine's workgroup and database, where `rekey scan` counts large inventories. */
  athena: AthenaWorkGroup;
}

/**
 * What an operator needs to run rekey against this stack, and nothing more: the calls of the `rekey` CLI's run
 * commands (cli/commands/), the read-only checks `rekey start` makes before it starts a run (the deployment's
 * settings, then the bucket and key configurations the run's own first steps read), and reading a run's report,
 * summary and lists from the work bucket (`rekey report`, `rekey evidence`, runbooks/change-window.md).
 * test/infra/operator-policy.test.ts checks the CLI's calls against it. The stack attaches it to no one: the
 * operators' role or group gets it (runbooks/deploy.md, step 7). It writes only rekey's own files in the work bucket
 * (a fleet's buckets, a run's evidence bundle, rekey scan's Athena results) and grants no write to the configured
 * buckets and no use of the keys: every change to them is made by the stack's own roles. IAM counts at most 6,144
 * characters of a managed policy; test/infra/operator-policy.test.ts checks its size.
 */
export class OperatorPolicy extends ManagedPolicy {
  constructor(scope: Construct, id: string, props: OperatorPolicyProps) {
    super(scope, id, { description: "rekey: start, watch, approve and stop runs of this stack's state machine" });
    const { targets, workBucket, stateMachine, fleetStateMachine, settingsFunction, athena } = props;
    // Each grant's name is for this file only: Sids would take about 800 of the 6,144 characters IAM allows a managed
    // policy (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html), which the key ARNs need.
    const allow = (_name: string, actions: string[], resources: string[]) =>
      this.addStatements(new PolicyStatement({ actions, resources }));
    // A Map Run's ARN is mapRun:<machine>/<label>:<id>.
    const mapRuns = Arn.format(
      {
        service: "states",
        resource: "mapRun",
        resourceName: `${stateMachine.stateMachineName}/*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      stateMachine.stack,
    );

    // Without --state-machine, the CLI finds the machine by name (cli/aws.ts stateMachineArn). ListStateMachines has
    // no resource type: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
    allow("FindStateMachine", ["states:ListStateMachines"], ["*"]);
    // start (after checking no run holds the bucket), runs, status --bucket.
    allow("StartAndListRuns", ["states:StartExecution", "states:ListExecutions"], [stateMachine.stateMachineArn]);
    // status, runs, approve and stop read a run and its history; stop stops it. Only this machine's executions
    // (execution:<machine>:<name>), not the slices' child executions, which Step Functions stops with their run.
    allow(
      "ReadAndStopRuns",
      ["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"],
      [executionsOf(stateMachine)],
    );
    // status: how many slices of a Distributed Map are done.
    allow("ReadSliceProgress", ["states:DescribeMapRun"], [mapRuns]);

    // rekey fleet (cli/commands/fleet.ts): start writes the fleet's buckets to the work bucket (contract/fleet.ts
    // fleetKeys) and starts one execution of the fleet machine, under the first name of the day no fleet has
    // (DescribeExecution); status and stop find the latest fleet (ListExecutions) or the one named, read it and its
    // buckets file, and stop stops it. Each bucket's run is read and stopped as status and stop do above.
    allow(
      "StartAndListFleets",
      // DescribeStateMachine: without --state-machine, the CLI finds the run machine in the fleet machine's
      // definition (cli/aws.ts stateMachineArn).
      ["states:StartExecution", "states:ListExecutions", "states:DescribeStateMachine"],
      [fleetStateMachine.stateMachineArn],
    );
    allow("ReadAndStopFleets", ["states:DescribeExecution", "states:StopExecution"], [executionsOf(fleetStateMachine)]);
    allow(
      "WriteAndReadFleetBuckets",
      ["s3:PutObject", "s3:GetObject"],
      [workBucket.arnForObjects(WorkBucketPrefixes.fleetItems)],
    );

    // status and stop describe a run's Batch Operations jobs; approve confirms them (Ready), stop cancels them;
    // stop also finds a run's jobs by their description with ListJobs, which has no resource type. Job ids exist
    // only once a run creates them: this account's jobs in this region.
    allow("FindRunJobs", ["s3:ListJobs"], ["*"]);
    allow("ReadApproveAndCancelRunJobs", ["s3:DescribeJob", "s3:UpdateJobStatus"], [targets.jobs]);

    // rekey start checks a request as the run will (cli/deployment.ts): the deployment's settings from the
    // environment of the function "Validate input" invokes, found in the state machine's definition.
    allow("ReadDeployment", ["states:DescribeStateMachine"], [stateMachine.stateMachineArn]);
    allow("ReadDeploymentSettings", ["lambda:GetFunctionConfiguration"], [settingsFunction.functionArn]);
    // Then the checks themselves, each a read of one configuration (steps/aws/run-request-checks.ts,
    // steps/aws/preflight-reads.ts): the buckets' (ScanAccountBuckets below, which covers every bucket) and the
    // keys'. sts:GetCallerIdentity needs no permission.
    allow("CheckKeysBeforeStart", ["kms:DescribeKey", "kms:GetKeyPolicy"], targets.keys);
    // And preflight's reads beyond the bucket and the key: the key's custom key store, if any, and who reads the
    // bucket (the account's roles and users listed, each one's policies simulated; all read-only).
    // DescribeCustomKeyStores, ListRoles and ListUsers cover the whole account.
    allow("CheckKeyStoreBeforeStart", [...PREFLIGHT_KEY_STORE_READS], ["*"]);
    allow("ListReadersBeforeStart", [...PREFLIGHT_PRINCIPAL_LISTS], ["*"]);
    allow("SimulateReadersBeforeStart", ["iam:SimulatePrincipalPolicy"], accountPrincipals(this));

    // rekey report: a run's report, summary and failed list (runs/<bucket>/<execution>/…) and its plan's skipped list
    // (plans/<bucket>/<delivery>/skipped.csv). rekey evidence (cli/evidence-bundle.ts) reads the same, the plan
    // (plan.json: the counts before) and its jobs' completion report manifests, and records the ETags of the plan's
    // manifests and large-object list: S3 authorizes HeadObject as s3:GetObject, so those are readable too. Not the
    // jobs' result files or the planning's working files. The work bucket is SSE-S3, so no KMS permission.
    allow(
      "ReadRunFiles",
      ["s3:GetObject"],
      [
        workBucket.runObjects,
        ...[
          WorkBucketPrefixes.skippedLists,
          WorkBucketPrefixes.planFiles,
          WorkBucketPrefixes.reportManifests,
          WorkBucketPrefixes.manifests,
          WorkBucketPrefixes.largeObjectLists,
        ].map((p) => workBucket.arnForObjects(p)),
      ],
    );
    allow("ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);
    // rekey evidence writes its bundle under the run's evidence/ folder (cli/evidence-write.ts), replacing an earlier
    // bundle there; nothing else of a run.
    allow(
      "WriteRunEvidence",
      ["s3:PutObject", "s3:DeleteObject"],
      [workBucket.arnForObjects(WorkBucketPrefixes.evidence)],
    );

    // rekey scan judges every bucket of the account, not only the configured ones: it lists them (ListBuckets has
    // no resource type), then reads each one's configuration as preflight does, its tags (--tag), its inventory
    // configurations, and whether it holds any version (ListObjectVersions of one key: that key's name is the only
    // thing it reads of the data). Configuration reads only; no object of those buckets is read or written.
    allow("ListAccountBuckets", ["s3:ListAllMyBuckets"], ["*"]);
    allow(
      "ScanAccountBuckets",
      [
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:GetBucketTagging",
        "s3:GetInventoryConfiguration",
        ...PREFLIGHT_BUCKET_READS,
      ],
      [`arn:${stateMachine.stack.partition}:s3:::*`],
    );
    // And how much each holds, from S3's daily storage metrics; GetMetricData has no resource type
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
    allow("ReadStorageMetrics", ["cloudwatch:GetMetricData"], ["*"]);
    // And what AWS Config's rule s3-default-encryption-kms says of each bucket (steps/aws/config-compliance.ts),
    // read-only; on every rule, as a rule's ARN holds an id AWS Config chooses.
    allow("ReadConfigCompliance", ["config:DescribeConfigRules", "config:GetComplianceDetailsByConfigRule"], ["*"]);
    // And how many objects need work, from the latest delivery of an inventory a run can use
    // (steps/aws/inventory-counts.ts): rekey reads inventories only from the work bucket's inventory/ prefix
    // (runbooks/deploy.md), listed with ScanAccountBuckets' s3:ListBucket; a delivery elsewhere stays "unknown".
    // Large ones are counted by Athena in the stack's workgroup, as "Slice the inventory" does
    // (infra/constructs/step-permissions.ts): with the caller's credentials, Athena reads the Data Catalog, creates
    // the delivery's table in the stack's database, reads the delivery and writes its results under athena-results/.
    // Not s3:GetObject on the scanned buckets' objects: the HeadObject calls that would tell an SSE-KMS object's key
    // are refused, and those objects stay "unknown".
    allow("ReadInventoryDeliveries", ["s3:GetObject"], [workBucket.inventoryObjects]);
    allow(
      "CountInventories",
      ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"],
      [athena.workGroupArn],
    );
    allow("ReadDatabases", ["glue:GetDatabase"], [athena.catalogArn, athena.databaseArn, athena.defaultDatabaseArn]);
    allow("CreateDefaultDatabase", ["glue:CreateDatabase"], [athena.catalogArn, athena.defaultDatabaseArn]);
    allow(
      "ReadAndCreateInventoryTables",
      ["glue:GetTable", "glue:CreateTable"],
      [athena.catalogArn, athena.databaseArn, athena.tablesArn],
    );
    allow(
      "WriteAndReadCountResults",
      ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      [workBucket.athenaResultObjects],
    );
    allow("LocateWorkBucket", ["s3:GetBucketLocation"], [workBucket.bucketArn]);
  }
}
