import type { Io } from "../../cli/io.ts";
import { runCli } from "../../cli/run.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import type { Sandbox } from "../../sandbox/server.ts";

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs the rekey CLI in-process against a sandbox, as an operator's shell with the sandbox's variables would. */
export function rekey(sandbox: Sandbox, ...argv: string[]): Promise<CliResult> {
  return rekeyAt({ endpoint: sandbox.endpoint, region: sandbox.identity.region }, ...argv);
}

/** The same, against any endpoint (one where nothing listens, say). */
export function rekeyAt(target: { endpoint: string; region: string }, ...argv: string[]): Promise<CliResult> {
  return rekeyWithEnv(
    {
      AWS_ENDPOINT_URL: target.endpoint,
      AWS_REGION: target.region,
      AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
    },
    ...argv,
  );
}

/** The CLI in-process with exactly these environment variables (none of the test process's). */
export async function rekeyWithEnv(env: Record<string, string>, ...argv: string[]): Promise<CliResult> {
  let out = "";
  let err = "";
  const io: Io = {
    out: { write: (t: string) => (out += t) },
    err: { write: (t: string) => (err += t) },
    env,
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 200))),
    now: () => new Date(),
  };
  const code = await runCli(argv, io);
  return { code, out, err };
}
