import { Duration } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Topic } from "aws-cdk-lib/aws-sns";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import type { Construct } from "constructs";

export interface ExecutionAlarms {
  failed: Alarm;
  timedOut: Alarm;
}

/**
 * An alarm for every execution that fails or times out, notifying the configured SNS topic if there is one (the
 * topic is the operator's, imported by ARN, not created here). The alarms are added to `scope` itself, not to a
 * construct of their own, so that their logical IDs stay `ExecutionsFailedAlarm…` and `ExecutionsTimedOutAlarm…`
 * as deployed.
 */
export function addExecutionAlarms(
  scope: Construct,
  stateMachine: StateMachine,
  alarmTopicArn: string | undefined,
): ExecutionAlarms {
  const alarmTopic = alarmTopicArn ? Topic.fromTopicArn(scope, "AlarmTopic", alarmTopicArn) : undefined;
  const alarmOn = (id: string, metric: IMetric, what: string) => {
    const alarm = new Alarm(scope, id, {
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
  return {
    failed: alarmOn(
      "ExecutionsFailedAlarm",
      stateMachine.metricFailed({ period, statistic: "Sum" }),
      "a run failed (stopped, or finished with objects that were not re-encrypted)",
    ),
    timedOut: alarmOn(
      "ExecutionsTimedOutAlarm",
      stateMachine.metricTimedOut({ period, statistic: "Sum" }),
      "a run exceeded the state machine's timeout",
    ),
  };
}
