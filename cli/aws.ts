import { ListStateMachinesCommand } from "@aws-sdk/client-sfn";
import { type AwsClients, createAwsClients } from "../steps/runtime/clients.ts";
import { UsageError } from "./errors.ts";
import type { Io } from "./io.ts";

export interface AwsOptions {
  endpoint?: string | undefined;
  region?: string | undefined;
  profile?: string | undefined;
  stateMachine?: string | undefined;
}

/** The options every operator command takes, as util.parseArgs declares them. */
export const AWS_OPTIONS = {
  endpoint: { type: "string" },
  region: { type: "string" },
  profile: { type: "string" },
  "state-machine": { type: "string" },
} as const;

/**
 * Clients for AWS or the sandbox, configured as the aws CLI would be: --endpoint or AWS_ENDPOINT_URL, --region or
 * AWS_REGION / AWS_DEFAULT_REGION, --profile or AWS_PROFILE.
 */
export function clientsFor(options: AwsOptions, io: Io): AwsClients {
  const region = options.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError("No region: pass --region or set AWS_REGION.");
  if (options.profile) process.env.AWS_PROFILE = options.profile;
  const endpoint = options.endpoint ?? io.env.AWS_ENDPOINT_URL;
  // Keys in the environment win, as with the aws CLI; otherwise the SDK's default chain (profile, SSO, roles).
  const {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_SESSION_TOKEN: sessionToken,
  } = io.env;
  const credentials =
    accessKeyId && secretAccessKey && !options.profile
      ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }
      : undefined;
  return createAwsClients({ region, ...(endpoint ? { endpoint } : {}), ...(credentials ? { credentials } : {}) });
}

/**
 * The rekey state machine: --state-machine or REKEY_STATE_MACHINE_ARN, else the one state machine in the account
 * and region whose name starts with "rekey" (the sandbox's is "rekey"; a deployed stack's is generated from it).
 */
export async function stateMachineArn(clients: AwsClients, options: AwsOptions, io: Io): Promise<string> {
  const given = options.stateMachine ?? io.env.REKEY_STATE_MACHINE_ARN;
  if (given) return given;
  const found: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn.send(new ListStateMachinesCommand({ nextToken }));
    for (const m of page.stateMachines ?? []) {
      if (m.stateMachineArn && /^rekey/i.test(m.name ?? "")) found.push(m.stateMachineArn);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  if (found.length === 1 && found[0]) return found[0];
  throw new UsageError(
    found.length === 0
      ? "No rekey state machine found in this account and region. Deploy it (runbooks/deploy.md), or pass --state-machine ARN."
      : `Several rekey state machines found (${found.join(", ")}); pass --state-machine ARN.`,
  );
}
