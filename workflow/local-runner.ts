import "./node20-polyfill.ts";
import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import { FunctionPlaceholders, type TaskStateName } from "../contract/states.ts";
import type { RunnableStep, StepDeps } from "../steps/runtime/step.ts";
import { rekeyDefinitionJson, substitute } from "./definition.ts";

/** One entry of the engine's event log (the library does not export the type). */
export type EventLog = ReturnType<StateMachine["run"]>["eventLogs"] extends AsyncGenerator<infer E> ? E : never;

export type StepRegistry = Record<TaskStateName, RunnableStep>;

export interface LocalExecution {
  executionArn: string;
  name: string;
  /** Resolves when the execution ends; never rejects. */
  result: Promise<LocalExecutionResult>;
  /** Stops the execution as StopExecution would. */
  abort(): void;
}

export type LocalExecutionResult =
  | { status: "SUCCEEDED"; output: unknown }
  | { status: "FAILED"; error: string; cause: string }
  | { status: "ABORTED" };

/** The function ARNs the local engine sees; they only have to be well-formed and distinct. */
export function localFunctionArns(region: string, accountId: string): Record<string, string> {
  return Object.fromEntries(
    Object.values(FunctionPlaceholders).map((placeholder) => [
      placeholder,
      `arn:aws:lambda:${region}:${accountId}:function:rekey-${placeholder.replace(/FunctionArn$/, "")}`,
    ]),
  );
}

/**
 * Runs the same definition infra/ deploys, with aws-local-stepfunctions, calling each step's code in-process
 * where AWS would invoke its Lambda function.
 */
export function startLocalExecution(params: {
  steps: StepRegistry;
  deps: StepDeps;
  input: unknown;
  name: string;
  stateMachineArn: string;
  onEvent?: (event: EventLog) => void;
  /** Milliseconds per Wait state name, for tests that must not sleep. */
  waitTimeOverrides?: Record<string, number>;
}): LocalExecution {
  const [, , , region = "", accountId = ""] = params.stateMachineArn.split(":");
  const definition = JSON.parse(
    substitute(rekeyDefinitionJson(), localFunctionArns(region, accountId)),
  ) as StateMachineDefinition;
  const machine = new StateMachine(definition, { validationOptions: { checkPaths: true, checkArn: true } });
  const executionArn = `${params.stateMachineArn.replace(":stateMachine:", ":execution:")}:${params.name}`;
  const handlers = Object.fromEntries(
    Object.entries(params.steps).map(([state, step]) => [
      state,
      async (input: unknown) => (await step.invoke(input, params.deps)) as never,
    ]),
  );
  const execution = machine.run(params.input as never, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: params.waitTimeOverrides },
    context: {
      Execution: {
        Id: executionArn,
        Name: params.name,
        StartTime: new Date().toISOString(),
        Input: params.input as never,
      },
      StateMachine: { Id: params.stateMachineArn, Name: params.stateMachineArn.split(":").pop() },
    },
    noThrowOnAbort: true,
  });

  let aborted = false;
  const events = (async () => {
    for await (const event of execution.eventLogs) params.onEvent?.(event);
  })();

  const result = (async (): Promise<LocalExecutionResult> => {
    let outcome: LocalExecutionResult;
    try {
      const output = await execution.result;
      outcome = output === null && aborted ? { status: "ABORTED" } : { status: "SUCCEEDED", output };
    } catch (err) {
      outcome = failureOf(err);
    }
    await events.catch(() => undefined);
    return outcome;
  })();

  return {
    executionArn,
    name: params.name,
    result,
    abort() {
      aborted = true;
      execution.abort();
    },
  };
}

/** aws-local-stepfunctions reports a failed execution as an ExecutionError whose cause is the Fail state's error. */
function failureOf(err: unknown): LocalExecutionResult {
  const e = err as { message?: string; cause?: { name?: string; message?: string } };
  const error = e.cause?.name ?? "States.Runtime";
  const cause = e.cause?.message ?? e.message ?? String(err);
  return { status: "FAILED", error, cause };
}
