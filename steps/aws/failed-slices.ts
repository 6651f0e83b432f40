import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  type SFNClient,
} from "@aws-sdk/client-sfn";

/** What a Distributed Map reports when its child executions failed beyond the tolerated share. */
export const MAP_RUN_FAILED = "States.ExceedToleratedFailureThreshold";

/**
 * Why a Map Run of `executionArn` failed: its first failed child execution's error and cause (a slice's step error,
 * with its fix), which the Map state's own error does not carry. Undefined if no failed child is found.
 */
export async function firstFailedChild(
  sfn: SFNClient,
  executionArn: string,
): Promise<{ executionArn: string; error: string; cause: string } | undefined> {
  const runs = await sfn.send(new ListMapRunsCommand({ executionArn }));
  for (const run of runs.mapRuns ?? []) {
    const failed = await sfn.send(
      new ListExecutionsCommand({ mapRunArn: run.mapRunArn, statusFilter: "FAILED", maxResults: 1 }),
    );
    const child = failed.executions?.[0]?.executionArn;
    if (!child) continue;
    const described = await sfn.send(
      new DescribeExecutionCommand({ executionArn: child, includedData: "METADATA_ONLY" }),
    );
    return { executionArn: child, error: described.error ?? "States.Runtime", cause: described.cause ?? "" };
  }
  return undefined;
}
