import type { TaskStateName } from "../contract/states.ts";
import { SANDBOX_CREDENTIALS } from "../sandbox/config.ts";
import type { Sandbox } from "../sandbox/server.ts";
import { type AwsClients, createAwsClients } from "../steps/runtime/clients.ts";
import type { Logger } from "../steps/runtime/log.ts";
import { silentLogger } from "../steps/runtime/log.ts";
import { steps } from "../steps/runtime/registry.ts";
import type { StepDeps } from "../steps/runtime/step.ts";
import {
  type EventLog,
  type LocalExecution,
  type StepRegistry,
  startLocalExecution,
} from "../workflow/local-runner.ts";

/** The role the sandbox's Batch Operations jobs run as; the sandbox does not evaluate IAM (sandbox/ASSUMPTIONS.md). */
export const sandboxBatchRoleArn = (accountId: string) => `arn:aws:iam::${accountId}:role/rekey-batch-operations`;
export const sandboxStateMachineArn = (region: string, accountId: string) =>
  `arn:aws:states:${region}:${accountId}:stateMachine:rekey`;

/** SDK clients for a running sandbox, configured as the steps' Lambda clients would be on AWS. */
export function sandboxClients(sandbox: Pick<Sandbox, "endpoint" | "identity">): AwsClients {
  return createAwsClients({
    region: sandbox.identity.region,
    endpoint: sandbox.endpoint,
    credentials: SANDBOX_CREDENTIALS,
  });
}

/** One step invocation as it ended; the Step Functions service turns these into LambdaFunction* history events. */
export interface StepInvocation {
  state: TaskStateName;
  input: unknown;
  /** Epoch milliseconds. */
  startedAt: number;
  endedAt: number;
  outcome: { output: unknown } | { error: unknown };
}

/** Starts one execution of the rekey state machine against the sandbox, with the real step code. */
export function startSandboxExecution(params: {
  sandbox: Pick<Sandbox, "endpoint" | "identity">;
  input: unknown;
  name: string;
  onEvent?: (event: EventLog) => void;
  log?: Logger;
  waitTimeOverrides?: Record<string, number>;
  now?: () => Date;
  /** The work bucket runs use when their input names none, as a deployed stack provides. */
  workBucket?: string;
  /** Runs before the named Task state's step: how tests change the world mid-run (an object deleted after planning). */
  beforeStep?: Partial<Record<TaskStateName, () => Promise<void>>>;
  /** Told when each step invocation ends, with the input it got (after Parameters) and what it returned or threw. */
  onStepEnd?: (invocation: StepInvocation) => void;
}): LocalExecution {
  const { identity } = params.sandbox;
  const hooked = Object.fromEntries(
    Object.entries(steps).map(([state, step]) => {
      const hook = params.beforeStep?.[state as TaskStateName];
      const onEnd = params.onStepEnd;
      return [
        state,
        hook || onEnd
          ? {
              ...step,
              invoke: async (input: unknown, deps: StepDeps) => {
                const startedAt = Date.now();
                try {
                  await hook?.();
                  const output = await step.invoke(input, deps);
                  onEnd?.({ state: step.state, input, startedAt, endedAt: Date.now(), outcome: { output } });
                  return output;
                } catch (error) {
                  onEnd?.({ state: step.state, input, startedAt, endedAt: Date.now(), outcome: { error } });
                  throw error;
                }
              },
            }
          : step,
      ];
    }),
  ) as StepRegistry;
  return startLocalExecution({
    steps: hooked,
    deps: {
      clients: sandboxClients(params.sandbox),
      config: {
        batchRoleArn: sandboxBatchRoleArn(identity.accountId),
        ...(params.workBucket ? { workBucket: params.workBucket } : {}),
      },
      log: params.log ?? silentLogger,
      now: params.now ?? (() => new Date()),
    },
    input: params.input,
    name: params.name,
    stateMachineArn: sandboxStateMachineArn(identity.region, identity.accountId),
    onEvent: params.onEvent,
    waitTimeOverrides: params.waitTimeOverrides,
  });
}
