import { InvalidInputError } from "./errors.ts";
import { describeIssues } from "./request.ts";
import type { RunnableStep, Step, StepDeps } from "./step.ts";

/** Parses a step's input with its schema and runs it: what a Lambda handler does and what the local runner does. */
export async function invokeStep<I, O>(step: Step<I, O>, rawInput: unknown, deps: StepDeps): Promise<O> {
  const parsed = step.input.safeParse(rawInput);
  if (!parsed.success) {
    throw new InvalidInputError(`"${step.state}" received input it cannot use:\n${describeIssues(parsed.error)}`, {
      fix: "Correct the execution input (see `rekey start --help`) and start a new execution.",
    });
  }
  return step.run(parsed.data, deps);
}

export function runnable<I, O>(step: Step<I, O>): RunnableStep {
  return { state: step.state, invoke: (rawInput, deps) => invokeStep(step, rawInput, deps) };
}
