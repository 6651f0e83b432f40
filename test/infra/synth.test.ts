/**
 * `npm run synth` is part of the test run: the CDK CLI, offline, with rekey.config.json's sample values, bundling
 * the step Lambdas with the local esbuild, cdk-nag and aws-cdk-lib's CloudFormation validation included.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepSpecs } from "../../infra/constructs/step-function.ts";
import { rekeyDefinitionJson } from "../../workflow/definition.ts";
import { fleetDefinitionJson } from "../../workflow/fleet-definition.ts";

const run = promisify(execFile);
let outdir: string;
let result: { stdout: string; stderr: string };

beforeAll(async () => {
  outdir = await mkdtemp(join(tmpdir(), "rekey-cdk-out-"));
  // A clean environment: no credentials, so the stack binds to the offline account and region.
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(AWS_|CDK_DEFAULT_)/.test(k)) delete env[k];
  result = await run("npm", ["run", "--silent", "synth", "--", "--output", outdir], {
    cwd: join(import.meta.dirname, "../.."),
    env,
    timeout: 120_000,
    maxBuffer: 10 * 1024 * 1024,
  });
}, 150_000);

afterAll(async () => {
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

describe("npm run synth", () => {
  it("synthesizes the stack offline, with cdk-nag passing", async () => {
    expect(result.stderr).not.toMatch(/AwsSolutions-|Validation failed|Synthesis finished with errors/);
    const template = JSON.parse(await readFile(join(outdir, "Rekey.template.json"), "utf8"));
    const machines = Object.values(
      template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>,
    ).filter((r) => r.Type === "AWS::StepFunctions::StateMachine");
    // The rekey state machine, named by CloudFormation, and the fleet state machine beside it.
    expect(machines).toHaveLength(2);
    const run = machines.find((m) => m.Properties.StateMachineName === undefined);
    const fleet = machines.find((m) => m.Properties.StateMachineName === "Rekey-fleet");
    expect(run?.Properties.DefinitionString).toBe(rekeyDefinitionJson());
    expect(fleet?.Properties.DefinitionString).toBe(fleetDefinitionJson());
  });

  it("bundles every step into one ESM asset that loads in Node and exports each handler", async () => {
    const assets = (await readdir(outdir)).filter((f) => f.startsWith("asset."));
    expect(assets).toHaveLength(1);
    const dir = join(outdir, assets[0] as string);
    expect((await readdir(dir)).sort()).toEqual(["index.mjs", "index.mjs.map"]);
    const bundle = (await import(pathToFileURL(join(dir, "index.mjs")).href)) as Record<string, unknown>;
    for (const spec of Object.values(StepSpecs)) expect(typeof bundle[spec.handler], spec.handler).toBe("function");
  });
});
