import { randomUUID } from "node:crypto";
import type { Behaviours } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import { ServiceError } from "../http.ts";
import type { TaskStateDefinition } from "./engine.ts";
import { definedOnly, type ExecutionHistory, type TaskKind } from "./history.ts";
import { type ChildExecution, redriveOf } from "./map-runs.ts";
import {
  inputTooLarge,
  MAX_PAYLOAD_BYTES,
  outputTooLarge,
  payloadBytes,
  stateError,
  type TaskAttempt,
} from "./tasks.ts";

/**
 * Step Functions' integration with itself (https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html):
 * a Task state on `arn:aws:states:::states:startExecution` starts an execution of a state machine and continues
 * with StartExecution's answer; `...startExecution.sync` and `...startExecution.sync:2` then wait for it to close
 * (Run a Job, https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html) and continue with what
 * DescribeExecution says of it, its `Output` a JSON string (`.sync`) or JSON (`.sync:2`). What the sandbox does
 * where AWS does not say: sandbox/ASSUMPTIONS.md, "Nested executions".
 */

const RESOURCE = /^arn:aws[a-z-]*:states:::states:(startExecution(\.sync(:2)?)?)$/;

/** The error a `.sync` task fails with when the execution it waited for did not succeed. */
export const TASK_FAILED = "States.TaskFailed";

/** The Parameters StartExecution takes through this integration. */
const PARAMETERS = ["StateMachineArn", "Name", "Input"];

type Pattern = "request-response" | "sync" | "sync:2";

/** The integration a Task state's Resource names: `startExecution`, `.sync` or `.sync:2`; undefined for any other. */
export function startExecutionIntegration(resource: string): { resource: string; pattern: Pattern } | undefined {
  const m = RESOURCE.exec(resource);
  if (!m) return undefined;
  const pattern: Pattern = m[3] ? "sync:2" : m[2] ? "sync" : "request-response";
  return { resource: m[1] ?? "", pattern };
}

/** StartExecution as the sandbox's API answers it, for a Task state: the service gives it (service.ts). */
export interface NestedExecutions {
  /**
   * Starts an execution, or answers the running one of the same name and input (StartExecution is idempotent for
   * STANDARD workflows); throws the API's ServiceError (ExecutionAlreadyExists, StateMachineDoesNotExist, ...).
   */
  start(request: { stateMachineArn: string; name?: string; input: string }): ChildExecution;
}

/**
 * The cause of the StopExecution that stops a child when the Task managing it is aborted. AWS does not document
 * it; this is the text AWS is reported to give the jobs it stops so (sandbox/ASSUMPTIONS.md, "Nested executions").
 */
export const abortCause = (parentArn: string) =>
  `The Task state in AWS Step Functions execution [${parentArn}] which was managing this resource was aborted`;

/**
 * Runs one attempt of a `states:startExecution` Task state: starts the child execution, writes TaskScheduled,
 * TaskStarted, (for `.sync`) TaskSubmitted, then TaskSucceeded or TaskFailed, and returns the state's result or
 * throws the error its Retry and Catch see. When the attempt is aborted (its execution closed, its TimeoutSeconds
 * ran out) while it waits, the child is stopped as the `nestedExecutionOnAbort` switch says.
 */
export async function runStartExecutionTask(params: {
  stateName: string;
  state: TaskStateDefinition;
  input: unknown;
  /** The execution running the Task state, named in the cause of the child's stop. */
  parentArn: string;
  identity: SandboxIdentity;
  history: ExecutionHistory;
  executions: NestedExecutions;
  behaviours: Readonly<Pick<Behaviours, "nestedExecutionOnAbort">>;
  track: (stateName: string, task: TaskKind) => TaskAttempt;
}): Promise<unknown> {
  const { stateName, state, history } = params;
  const integration = startExecutionIntegration(state.Resource);
  if (!integration) throw new Error(`Not a states:startExecution resource: ${state.Resource}`);
  const task: TaskKind = { kind: "integration", resourceType: "states", resource: integration.resource };
  const request = requestOf(stateName, params.input);
  const parametersJson = JSON.stringify(params.input ?? null);
  if (payloadBytes(parametersJson) > MAX_PAYLOAD_BYTES) {
    throw stateError("States.DataLimitExceeded", inputTooLarge(stateName), true);
  }
  history.taskScheduled(task, {
    resource: state.Resource,
    input: parametersJson,
    region: params.identity.region,
    ...(typeof state.TimeoutSeconds === "number" ? { timeoutInSeconds: state.TimeoutSeconds } : {}),
  });
  history.taskStarted(task);
  const attempt = params.track(stateName, task);
  const succeed = (output: unknown) => {
    const outputJson = JSON.stringify(output);
    if (payloadBytes(outputJson) > MAX_PAYLOAD_BYTES) {
      history.taskSucceeded(task, undefined);
      throw stateError("States.DataLimitExceeded", outputTooLarge(stateName), true);
    }
    history.taskSucceeded(task, outputJson);
    return output;
  };
  try {
    const requestId = randomUUID();
    let child: ChildExecution;
    try {
      child = params.executions.start(request);
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      // An API error reaches the state as `StepFunctions.<exception>`, as the optimized integrations name them.
      const error = `StepFunctions.${err.code.endsWith("Exception") ? err.code : `${err.code}Exception`}`;
      const cause = `${err.message} (Service: AWSStepFunctions; Status Code: ${err.status}; Error Code: ${err.code}; Request ID: ${requestId}; Proxy: null)`;
      if (!attempt.abandoned()) history.taskFailed(task, error, cause);
      throw stateError(error, cause);
    }
    const answer = startAnswer(child, requestId);
    if (integration.pattern === "request-response") return succeed(answer);
    history.taskSubmitted(task, JSON.stringify(answer));
    const outcome = await new Promise<"closed" | "aborted">((resolve) => {
      child.onClosed(() => resolve("closed"));
      attempt.onAbort(() => {
        if (params.behaviours.nestedExecutionOnAbort === "Stopped") {
          void child.stop({ cause: abortCause(params.parentArn) });
        }
        resolve("aborted");
      });
    });
    if (outcome === "aborted" || attempt.abandoned()) return null;
    const record = executionRecord(child, integration.pattern === "sync:2");
    if (child.status === "SUCCEEDED") return succeed(record);
    // A child that failed, timed out or was aborted fails the task; its description is the cause.
    const cause = JSON.stringify(record);
    history.taskFailed(task, TASK_FAILED, cause);
    throw stateError(TASK_FAILED, cause);
  } finally {
    attempt.done();
  }
}

