import { InvalidInputError, isRekeyError, TransientAwsError } from "../../contract/errors.ts";
import { describeIssues } from "../../contract/run-request.ts";
import type { RunnableStep, Step, StepDeps } from "./step.ts";

/** Parses a step's input with its schema and runs it: what a Lambda handler does and what the local runner does. */
export async function invokeStep<I, O>(step: Step<I, O>, rawInput: unknown, deps: StepDeps): Promise<O> {
  const parsed = step.input.safeParse(rawInput);
  if (!parsed.success) {
    throw new InvalidInputError(`"${step.state}" received input it cannot use:\n${describeIssues(parsed.error)}`, {
      fix: "Correct the execution input (see `rekey start --help`) and start a new execution.",
    });
  }
  try {
    return await step.run(parsed.data, deps);
  } catch (err) {
    if (!isRekeyError(err) && isTransient(err)) {
      const e = err as { name?: string; message?: string };
      throw new TransientAwsError(
        `"${step.state}" hit a passing AWS problem: ${e.name ?? "Error"}: ${e.message ?? String(err)}`,
        {
          fix: "Step Functions retries the step; if it keeps failing, check the service's health and your request quotas.",
          cause: err,
        },
      );
    }
    throw err;
  }
}

const THROTTLING_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "InternalError",
  "InternalServiceException",
  "ServiceUnavailable",
  "KMS.ThrottlingException",
]);
const NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ECONNABORTED"]);

/** Throttling, server-side (5xx) and connection errors; not access, validation or not-found errors. */
export function isTransient(err: unknown): boolean {
  const e = err as {
    name?: string;
    code?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  } | null;
  if (!e || typeof e !== "object") return false;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  return THROTTLING_NAMES.has(e.name ?? "") || NETWORK_CODES.has(e.code ?? "");
}

export function runnable<I, O>(step: Step<I, O>): RunnableStep {
  return { state: step.state, invoke: (rawInput, deps) => invokeStep(step, rawInput, deps) };
}
