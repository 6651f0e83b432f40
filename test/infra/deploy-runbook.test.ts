/**
 * runbooks/deploy.md against the stack it deploys: its configuration table lists the file's fields, the outputs and
 * roles it reads exist, its counts are the template's, and the key-policy statements it gives grant each role what
 * the role's IAM policy grants on the keys, which rekey's own preflight then accepts for the Batch Operations role.
 */
import { readFileSync } from "node:fs";
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import type { Finding } from "../../contract/preflight.ts";
import { CONFIG_FIELDS } from "../../infra/config.ts";
import { checkKeyPolicy } from "../../steps/domain/preflight-policies.ts";
import { ACCOUNT, healthy, policy, REGION, ROLE } from "../domain/preflight-fixtures.ts";
import {
  buildStack,
  iamMatch,
  logicalIdOf,
  normalizeStatement,
  render,
  roleStatements,
  SAMPLE_KEY_ARN,
  type Statement,
} from "./helpers.ts";

const RUNBOOK = readFileSync(new URL("../../runbooks/deploy.md", import.meta.url), "utf8");
const SOURCE_KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-4000-8000-00000000abcd";

let template: Template;
beforeAll(() => {
  template = buildStack({ config: { sourceKmsKeyArns: [SOURCE_KEY] }, nag: false }).synth();
});

/** The JSON a `cat > NAME <<EOF` block of the runbook writes, with its shell variables given `values`. */
function heredoc(name: string, values: Record<string, string>): Record<string, unknown>[] {
  const body = new RegExp(`cat > ${name.replace(/\./g, "\\.")} <<EOF\\n([\\s\\S]*?)\\nEOF\\n`).exec(RUNBOOK)?.[1];
  expect(body, name).toBeDefined();
  const text = (body as string).replace(/\$\{?(\w+)\}?/g, (_, v: string) => {
    expect(values, `$${v} in ${name}`).toHaveProperty(v);
    return values[v] as string;
  });
  return JSON.parse(text) as Record<string, unknown>[];
}

/** Shell variables the runbook sets to one of the stack's roles: by logical-id prefix, or from a stack output. */
function roleVariables(): Record<string, string> {
  const roles: Record<string, string> = {};
  for (const m of RUNBOOK.matchAll(/^(\w+)=\$\(role_arn (\w+)\)$/gm)) {
    roles[m[1] as string] = roleByPrefix(m[2] as string);
  }
  const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
  for (const m of RUNBOOK.matchAll(/^(\w+)=\$\(aws cloudformation describe-stacks .*OutputKey=='(\w+)'.*\)$/gm)) {
    const value = render(outputs[m[2] as string]?.Value);
    if (/^<\w+\.Arn>$/.test(value) && template.toJSON().Resources[value.slice(1, -5)]?.Type === "AWS::IAM::Role") {
      roles[m[1] as string] = value.slice(1, -5);
    }
  }
  return roles;
}

function roleByPrefix(prefix: string): string {
  const ids = Object.keys(template.findResources("AWS::IAM::Role")).filter((id) => id.startsWith(prefix));
  expect(ids, prefix).toHaveLength(1);
  return ids[0] as string;
}

/**
 * The KMS actions `statements` allow on `key`, sorted: those they name the key (or a pattern of keys) for. A key
 * policy decides only actions on a key; the stack grants KMS on `*` only for those without one
 * (kms:DescribeCustomKeyStores, rekey-stack.test.ts).
 */
function kmsActionsOn(statements: Statement[], key: string): string[] {
  const actions = statements
    .filter((s) => s.Effect === "Allow" && s.Resource.some((r) => r !== "*" && iamMatch(r, key)))
    .flatMap((s) => s.Action)
    .filter((a) => a.startsWith("kms:"));
  return [...new Set(actions)].sort();
}

/** The actions key-policy `statements` allow to `principal`, sorted. */
function keyPolicyActionsFor(statements: Record<string, unknown>[], principal: string): string[] {
  const actions = statements
    .filter((s) => s.Effect === "Allow" && [(s.Principal as { AWS: unknown }).AWS].flat().includes(principal))
    .flatMap((s) => [s.Action].flat() as string[]);
  return [...new Set(actions)].sort();
}

/** What each role the runbook names may do with `key`, by its IAM policies in the template. */
function iamGrants(key: string): Record<string, string[]> {
  const operator = logicalIdOf(template, "AWS::IAM::ManagedPolicy", () => true);
  const operatorStatements = (
    template.toJSON().Resources[operator].Properties.PolicyDocument.Statement as Record<string, unknown>[]
  ).map(normalizeStatement);
  const grants: Record<string, string[]> = { OPERATORS_ROLE: kmsActionsOn(operatorStatements, key) };
  for (const [variable, roleId] of Object.entries(roleVariables())) {
    grants[variable] = kmsActionsOn(roleStatements(template, roleId), key);
  }
  return grants;
}

