/**
 * The configuration file (infra/config-file.ts): where it is, what a broken one says, that CDK context cannot
 * configure rekey behind its back, and that its buckets and keys are what the stack's policies name.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { RekeyConfigError } from "../../infra/config.ts";
import { CONFIG_FILE_CONTEXT_KEY, configFilePath, REPO_ROOT, rekeyConfigFromFile } from "../../infra/config-file.ts";
import { createRekeyApp, OFFLINE_ENV } from "../../infra/rekey-app.ts";
import { logicalIdOf, normalizeStatement, roleStatements, SAMPLE_KEY_ARN } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "rekey-config-"));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(RekeyConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a RekeyConfigError");
}
const region = OFFLINE_ENV.region;

describe("the configuration file", () => {
  it("is rekey.config.json at the repository root unless rekey:configFile names another, relative to that root", () => {
    expect(configFilePath(undefined)).toBe(resolve(REPO_ROOT, "rekey.config.json"));
    expect(configFilePath("deploy/eu-west-1.json")).toBe(resolve(REPO_ROOT, "deploy/eu-west-1.json"));
    expect(configFilePath("/etc/rekey.json")).toBe("/etc/rekey.json");
    expect(refusal(() => configFilePath(""))).toMatch(/rekey:configFile must be the path of a JSON file/);
  });

  it("in the repository is a valid configuration for the offline region (what npm run synth deploys)", () => {
    const config = rekeyConfigFromFile(configFilePath(undefined), region);
    expect(config.stackName).toBe("Rekey");
    expect(config.buckets.length).toBeGreaterThan(0);
    expect(config.kmsKeyArns.length).toBeGreaterThan(0);
  });

  it("says where it looked when it is missing", () => {
    const path = join(dir, "absent.json");
    expect(refusal(() => rekeyConfigFromFile(path, region))).toBe(
      `No rekey configuration at ${path}. Create it with at least "buckets" and "kmsKeyArns" ` +
        '(runbooks/deploy.md, "Configure"), or name another file with -c rekey:configFile=PATH.',
    );
  });

  it("names the file when it is not JSON, or not one object", () => {
    const broken = file("broken.json", '{ "buckets": ["a-bucket"], }');
    expect(refusal(() => rekeyConfigFromFile(broken, region))).toMatch(
      new RegExp(`^${broken.replace(/[.]/g, "\\.")} is not valid JSON: `),
    );
    const list = file("list.json", '["a-bucket"]');
    expect(refusal(() => rekeyConfigFromFile(list, region))).toMatch(/list\.json must hold one JSON object/);
  });

  it("names the file and the field of a bad bucket name", () => {
    const path = file("bad-bucket.json", JSON.stringify({ buckets: ["Data_Bucket"], kmsKeyArns: [SAMPLE_KEY_ARN] }));
    expect(refusal(() => rekeyConfigFromFile(path, region))).toMatch(
      new RegExp(
        `^Invalid rekey configuration in ${path.replace(/[.]/g, "\\.")}:\\n {2}- buckets\\[0\\]: "Data_Bucket" is neither`,
      ),
    );
  });

  it("is the only way to configure rekey: a rekey setting in CDK context stops the synth", () => {
    const message = refusal(() =>
      createRekeyApp({ env: OFFLINE_ENV, nag: false, context: { "rekey:buckets": '["other-bucket"]' } }),
    );
    expect(message).toContain("rekey does not read its settings from CDK context (rekey:buckets)");
    expect(message).toContain(`set "buckets" in ${configFilePath(undefined)}`);
  });

  it("gives its stack name, buckets and keys to the stack's policies", () => {
    const otherKey = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-4000-8000-00000000abcd";
    const path = file(
      "two-buckets.json",
      JSON.stringify({ stackName: "Rekey-Files", buckets: ["from-the-file", "files-*"], kmsKeyArns: [otherKey] }),
    );
    const { app, stack } = createRekeyApp({
      env: OFFLINE_ENV,
      nag: false,
      cloudFormationValidation: false,
      context: { "aws:cdk:bundling-stacks": [], [CONFIG_FILE_CONTEXT_KEY]: path },
    });
    app.synth();
    const template = Template.fromStack(stack);
    expect(stack.stackName).toBe("Rekey-Files");
    const batchRole = logicalIdOf(template, "AWS::IAM::Role", (p) =>
      JSON.stringify(p.AssumeRolePolicyDocument).includes("batchoperations.s3.amazonaws.com"),
    );
    const statements = roleStatements(template, batchRole);
    expect(statements.find((s) => s.Sid === "ListTargetBuckets")?.Resource).toEqual([
      "arn:aws:s3:::from-the-file",
      "arn:aws:s3:::files-*",
    ]);
    expect(statements.find((s) => s.Sid === "EncryptUnderTargetKeys")?.Resource).toEqual([otherKey]);
    const operatorId = logicalIdOf(template, "AWS::IAM::ManagedPolicy", () => true);
    const checks = (
      template.toJSON().Resources[operatorId].Properties.PolicyDocument.Statement as Record<string, unknown>[]
    )
      .map(normalizeStatement)
      .find((s) => s.Action.includes("kms:DescribeKey"));
    expect(checks?.Resource).toEqual([otherKey]);
  });
});
