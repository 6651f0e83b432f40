/**
 * The deployed state machine runs workflow/'s definition, unchanged: the template carries rekeyDefinitionJson()
 * character for character, and the substitutions name exactly the function that runs each Task state's step. With
 * the same function ARNs, what AWS runs and what the sandbox runs (local/deploy.ts) are the same string.
 */
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { FunctionPlaceholders, type TaskStateName } from "../../contract/states.ts";
import { StepSpecs } from "../../infra/constructs/step-function.ts";
import { sandboxFunctionArns } from "../../local/deploy.ts";
import { rekeyDefinitionJson, substitute } from "../../workflow/definition.ts";
import { buildStack, render, stateMachineIds } from "./helpers.ts";

let template: Template;
let definitionString: string;
let substitutions: Record<string, string>;
/** The logical id of each Lambda function, by the handler export it runs. */
let functionByHandler: Record<string, string>;

beforeAll(() => {
  const { stack, synth } = buildStack({ nag: false });
  template = synth();
  // The rekey state machine; the fleet machine beside it is test/infra/fleet.test.ts's.
  const sm = template.toJSON().Resources[stateMachineIds(stack).run];
  expect(sm?.Type).toBe("AWS::StepFunctions::StateMachine");
  definitionString = sm?.Properties.DefinitionString;
  substitutions = Object.fromEntries(
    Object.entries(sm?.Properties.DefinitionSubstitutions as Record<string, unknown>).map(([k, v]) => [k, render(v)]),
  );
  functionByHandler = Object.fromEntries(
    Object.entries(template.findResources("AWS::Lambda::Function")).map(([id, f]) => [
      String(f.Properties.Handler).replace(/^index\./, ""),
      id,
    ]),
  );
});

const states = Object.keys(FunctionPlaceholders) as TaskStateName[];

describe("the deployed state machine definition", () => {
  it("is workflow/'s definition JSON, character for character", () => {
    expect(typeof definitionString).toBe("string");
    expect(definitionString).toBe(rekeyDefinitionJson());
  });

  it("substitutes every placeholder, and nothing else, with the ARN of the function that runs that state's step", () => {
    expect(Object.keys(substitutions).sort()).toEqual(Object.values(FunctionPlaceholders).sort());
    for (const state of states) {
      const fn = functionByHandler[StepSpecs[state].handler];
      expect(fn, state).toBeDefined();
      expect(substitutions[FunctionPlaceholders[state]], state).toBe(`<${fn}.Arn>`);
    }
  });

  it("is, once substituted, exactly what the sandbox runs (given the same function ARNs)", () => {
    const sandboxArns = sandboxFunctionArns({ region: "us-east-1", accountId: "123456789012" });
    // Map each deployed function to the ARN the sandbox gives the same placeholder.
    const arnOfDeployedFunction = Object.fromEntries(
      Object.entries(substitutions).map(([placeholder, fn]) => [fn, sandboxArns[placeholder] as string]),
    );
    const deployed = substitute(
      definitionString,
      Object.fromEntries(Object.entries(substitutions).map(([p, fn]) => [p, arnOfDeployedFunction[fn] as string])),
    );
    expect(deployed).toBe(substitute(rekeyDefinitionJson(), sandboxArns));
  });

  it("reads as a snapshot: placeholders replaced by the handler that runs each state", async () => {
    const byPlaceholder = Object.fromEntries(
      states.map((s) => [
        FunctionPlaceholders[s],
        `arn:aws:lambda:us-east-1:123456789012:function:<${StepSpecs[s].handler}>`,
      ]),
    );
    const rendered = JSON.stringify(JSON.parse(substitute(definitionString, byPlaceholder)), null, 2);
    await expect(`${rendered}\n`).toMatchFileSnapshot("./__snapshots__/deployed-definition.asl.json");
  });
});
