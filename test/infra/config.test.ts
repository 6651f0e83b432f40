import { Aws, Token } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { parseRekeyConfig, RekeyConfigError, rekeyConfigFromContext } from "../../infra/config.ts";
import { buildStack, SAMPLE_KEY_ARN } from "./helpers.ts";

const region = "us-east-1";
const valid = { buckets: ["example-data-bucket"], kmsKeyArns: [SAMPLE_KEY_ARN] };
const problems = (raw: Record<string, unknown>) => {
  try {
    parseRekeyConfig(raw, region);
  } catch (err) {
    expect(err).toBeInstanceOf(RekeyConfigError);
    return (err as Error).message;
  }
  throw new Error("expected the configuration to be rejected");
};

describe("rekey configuration", () => {
  it("accepts bucket names and prefix patterns, full key ARNs in the region, and fills defaults", () => {
    expect(
      parseRekeyConfig(
        { buckets: ["example-data-bucket", "data-prod-*", "a.b.c"], kmsKeyArns: [SAMPLE_KEY_ARN] },
        region,
      ),
    ).toEqual({
      buckets: ["example-data-bucket", "data-prod-*", "a.b.c"],
      kmsKeyArns: [SAMPLE_KEY_ARN],
      sourceKmsKeyArns: [],
      logRetentionDays: 90,
      runArtifactExpirationDays: 90,
      inventoryExpirationDays: 30,
      athenaBytesScannedCutoffPerQuery: 1024 ** 4,
    });
  });

  it("takes an Athena cutoff of at least Athena's minimum, 10,000,000 bytes", () => {
    const context: Record<string, unknown> = {
      "rekey:buckets": "one-bucket",
      "rekey:kmsKeyArns": SAMPLE_KEY_ARN,
      "rekey:athenaBytesScannedCutoffPerQuery": "10000000",
    };
    expect(rekeyConfigFromContext((k) => context[k], region).athenaBytesScannedCutoffPerQuery).toBe(10_000_000);
    expect(problems({ ...valid, athenaBytesScannedCutoffPerQuery: 9_999_999 })).toMatch(
      /rekey:athenaBytesScannedCutoffPerQuery: must be at least 10000000 bytes/,
    );
  });

  it("reads lists given on the command line as JSON or comma-separated, and numbers as strings", () => {
    const context: Record<string, unknown> = {
      "rekey:buckets": '["one-bucket", "two-bucket"]',
      "rekey:kmsKeyArns": ` ${SAMPLE_KEY_ARN} `,
      "rekey:logRetentionDays": "30",
      "rekey:runArtifactExpirationDays": "400",
    };
    expect(rekeyConfigFromContext((k) => context[k], region)).toMatchObject({
      buckets: ["one-bucket", "two-bucket"],
      kmsKeyArns: [SAMPLE_KEY_ARN],
      logRetentionDays: 30,
      runArtifactExpirationDays: 400,
    });
  });

  it("refuses a wildcard-only bucket, and says what to do instead", () => {
    expect(problems({ ...valid, buckets: ["*"] })).toMatch(/rekey:buckets\[0\]: "\*" is neither.*A lone "\*"/s);
  });

  it.each([
    ["Uppercase", "uppercase letters"],
    ["ab", "too short"],
    ["data*prod", "a * not at the end"],
    ["da*", "a prefix under 3 characters"],
    ["arn:aws:s3:::bucket", "an ARN"],
  ])("refuses bucket %j (%s)", (bucket) => {
    expect(problems({ ...valid, buckets: [bucket] })).toContain(`rekey:buckets[0]: "${bucket}" is neither`);
  });

  it("requires at least one bucket and one key, naming the context keys", () => {
    const message = problems({});
    expect(message).toContain("rekey:buckets");
    expect(message).toContain("rekey:kmsKeyArns");
    expect(problems({ buckets: [], kmsKeyArns: [] })).toMatch(/rekey:buckets: name at least one bucket/);
  });

  it.each([
    ["alias/rekey", "an alias"],
    ["1234abcd-12ab-34cd-56ef-1234567890ab", "a bare key id"],
    ["arn:aws:kms:us-east-1:123456789012:alias/rekey", "an alias ARN"],
    ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "another region"],
    ["arn:aws:kms:us-east-1:12345:key/1234abcd-12ab-34cd-56ef-1234567890ab", "a short account"],
  ])("refuses key %j (%s)", (arn) => {
    expect(problems({ ...valid, kmsKeyArns: [arn] })).toContain(
      `rekey:kmsKeyArns[0]: "${arn}" is not the full ARN of a KMS key in us-east-1`,
    );
  });

  it("refuses a log retention CloudWatch does not offer", () => {
    expect(problems({ ...valid, logRetentionDays: 45 })).toMatch(/rekey:logRetentionDays: must be one of/);
  });

  it("refuses to check key ARNs against an unresolved region", () => {
    expect(() => parseRekeyConfig(valid, Token.asString(Aws.REGION))).toThrow(/concrete region/);
  });

  it("stops the synth with the same message when the context is wrong", () => {
    expect(() => buildStack({ context: { "rekey:buckets": ["*"] } })).toThrow(/Invalid rekey configuration/);
  });
});
