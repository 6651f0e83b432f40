/**
 * The CloudWatch dashboard of a rekey stack: its runs, its steps, the account's KMS request rate, and the copy jobs'
 * task counts as the steps log them. What AWS does not measure is said on the dashboard itself.
 */
import { Duration, Stack } from "aws-cdk-lib";
import {
  Dashboard,
  GraphWidget,
  type IMetric,
  LogQueryWidget,
  MathExpression,
  Metric,
  TextWidget,
} from "aws-cdk-lib/aws-cloudwatch";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { StateNames, type TaskStateName } from "../../contract/states.ts";
import type { StepFunction } from "./step-function.ts";

export interface RekeyDashboardProps {
  stateMachine: StateMachine;
  /** The fleet state machine (infra/constructs/fleet-state-machine.ts), whose executions start runs of the one above. */
  fleetStateMachine: StateMachine;
  steps: Record<TaskStateName, StepFunction>;
}

const PERIOD = Duration.minutes(5);
const WIDTH = 24;
const HALF = 12;
const THIRD = 8;

/**
 * The usage metric KMS publishes for its shared request quota of symmetric cryptographic operations (GenerateDataKey,
 * Decrypt, ReEncrypt, ...), account-wide in the region, counting the calls S3 makes on rekey's behalf
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Usage-Metrics.html,
 * https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html).
 */
export const KMS_SYMMETRIC_CALLS = {
  namespace: "AWS/Usage",
  metricName: "CallCount",
  dimensionsMap: { Service: "KMS", Type: "API", Resource: "CryptographicOperationsSymmetric", Class: "None" },
} as const;

/** What the steps log when "Check copy jobs" has read the jobs' progress (steps/handlers/check-copy-jobs.ts). */
export const COPY_JOBS_CHECKED_MESSAGE = "copy jobs checked";
/** What "Write final report" logs once a run's report is written (steps/handlers/write-final-report.ts). */
export const FINAL_REPORT_MESSAGE = "final report written";

