import {
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListMapRunsCommand,
  type SFNClient,
} from "@aws-sdk/client-sfn";

/** Every event of an execution's history, oldest first, all pages. */
export async function executionHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/**
 * One of a run's Map Runs, the `index`th by start (a rekey run has two: planning's, then verification's), with its
 * child executions and their histories; `mapRuns` says how many the run had, `parent` is the run's own history.
 */
export async function mapRunOf(sfn: SFNClient, executionArn: string, index: number) {
  const runs = (await sfn.send(new ListMapRunsCommand({ executionArn }))).mapRuns ?? [];
  const byStart = [...runs].sort((a, b) => (a.startDate?.getTime() ?? 0) - (b.startDate?.getTime() ?? 0));
  const mapRunArn = byStart[index]?.mapRunArn ?? "";
  const mapRun = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
  const children = (await sfn.send(new ListExecutionsCommand({ mapRunArn }))).executions ?? [];
  const histories = await Promise.all(children.map((c) => executionHistory(sfn, c.executionArn ?? "")));
  return { mapRuns: runs.length, parent: await executionHistory(sfn, executionArn), mapRun, children, histories };
}

/** The Task state each Lambda failure in these histories happened in, in order: a crashed invocation's state. */
export function failedTaskStates(histories: readonly HistoryEvent[][]): string[] {
  const failures: string[] = [];
  for (const events of histories) {
    let state = "";
    for (const e of events) {
      if (e.type === "TaskStateEntered") state = e.stateEnteredEventDetails?.name ?? "";
      if (e.type === "LambdaFunctionFailed") failures.push(state);
    }
  }
  return failures;
}
