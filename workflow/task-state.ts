import { ErrorNames } from "../contract/errors.ts";
import { FunctionPlaceholders, StateNames, type TaskStateName } from "../contract/states.ts";

/**
 * Errors worth retrying: Lambda's own transient failures and the steps' TransientAwsError (throttling, 5xx that
 * outlived the SDK's retries), and a crashed step (RUNTIME_FAILURE_ERRORS). Everything else is caught into
 * "Record failure" and ends the run.
 */
export const TRANSIENT_ERRORS = [
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
  ErrorNames.TransientAws,
] as const;

/**
 * A step whose Lambda runtime failed (crashed, ran out of memory, timed out) rather than its handler throwing. Every
 * step is idempotent (a retry finds the jobs, records and lock an earlier attempt made), so whether it failed before
 * or after its side effect, running it again is safe; a few attempts, so a step that fails this way every time still
 * ends the run. Step Functions' name for such a failure is not settled, so the list holds each:
 * - `Lambda.Unknown`: what the Step Functions guide says unhandled errors, out-of-memory errors and function timeouts
 *   are reported as (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html);
 * - `Runtime.ExitError`: the errorType Lambda answers for a runtime process that exited (a crash, out of memory);
 * - `Sandbox.Timedout`: the errorType Lambda answers for a function timeout
 *   (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html).
 * The sandbox plays either naming (sandbox/ASSUMPTIONS.md, switch `runtimeFailureError`).
 */
export const RUNTIME_FAILURE_ERRORS = ["Lambda.Unknown", "Runtime.ExitError", "Sandbox.Timedout"] as const;

/** A Lambda invocation is capped at 15 minutes; the state waits no longer than that. */
const TASK_TIMEOUT_SECONDS = 900;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A Task state invoking the step of `name`, with the retries every step has and, unless `catchable` is false, a catch into Record failure. */
export function task(
  name: TaskStateName,
  comment: string,
  fields: { Parameters?: Json; ResultPath?: string | null; OutputPath?: string; Next?: string; catchable?: boolean },
): Record<string, Json> {
  const { catchable = true, ...rest } = fields;
  const state: Record<string, Json> = {
    Type: "Task",
    Comment: comment,
    Resource: `\${${FunctionPlaceholders[name]}}`,
    TimeoutSeconds: TASK_TIMEOUT_SECONDS,
    Retry: [
      {
        ErrorEquals: [...TRANSIENT_ERRORS],
        IntervalSeconds: 2,
        MaxAttempts: 5,
        BackoffRate: 2,
        MaxDelaySeconds: 60,
        JitterStrategy: "FULL",
      },
      {
        ErrorEquals: [...RUNTIME_FAILURE_ERRORS],
        IntervalSeconds: 2,
        MaxAttempts: 2,
        BackoffRate: 2,
        MaxDelaySeconds: 30,
        JitterStrategy: "FULL",
      },
    ],
  };
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) state[k] = v;
  if (catchable)
    state.Catch = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: StateNames.recordFailure }];
  return state;
}
