import { Arn, ArnFormat, Stack } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";

/**
 * What the role of a state machine with a Distributed Map needs to run it, after AWS's example
 * (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html): start the Map Run's child
 * executions, which are executions of the machine itself; describe the machine's own executions; and follow and stop
 * the children, whose ARNs are execution:<machine>/<Map Run label>:<id>. Not states:RedriveExecution: rekey never
 * redrives an execution. The items the Map Runs read and the results they write in S3 are each caller's to grant.
 */
export function distributedMapStatements(stateMachine: StateMachine): PolicyStatement[] {
  const executions = (separator: ":" | "/") =>
    Arn.format(
      {
        service: "states",
        resource: "execution",
        resourceName: `${stateMachine.stateMachineName}${separator}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      Stack.of(stateMachine),
    );
  return [
    new PolicyStatement({
      sid: "StartChildExecutions",
      actions: ["states:StartExecution"],
      resources: [stateMachine.stateMachineArn],
    }),
    new PolicyStatement({
      sid: "DescribeOwnExecutions",
      actions: ["states:DescribeExecution"],
      resources: [executions(":")],
    }),
    new PolicyStatement({
      sid: "FollowChildExecutions",
      actions: ["states:DescribeExecution", "states:StopExecution"],
      resources: [executions("/")],
    }),
  ];
}