export class RekeyDashboard extends Construct {
  readonly dashboard: Dashboard;
  /** The console URL of the dashboard (stack output DashboardUrl). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: RekeyDashboardProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { stateMachine, fleetStateMachine, steps } = props;
    const tasks = Object.entries(steps) as [TaskStateName, StepFunction][];
    const perStep = (metric: (step: StepFunction, state: TaskStateName) => IMetric) =>
      tasks.map(([state, step]) => metric(step, state));

    // Named as the stack, like its Athena workgroup: two stacks in one account and region do not collide.
    this.dashboard = new Dashboard(this, "Dashboard", {
      dashboardName: stack.stackName,
      defaultInterval: Duration.days(1),
    });
    this.url = `https://${stack.region}.console.aws.amazon.com/cloudwatch/home?region=${stack.region}#dashboards:name=${stack.stackName}`;

    this.dashboard.addWidgets(
      new TextWidget({
        width: WIDTH,
        height: 3,
        markdown: [
          "# rekey",
          "One execution per bucket run; a fleet (`rekey fleet start`) is one execution of the fleet state machine, " +
            "which starts many buckets' runs. A run's own record is its execution (`rekey status`) and its report in the " +
            "work bucket. Not on this dashboard, because AWS publishes no metric for them: S3 Batch Operations jobs " +
            "(their task counts below are what *Check copy jobs* logs), KMS throttling of S3's calls (it shows as " +
            "failed tasks in the completion reports, which rekey retries), and the time spent in Wait states " +
            "(waiting for an inventory or for the jobs; see the execution's history).",
        ].join("\n"),
      }),
    );

    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Bucket runs by state",
        width: THIRD,
        left: [
          stateMachine.metricStarted({ period: PERIOD, statistic: "Sum", label: "Started" }),
          stateMachine.metricSucceeded({ period: PERIOD, statistic: "Sum", label: "Succeeded" }),
          stateMachine.metricFailed({ period: PERIOD, statistic: "Sum", label: "Failed" }),
          stateMachine.metricAborted({ period: PERIOD, statistic: "Sum", label: "Aborted" }),
          stateMachine.metricTimedOut({ period: PERIOD, statistic: "Sum", label: "Timed out" }),
        ],
      }),
      // A fleet succeeds once every run it started has ended, however each ended (workflow/fleet-definition.ts
      // tolerates every failed item): failed is the fleet's own failure (its bucket list unreadable, its results
      // unwritable), aborted is rekey fleet stop. Its runs count on the left as well.
      new GraphWidget({
        title: "Fleets by state",
        width: THIRD,
        left: [
          fleetStateMachine.metricStarted({ period: PERIOD, statistic: "Sum", label: "Started" }),
          fleetStateMachine.metricSucceeded({ period: PERIOD, statistic: "Sum", label: "Succeeded" }),
          fleetStateMachine.metricFailed({ period: PERIOD, statistic: "Sum", label: "Failed" }),
          fleetStateMachine.metricAborted({ period: PERIOD, statistic: "Sum", label: "Aborted" }),
        ],
      }),
      new GraphWidget({
        title: "Bucket run time (ms), of runs that ended",
        width: THIRD,
        left: [
          stateMachine.metricTime({ period: PERIOD, statistic: "Maximum", label: "Longest" }),
          stateMachine.metricTime({ period: PERIOD, statistic: "Average", label: "Average" }),
        ],
      }),
    );

    this.dashboard.addWidgets(
      new LogQueryWidget({
        title: "Batch Operations tasks, as Check copy jobs last read them, per bucket",
        width: HALF,
        logGroupNames: [steps[StateNames.checkCopyJobs].logGroup.logGroupName],
        queryLines: [
          "fields @timestamp, bucket, total, succeeded, failed",
          `filter message = "${COPY_JOBS_CHECKED_MESSAGE}"`,
          "stats latest(total) as tasks, latest(succeeded) as tasksSucceeded, latest(failed) as tasksFailed, " +
            "max(@timestamp) as lastChecked by bucket",
        ],
      }),
      new LogQueryWidget({
        title: "Runs that wrote their final report",
        width: HALF,
        logGroupNames: [steps[StateNames.writeFinalReport].logGroup.logGroupName],
        queryLines: [
          "fields @timestamp, bucket, outcome, reportLocation",
          `filter message = "${FINAL_REPORT_MESSAGE}"`,
          "sort @timestamp desc",
          "limit 50",
        ],
      }),
    );

    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Time in each Task state (ms, scheduled to done, longest)",
        width: HALF,
        // AWS/States times a Task state that invokes a function by ARN, per function (LambdaFunctionTime, listed in
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/appinsights-metrics-step-functions.html).
        left: perStep(
          (step, state) =>
            new Metric({
              namespace: "AWS/States",
              metricName: "LambdaFunctionTime",
              dimensionsMap: { LambdaFunctionArn: step.function.functionArn },
              period: PERIOD,
              statistic: "Maximum",
              label: state,
            }),
        ),
      }),
      new GraphWidget({
        title: "Step function duration (ms, longest)",
        width: HALF,
        left: perStep((step, state) =>
          step.function.metricDuration({ period: PERIOD, statistic: "Maximum", label: state }),
        ),
      }),
    );

    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Step function errors",
        width: HALF,
        left: perStep((step, state) => step.function.metricErrors({ period: PERIOD, statistic: "Sum", label: state })),
      }),
      new GraphWidget({
        title: "Step function throttles",
        width: HALF,
        left: perStep((step, state) =>
          step.function.metricThrottles({ period: PERIOD, statistic: "Sum", label: state }),
        ),
      }),
    );

    const kmsCalls = new Metric({ ...KMS_SYMMETRIC_CALLS, period: Duration.minutes(1), statistic: "Sum" });
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "KMS symmetric cryptographic requests per second (account and region)",
        width: HALF,
        left: [
          new MathExpression({
            expression: "calls / PERIOD(calls)",
            usingMetrics: { calls: kmsCalls },
            period: Duration.minutes(1),
            label: "Requests per second",
          }),
        ],
      }),
      new TextWidget({
        width: HALF,
        height: 6,
        markdown: [
          "## KMS",
          "The `AWS/KMS` namespace has no throttling metric for keys in the standard key store (only for external " +
            "key stores). The rate on the left is the account's, shared by every caller in the region, against the " +
            'quota "Cryptographic operations (symmetric) request rate" (Service Quotas console). Throttled copies ' +
            "fail their Batch Operations task with a KMS or SlowDown error; rekey redrives them and lists what " +
            "remains in the run's failed.csv.",
        ].join("\n"),
      }),
    );
  }
}
