import { CreateStateMachineCommand, type SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";

/**
 * A RUNNING execution (it waits an hour) of a state machine of its own, for steps called outside a run that ask
 * whether their execution, or another, still runs (steps/aws/run-execution.ts).
 */
export async function runningExecution(
  sfn: SFNClient,
  name: string,
): Promise<{ executionArn: string; startDate: Date }> {
  const definition = { StartAt: "Hold", States: { Hold: { Type: "Wait", Seconds: 3600, End: true } } };
  const { stateMachineArn } = await sfn.send(
    new CreateStateMachineCommand({
      name: `holder-${name}`,
      definition: JSON.stringify(definition),
      roleArn: "arn:aws:iam::123456789012:role/sandbox-state-machine",
    }),
  );
  const { executionArn, startDate } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name }));
  if (!executionArn) throw new Error("StartExecution returned no executionArn");
  return { executionArn, startDate: startDate ?? new Date() };
}
