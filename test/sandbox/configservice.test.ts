import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import {
  ConfigServiceClient,
  DeleteConfigRuleCommand,
  DescribeComplianceByConfigRuleCommand,
  DescribeConfigRulesCommand,
  type EvaluationResult,
  GetComplianceDetailsByConfigRuleCommand,
  PutConfigRuleCommand,
  paginateDescribeConfigRules,
  paginateGetComplianceDetailsByConfigRule,
  StartConfigRulesEvaluationCommand,
} from "@aws-sdk/client-config-service";
import { CreateKeyCommand } from "@aws-sdk/client-kms";
import {
  DeleteBucketCommand,
  DeleteBucketEncryptionCommand,
  PutBucketEncryptionCommand,
  PutBucketTaggingCommand,
} from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { awsCliEnv, cliWorks, newTestBucket, useSandbox } from "../support/sandbox.ts";

const run = promisify(execFile);
const onPath = await cliWorks();
/** Debian's aws-cli v2 package, which a pip-installed v1 on PATH shadows. */
const debianV2 = existsSync("/usr/bin/aws") && (await cliWorks("/usr/bin/aws")) ? "/usr/bin/aws" : undefined;

const MANAGED = { Owner: "AWS", SourceIdentifier: "S3_DEFAULT_ENCRYPTION_KMS" } as const;

