import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import { describe, expect, it } from "vitest";
import { FunctionPlaceholders, StateNames } from "../../contract/states.ts";
import { sandboxFunctionArns } from "../../local/deploy.ts";
import { STEP_FUNCTIONS } from "../../steps/runtime/functions.ts";
import * as handlers from "../../steps/runtime/lambda-handlers.ts";
import {
  PLANNING_CONCURRENCY,
  PLANNING_TIME_BUDGET_MS,
  rekeyDefinition,
  rekeyDefinitionJson,
  substitute,
  VERIFY_CONCURRENCY,
  VERIFY_SLICE_BYTES,
  VERIFY_TIME_BUDGET_MS,
} from "../../workflow/definition.ts";
import { RUNTIME_FAILURE_ERRORS, TRANSIENT_ERRORS } from "../../workflow/task-state.ts";

type State = Record<string, unknown> & { Type: string };
const states = rekeyDefinition().States as unknown as Record<string, State>;
/** The states a Map's ItemProcessor runs (each slice's child execution), by Map state. */
const processors = Object.fromEntries(
  Object.entries(states)
    .filter(([, s]) => s.Type === "Map")
    .map(([name, s]) => [name, s.ItemProcessor as { StartAt: string; States: Record<string, State> }]),
);
const nested = Object.values(processors).flatMap((p) => Object.entries(p.States));
/** Every Task state, the ones child executions run included (state names are unique machine-wide). */
const tasks = [...Object.entries(states), ...nested].filter(([, s]) => s.Type === "Task");
const inChild = new Set(nested.map(([name]) => name));

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
      // A child execution's failure fails the Map Run, whose own Catch goes to Record failure.
      if (name === StateNames.recordFailure || inChild.has(name)) expect(state.Catch, name).toBeUndefined();
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
    for (const [name, s] of [...Object.entries(states), ...nested]) {
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

  it("plans the slices in child executions of a Distributed Map: bounded, failing on any failed slice, results in the work bucket", () => {
    const map = states[StateNames.planSlices] as State & Record<string, unknown>;
    expect(map.ItemProcessor).toMatchObject({
      ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
      StartAt: StateNames.writeManifests,
    });
    expect(map.ItemReader).toEqual({
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "JSON" },
      Parameters: { "Bucket.$": "$.run.workBucket", "Key.$": "$.slicing.itemsKey" },
    });
    expect(map.ItemSelector).toMatchObject({ "slice.$": "$$.Map.Item.Value" });
    expect(map.MaxConcurrency).toBe(PLANNING_CONCURRENCY);
    expect(map.ToleratedFailurePercentage).toBe(0);
    expect(map.ResultWriter).toMatchObject({ Resource: "arn:aws:states:::s3:putObject" });
    // The Map's output is where the results were written, not the slices' outputs: the state stays small.
    expect(map.ResultPath).toBe("$.slicesPlanned");
    expect(map.Catch).toEqual([
      { ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: StateNames.recordFailure },
    ]);
    // Each slice continues across invocations in its own execution, then ends with the step's small result.
    const child = processors[StateNames.planSlices]?.States ?? {};
    expect(child[StateNames.isSliceDone]).toMatchObject({
      Choices: [{ Variable: "$.result.planning", IsPresent: true, Next: StateNames.writeManifests }],
      Default: StateNames.sliceDone,
    });
    expect(child[StateNames.sliceDone]).toMatchObject({ Type: "Succeed", OutputPath: "$.result" });
    expect(child[StateNames.writeManifests]?.Parameters).toMatchObject({ timeBudgetMs: PLANNING_TIME_BUDGET_MS });
  });

  it("verifies the completion reports in slices, in child executions of a Distributed Map, then combines them once", () => {
    expect(states[StateNames.sliceReports]).toMatchObject({
      Parameters: { "jobs.$": "$.jobs", sliceTargetBytes: VERIFY_SLICE_BYTES },
      ResultPath: "$.reportSlicing",
      Next: StateNames.verifySlices,
    });
    for (const before of [StateNames.noLargeObjects, StateNames.areLargeObjectsDone]) {
      expect(JSON.stringify(states[before])).toContain(`"${StateNames.sliceReports}"`);
      expect(JSON.stringify(states[before])).not.toContain(`"${StateNames.verifyResults}"`);
    }
    const map = states[StateNames.verifySlices] as State & Record<string, unknown>;
    expect(map.ItemProcessor).toMatchObject({
      ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
      StartAt: StateNames.readReports,
    });
    expect(map.ItemReader).toEqual({
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "JSON" },
      Parameters: { "Bucket.$": "$.run.workBucket", "Key.$": "$.reportSlicing.itemsKey" },
    });
    expect(map.ItemSelector).toEqual({
      "run.$": "$.run",
      "reportSlicing.$": "$.reportSlicing",
      "slice.$": "$$.Map.Item.Value",
    });
    expect(map.MaxConcurrency).toBe(VERIFY_CONCURRENCY);
    expect(map.ToleratedFailurePercentage).toBe(0);
    expect(map.ResultWriter).toEqual({
      Resource: "arn:aws:states:::s3:putObject",
      Parameters: { "Bucket.$": "$.run.workBucket", "Prefix.$": "$.reportSlicing.resultsPrefix" },
    });
    expect(map.ResultPath).toBe("$.slicesVerified");
    expect(map.Catch).toEqual([
      { ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: StateNames.recordFailure },
    ]);
    expect(map.Next).toBe(StateNames.verifyResults);
    const child = processors[StateNames.verifySlices]?.States ?? {};
    expect(Object.keys(child).sort()).toEqual(
      [StateNames.readReports, StateNames.isSliceVerified, StateNames.sliceVerified].sort(),
    );
    expect(child[StateNames.readReports]?.Parameters).toMatchObject({ timeBudgetMs: VERIFY_TIME_BUDGET_MS });
    expect(child[StateNames.isSliceVerified]).toMatchObject({
      Choices: [{ Variable: "$.result.verifying", IsPresent: true, Next: StateNames.readReports }],
      Default: StateNames.sliceVerified,
    });
    expect(child[StateNames.sliceVerified]).toMatchObject({ Type: "Succeed", OutputPath: "$.result" });
    // One combining invocation, no loop in the run's own history.
    expect(states[StateNames.verifyResults]).toMatchObject({
      Parameters: { "reportSlicing.$": "$.reportSlicing" },
      ResultPath: "$.verification",
      Next: StateNames.lookForNonCompliantObjects,
    });
    expect(rekeyDefinitionJson()).not.toContain("Are the results verified?");
  });

  it("refuses to substitute a placeholder it has no value for", () => {
    expect(() => substitute(rekeyDefinitionJson(), {})).toThrow(/No substitution for \$\{ValidateInputFunctionArn\}/);
  });

  it("matches the reviewed definition (update with vitest -u after reviewing the change)", async () => {
    await expect(rekeyDefinitionJson()).toMatchFileSnapshot("../../workflow/__snapshots__/rekey.asl.json");
  });
});
