import { Arn, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Policy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { FLEET_MACHINE_SUFFIX, RUN_STATE_MACHINE_PLACEHOLDER } from "../../contract/fleet.ts";
import { fleetDefinitionJson } from "../../workflow/fleet-definition.ts";
import { distributedMapStatements } from "./distributed-map-grants.ts";
import { executionsOf } from "./step-permissions.ts";
import { type WorkBucket, WorkBucketPrefixes } from "./work-bucket.ts";

/** The EventBridge rule Step Functions creates and manages in the account for its .sync tasks on executions. */
export const SYNC_EVENTS_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule";

export interface FleetStateMachineProps {
  /** The rekey state machine, whose runs the fleet starts. */
  runStateMachine: StateMachine;
  workBucket: WorkBucket;
  logRetention: RetentionDays;
}

/**
 * The fleet state machine (workflow/fleet-definition.ts): a Distributed Map whose child executions each start one
 * bucket's run of the rekey state machine and wait for it. Named `<stack>-fleet`, which `rekey fleet` looks for.
 */
export class FleetStateMachine extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: FleetStateMachineProps) {
    super(scope, id);
    const logs = new LogGroup(this, "Logs", { retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    const stack = Stack.of(this);
    const name = `${stack.stackName}${FLEET_MACHINE_SUFFIX}`;
    this.stateMachine = new StateMachine(this, "StateMachine", {
      stateMachineName: name,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(fleetDefinitionJson()),
      definitionSubstitutions: { [RUN_STATE_MACHINE_PLACEHOLDER]: props.runStateMachine.stateMachineArn },
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // The bucket runs it starts and waits for, as AWS documents startExecution.sync:2's permissions
    // (https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html, "Synchronous"): their executions
    // are named by rekey fleet start, hence execution:<run machine>:*; Step Functions learns that one ended from the
    // EventBridge rule it manages in the account for that, whose name AWS gives.
    const managedRule = Arn.format({ service: "events", resource: "rule", resourceName: SYNC_EVENTS_RULE }, stack);
    // A Policy of its own: the machine's ARN in its role's default policy would make each wait for the other.
    new Policy(this, "RunBucketsPolicy", {
      roles: [this.stateMachine.role],
      statements: [
        // "Run each bucket" is a Distributed Map, each bucket a child execution of this machine.
        ...distributedMapStatements(this.stateMachine),
        new PolicyStatement({
          sid: "StartBucketRuns",
          actions: ["states:StartExecution"],
          resources: [props.runStateMachine.stateMachineArn],
        }),
        new PolicyStatement({
          sid: "FollowBucketRuns",
          actions: ["states:DescribeExecution", "states:StopExecution"],
          resources: [executionsOf(props.runStateMachine)],
        }),
        new PolicyStatement({
          sid: "LearnWhenBucketRunsEnd",
          actions: ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
          resources: [managedRule],
        }),
        // The Map Run's items, the file rekey fleet start writes (ItemReader: GetObject), and its results, which Step
        // Functions writes by multipart upload (ResultWriter), after AWS's examples on the Distributed Map page
        // (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html). The work bucket is
        // SSE-S3: no KMS permission.
        new PolicyStatement({
          sid: "ReadFleetBuckets",
          actions: ["s3:GetObject"],
          resources: [props.workBucket.arnForObjects(WorkBucketPrefixes.fleetItems)],
        }),
        new PolicyStatement({
          sid: "WriteFleetResults",
          actions: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
          resources: [props.workBucket.arnForObjects(WorkBucketPrefixes.fleetResults)],
        }),
      ],
    });
  }
}