const arnOf = (variable: string) => (variable === "BATCH_ROLE" ? ROLE : `arn:aws:iam::${ACCOUNT}:role/${variable}`);

describe("runbooks/deploy.md", () => {
  it("lists every field of the configuration file in its table, and no other", () => {
    const table = [...RUNBOOK.matchAll(/^\| `(\w+)`( \(required\))? \|/gm)].map((m) => m[1]);
    expect(table.sort()).toEqual([...CONFIG_FIELDS].sort());
  });

  it("reads only outputs the stack has", () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    const named = new Set(
      [...RUNBOOK.matchAll(/--stack-name Rekey --query "Stacks\[0\]\.Outputs\[\?OutputKey=='(\w+)'/g)].map(
        (m) => m[1] as string,
      ),
    );
    expect([...named].filter((o) => !outputs.includes(o))).toEqual([]);
    expect(named).toContain("OperatorPolicyArn");
  });

  it("counts the functions and log groups the template has", () => {
    const count = (what: RegExp) => Number(what.exec(RUNBOOK)?.[1]);
    expect(count(/\| (\d+) Lambda functions/)).toBe(
      Object.keys(template.findResources("AWS::Lambda::Function")).length,
    );
    expect(count(/\| (\d+) CloudWatch log groups/)).toBe(
      Object.keys(template.findResources("AWS::Logs::LogGroup")).length,
    );
  });

  it("configures rekey with the file only, and finds the region as aws CLI v1 and v2 both do", () => {
    expect(RUNBOOK).not.toMatch(/-c rekey:(?!configFile\b)/);
    // Every `aws configure get region` is the last resort, after AWS_REGION and AWS_DEFAULT_REGION.
    const lastResorts = RUNBOOK.match(/\$\(aws configure get region\)/g) ?? [];
    const full = RUNBOOK.match(/\$\{AWS_REGION:-\$\{AWS_DEFAULT_REGION:-\$\(aws configure get region\)\}\}/g) ?? [];
    expect(lastResorts.length).toBeGreaterThan(0);
    expect(full).toHaveLength(lastResorts.length);
  });

  it("names in the target keys' statements every role of the stack that uses a target key, with its actions", () => {
    const grants = iamGrants(SAMPLE_KEY_ARN);
    const users = Object.keys(template.findResources("AWS::IAM::Role")).filter(
      (id) => kmsActionsOn(roleStatements(template, id), SAMPLE_KEY_ARN).length > 0,
    );
    expect(users.sort()).toEqual(Object.values(roleVariables()).sort());
    const statements = heredoc("rekey-key-statements.json", {
      ...Object.fromEntries(Object.keys(grants).map((v) => [v, arnOf(v)])),
      REGION,
    });
    for (const [variable, actions] of Object.entries(grants)) {
      expect(keyPolicyActionsFor(statements, arnOf(variable)), variable).toEqual(actions);
    }
  });

  it("names in the source keys' statements what the stack's roles may do with a source key", () => {
    const grants = Object.entries(iamGrants(SOURCE_KEY)).filter(([, actions]) => actions.length > 0);
    expect(grants.map(([v]) => v).sort()).toEqual(["BATCH_ROLE", "COPY_ROLE"]);
    const statements = heredoc("rekey-source-key-statements.json", {
      ...Object.fromEntries(grants.map(([v]) => [v, arnOf(v)])),
      REGION,
    });
    for (const [variable, actions] of grants) {
      expect(keyPolicyActionsFor(statements, arnOf(variable)), variable).toEqual(actions);
    }
  });

  it("gives target-key statements that rekey's preflight finds sufficient, without the account's root statement", () => {
    const variables = [...RUNBOOK.matchAll(/"\$(\w+)"/g)].map((m) => m[1] as string);
    const statements = heredoc("rekey-key-statements.json", {
      ...Object.fromEntries(variables.map((v) => [v, arnOf(v)])),
      REGION,
    });
    const raised: Finding[] = [];
    checkKeyPolicy({ ...healthy(), keyPolicy: policy(...statements) }, (code, message, fix) =>
      raised.push({ code, message, fix }),
    );
    expect(raised).toEqual([]);
    // And the check can fail: without the Batch Operations role's statement, it says so.
    const without = statements.filter((s) => s.Sid !== "RekeyBatchOperations");
    const codes: string[] = [];
    checkKeyPolicy({ ...healthy(), keyPolicy: policy(...without) }, (code) => codes.push(code));
    expect(codes).toContain("key-policy-denies-batch-role");
  });
});
