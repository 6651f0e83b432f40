import { UpdateStateMachineCommand } from "@aws-sdk/client-sfn";
import type { FilterEngineChoice } from "../../contract/engines.ts";
import type { FinalReportOutput } from "../../contract/final-report.ts";
import { StateNames, type TaskStateName } from "../../contract/states.ts";
import { sandboxFunctionArns } from "../../local/deploy.ts";
import type { ExecutionResult, StateEvent } from "../../local/executions.ts";
import { type RekeyClients, rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment, startSandboxExecution } from "../../local/sandbox-run.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { rekeyDefinition, substitute } from "../../workflow/definition.ts";

/** What an end-to-end test starts from: a sandbox, rekey's clients for it, its admin API and the seeded mixed bucket. */
export async function sandboxWithScenario(
  seed: Parameters<typeof seedMixedBucket>[2],
): Promise<{ sandbox: Sandbox; clients: RekeyClients; admin: SandboxAdmin; scenario: MixedBucket }> {
  const sandbox = await startSandbox();
  const clients = rekeyClients(sandbox);
  const admin = new SandboxAdmin(sandbox.endpoint);
  return { sandbox, clients, admin, scenario: await seedMixedBucket(clients, admin, seed) };
}

/**
 * Runs rekey on a seeded bucket with short waits, delivering the inventory the first time the run waits for
 * one, as S3 would some hours after default encryption was enforced. With `source: "generate"` the request names
 * no inventory and nothing is delivered: the manifest generator lists the bucket.
 */
export async function runOnScenario(params: {
  sandbox: Sandbox;
  scenario: MixedBucket;
  name: string;
  source?: "inventory" | "generate";
  /** The filter engine (contract/engines.ts); the request names none when absent. */
  engine?: FilterEngineChoice;
  options?: Record<string, unknown>;
  maxRowsPerFile?: number;
  onEvent?: (event: StateEvent) => void;
  beforeStep?: Parameters<typeof startSandboxExecution>[0]["beforeStep"];
}): Promise<ExecutionResult> {
  const { sandbox, scenario } = params;
  const admin = new SandboxAdmin(sandbox.endpoint);
  let delivery: Promise<unknown> | undefined;
  const result = await startSandboxExecution({
    sandbox,
    name: params.name,
    input: {
      bucket: scenario.bucket,
      kmsKeyArn: scenario.targetKeyArn,
      ...(params.source === "generate" ? {} : { inventoryConfigurationId: scenario.inventoryConfigurationId }),
      ...(params.engine ? { engine: params.engine } : {}),
      workBucket: scenario.workBucket,
      options: { inventoryPollSeconds: 1, jobPollMinSeconds: 1, jobPollMaxSeconds: 1, ...params.options },
    },
    onEvent: (event) => {
      if (
        params.source !== "generate" &&
        event.type === "StateEntered" &&
        event.state.name === StateNames.waitForInventory
      ) {
        delivery ??= admin.deliverInventory({
          bucket: scenario.bucket,
          configurationId: scenario.inventoryConfigurationId,
          ...(params.maxRowsPerFile ? { maxRowsPerFile: params.maxRowsPerFile } : {}),
        });
      }
      params.onEvent?.(event);
    },
    beforeStep: params.beforeStep,
  }).result;
  await delivery;
  return result;
}

/** The final report of a run that succeeded; anything else fails the test with the run's error and cause. */
export function finalReport(result: ExecutionResult): FinalReportOutput {
  if (result.status !== "SUCCEEDED") throw new Error(`run ended ${JSON.stringify(result)}`);
  return result.output as FinalReportOutput;
}

/**
 * Redeploys the sandbox's state machine with constant Parameters of Task states changed (a time budget of the loops
 * of "Filter inventory and write manifests" and "Verify results", the slice size of "Slice the inventory"), through
 * the Step Functions API as an operator could. A state of a Map's child executions is found too. Executions started
 * before keep the definition they started with.
 */
export async function setStateParameters(
  sandbox: Sandbox,
  changes: [state: TaskStateName, parameter: string, value: number][],
): Promise<void> {
  type Machine = { States: Record<string, { Parameters?: Record<string, unknown>; ItemProcessor?: Machine }> };
  const definition = rekeyDefinition() as Machine;
  const find = (machine: Machine, name: string): Record<string, unknown> | undefined => {
    for (const [n, state] of Object.entries(machine.States)) {
      if (n === name) return state.Parameters;
      const inner = state.ItemProcessor ? find(state.ItemProcessor, name) : undefined;
      if (inner) return inner;
    }
    return undefined;
  };
  for (const [state, parameter, value] of changes) {
    const parameters = find(definition, state);
    if (!parameters || !(parameter in parameters)) throw new Error(`${state} takes no ${parameter}`);
    parameters[parameter] = value;
  }
  const deployment = await rekeyDeployment(sandbox);
  await rekeyClients(sandbox).sfn.send(
    new UpdateStateMachineCommand({
      stateMachineArn: deployment.stateMachineArn,
      definition: substitute(JSON.stringify(definition), sandboxFunctionArns(sandbox.identity)),
    }),
  );
}
