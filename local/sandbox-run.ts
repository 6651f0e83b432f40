import type { TaskStateName } from "../contract/states.ts";
import { executionArnOf } from "../contract/states.ts";
import type { Sandbox } from "../sandbox/server.ts";
import { deployToSandbox, type SandboxDeployment, STATE_MACHINE_NAME } from "./deploy.ts";
import { type FollowedExecution, type StateEvent, startFollowedExecution } from "./executions.ts";
import { rekeyClients } from "./sandbox-clients.ts";

const deployments = new WeakMap<Sandbox, Promise<SandboxDeployment>>();

/** rekey deployed into this sandbox, once per sandbox (later calls get the same deployment). */
export function rekeyDeployment(sandbox: Sandbox): Promise<SandboxDeployment> {
  let deployment = deployments.get(sandbox);
  if (!deployment) {
    deployment = deployToSandbox(rekeyClients(sandbox), sandbox.identity);
    deployments.set(sandbox, deployment);
  }
  return deployment;
}

/**
 * Starts one rekey execution in the sandbox through the Step Functions API (deploying rekey first if needed), and
 * follows it. `beforeStep` hooks run in the sandbox's Lambda service before each invocation of the named state's
 * function: how tests change the world mid-run (an object deleted after planning).
 */
export function startSandboxExecution(params: {
  sandbox: Sandbox;
  input: unknown;
  name: string;
  onEvent?: (event: StateEvent) => void;
  beforeStep?: Partial<Record<TaskStateName, () => Promise<void>>>;
}): FollowedExecution {
  const { sandbox } = params;
  const ready = rekeyDeployment(sandbox).then((deployment) => {
    const unhook = Object.entries(params.beforeStep ?? {}).map(([state, hook]) =>
      sandbox.lambda.beforeInvoke(deployment.functionNames[state as TaskStateName], async () => hook?.()),
    );
    const execution = startFollowedExecution({
      sfn: rekeyClients(sandbox).sfn,
      stateMachineArn: deployment.stateMachineArn,
      name: params.name,
      input: params.input,
      ...(params.onEvent ? { onEvent: params.onEvent } : {}),
    });
    void execution.result.finally(() => {
      for (const off of unhook) off();
    });
    return execution;
  });
  const { region, accountId } = sandbox.identity;
  const stateMachineArn = `arn:aws:states:${region}:${accountId}:stateMachine:${STATE_MACHINE_NAME}`;
  return {
    executionArn: executionArnOf(stateMachineArn, params.name),
    name: params.name,
    result: ready.then((e) => e.result),
    abort: () => ready.then((e) => e.abort()),
  };
}
