import type { Behaviours } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import { ServiceError } from "../http.ts";
import type { LambdaSandbox } from "../lambda/service.ts";
import type { TaskStateDefinition } from "./engine.ts";
import type { ExecutionHistory, TaskKind } from "./history.ts";

/**
 * Step Functions' payload quota: 256 KiB of UTF-8 for an execution's input and output and every state's and task's
 * input and output (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
 */
export const MAX_PAYLOAD_BYTES = 262_144;

export const payloadBytes = (json: string) => Buffer.byteLength(json, "utf8");

/** The cause AWS reports with States.DataLimitExceeded for a state's or task's output. */
export const outputTooLarge = (state: string) =>
  `The state/task '${state}' returned a result with a size exceeding the maximum number of bytes service limit.`;
/** The sandbox's cause for an input over the quota (AWS's text is not documented). */
export const inputTooLarge = (state: string) =>
  `The state/task '${state}' has an input with a size exceeding the maximum number of bytes service limit.`;

/**
 * An error the engine's Retry and Catch can match by name (`Error`), with `Cause` as its message. A terminal error
 * (States.DataLimitExceeded, States.Runtime) is neither retried nor caught, States.ALL included.
 */
export function stateError(name: string, cause: string, terminal = false): Error {
  const error = new Error(cause);
  error.name = name;
  if (terminal) Object.assign(error, { isRetryable: false, isCatchable: false });
  return error;
}

/** One attempt of a Task state, as its execution tracks it (executions.ts). */
export interface TaskAttempt {
  /** True once the attempt no longer counts: its TimeoutSeconds ran out, or its execution closed. */
  abandoned(): boolean;
  /** What to do if the attempt is abandoned while its resource still works (at once if it already is). */
  onAbort(abort: () => void): void;
  done(): void;
}

type Target = { task: TaskKind; functionName: string; payload: unknown };

const LAMBDA_INVOKE = /^arn:aws[a-z-]*:states:::lambda:invoke$/;
const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]+(:(\$LATEST|[a-zA-Z0-9_-]+))?$/;

/**
 * What a Task state's Resource asks of Lambda. `states:startExecution` is run by nested-executions.ts; anything else
 * is not emulated and fails the execution.
 */
function targetOf(state: string, resource: string, input: unknown): Target {
  if (FUNCTION_ARN.test(resource)) return { task: { kind: "function" }, functionName: resource, payload: input };
  if (LAMBDA_INVOKE.test(resource)) {
    const parameters = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    if (typeof parameters.FunctionName !== "string") {
      throw stateError(
        "States.Runtime",
        `The Parameters of state '${state}' must give lambda:invoke a FunctionName string.`,
        true,
      );
    }
    return {
      task: { kind: "integration", resourceType: "lambda", resource: "invoke" },
      functionName: parameters.FunctionName,
      payload: parameters.Payload ?? {},
    };
  }
  throw stateError(
    "States.Runtime",
    `The sandbox does not emulate the Task resource '${resource}' of state '${state}'; it runs Lambda functions and Step Functions executions only.`,
    true,
  );
}

/**
 * Runs one attempt of a Task state: invokes the Lambda function with the state's effective input, writes the
 * LambdaFunction* (or Task*) events, and returns the result the state continues with, or throws the error its
 * Retry and Catch see.
 */
