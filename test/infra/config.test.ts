import { Aws, Token } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { MAX_REMEDIATED_BUCKETS, parseRekeyConfig, RekeyConfigError } from "../../infra/config.ts";
import { buildStack, OTHER_KEY_ARN, SAMPLE_KEY_ARN } from "./helpers.ts";

const region = "us-east-1";
const valid = { buckets: ["example-data-bucket"], kmsKeyArns: [SAMPLE_KEY_ARN] };
const problems = (raw: Record<string, unknown>) => {
  try {
    parseRekeyConfig(raw, region, "rekey.test.json");
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
      stackName: "Rekey",
      buckets: ["example-data-bucket", "data-prod-*", "a.b.c"],
      kmsKeyArns: [SAMPLE_KEY_ARN],
      sourceKmsKeyArns: [],
      logRetentionDays: 90,
      runArtifactExpirationDays: 90,
      inventoryExpirationDays: 30,
      athenaBytesScannedCutoffPerQuery: 1024 ** 4,
      enforcement: { configRule: false, automaticRemediation: {} },
    });
  });

  it("names the source and the field of every problem", () => {
    expect(problems({ ...valid, buckets: ["*"] })).toMatch(
      /^Invalid rekey configuration in rekey\.test\.json:\n {2}- buckets\[0\]: "\*" is neither.*A lone "\*"/s,
    );
  });

  it("takes an Athena cutoff of at least Athena's minimum, 10,000,000 bytes", () => {
    expect(parseRekeyConfig({ ...valid, athenaBytesScannedCutoffPerQuery: 10_000_000 }, region)).toMatchObject({
      athenaBytesScannedCutoffPerQuery: 10_000_000,
    });
    expect(problems({ ...valid, athenaBytesScannedCutoffPerQuery: 9_999_999 })).toMatch(
      /athenaBytesScannedCutoffPerQuery: must be at least 10000000 bytes/,
    );
  });

  it("takes lists as JSON arrays and numbers as numbers, as a JSON file holds them", () => {
    const message = problems({
      buckets: "one-bucket,two-bucket",
      kmsKeyArns: [SAMPLE_KEY_ARN],
      logRetentionDays: "30",
    });
    expect(message).toMatch(/buckets: .*expected array/);
    expect(message).toMatch(/logRetentionDays: .*expected number/);
  });

  it("refuses a field it does not know, so a misspelt one is not silently left at its default", () => {
    expect(problems({ ...valid, bucket: ["other-bucket"] })).toMatch(
      /- bucket: not a rekey setting; the settings are stackName, buckets, kmsKeyArns, /,
    );
  });

  it("refuses a stack name CloudFormation would refuse", () => {
    expect(problems({ ...valid, stackName: "rekey_prod" })).toMatch(/stackName: must be a CloudFormation stack name/);
    expect(parseRekeyConfig({ ...valid, stackName: "Rekey-Prod" }, region).stackName).toBe("Rekey-Prod");
  });

  it("refuses a stack name too long for the fleet state machine's name, <stackName>-fleet, in 80 characters", () => {
    const longest = `R${"e".repeat(73)}`;
    expect(parseRekeyConfig({ ...valid, stackName: longest }, region).stackName).toBe(longest);
    expect(problems({ ...valid, stackName: `${longest}y` })).toMatch(/stackName: must be at most 74 characters/);
  });

  it.each([
    ["Uppercase", "uppercase letters"],
    ["ab", "too short"],
    ["data*prod", "a * not at the end"],
    ["da*", "a prefix under 3 characters"],
    ["arn:aws:s3:::bucket", "an ARN"],
  ])("refuses bucket %j (%s)", (bucket) => {
    expect(problems({ ...valid, buckets: [bucket] })).toContain(`buckets[0]: "${bucket}" is neither`);
  });

  it("requires at least one bucket and one key, naming both fields", () => {
    const message = problems({});
    expect(message).toMatch(/- buckets: /);
    expect(message).toMatch(/- kmsKeyArns: /);
    expect(problems({ buckets: [], kmsKeyArns: [] })).toMatch(/- buckets: name at least one bucket/);
  });

  it.each([
    ["alias/rekey", "an alias"],
    ["1234abcd-12ab-34cd-56ef-1234567890ab", "a bare key id"],
    ["arn:aws:kms:us-east-1:123456789012:alias/rekey", "an alias ARN"],
    ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "another region"],
    ["arn:aws:kms:us-east-1:12345:key/1234abcd-12ab-34cd-56ef-1234567890ab", "a short account"],
  ])("refuses key %j (%s)", (arn) => {
    expect(problems({ ...valid, kmsKeyArns: [arn] })).toContain(
      `kmsKeyArns[0]: "${arn}" is not the full ARN of a KMS key in us-east-1`,
    );
  });

  it("refuses a log retention CloudWatch does not offer", () => {
    expect(problems({ ...valid, logRetentionDays: 45 })).toMatch(/logRetentionDays: must be one of/);
  });

  it("refuses to check key ARNs against an unresolved region", () => {
    expect(() => parseRekeyConfig(valid, Token.asString(Aws.REGION))).toThrow(/concrete region/);
  });

  describe("enforcement", () => {
    const two = { buckets: ["example-data-bucket", "data-prod-*"], kmsKeyArns: [SAMPLE_KEY_ARN, OTHER_KEY_ARN] };
    const enforcement = (e: unknown) => problems({ ...two, enforcement: e });

    it("takes the detect rule and buckets the configuration allows, each under a target key", () => {
      const e = {
        configRule: true,
        automaticRemediation: { "example-data-bucket": SAMPLE_KEY_ARN, "data-prod-logs": OTHER_KEY_ARN },
      };
      expect(parseRekeyConfig({ ...two, enforcement: e }, region).enforcement).toEqual(e);
      expect(parseRekeyConfig({ ...two, enforcement: { configRule: true } }, region).enforcement).toEqual({
        configRule: true,
        automaticRemediation: {},
      });
    });

    it("refuses a bucket the configuration does not allow, naming the bucket", () => {
      expect(enforcement({ automaticRemediation: { "other-bucket": SAMPLE_KEY_ARN } })).toMatch(
        /- enforcement\[automaticRemediation\]\[other-bucket\]: "other-bucket" is not among "buckets"/,
      );
    });

    it("refuses a key that is not a target key, and one that is no key ARN", () => {
      const another = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-4000-8000-00000000abcd";
      expect(enforcement({ automaticRemediation: { "example-data-bucket": another } })).toMatch(
        /enforcement\[automaticRemediation\]\[example-data-bucket\]: .* is not one of "kmsKeyArns"/,
      );
      expect(enforcement({ automaticRemediation: { "example-data-bucket": "alias/rekey" } })).toMatch(
        /enforcement\[automaticRemediation\]\[example-data-bucket\]: "alias\/rekey" is not the full ARN/,
      );
    });

    it("refuses a prefix pattern: remediation names each bucket", () => {
      expect(enforcement({ automaticRemediation: { "data-prod-*": SAMPLE_KEY_ARN } })).toMatch(
        /enforcement\[automaticRemediation\]\[data-prod-\*\]: "data-prod-\*" is not a bucket name/,
      );
    });

    it(`refuses more than ${MAX_REMEDIATED_BUCKETS} buckets`, () => {
      const many = Object.fromEntries(
        Array.from({ length: MAX_REMEDIATED_BUCKETS + 1 }, (_, i) => [`data-prod-${i}`, SAMPLE_KEY_ARN]),
      );
      expect(enforcement({ automaticRemediation: many })).toMatch(
        new RegExp(`enforcement\\[automaticRemediation\\]: at most ${MAX_REMEDIATED_BUCKETS} buckets`),
      );
    });

    it("refuses a misspelt field and a value of the wrong type", () => {
      expect(enforcement({ configRules: true })).toMatch(/enforcement: .*configRules/);
      expect(enforcement({ configRule: "yes" })).toMatch(/enforcement\[configRule\]: .*expected boolean/);
    });
  });

  it("stops the synth with the same message when the configuration is wrong", () => {
    expect(() => buildStack({ config: { buckets: ["*"] } })).toThrow(/Invalid rekey configuration/);
  });
});
