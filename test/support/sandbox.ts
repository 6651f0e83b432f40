import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { type Sandbox, type SandboxOptions, startSandbox } from "../../sandbox/server.ts";
import { type AwsClients, createAwsClients } from "../../steps/clients.ts";

/** Starts a sandbox on a free loopback port and real SDK clients pointed at it. */
export async function sandboxWithClients(
  options: SandboxOptions = {},
): Promise<{ sandbox: Sandbox; clients: AwsClients }> {
  const sandbox = await startSandbox({ port: 0, ...options });
  const clients = createAwsClients({
    region: sandbox.identity.region,
    endpoint: sandbox.endpoint,
    credentials: SANDBOX_CREDENTIALS,
    maxAttempts: 1,
  });
  return { sandbox, clients };
}
