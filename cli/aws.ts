import { homedir } from "node:os";
import { join } from "node:path";
import { DescribeStateMachineCommand, ListStateMachinesCommand } from "@aws-sdk/client-sfn";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { loadSharedConfigFiles } from "@smithy/core/config";
import { FLEET_MACHINE_SUFFIX, FleetStateNames } from "../contract/fleet.ts";
import { executionArnOf } from "../contract/states.ts";
import { type AwsClients, type ClientSettings, createAwsClients } from "../steps/runtime/clients.ts";
import { UsageError } from "./errors.ts";
import type { Io } from "./io.ts";

export interface AwsOptions {
  endpoint?: string | undefined;
  region?: string | undefined;
  profile?: string | undefined;
  stateMachine?: string | undefined;
}

/**
 * Clients for AWS or the sandbox, configured as the aws CLI would be: --endpoint or AWS_ENDPOINT_URL; --profile or
 * AWS_PROFILE; the region from --region, AWS_REGION, AWS_DEFAULT_REGION (the aws CLI's), then the profile's `region`
 * in the shared config file (AWS_CONFIG_FILE or ~/.aws/config), read by the SDK's own loader. Credentials: keys in
 * the environment when no profile is named, as with the aws CLI; otherwise the SDK's provider chain for the profile
 * (credentials and config files, SSO, process, web identity, container and instance roles).
 */
export async function clientsFor(options: AwsOptions, io: Io): Promise<AwsClients> {
  return createAwsClients(await clientSettingsFor(options, io));
}

/** The settings clientsFor configures its clients with, for the clients a command needs besides them. */
export async function clientSettingsFor(options: AwsOptions, io: Io): Promise<ClientSettings> {
  const profile = options.profile ?? io.env.AWS_PROFILE;
  const home = io.env.HOME ?? io.env.USERPROFILE ?? homedir();
  const files = {
    filepath: io.env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, ".aws", "credentials"),
    configFilepath: io.env.AWS_CONFIG_FILE ?? join(home, ".aws", "config"),
  };
  const shared = await loadSharedConfigFiles({ ...files, ignoreCache: true });
  const name = profile ?? "default";
  if (profile !== undefined && !shared.configFile[name] && !shared.credentialsFile[name]) {
    throw new UsageError(
      `The profile "${profile}" is in neither ${files.configFilepath} nor ${files.filepath}: create it (aws configure --profile ${profile}), or name another with --profile / AWS_PROFILE.`,
    );
  }
  const region = options.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? shared.configFile[name]?.region;
  if (!region) {
    throw new UsageError(
      `No region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or set one for the profile "${name}" (aws configure set region R${profile ? ` --profile ${profile}` : ""}).`,
    );
  }
  const endpoint = options.endpoint ?? io.env.AWS_ENDPOINT_URL;
  const {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_SESSION_TOKEN: sessionToken,
  } = io.env;
  const credentials =
    accessKeyId && secretAccessKey && options.profile === undefined
      ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }
      : fromNodeProviderChain({ ...files, ...(profile === undefined ? {} : { profile }) });
  return { region, credentials, ...(endpoint ? { endpoint } : {}) };
}

/**
 * The rekey state machine: --state-machine or REKEY_STATE_MACHINE_ARN, else the one state machine in the account
 * and region whose name starts with "rekey" and is not a fleet's (the sandbox's is "rekey"), else the machine the one
 * fleet machine starts runs of: CloudFormation names a stack's run machine `StateMachine…-<random>`, but its fleet
 * machine `<stack>-fleet` (infra/constructs/fleet-state-machine.ts), whose definition names the run machine.
 */
export async function stateMachineArn(clients: AwsClients, options: AwsOptions, io: Io): Promise<string> {
  const given = options.stateMachine ?? io.env.REKEY_STATE_MACHINE_ARN;
  if (given) return given;
  const machines = await listMachines(clients);
  const runs = machines.filter((m) => /^rekey/i.test(m.name) && !m.name.endsWith(FLEET_MACHINE_SUFFIX));
  const fleets = machines.filter((m) => /^rekey/i.test(m.name) && m.name.endsWith(FLEET_MACHINE_SUFFIX));
  if (runs.length === 0 && fleets.length === 1 && fleets[0]) {
    const { definition } = await clients.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: fleets[0].arn }));
    const started = runMachineOfFleet(definition);
    if (started) return started;
  }
  return onlyOne(runs, "rekey state machine", "--state-machine (or REKEY_STATE_MACHINE_ARN)");
}

/** The machine a fleet definition's task starts runs of (workflow/fleet-definition.ts), once deployed. */
function runMachineOfFleet(definition: string | undefined): string | undefined {
  try {
    const states = (JSON.parse(definition ?? "{}") as { States?: Record<string, Record<string, unknown>> }).States;
    const processor = states?.[FleetStateNames.runEachBucket]?.ItemProcessor as
      | { States?: Record<string, { Parameters?: { StateMachineArn?: unknown } }> }
      | undefined;
    const arn = processor?.States?.[FleetStateNames.runBucket]?.Parameters?.StateMachineArn;
    return typeof arn === "string" && arn.startsWith("arn:") ? arn : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The fleet state machine (workflow/fleet-definition.ts): --fleet-state-machine or REKEY_FLEET_STATE_MACHINE_ARN
 * (the stack's output FleetStateMachineArn), else the one whose name starts with "rekey" and ends with "-fleet".
 */
export async function fleetStateMachineArn(
  clients: AwsClients,
  options: AwsOptions & { fleetStateMachine?: string | undefined },
  io: Io,
): Promise<string> {
  const given = options.fleetStateMachine ?? io.env.REKEY_FLEET_STATE_MACHINE_ARN;
  if (given) return given;
  const fleets = (await listMachines(clients)).filter(
    (m) => /^rekey/i.test(m.name) && m.name.endsWith(FLEET_MACHINE_SUFFIX),
  );
  return onlyOne(fleets, "rekey fleet state machine", "--fleet-state-machine (or REKEY_FLEET_STATE_MACHINE_ARN)");
}

async function listMachines(clients: AwsClients): Promise<{ name: string; arn: string }[]> {
  const found: { name: string; arn: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn.send(new ListStateMachinesCommand({ nextToken }));
    for (const m of page.stateMachines ?? []) {
      if (m.stateMachineArn && m.name) found.push({ name: m.name, arn: m.stateMachineArn });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return found;
}

function onlyOne(found: { arn: string }[], what: string, flag: string): string {
  if (found.length === 1 && found[0]) return found[0].arn;
  throw new UsageError(
    found.length === 0
      ? `No ${what} found in this account and region. Deploy it (runbooks/deploy.md), or pass ${flag} with its ARN.`
      : `Several ${what}s found (${found.map((m) => m.arn).join(", ")}); pass ${flag} with the one to use.`,
  );
}

/** An execution's ARN from `--execution`: the ARN itself, or a run's name (as `rekey runs` prints it). */
export async function executionArnFor(
  clients: AwsClients,
  options: AwsOptions & { execution: string },
  io: Io,
): Promise<string> {
  if (options.execution.startsWith("arn:")) return options.execution;
  const machine = await stateMachineArn(clients, options, io);
  return executionArnOf(machine, options.execution);
}