/** The sandbox's AWS Config (sandbox/CONFIG.md) with the real SDK client and the aws CLI. */
describe("sandbox AWS Config: the managed rule s3-default-encryption-kms", () => {
  const env = useSandbox();
  let config: ConfigServiceClient;
  let target = "";
  let other = "";
  /** Every bucket of the sandbox, by what its default encryption is. */
  const b = { target: "", targetNoBucketKey: "", other: "", sseS3: "", dsse: "" };
  let names: string[] = [];

  const defaultKms = (bucket: string, key: string, algorithm = "aws:kms", bucketKey = true) =>
    env.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: {
                SSEAlgorithm: algorithm as "aws:kms",
                KMSMasterKeyID: key,
              },
              BucketKeyEnabled: bucketKey,
            },
          ],
        },
      }),
    );

  /** Every result of a rule, through the SDK's paginator with pages of `limit`. */
  async function results(rule: string, limit = 100): Promise<Record<string, EvaluationResult>> {
    const all: EvaluationResult[] = [];
    for await (const page of paginateGetComplianceDetailsByConfigRule(
      { client: config },
      { ConfigRuleName: rule, Limit: limit },
    )) {
      all.push(...(page.EvaluationResults ?? []));
    }
    return Object.fromEntries(
      all.map((r) => [r.EvaluationResultIdentifier?.EvaluationResultQualifier?.ResourceId ?? "", r]),
    );
  }
  const compliance = async (rule: string, limit?: number) =>
    Object.fromEntries(
      Object.entries(await results(rule, limit))
        .filter(([bucket]) => names.includes(bucket))
        .map(([bucket, r]) => [bucket, r.ComplianceType]),
    );

  beforeAll(async () => {
    config = new ConfigServiceClient({
      endpoint: env.sandbox.endpoint,
      region: env.sandbox.identity.region,
      credentials: SANDBOX_CREDENTIALS,
    });
    const key = async () => (await env.kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? "";
    target = await key();
    other = await key();
    for (const k of Object.keys(b) as (keyof typeof b)[]) b[k] = await newTestBucket(env.s3, `cfg-${k.toLowerCase()}`);
    names = Object.values(b);
    await defaultKms(b.target, target);
    await defaultKms(b.targetNoBucketKey, target, "aws:kms", false);
    await defaultKms(b.other, other);
    await defaultKms(b.dsse, target, "aws:kms:dsse", false);
  });

  it("judges every bucket when the rule is put: SSE-KMS under a listed key, whatever the Bucket Key", async () => {
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleName: "rekey-detect",
          Source: MANAGED,
          InputParameters: JSON.stringify({ kmsKeyArns: `${target}, arn:aws:kms:us-east-1:123456789012:key/spare` }),
          Scope: { ComplianceResourceTypes: ["AWS::S3::Bucket"] },
        },
      }),
    );
    expect(await compliance("rekey-detect", 2)).toEqual({
      [b.target]: "COMPLIANT",
      [b.targetNoBucketKey]: "COMPLIANT",
      [b.other]: "NON_COMPLIANT",
      [b.sseS3]: "NON_COMPLIANT",
      [b.dsse]: "NON_COMPLIANT",
    });
    const detail = (await results("rekey-detect"))[b.other];
    expect(detail?.Annotation).toContain(other);
    expect(detail?.EvaluationResultIdentifier?.EvaluationResultQualifier).toEqual({
      ConfigRuleName: "rekey-detect",
      ResourceType: "AWS::S3::Bucket",
      ResourceId: b.other,
      EvaluationMode: "DETECTIVE",
    });
    expect(detail?.ResultRecordedTime).toBeInstanceOf(Date);

    // Without kmsKeyArns any KMS key will do.
    await config.send(new PutConfigRuleCommand({ ConfigRule: { ConfigRuleName: "any-kms", Source: MANAGED } }));
    expect(await compliance("any-kms")).toMatchObject({ [b.other]: "COMPLIANT", [b.sseS3]: "NON_COMPLIANT" });

    const [rule] = (await config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: ["rekey-detect"] })))
      .ConfigRules ?? [undefined];
    expect(rule).toMatchObject({
      ConfigRuleName: "rekey-detect",
      ConfigRuleArn: expect.stringMatching(
        /^arn:aws:config:us-east-1:123456789012:config-rule\/config-rule-[a-z0-9]{6}$/,
      ),
      ConfigRuleId: expect.stringMatching(/^config-rule-[a-z0-9]{6}$/),
      Source: MANAGED,
      ConfigRuleState: "ACTIVE",
      Scope: { ComplianceResourceTypes: ["AWS::S3::Bucket"] },
    });
  });

  it("keeps each result until the rule is evaluated again, then judges the buckets as they are", async () => {
    await defaultKms(b.sseS3, target);
    const late = await newTestBucket(env.s3, "cfg-late");
    await env.s3.send(new DeleteBucketEncryptionCommand({ Bucket: b.target }));
    await env.s3.send(new DeleteBucketCommand({ Bucket: b.dsse }));
    const before = await results("rekey-detect");
    expect(before[b.sseS3]?.ComplianceType).toBe("NON_COMPLIANT");
    expect(before[b.target]?.ComplianceType).toBe("COMPLIANT");
    expect(before[b.dsse]?.ComplianceType).toBe("NON_COMPLIANT");
    expect(before[late]).toBeUndefined();

    await config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: ["rekey-detect"] }));
    const after = await results("rekey-detect");
    expect(after[b.sseS3]?.ComplianceType).toBe("COMPLIANT");
    expect(after[b.target]?.ComplianceType).toBe("NON_COMPLIANT");
    expect(after[b.dsse]).toMatchObject({
      ComplianceType: "NOT_APPLICABLE",
      Annotation: "The bucket no longer exists.",
    });
    expect(after[late]?.ComplianceType).toBe("NON_COMPLIANT");
    expect(
      (after[b.sseS3]?.ResultRecordedTime?.getTime() ?? 0) > (before[b.sseS3]?.ResultRecordedTime?.getTime() ?? 0),
    ).toBe(true);
    // The other rule was not asked: it still says what it said.
    expect((await results("any-kms"))[b.target]?.ComplianceType).toBe("COMPLIANT");
    // Filtered by compliance, as the API takes it.
    const noncompliant = await config.send(
      new GetComplianceDetailsByConfigRuleCommand({
        ConfigRuleName: "rekey-detect",
        ComplianceTypes: ["NOT_APPLICABLE"],
      }),
    );
    expect(
      noncompliant.EvaluationResults?.map((r) => r.EvaluationResultIdentifier?.EvaluationResultQualifier?.ResourceId),
    ).toEqual([b.dsse]);
  });

  it("evaluates only the buckets in the rule's scope: one resource id, or a tag", async () => {
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleName: "one-bucket",
          Source: MANAGED,
          InputParameters: JSON.stringify({ kmsKeyArns: other }),
          Scope: { ComplianceResourceTypes: ["AWS::S3::Bucket"], ComplianceResourceId: b.other },
        },
      }),
    );
    expect(Object.keys(await results("one-bucket"))).toEqual([b.other]);
    await env.s3.send(
      new PutBucketTaggingCommand({
        Bucket: b.targetNoBucketKey,
        Tagging: { TagSet: [{ Key: "team", Value: "data" }] },
      }),
    );
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: { ConfigRuleName: "tagged", Source: MANAGED, Scope: { TagKey: "team", TagValue: "data" } },
      }),
    );
    expect(await results("tagged")).toEqual({
      [b.targetNoBucketKey]: expect.objectContaining({ ComplianceType: "COMPLIANT" }),
    });
    // A rule on another resource type judges no bucket.
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleName: "keys-only",
          Source: MANAGED,
          Scope: { ComplianceResourceTypes: ["AWS::KMS::Key"] },
        },
      }),
    );
    expect(await results("keys-only")).toEqual({});
  });

  it("sums a rule's compliance up, changes a rule in place, pages the rules and deletes them", async () => {
    const summary = await config.send(
      new DescribeComplianceByConfigRuleCommand({ ConfigRuleNames: ["rekey-detect", "keys-only", "one-bucket"] }),
    );
    expect(summary.ComplianceByConfigRules).toEqual([
      {
        ConfigRuleName: "rekey-detect",
        Compliance: {
          ComplianceType: "NON_COMPLIANT",
          ComplianceContributorCount: { CappedCount: expect.any(Number), CapExceeded: false },
        },
      },
      { ConfigRuleName: "keys-only", Compliance: { ComplianceType: "INSUFFICIENT_DATA" } },
      { ConfigRuleName: "one-bucket", Compliance: { ComplianceType: "COMPLIANT" } },
    ]);

    const [before] =
      (await config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: ["one-bucket"] }))).ConfigRules ?? [];
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleArn: before?.ConfigRuleArn,
          Source: MANAGED,
          InputParameters: JSON.stringify({ kmsKeyArns: target }),
          Scope: { ComplianceResourceTypes: ["AWS::S3::Bucket"], ComplianceResourceId: b.other },
        },
      }),
    );
    const [after] =
      (await config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: ["one-bucket"] }))).ConfigRules ?? [];
    expect(after?.ConfigRuleId).toBe(before?.ConfigRuleId);
    expect((await results("one-bucket"))[b.other]?.ComplianceType).toBe("NON_COMPLIANT");

    for (let i = 0; i < 25; i++) {
      await config.send(
        new PutConfigRuleCommand({
          ConfigRule: { ConfigRuleName: `bulk-${String(i).padStart(2, "0")}`, Source: MANAGED },
        }),
      );
    }
    const pages: number[] = [];
    const listed: string[] = [];
    for await (const page of paginateDescribeConfigRules({ client: config }, {})) {
      pages.push(page.ConfigRules?.length ?? 0);
      listed.push(...(page.ConfigRules ?? []).map((r) => r.ConfigRuleName ?? ""));
    }
    expect(pages).toEqual([25, 5]);
    expect(listed).toEqual([...listed].sort());

    await config.send(new DeleteConfigRuleCommand({ ConfigRuleName: "bulk-00" }));
    await expect(
      config.send(new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: "bulk-00" })),
    ).rejects.toMatchObject({ name: "NoSuchConfigRuleException" });
  });

  it("answers Config's errors in its JSON 1.1 form", async () => {
    const put = (rule: Record<string, unknown>) =>
      config.send(new PutConfigRuleCommand({ ConfigRule: { ConfigRuleName: "bad", Source: MANAGED, ...rule } }));
    await expect(
      put({ Source: { Owner: "AWS", SourceIdentifier: "S3_BUCKET_VERSIONING_ENABLED" } }),
    ).rejects.toMatchObject({
      name: "InvalidParameterValueException",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(put({ InputParameters: JSON.stringify({ kmsKeyArns: "alias/data" }) })).rejects.toMatchObject({
      name: "InvalidParameterValueException",
      message: expect.stringContaining("alias/data"),
    });
    await expect(put({ InputParameters: JSON.stringify({ KmsKeyArns: target }) })).rejects.toMatchObject({
      name: "InvalidParameterValueException",
    });
    await expect(put({ InputParameters: "{not json" })).rejects.toMatchObject({
      name: "InvalidParameterValueException",
    });
    await expect(put({ MaximumExecutionFrequency: "One_Hour" })).rejects.toMatchObject({
      name: "InvalidParameterValueException",
    });
    await expect(config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: ["bad"] }))).rejects.toMatchObject({
      name: "NoSuchConfigRuleException",
    });
    await expect(
      config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: ["rekey-detect", "nope"] })),
    ).rejects.toMatchObject({
      name: "NoSuchConfigRuleException",
    });
    await expect(config.send(new DeleteConfigRuleCommand({ ConfigRuleName: "nope" }))).rejects.toMatchObject({
      name: "NoSuchConfigRuleException",
    });
    await expect(
      config.send(new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: "rekey-detect", Limit: 101 })),
    ).rejects.toMatchObject({ name: "ValidationException" });
    await expect(
      config.send(
        new GetComplianceDetailsByConfigRuleCommand({
          ConfigRuleName: "rekey-detect",
          ComplianceTypes: ["INSUFFICIENT_DATA"],
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidParameterValueException" });
    await expect(
      config.send(
        new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: "rekey-detect", NextToken: "garbage" }),
      ),
    ).rejects.toMatchObject({ name: "InvalidNextTokenException" });
  });

  it("keeps each region's rules apart: a request signed for another region sees none", async () => {
    const elsewhere = new ConfigServiceClient({
      endpoint: env.sandbox.endpoint,
      region: "eu-west-1",
      credentials: SANDBOX_CREDENTIALS,
    });
    expect((await elsewhere.send(new DescribeConfigRulesCommand({}))).ConfigRules).toEqual([]);
    await elsewhere.send(new PutConfigRuleCommand({ ConfigRule: { ConfigRuleName: "eu", Source: MANAGED } }));
    // The sandbox's buckets are all in its own region: nothing for this rule to judge.
    expect(
      (await elsewhere.send(new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: "eu" }))).EvaluationResults,
    ).toEqual([]);
  });

  describe.runIf(onPath)("aws configservice against the sandbox (skipped: `aws` is not on PATH)", () => {
    const clis = [
      { name: "aws CLI v1", bin: "aws" },
      ...(debianV2 ? [{ name: "Debian's aws CLI v2", bin: debianV2 }] : []),
    ];

    async function aws(bin: string, ...args: string[]): Promise<Record<string, unknown>> {
      const { stdout } = await run(
        bin,
        ["configservice", ...args, "--endpoint-url", env.sandbox.endpoint, "--output", "json"],
        {
          env: awsCliEnv(env.sandbox),
        },
      );
      return stdout.trim() === "" ? {} : (JSON.parse(stdout) as Record<string, unknown>);
    }

    it.each(clis)(
      "$name: put-config-rule, describe-config-rules, get-compliance-details-by-config-rule, start-config-rules-evaluation, delete-config-rule",
      async ({ bin }) => {
        const name = `cli-${bin.length}`;
        await aws(
          bin,
          "put-config-rule",
          "--config-rule",
          JSON.stringify({
            ConfigRuleName: name,
            Source: MANAGED,
            InputParameters: JSON.stringify({ kmsKeyArns: target }),
          }),
        );
        const described = await aws(bin, "describe-config-rules", "--config-rule-names", name);
        expect(described.ConfigRules).toEqual([expect.objectContaining({ ConfigRuleName: name, Source: MANAGED })]);
        await aws(bin, "start-config-rules-evaluation", "--config-rule-names", name);
        const details = await aws(
          bin,
          "get-compliance-details-by-config-rule",
          "--config-rule-name",
          name,
          "--page-size",
          "1",
        );
        const results = details.EvaluationResults as {
          ComplianceType: string;
          EvaluationResultIdentifier: { EvaluationResultQualifier: { ResourceId: string } };
        }[];
        const byBucket = Object.fromEntries(
          results.map((r) => [r.EvaluationResultIdentifier.EvaluationResultQualifier.ResourceId, r.ComplianceType]),
        );
        // The CLI follows NextToken itself: every bucket, though pages hold one.
        expect(byBucket).toMatchObject({ [b.targetNoBucketKey]: "COMPLIANT", [b.other]: "NON_COMPLIANT" });
        await aws(bin, "delete-config-rule", "--config-rule-name", name);
        await expect(aws(bin, "describe-config-rules", "--config-rule-names", name)).rejects.toMatchObject({
          stderr: expect.stringContaining("NoSuchConfigRuleException"),
        });
      },
    );
  });
});
