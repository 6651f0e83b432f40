import { CreateStateMachineCommand, DeleteStateMachineCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetStateMachineArn, stateMachineArn } from "../../cli/aws.ts";
import { RUN_STATE_MACHINE_PLACEHOLDER } from "../../contract/fleet.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { substitute } from "../../workflow/definition.ts";
import { fleetDefinitionJson } from "../../workflow/fleet-definition.ts";

const io = {
  out: { write: () => true },
  err: { write: () => true },
  env: {},
  sleep: async () => {},
  now: () => new Date(),
};

/** How the CLI finds the run and fleet machines without --state-machine: by name, else through the fleet's definition. */
describe("finding rekey's state machines", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  const role = "arn:aws:iam::123456789012:role/x";
  const pass = JSON.stringify({ StartAt: "P", States: { P: { Type: "Pass", End: true } } });
  const create = async (name: string, definition: string) =>
    (await clients.sfn.send(new CreateStateMachineCommand({ name, definition, roleArn: role }))).stateMachineArn ?? "";

  beforeAll(async () => {
    sandbox = await startSandbox();
    clients = rekeyClients(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("finds a stack's run machine, named by CloudFormation, through its fleet machine <stack>-fleet", async () => {
    await create("SomethingElse", pass);
    const run = await create("StateMachine2E01A3A5-AbCdEf123456", pass);
    const fleet = await create(
      "Rekey-fleet",
      substitute(fleetDefinitionJson(), { [RUN_STATE_MACHINE_PLACEHOLDER]: run }),
    );
    expect(await stateMachineArn(clients, {}, io)).toBe(run);
    expect(await fleetStateMachineArn(clients, {}, io)).toBe(fleet);
    // The flags and variables win over any lookup.
    expect(await stateMachineArn(clients, { stateMachine: "arn:given" }, io)).toBe("arn:given");
    expect(await fleetStateMachineArn(clients, {}, { ...io, env: { REKEY_FLEET_STATE_MACHINE_ARN: "arn:env" } })).toBe(
      "arn:env",
    );

    // A machine named rekey* is the run machine, as in the sandbox's deployment.
    const named = await create("rekey", pass);
    expect(await stateMachineArn(clients, {}, io)).toBe(named);

    // Two of a kind: the CLI asks which, naming both.
    const other = await create("rekey-other", pass);
    await expect(stateMachineArn(clients, {}, io)).rejects.toThrow(/Several rekey state machines.*--state-machine/);
    await create("rekey-two-fleet", pass);
    await expect(fleetStateMachineArn(clients, {}, io)).rejects.toThrow(/Several rekey fleet state machines/);
    for (const arn of [named, other, fleet])
      await clients.sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn }));
  });

  it("says how to name the machine when there is none", async () => {
    const fresh = await startSandbox();
    try {
      await expect(stateMachineArn(rekeyClients(fresh), {}, io)).rejects.toThrow(
        /No rekey state machine found.*--state-machine/,
      );
      await expect(fleetStateMachineArn(rekeyClients(fresh), {}, io)).rejects.toThrow(/No rekey fleet state machine/);
    } finally {
      await fresh.close();
    }
  });
});