export async function runTask(params: {
  stateName: string;
  state: TaskStateDefinition;
  input: unknown;
  lambda: LambdaSandbox;
  identity: SandboxIdentity;
  history: ExecutionHistory;
  /** The sandbox's switches, read when the attempt fails: `runtimeFailureError` names a runtime failure. */
  behaviours: Readonly<Pick<Behaviours, "runtimeFailureError">>;
  /** Registers the attempt, so that a TimeoutSeconds expiry can be recorded; returns whether it was abandoned. */
  track: (stateName: string, task: TaskKind) => TaskAttempt;
}): Promise<unknown> {
  const { stateName, state, history } = params;
  const target = targetOf(stateName, state.Resource, params.input);
  const inputJson = JSON.stringify(params.input ?? null);
  if (payloadBytes(inputJson) > MAX_PAYLOAD_BYTES) {
    throw stateError("States.DataLimitExceeded", inputTooLarge(stateName), true);
  }
  history.taskScheduled(target.task, {
    resource: state.Resource,
    input: inputJson,
    region: params.identity.region,
    ...(typeof state.TimeoutSeconds === "number" ? { timeoutInSeconds: state.TimeoutSeconds } : {}),
  });
  history.taskStarted(target.task);
  const attempt = params.track(stateName, target.task);
  try {
    let result: Awaited<ReturnType<LambdaSandbox["invoke"]>>;
    try {
      result = await params.lambda.invoke({
        functionName: target.functionName,
        payload: JSON.stringify(target.payload ?? null),
      });
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      // A Lambda API error reaches the state as `Lambda.<code>`, with the service's message as the cause.
      const error = `Lambda.${err.code}`;
      const cause = `${err.message} (Service: Lambda, Status Code: ${err.status}, Error Code: ${err.code})`;
      if (!attempt.abandoned()) history.taskFailed(target.task, error, cause);
      throw stateError(error, cause);
    }
    if (attempt.abandoned()) return null;
    if (result.functionError) {
      // The function's error document is the Cause; its errorType is the state's Error, unless the runtime failed.
      const error = stateErrorOf(result.payload, params.behaviours);
      history.taskFailed(target.task, error, result.payload);
      throw stateError(error, result.payload);
    }
    const output =
      target.task.kind === "function"
        ? JSON.parse(result.payload)
        : {
            ExecutedVersion: result.executedVersion,
            Payload: JSON.parse(result.payload),
            SdkHttpMetadata: {
              AllHttpHeaders: { "X-Amz-Executed-Version": [result.executedVersion] },
              HttpHeaders: { "X-Amz-Executed-Version": result.executedVersion },
              HttpStatusCode: 200,
            },
            SdkResponseMetadata: { RequestId: result.requestId },
            StatusCode: 200,
          };
    const outputJson = JSON.stringify(output);
    if (payloadBytes(outputJson) > MAX_PAYLOAD_BYTES) {
      history.taskSucceeded(target.task, undefined);
      throw stateError("States.DataLimitExceeded", outputTooLarge(stateName), true);
    }
    history.taskSucceeded(target.task, outputJson);
    return output;
  } finally {
    attempt.done();
  }
}

/**
 * The errorTypes the sandbox's Lambda answers when the function's runtime failed rather than its handler: the
 * runtime process exited (a crash, `process.exit`, out of memory on AWS) or the invocation timed out and the
 * environment was destroyed (sandbox/lambda/containers.ts; LAMBDA.md, "Invocation"). They are Lambda's own names:
 * a handler's error carrying one of them is taken for a runtime failure too.
 */
export const RUNTIME_FAILURE_ERROR_TYPES: readonly string[] = ["Runtime.ExitError", "Sandbox.Timedout"];

/**
 * A function error's state Error: the error document's errorType (`Lambda.Unknown` when it has none), except for a
 * runtime failure, which the `runtimeFailureError` switch names (sandbox/ASSUMPTIONS.md, "Switchable behaviours").
 */
export function stateErrorOf(payload: string, behaviours: Readonly<Pick<Behaviours, "runtimeFailureError">>): string {
  const errorType = errorTypeOf(payload);
  if (RUNTIME_FAILURE_ERROR_TYPES.includes(errorType) && behaviours.runtimeFailureError === "Lambda.Unknown") {
    return "Lambda.Unknown";
  }
  return errorType;
}

function errorTypeOf(payload: string): string {
  try {
    const parsed = JSON.parse(payload) as { errorType?: unknown };
    if (typeof parsed.errorType === "string" && parsed.errorType !== "") return parsed.errorType;
  } catch {
    // not a JSON error document
  }
  return "Lambda.Unknown";
}
