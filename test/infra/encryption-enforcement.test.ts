/**
 * Keeping default encryption enforced (infra/constructs/encryption-enforcement.ts): the Config rules with the target
 * keys, the Automation document that sets SSE-KMS with the key and the Bucket Key, the remediation that runs it as a
 * role that may change only the named buckets, and nothing of it unless the configuration asks.
 */
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { REMEDIATION_ATTEMPTS } from "../../infra/constructs/encryption-enforcement.ts";
import { buildStack, logicalIdOf, OTHER_KEY_ARN, render, roleStatements, SAMPLE_KEY_ARN } from "./helpers.ts";

/** Two buckets under automatic remediation: a configured name, and one the pattern "data-prod-*" allows. */
const REMEDIATED: Record<string, string> = { "example-data-bucket": SAMPLE_KEY_ARN, "data-prod-logs": OTHER_KEY_ARN };
const MANAGED_RULE = { Owner: "AWS", SourceIdentifier: "S3_DEFAULT_ENCRYPTION_KMS" };

type Resource = { Type: string; Properties: Record<string, unknown> };
const resources = (t: Template, type: string) => Object.entries(t.findResources(type)) as [string, Resource][];

let template: Template;
beforeAll(() => {
  // With cdk-nag: the synth fails on any finding it does not acknowledge.
  template = buildStack({ config: { enforcement: { configRule: true, automaticRemediation: REMEDIATED } } }).synth();
});

/** The rule scoped to `bucket`, by its logical id. */
function ruleFor(t: Template, bucket: string): [string, Resource] {
  const found = resources(t, "AWS::Config::ConfigRule").filter(
    ([, r]) => (r.Properties.Scope as { ComplianceResourceId?: string }).ComplianceResourceId === bucket,
  );
  expect(found, bucket).toHaveLength(1);
  return found[0] as [string, Resource];
}

const roleId = (t: Template) =>
  logicalIdOf(t, "AWS::IAM::Role", (p) => JSON.stringify(p.AssumeRolePolicyDocument).includes("ssm.amazonaws.com"));

describe("with enforcement off (the default)", () => {
  it.each([
    ["no enforcement field", {}],
    ["both parts off", { enforcement: { configRule: false, automaticRemediation: {} } }],
  ])("creates no Config rule, remediation, document or role (%s)", (_, config) => {
    const t = buildStack({ config, nag: false }).synth();
    for (const type of ["AWS::Config::ConfigRule", "AWS::Config::RemediationConfiguration", "AWS::SSM::Document"]) {
      t.resourceCountIs(type, 0);
    }
    expect(JSON.stringify(t.findResources("AWS::IAM::Role"))).not.toContain("ssm.amazonaws.com");
  });

  it("creates no configuration recorder or delivery channel even when on: the account's own are used", () => {
    template.resourceCountIs("AWS::Config::ConfigurationRecorder", 0);
    template.resourceCountIs("AWS::Config::DeliveryChannel", 0);
  });
});

describe("the detect-only rule (configRule)", () => {
  it("is s3-default-encryption-kms with every target key, over all S3 buckets, and remediates nothing", () => {
    const t = buildStack({ config: { enforcement: { configRule: true } }, nag: false }).synth();
    const rules = resources(t, "AWS::Config::ConfigRule");
    expect(rules).toHaveLength(1);
    const [id, rule] = rules[0] as [string, Resource];
    expect(rule.Properties).toMatchObject({
      Source: MANAGED_RULE,
      InputParameters: { kmsKeyArns: `${SAMPLE_KEY_ARN},${OTHER_KEY_ARN}` },
      Scope: { ComplianceResourceTypes: ["AWS::S3::Bucket"] },
    });
    // Config scopes a rule to one resource id at most: this one covers the account.
    expect(rule.Properties.Scope).not.toHaveProperty("ComplianceResourceId");
    expect(rule.Properties).not.toHaveProperty("ConfigRuleName");
    t.resourceCountIs("AWS::Config::RemediationConfiguration", 0);
    t.resourceCountIs("AWS::SSM::Document", 0);
    expect(id).toMatch(/^EnforcementDetectRule/);
  });
});

