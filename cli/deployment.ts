import { GetFunctionConfigurationCommand } from "@aws-sdk/client-lambda";
import { DescribeStateMachineCommand } from "@aws-sdk/client-sfn";
import { StateNames } from "../contract/states.ts";
import type { AwsClients, ClientSettings } from "../steps/runtime/clients.ts";
import { createLambdaClient } from "../steps/runtime/clients.ts";
import type { StepConfig } from "../steps/runtime/step.ts";
import { stepConfigOf } from "../steps/runtime/step-config.ts";
import { UsageError } from "./errors.ts";

/**
 * The deployment's settings (work bucket, Batch Operations role, Athena) as its steps read them: from the environment
 * of the function the state machine's "Validate input" state invokes. `rekey start` checks a request against them
 * before it starts a run, so that its checks and the run's agree.
 */
export async function deploymentConfig(
  clients: Pick<AwsClients, "sfn">,
  settings: ClientSettings,
  stateMachineArn: string,
): Promise<StepConfig> {
  const { definition } = await clients.sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
  const states = (JSON.parse(definition ?? "{}") as { States?: Record<string, { Resource?: string }> }).States ?? {};
  const functionArn = states[StateNames.validateInput]?.Resource;
  if (!functionArn?.startsWith("arn:")) {
    throw new UsageError(
      `The state machine ${stateMachineArn} has no "${StateNames.validateInput}" state invoking a function: is it rekey's? Pass --state-machine with the ARN the rekey stack outputs.`,
    );
  }
  const lambda = await createLambdaClient(settings);
  try {
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionArn }));
    return stepConfigOf(config.Environment?.Variables ?? {});
  } finally {
    lambda.destroy();
  }
}
