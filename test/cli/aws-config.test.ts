import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateStateMachineCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { rekeyWithEnv } from "../support/cli.ts";

/**
 * The CLI finds its region and credentials as the aws CLI does (cli/aws.ts): from flags and the environment, then
 * the shared config and credentials files of a profile, read by the SDK's own loader and provider chain. Each case
 * runs `rekey runs` against the sandbox with a HOME of its own and only the variables it names.
 */

let sandbox: Sandbox;
let previousImds: string | undefined;
/** A state machine for `rekey runs` to list the executions of (none). */
let stateMachine: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  const created = await rekeyClients(sandbox).sfn.send(
    new CreateStateMachineCommand({
      name: "rekey-config-test",
      definition: JSON.stringify({ StartAt: "Done", States: { Done: { Type: "Pass", End: true } } }),
      roleArn: `arn:aws:iam::${sandbox.identity.accountId}:role/rekey-config-test`,
    }),
  );
  stateMachine = created.stateMachineArn ?? "";
  // The provider chain ends with the instance metadata service; off this machine there is none to wait for.
  previousImds = process.env.AWS_EC2_METADATA_DISABLED;
  process.env.AWS_EC2_METADATA_DISABLED = "true";
});

afterAll(async () => {
  if (previousImds === undefined) delete process.env.AWS_EC2_METADATA_DISABLED;
  else process.env.AWS_EC2_METADATA_DISABLED = previousImds;
  await sandbox?.close();
});

/** A HOME with `~/.aws/config` and `~/.aws/credentials` as given (absent when undefined). */
async function home(files: { config?: string; credentials?: string }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rekey-home-"));
  await mkdir(join(dir, ".aws"));
  if (files.config !== undefined) await writeFile(join(dir, ".aws", "config"), files.config);
  if (files.credentials !== undefined) await writeFile(join(dir, ".aws", "credentials"), files.credentials);
  return dir;
}

const KEYS = `aws_access_key_id = ${SANDBOX_CREDENTIALS.accessKeyId}\naws_secret_access_key = ${SANDBOX_CREDENTIALS.secretAccessKey}\n`;

function rekeyWith(env: Record<string, string>, ...argv: string[]) {
  return rekeyWithEnv({ AWS_ENDPOINT_URL: sandbox.endpoint, ...env }, ...argv, "--state-machine", stateMachine);
}

const keysInEnv = {
  AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
};

describe("region and credentials as the aws CLI finds them", () => {
  it("takes the region of the default profile in ~/.aws/config when neither flag nor environment names one", async () => {
    const HOME = await home({ config: `[default]\nregion = ${sandbox.identity.region}\n` });
    const found = await rekeyWith({ HOME, ...keysInEnv }, "runs");
    expect(found.err).toBe("");
    expect(found.code).toBe(0);
    // AWS_DEFAULT_REGION, which aws CLI v1 reads, with no file at all.
    const v1 = await rekeyWith(
      { HOME: await home({}), AWS_DEFAULT_REGION: sandbox.identity.region, ...keysInEnv },
      "runs",
    );
    expect(v1.err).toBe("");
    expect(v1.code).toBe(0);
  });

  it("uses a named profile's region and keys from the shared files, with --profile or AWS_PROFILE", async () => {
    const HOME = await home({
      config: `[default]\nregion = eu-west-3\n\n[profile ops]\nregion = ${sandbox.identity.region}\n`,
      credentials: `[ops]\n${KEYS}`,
    });
    const flag = await rekeyWith({ HOME }, "runs", "--profile", "ops");
    expect(flag.err).toBe("");
    expect(flag.code).toBe(0);
    const variable = await rekeyWith({ HOME, AWS_PROFILE: "ops" }, "runs");
    expect(variable.code).toBe(0);
  });

  it("says which profile is missing, and where it looked, with exit code 2", async () => {
    const HOME = await home({ config: `[default]\nregion = ${sandbox.identity.region}\n` });
    const missing = await rekeyWith({ HOME, ...keysInEnv }, "runs", "--profile", "nope");
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(`The profile "nope" is in neither ${join(HOME, ".aws", "config")}`);
    expect(missing.err).toContain("aws configure --profile nope");
    expect(missing.err).not.toMatch(/internal error|at .*\.ts:\d+/);
  });

  it("says there is no region, and every way to give one, with exit code 2", async () => {
    const none = await rekeyWith({ HOME: await home({}), ...keysInEnv }, "runs");
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/No region: pass --region, set AWS_REGION \(or AWS_DEFAULT_REGION\)/);
  });

  it("says no credentials could be loaded and how to give them, with exit code 2, not an internal error", async () => {
    const none = await rekeyWith({ HOME: await home({}), AWS_REGION: sandbox.identity.region }, "runs");
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^rekey: no AWS credentials could be loaded: /);
    expect(none.err).toContain("--profile / AWS_PROFILE");
    expect(none.err).not.toMatch(/internal error|at .*\.ts:\d+/);
  });
});
