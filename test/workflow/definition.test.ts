import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import { describe, expect, it } from "vitest";
import { FunctionPlaceholders, StateNames } from "../../contract/states.ts";
import { sandboxFunctionArns } from "../../local/deploy.ts";
import { STEP_FUNCTIONS } from "../../steps/runtime/functions.ts";
import * as handlers from "../../steps/runtime/lambda-handlers.ts";
import {
  RUNTIME_FAILURE_ERRORS,
  rekeyDefinition,
  rekeyDefinitionJson,
  substitute,
  TRANSIENT_ERRORS,
} from "../../workflow/definition.ts";

type State = Record<string, unknown> & { Type: string };
const states = rekeyDefinition().States as unknown as Record<string, State>;
const tasks = Object.entries(states).filter(([, s]) => s.Type === "Task");

describe("the rekey state machine definition", () => {
  it("is a valid ASL definition once its placeholders are substituted", () => {
    const json = substitute(
      rekeyDefinitionJson(),
      sandboxFunctionArns({ region: "us-east-1", accountId: "123456789012" }),
    );
    expect(
      () =>
        new StateMachine(JSON.parse(json) as StateMachineDefinition, {
          validationOptions: { checkArn: true, checkPaths: true },
        }),
    ).not.toThrow();
  });

  it("uses JSONPath only: no JSONata, no variables (the local engine ignores both)", () => {
    const json = rekeyDefinitionJson();
    expect(json).not.toMatch(/"QueryLanguage"|"Assign"|"Arguments"|\{%/);
  });

  it("gives every Task state a function placeholder, a timeout, named transient and runtime-failure retries and a catch into Record failure", () => {
    expect(tasks.map(([name]) => name).sort()).toEqual(Object.keys(FunctionPlaceholders).sort());
    for (const [name, state] of tasks) {
      expect(state.Resource, name).toBe(`\${${FunctionPlaceholders[name as keyof typeof FunctionPlaceholders]}}`);
      expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
      const retry = state.Retry as { ErrorEquals: string[]; MaxAttempts: number }[];
      expect(
        retry.map((r) => r.ErrorEquals),
        name,
      ).toEqual([[...TRANSIENT_ERRORS], [...RUNTIME_FAILURE_ERRORS]]);
      // A crashed step is run again, but only a few times: one that crashes every time still ends the run.
      expect(retry[1]?.MaxAttempts, name).toBe(2);
      if (name === StateNames.recordFailure) expect(state.Catch, name).toBeUndefined();
      else
        expect(state.Catch, name).toEqual([
          { ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: StateNames.recordFailure },
        ]);
    }
  });

  it("never retries on States.ALL", () => {
    expect(rekeyDefinitionJson()).not.toMatch(/"Retry":[^\]]*States\.ALL/s);
  });

  it("links only to states that exist, and reaches every state from the start", () => {
    const def = rekeyDefinition();
    const targets = (s: State) =>
      [
        s.Next,
        s.Default,
        ...((s.Choices as { Next: string }[] | undefined) ?? []).map((c) => c.Next),
        ...((s.Catch as { Next: string }[] | undefined) ?? []).map((c) => c.Next),
      ].filter((t): t is string => typeof t === "string");
    const seen = new Set<string>();
    const queue = [def.StartAt as string];
    while (queue.length) {
      const name = queue.shift() ?? "";
      if (seen.has(name)) continue;
      expect(states[name], `state ${name}`).toBeDefined();
      seen.add(name);
      queue.push(...targets(states[name] as State));
    }
    expect([...seen].sort()).toEqual(Object.keys(states).sort());
  });

  it("names states for operators: questions for choices", () => {
    for (const [name, s] of Object.entries(states)) {
      if (s.Type === "Choice") expect(name.endsWith("?"), name).toBe(true);
      expect(typeof s.Comment, `${name} has a comment`).toBe("string");
    }
  });

  it("has a step for every Task state, and nothing else", () => {
    expect(Object.keys(STEP_FUNCTIONS).sort()).toEqual(tasks.map(([name]) => name).sort());
    for (const [name, spec] of Object.entries(STEP_FUNCTIONS)) {
      const handler = (handlers as Record<string, unknown>)[spec.handler] as { state?: string } | undefined;
      expect(handler?.state, spec.handler).toBe(name);
    }
  });

  it("refuses to substitute a placeholder it has no value for", () => {
    expect(() => substitute(rekeyDefinitionJson(), {})).toThrow(/No substitution for \$\{ValidateInputFunctionArn\}/);
  });

  it("matches the reviewed definition (update with vitest -u after reviewing the change)", async () => {
    await expect(rekeyDefinitionJson()).toMatchFileSnapshot("../../workflow/__snapshots__/rekey.asl.json");
  });
});