describe("automatic remediation", () => {
  it("gives each named bucket a rule of its own, scoped to it, with its target key only", () => {
    for (const [bucket, key] of Object.entries(REMEDIATED)) {
      const [, rule] = ruleFor(template, bucket);
      expect(rule.Properties).toMatchObject({
        Source: MANAGED_RULE,
        InputParameters: { kmsKeyArns: key },
        Scope: { ComplianceResourceTypes: ["AWS::S3::Bucket"], ComplianceResourceId: bucket },
      });
    }
    // And the account-wide detect rule beside them.
    expect(resources(template, "AWS::Config::ConfigRule")).toHaveLength(Object.keys(REMEDIATED).length + 1);
  });

  it("runs an Automation document that sets SSE-KMS with the key and the Bucket Key, then checks all three", () => {
    const docs = resources(template, "AWS::SSM::Document");
    expect(docs).toHaveLength(1);
    const [, doc] = docs[0] as [string, Resource];
    expect(doc.Properties.DocumentType).toBe("Automation");
    const content = doc.Properties.Content as {
      schemaVersion: string;
      assumeRole: string;
      parameters: Record<string, { allowedValues: unknown[] }>;
      mainSteps: { name: string; action: string; inputs: Record<string, unknown> }[];
    };
    expect(content.schemaVersion).toBe("0.3");
    expect(content.assumeRole).toBe("{{ AutomationAssumeRole }}");
    const [set, ...checks] = content.mainSteps;
    expect(set).toEqual({
      name: "SetDefaultEncryption",
      action: "aws:executeAwsApi",
      inputs: {
        Service: "s3",
        Api: "PutBucketEncryption",
        Bucket: "{{ BucketName }}",
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: "{{ KmsKeyArn }}" },
              BucketKeyEnabled: true,
            },
          ],
        },
      },
    });
    expect(
      checks.map((c) => [c.action, c.inputs.Api, c.inputs.Bucket, c.inputs.PropertySelector, c.inputs.DesiredValues]),
    ).toEqual([
      [
        "aws:assertAwsResourceProperty",
        "GetBucketEncryption",
        "{{ BucketName }}",
        "$.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm",
        ["aws:kms"],
      ],
      [
        "aws:assertAwsResourceProperty",
        "GetBucketEncryption",
        "{{ BucketName }}",
        "$.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID",
        ["{{ KmsKeyArn }}"],
      ],
      [
        "aws:assertAwsResourceProperty",
        "GetBucketEncryption",
        "{{ BucketName }}",
        "$.ServerSideEncryptionConfiguration.Rules[0].BucketKeyEnabled",
        ["True"],
      ],
    ]);
  });

  it("lets the document be started only for the named buckets, their keys and the remediation role", () => {
    const [, doc] = resources(template, "AWS::SSM::Document")[0] as [string, Resource];
    const params = (doc.Properties.Content as { parameters: Record<string, { allowedValues: unknown[] }> }).parameters;
    expect(params.BucketName?.allowedValues).toEqual(Object.keys(REMEDIATED).sort());
    expect(params.KmsKeyArn?.allowedValues).toEqual([SAMPLE_KEY_ARN, OTHER_KEY_ARN].sort());
    expect(params.AutomationAssumeRole?.allowedValues?.map(render)).toEqual([`<${roleId(template)}.Arn>`]);
  });

  it("remediates each bucket automatically with that document, its key and the role, a bounded number of times", () => {
    const [docId] = resources(template, "AWS::SSM::Document")[0] as [string, Resource];
    const remediations = resources(template, "AWS::Config::RemediationConfiguration");
    expect(remediations).toHaveLength(Object.keys(REMEDIATED).length);
    for (const [bucket, key] of Object.entries(REMEDIATED)) {
      const [ruleId] = ruleFor(template, bucket);
      const mine = remediations.filter(([, r]) => render(r.Properties.ConfigRuleName) === `<${ruleId}>`);
      expect(mine, bucket).toHaveLength(1);
      const props = (mine[0] as [string, Resource])[1].Properties;
      expect(props).toMatchObject({
        TargetType: "SSM_DOCUMENT",
        ResourceType: "AWS::S3::Bucket",
        Automatic: true,
        MaximumAutomaticAttempts: REMEDIATION_ATTEMPTS.maximumAutomaticAttempts,
        RetryAttemptSeconds: REMEDIATION_ATTEMPTS.retryAttemptSeconds,
      });
      expect(render(props.TargetId)).toBe(`<${docId}>`);
      const parameters = props.Parameters as Record<
        string,
        { StaticValue?: { Values: unknown[] }; ResourceValue?: unknown }
      >;
      expect(Object.keys(parameters).sort()).toEqual(["AutomationAssumeRole", "BucketName", "KmsKeyArn"]);
      expect(parameters.AutomationAssumeRole?.StaticValue?.Values.map(render)).toEqual([`<${roleId(template)}.Arn>`]);
      expect(parameters.BucketName).toEqual({ ResourceValue: { Value: "RESOURCE_ID" } });
      expect(parameters.KmsKeyArn).toEqual({ StaticValue: { Values: [key] } });
    }
    expect(REMEDIATION_ATTEMPTS.maximumAutomaticAttempts).toBeLessThanOrEqual(5);
  });

  it("runs as a role only Systems Manager Automation of this account may assume", () => {
    const role = template.toJSON().Resources[roleId(template)];
    const trust = role.Properties.AssumeRolePolicyDocument.Statement as Record<string, unknown>[];
    expect(trust).toHaveLength(1);
    const [only] = trust as [{ Condition: { ArnLike: Record<string, unknown> } } & Record<string, unknown>];
    expect(only).toMatchObject({
      Action: "sts:AssumeRole",
      Effect: "Allow",
      Principal: { Service: "ssm.amazonaws.com" },
      Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } },
    });
    expect(Object.keys(only.Condition).sort()).toEqual(["ArnLike", "StringEquals"]);
    expect(render(only.Condition.ArnLike["aws:SourceArn"])).toBe(
      "arn:aws:ssm:us-east-1:123456789012:automation-execution/*",
    );
    expect(role.Properties).not.toHaveProperty("ManagedPolicyArns");
  });

  it("lets the role read and set the default encryption of the named buckets, and nothing else", () => {
    const grants = roleStatements(template, roleId(template)).flatMap((s) =>
      s.Action.flatMap((a) => s.Resource.map((r) => `${s.Effect} ${a} ${r}`)),
    );
    const buckets = Object.keys(REMEDIATED).map((b) => `arn:aws:s3:::${b}`);
    expect(grants.sort()).toEqual(
      ["s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"]
        .flatMap((a) => buckets.map((b) => `Allow ${a} ${b}`))
        .sort(),
    );
  });

  it("passes cdk-nag with no acknowledgement of its own", () => {
    const { stack } = buildStack({ config: { enforcement: { automaticRemediation: REMEDIATED } } });
    const enforcement = stack.enforcement;
    expect(enforcement).toBeDefined();
    const paths = stack.nagAcknowledgements.flatMap((a) => a.scopes.map((s) => s.node.path));
    expect(paths.filter((p) => p.startsWith(enforcement?.node.path ?? "-"))).toEqual([]);
  });
});
