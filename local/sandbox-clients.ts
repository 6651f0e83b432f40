import { LambdaClient } from "@aws-sdk/client-lambda";
import { SANDBOX_CREDENTIALS, type SandboxIdentity } from "../sandbox/config.ts";
import { type AwsClients, createAwsClients } from "../steps/runtime/clients.ts";

/** SDK clients for a running sandbox, configured as rekey's Lambda functions configure theirs, plus Lambda to deploy. */
export interface SandboxClients extends AwsClients {
  lambda: LambdaClient;
}

export function sandboxClients(sandbox: { endpoint: string; identity: SandboxIdentity }): SandboxClients {
  const settings = {
    region: sandbox.identity.region,
    endpoint: sandbox.endpoint,
    credentials: SANDBOX_CREDENTIALS,
  };
  return { ...createAwsClients(settings), lambda: new LambdaClient(settings) };
}
