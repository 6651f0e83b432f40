/**
 * rekey on AWS: one stack per account and region. The state machine is workflow/'s definition, deployed as is; each
 * Task state is one Lambda function running the same step code the sandbox runs; each function may make exactly the
 * AWS calls its step makes, on the buckets and keys the configuration names (infra/config.ts) and nothing wider.
 */
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import type { Alarm } from "aws-cdk-lib/aws-cloudwatch";
import { Policy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from "aws-cdk-lib/aws-stepfunctions";
import type { Construct } from "constructs";
import { FunctionPlaceholders, StateNames, type TaskStateName } from "../contract/states.ts";
import { stepEnvironment } from "../steps/runtime/functions.ts";
import { rekeyDefinitionJson } from "../workflow/definition.ts";
import type { RekeyConfig } from "./config.ts";
import { AthenaWorkGroup } from "./constructs/athena-workgroup.ts";
import { BatchOperationsRole } from "./constructs/batch-operations-role.ts";
import { RekeyDashboard } from "./constructs/dashboard.ts";
import { distributedMapStatements } from "./constructs/distributed-map-grants.ts";
import { EncryptionEnforcement, enforcementEnabled } from "./constructs/encryption-enforcement.ts";
import { addExecutionAlarms } from "./constructs/execution-alarms.ts";
import { FleetStateMachine } from "./constructs/fleet-state-machine.ts";
import { OperatorPolicy } from "./constructs/operator-policy.ts";
import { createStepFunctions, type StepFunction } from "./constructs/step-function.ts";
import { grantExecutionChecks, grantFailedSliceLookups, grantStepPermissions } from "./constructs/step-permissions.ts";
import { WorkBucket, WorkBucketPrefixes } from "./constructs/work-bucket.ts";
import { applyNagAcknowledgements, type NagAcknowledgement, planNagAcknowledgements } from "./nag-acknowledgements.ts";
import { rekeyTargets } from "./targets.ts";

export interface RekeyStackProps extends StackProps {
  config: RekeyConfig;
  /**
   * cdk-nag acknowledgements (by finding id) NOT to apply. Only for tests that prove each acknowledgement is needed:
   * a synth without one must fail.
   */
  omitNagAcknowledgements?: string[];
}

/**
 * The constructs are created in the stack's own scope, under the ids they were first deployed with: their logical
 * IDs, and the order of the template, depend on it.
 */
export class RekeyStack extends Stack {
  readonly workBucket: WorkBucket;
  readonly batchRole: BatchOperationsRole;
  readonly athena: AthenaWorkGroup;
  readonly stateMachine: StateMachine;
  /** The fleet state machine (workflow/fleet-definition.ts), which starts runs of the one above. */
  readonly fleet: FleetStateMachine;
  readonly operatorPolicy: OperatorPolicy;
  readonly steps: Record<TaskStateName, StepFunction>;
  readonly failedAlarm: Alarm;
  readonly timedOutAlarm: Alarm;
  readonly dashboard: RekeyDashboard;
  /** AWS Config's rules and remediation (RekeyConfig.enforcement); undefined when the configuration asks for none. */
  readonly enforcement: EncryptionEnforcement | undefined;
  readonly nagAcknowledgements: NagAcknowledgement[];

  constructor(scope: Construct, id: string, props: RekeyStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.logRetentionDays as RetentionDays;
    const targets = rekeyTargets(this, config);

    this.workBucket = new WorkBucket(this, "WorkBucket", {
      inventoriedBuckets: targets.buckets,
      runArtifactExpirationDays: config.runArtifactExpirationDays,
      inventoryExpirationDays: config.inventoryExpirationDays,
    });
    this.batchRole = new BatchOperationsRole(this, "BatchOperationsRole", { targets, workBucket: this.workBucket });
    this.athena = new AthenaWorkGroup(this, "Athena", {
      workBucket: this.workBucket,
      bytesScannedCutoffPerQuery: config.athenaBytesScannedCutoffPerQuery,
    });
    this.steps = createStepFunctions(this, {
      environment: stepEnvironment({
        batchRoleArn: this.batchRole.roleArn,
        workBucket: this.workBucket.bucketName,
        athena: { workGroup: this.athena.workGroupName, database: this.athena.databaseName },
      }),
      logRetention,
    });
    grantStepPermissions(this.steps, {
      targets,
      workBucket: this.workBucket,
      batchRole: this.batchRole,
      athena: this.athena,
    });
    this.stateMachine = this.createStateMachine(logRetention);
    grantExecutionChecks(this.steps, this.stateMachine);
    grantFailedSliceLookups(this.steps, this.stateMachine);
    this.fleet = new FleetStateMachine(this, "Fleet", {
      runStateMachine: this.stateMachine,
      workBucket: this.workBucket,
      logRetention,
    });
    const alarms = addExecutionAlarms(this, this.stateMachine, config.alarmTopicArn);
    this.failedAlarm = alarms.failed;
    this.timedOutAlarm = alarms.timedOut;
    this.operatorPolicy = new OperatorPolicy(this, "OperatorPolicy", {
      targets,
      workBucket: this.workBucket,
      stateMachine: this.stateMachine,
      fleetStateMachine: this.fleet.stateMachine,
      settingsFunction: this.steps[StateNames.validateInput].function,
      athena: this.athena,
    });
    this.dashboard = new RekeyDashboard(this, "Dashboard", {
      stateMachine: this.stateMachine,
      fleetStateMachine: this.fleet.stateMachine,
      steps: this.steps,
    });
    this.enforcement = enforcementEnabled(config.enforcement)
      ? new EncryptionEnforcement(this, "Enforcement", { ...config.enforcement, kmsKeyArns: config.kmsKeyArns })
      : undefined;

    new CfnOutput(this, "StateMachineArn", {
      value: this.stateMachine.stateMachineArn,
      description: "One execution per bucket run: rekey start (REKEY_STATE_MACHINE_ARN=<this>, or --state-machine)",
    });
    new CfnOutput(this, "FleetStateMachineArn", {
      value: this.fleet.stateMachine.stateMachineArn,
      description:
        "Many buckets' runs as one fleet: rekey fleet start (REKEY_FLEET_STATE_MACHINE_ARN=<this>, or --fleet-state-machine)",
    });
    new CfnOutput(this, "WorkBucketName", {
      value: this.workBucket.bucketName,
      description: "Manifests, reports and run summaries; point S3 Inventory here with prefix inventory",
    });
    new CfnOutput(this, "BatchOperationsRoleArn", {
      value: this.batchRole.roleArn,
      description: "The role S3 Batch Operations assumes for rekey's copy jobs",
    });
    new CfnOutput(this, "OperatorPolicyArn", {
      value: this.operatorPolicy.managedPolicyArn,
      description: "Attach to the role or group of the operators who run rekey (runbooks/deploy.md, step 7)",
    });
    new CfnOutput(this, "DashboardUrl", {
      value: this.dashboard.url,
      description: "The CloudWatch dashboard of rekey's runs, steps and KMS request rate",
    });

    this.nagAcknowledgements = planNagAcknowledgements({
      workBucket: this.workBucket,
      batchRole: this.batchRole,
      steps: this.steps,
      stateMachine: this.stateMachine,
      fleet: this.fleet,
      athena: this.athena,
      operatorPolicy: this.operatorPolicy,
      buckets: config.buckets,
    });
    applyNagAcknowledgements(this.nagAcknowledgements, props.omitNagAcknowledgements);
  }

  private createStateMachine(logRetention: RetentionDays): StateMachine {
    const logs = new LogGroup(this, "StateMachineLogs", {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const definitionSubstitutions = Object.fromEntries(
      (Object.keys(FunctionPlaceholders) as TaskStateName[]).map((state) => [
        FunctionPlaceholders[state],
        this.steps[state].function.functionArn,
      ]),
    );
    const stateMachine = new StateMachine(this, "StateMachine", {
      stateMachineType: StateMachineType.STANDARD,
      // workflow/'s JSON, character for character; the machine-level timeout is its TimeoutSeconds.
      definitionBody: DefinitionBody.fromString(rekeyDefinitionJson()),
      definitionSubstitutions,
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // The definition invokes the functions by unqualified ARN: exactly those, no versions or aliases.
    stateMachine.addToRolePolicy(
      new PolicyStatement({
        sid: "InvokeStepFunctions",
        actions: ["lambda:InvokeFunction"],
        resources: Object.values(this.steps).map((s) => s.function.functionArn),
      }),
    );
    this.grantDistributedMap(stateMachine);
    return stateMachine;
  }

  /**
   * "Plan each slice" and "Verify each slice" are Distributed Maps: Step Functions starts each slice as a child execution of this state
   * machine (infra/constructs/distributed-map-grants.ts), reads the slices from the work bucket and writes the Map
   * Run's results there (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html). A
   * Policy of its own, attached to the role: the state machine's ARN in the state machine role's default policy
   * would make each wait for the other.
   */
  private grantDistributedMap(stateMachine: StateMachine): void {
    const bucket = this.workBucket;
    new Policy(stateMachine, "DistributedMapPolicy", {
      roles: [stateMachine.role],
      statements: [
        ...distributedMapStatements(stateMachine),
        new PolicyStatement({
          sid: "ReadSlices",
          actions: ["s3:GetObject"],
          resources: [bucket.arnForObjects(WorkBucketPrefixes.planSliceItems)],
        }),
        new PolicyStatement({
          sid: "WriteSliceResults",
          actions: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
          resources: [bucket.arnForObjects(WorkBucketPrefixes.planSliceResults)],
        }),
        // "Verify each slice" likewise, under the run's prefix.
        new PolicyStatement({
          sid: "ReadReportSlices",
          actions: ["s3:GetObject"],
          resources: [bucket.arnForObjects(WorkBucketPrefixes.verifySliceItems)],
        }),
        new PolicyStatement({
          sid: "WriteReportSliceResults",
          actions: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
          resources: [bucket.arnForObjects(WorkBucketPrefixes.verifySliceResults)],
        }),
      ],
    });
  }
}
