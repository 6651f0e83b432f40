import { LambdaClient } from "@aws-sdk/client-lambda";
import { SANDBOX_CREDENTIALS, type SandboxIdentity } from "../sandbox/config.ts";
import { type AwsClients, createAwsClients } from "../steps/runtime/clients.ts";

/** rekey's own SDK clients (steps/runtime/clients.ts) pointed at a running sandbox, plus Lambda to deploy into it. */
export interface RekeyClients extends AwsClients {
  lambda: LambdaClient;
}

export function rekeyClients(sandbox: { endpoint: string; identity: SandboxIdentity }): RekeyClients {
  const settings = {
    region: sandbox.identity.region,
    endpoint: sandbox.endpoint,
    credentials: SANDBOX_CREDENTIALS,
  };
  return { ...createAwsClients(settings), lambda: new LambdaClient(settings) };
}
