import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { UnexpectedResponseError } from "../contract/errors.ts";
import { executionArnOf } from "../contract/states.ts";

/** A state entered or exited, read from the execution's history: what the demo and tests follow a run by. */
export interface StateEvent {
  type: "StateEntered" | "StateExited";
  /** Epoch milliseconds. */
  timestamp: number;
  state: { name: string; type: string; input?: unknown; output?: unknown };
}

export type ExecutionResult =
  | { status: "SUCCEEDED"; output: unknown }
  | { status: "FAILED" | "TIMED_OUT"; error: string; cause: string }
  | { status: "ABORTED" };

export interface FollowedExecution {
  executionArn: string;
  name: string;
  /** Resolves when the execution ends; rejects only if Step Functions cannot be read. */
  result: Promise<ExecutionResult>;
  /** StopExecution. */
  abort(): Promise<void>;
}

const STATE_EVENT = /^(Task|Choice|Wait|Pass|Succeed|Fail|Map|Parallel)State(Entered|Exited)$/;
const CLOSING_EVENTS = new Set(["ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"]);

/**
 * Starts an execution through the Step Functions API and follows its history, as the console does: every state
 * entered or exited is reported once, in order, with its input or output parsed from JSON.
 */
export function startFollowedExecution(params: {
  sfn: SFNClient;
  stateMachineArn: string;
  name: string;
  input: unknown;
  onEvent?: (event: StateEvent) => void;
  /** How often the history is read. */
  pollMs?: number;
}): FollowedExecution {
  const { sfn } = params;
  const executionArn = executionArnOf(params.stateMachineArn, params.name);
  const started = sfn.send(
    new StartExecutionCommand({
      stateMachineArn: params.stateMachineArn,
      name: params.name,
      input: JSON.stringify(params.input),
    }),
  );
  const result = (async (): Promise<ExecutionResult> => {
    const { executionArn: arn = executionArn } = await started;
    let lastId = 0;
    for (;;) {
      const fresh = await eventsAfter(sfn, arn, lastId);
      for (const event of fresh) {
        lastId = event.id ?? lastId;
        const state = stateEventOf(event);
        if (state) params.onEvent?.(state);
      }
      if (fresh.some((e) => CLOSING_EVENTS.has(e.type ?? ""))) return outcome(sfn, arn);
      await new Promise((resolve) => setTimeout(resolve, params.pollMs ?? 100));
    }
  })();
  return {
    executionArn,
    name: params.name,
    result,
    async abort() {
      const { executionArn: arn = executionArn } = await started;
      await sfn.send(new StopExecutionCommand({ executionArn: arn }));
    },
  };
}

/** History events with an id above `lastId`, oldest first: read newest first until the known ones. */
async function eventsAfter(sfn: SFNClient, executionArn: string, lastId: number): Promise<HistoryEvent[]> {
  const fresh: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 1000, nextToken }),
    );
    for (const event of page.events ?? []) {
      if ((event.id ?? 0) <= lastId) return fresh.reverse();
      fresh.push(event);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return fresh.reverse();
}

function stateEventOf(event: HistoryEvent): StateEvent | undefined {
  const match = STATE_EVENT.exec(event.type ?? "");
  if (!match) return undefined;
  const [, type = "", phase] = match;
  const timestamp = event.timestamp?.getTime() ?? Date.now();
  if (phase === "Entered") {
    const details = event.stateEnteredEventDetails;
    return {
      type: "StateEntered",
      timestamp,
      state: { name: details?.name ?? "", type, input: parsed(details?.input) },
    };
  }
  const details = event.stateExitedEventDetails;
  return {
    type: "StateExited",
    timestamp,
    state: { name: details?.name ?? "", type, output: parsed(details?.output) },
  };
}

const parsed = (text: string | undefined): unknown => (text === undefined ? undefined : JSON.parse(text));

async function outcome(sfn: SFNClient, executionArn: string): Promise<ExecutionResult> {
  const e = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  switch (e.status) {
    case "SUCCEEDED":
      return { status: "SUCCEEDED", output: parsed(e.output) ?? null };
    case "ABORTED":
      return { status: "ABORTED" };
    case "FAILED":
    case "TIMED_OUT":
      return { status: e.status, error: e.error ?? "", cause: e.cause ?? "" };
    default:
      throw new UnexpectedResponseError(
        `Execution ${executionArn} closed its history but DescribeExecution says ${e.status}.`,
        { fix: "Step Functions answered inconsistently; read the execution again, or look at it in the console." },
      );
  }
}
