import { Arn, ArnFormat } from "aws-cdk-lib";
import { ManagedPolicy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import type { Construct } from "constructs";
import type { RekeyTargets } from "../targets.ts";
import { executionsOf, PREFLIGHT_BUCKET_READS } from "./step-permissions.ts";
import { type WorkBucket, WorkBucketPrefixes } from "./work-bucket.ts";

export interface OperatorPolicyProps {
  targets: RekeyTargets;
  workBucket: WorkBucket;
  stateMachine: StateMachine;
  /** The function of the state machine's "Validate input" state, whose environment holds the deployment's settings. */
  settingsFunction: IFunction;
}

/**
 * What an operator needs to run rekey against this stack, and nothing more: the calls of the `rekey` CLI's run
 * commands (cli/commands/), the read-only checks `rekey start` makes before it starts a run (the deployment's
 * settings, then the bucket and key configurations the run's own first steps read), and reading a run's report,
 * summary and lists from the work bucket (`rekey report`, runbooks/change-window.md).
 * test/infra/operator-policy.test.ts checks the CLI's calls against it. The stack attaches it to no one: the
 * operators' role or group gets it (runbooks/deploy.md, step 7). It grants no write to the buckets and no use of
 * the keys: every change is made by the stack's own roles.
 */
export class OperatorPolicy extends ManagedPolicy {
  constructor(scope: Construct, id: string, props: OperatorPolicyProps) {
    super(scope, id, { description: "rekey: start, watch, approve and stop runs of this stack's state machine" });
    const { targets, workBucket, stateMachine, settingsFunction } = props;
    const allow = (sid: string, actions: string[], resources: string[]) =>
      this.addStatements(new PolicyStatement({ sid, actions, resources }));
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

    // rekey report: a run's report, summary and failed list (runs/<bucket>/<execution>/…) and its plan's skipped list
    // (plans/<bucket>/<delivery>/skipped.csv), not the plans' manifests; the work bucket is SSE-S3, so no KMS
    // permission.
    allow(
      "ReadRunReports",
      ["s3:GetObject"],
      [workBucket.runObjects, workBucket.arnForObjects(WorkBucketPrefixes.skippedLists)],
    );
    allow("ListWorkBucket", ["s3:ListBucket"], [workBucket.bucketArn]);

    // rekey scan judges every bucket of the account, not only the configured ones: it lists them (ListBuckets has
    // no resource type), then reads each one's configuration as preflight does, its tags (--tag), its inventory
    // configurations, and whether it holds any version (ListObjectVersions of one key: that key's name is the only
    // thing it reads of the data). Configuration reads only; no object is read or written.
    allow("ListAccountBuckets", ["s3:ListAllMyBuckets"], ["*"]);
    // And how much each holds, from S3's daily storage metrics; GetMetricData has no resource type
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
    allow("ReadStorageMetrics", ["cloudwatch:GetMetricData"], ["*"]);
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
  }
}