/** StartExecution's request from the state's effective Parameters; what it cannot be sent is a runtime error. */
function requestOf(stateName: string, parameters: unknown): Parameters<NestedExecutions["start"]>[0] {
  const invalid = (problem: string) =>
    stateError("States.Runtime", `The Parameters of state '${stateName}' ${problem}.`, true);
  if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
    throw invalid("must be an object giving states:startExecution a StateMachineArn");
  }
  const p = parameters as Record<string, unknown>;
  const other = Object.keys(p).find((k) => !PARAMETERS.includes(k));
  if (other !== undefined) {
    throw invalid(`give states:startExecution '${other}', which it does not take (only ${PARAMETERS.join(", ")})`);
  }
  if (typeof p.StateMachineArn !== "string") throw invalid("must give states:startExecution a StateMachineArn string");
  if (p.Name !== undefined && p.Name !== null && typeof p.Name !== "string") {
    throw invalid("must give states:startExecution a Name string, if any");
  }
  // StartExecution's input is a string: a string Input is sent as it is (JSON text, e.g. from States.JsonToString),
  // anything else as its JSON; none is `{}`.
  const input =
    p.Input === undefined || p.Input === null ? "{}" : typeof p.Input === "string" ? p.Input : JSON.stringify(p.Input);
  return { stateMachineArn: p.StateMachineArn, ...(typeof p.Name === "string" ? { name: p.Name } : {}), input };
}

/**
 * StartExecution's answer as the task's result (and TaskSubmitted's output): the response members in PascalCase,
 * StartDate in epoch milliseconds, with the SDK's HTTP metadata, as AWS's Java-based integrations return it.
 */
function startAnswer(child: ChildExecution, requestId: string): Record<string, unknown> {
  const body = JSON.stringify({ executionArn: child.executionArn, startDate: child.startDate / 1000 });
  const headers: Record<string, string> = {
    "Content-Length": String(Buffer.byteLength(body, "utf8")),
    "Content-Type": "application/x-amz-json-1.0",
    Date: new Date().toUTCString(),
    "x-amzn-RequestId": requestId,
  };
  return {
    ExecutionArn: child.executionArn,
    SdkHttpMetadata: {
      AllHttpHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      HttpHeaders: headers,
      HttpStatusCode: 200,
    },
    SdkResponseMetadata: { RequestId: requestId },
    StartDate: child.startDate,
  };
}

/**
 * DescribeExecution's answer for a closed child as a `.sync` task returns it: members in PascalCase and alphabetical
 * order, dates in epoch milliseconds, Input and Output as JSON strings, or (`.sync:2`) as the JSON they hold.
 */
export function executionRecord(child: ChildExecution, parsed: boolean): Record<string, unknown> {
  const payload = (text: string): unknown => (parsed ? JSON.parse(text) : text);
  return definedOnly({
    Cause: child.cause,
    Error: child.error,
    ExecutionArn: child.executionArn,
    Input: payload(child.input),
    InputDetails: { Included: true },
    Name: child.name,
    Output: child.output === undefined ? undefined : payload(child.output),
    OutputDetails: child.output === undefined ? undefined : { Included: true },
    ...redriveOf(child.status),
    StartDate: child.startDate,
    StateMachineArn: child.stateMachineArn,
    Status: child.status,
    StopDate: child.stopDate,
  });
}
