import { describe, expect, it } from "vitest";
import {
  bucketNameProblem,
  describeIssues,
  kmsKeyArnProblem,
  RunRequestSchema,
  sourceOf,
} from "../../contract/run-request.ts";
import { closestKey } from "../../contract/strict-object.ts";

const KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const valid = {
  bucket: "my-data",
  kmsKeyArn: KEY,
  inventoryConfigurationId: "all-versions",
  workBucket: "my-rekey-work",
};

describe("run request validation", () => {
  it.each([
    ["ab", /3 to 63 characters/],
    ["My_Bucket", /lowercase letters, digits, dots and hyphens/],
    ["-bucket", /begin and end/],
    ["a..b", /two adjacent dots/],
    ["192.168.5.4", /IP address/],
    ["xn--bucket", /must not start with "xn--"/],
    ["bucket-s3alias", /must not end with "-s3alias"/],
  ])("names the rule bucket %s breaks", (name, message) => {
    expect(bucketNameProblem(name)).toMatch(message);
  });

  it("accepts ordinary bucket names", () => {
    for (const name of ["my-data", "logs.example.com", "a1b"]) expect(bucketNameProblem(name)).toBeUndefined();
  });

  it("asks for the key ARN when given an alias or a key id, and says how to find it", () => {
    expect(kmsKeyArnProblem("alias/data")).toMatch(/alias.*full key ARN.*aws kms describe-key --key-id 'alias\/data'/s);
    expect(kmsKeyArnProblem("arn:aws:kms:us-east-1:123456789012:alias/data")).toMatch(/alias/);
    expect(kmsKeyArnProblem("1234abcd-12ab-34cd-56ef-1234567890ab")).toMatch(/key id/);
    expect(kmsKeyArnProblem("not-a-key")).toMatch(/not a KMS key ARN/);
    expect(kmsKeyArnProblem(KEY)).toBeUndefined();
  });

  it("rejects a key from another region than the one requested", () => {
    const r = RunRequestSchema.safeParse({ ...valid, region: "eu-west-1" });
    expect(r.success).toBe(false);
    if (!r.success) expect(describeIssues(r.error)).toMatch(/kmsKeyArn is in us-east-1 but region is eu-west-1/);
  });

  it("rejects a work bucket equal to the bucket, and unknown fields", () => {
    const same = RunRequestSchema.safeParse({ ...valid, workBucket: "my-data" });
    expect(same.success).toBe(false);
    if (!same.success) expect(describeIssues(same.error)).toMatch(/workBucket must differ from bucket/);
    expect(RunRequestSchema.safeParse({ ...valid, kmsKeyID: KEY }).success).toBe(false);
  });

  it("accepts a valid request and fills option defaults later", () => {
    expect(RunRequestSchema.parse(valid)).toEqual(valid);
  });

  it("reads candidates from the inventory when one is named, and from the manifest generator otherwise", () => {
    expect(sourceOf(RunRequestSchema.parse(valid))).toBe("inventory");
    const { inventoryConfigurationId: _, ...withoutInventory } = valid;
    expect(sourceOf(RunRequestSchema.parse(withoutInventory))).toBe("generate");
    expect(sourceOf(RunRequestSchema.parse({ ...withoutInventory, source: "generate" }))).toBe("generate");
  });

  it("refuses a source that contradicts the inventory setting, saying what to change", () => {
    const { inventoryConfigurationId: _, ...withoutInventory } = valid;
    const noInventory = RunRequestSchema.safeParse({ ...withoutInventory, source: "inventory" });
    expect(noInventory.success).toBe(false);
    if (!noInventory.success) expect(describeIssues(noInventory.error)).toMatch(/needs inventoryConfigurationId/);
    const both = RunRequestSchema.safeParse({ ...valid, source: "generate" });
    expect(both.success).toBe(false);
    if (!both.success) expect(describeIssues(both.error)).toMatch(/drop inventoryConfigurationId/);
    expect(RunRequestSchema.safeParse({ ...valid, source: "athena" }).success).toBe(false);
  });

  it("refuses an unknown option, naming it, the option it resembles and every known option", () => {
    const r = RunRequestSchema.safeParse({ ...valid, options: { inventoryWaitSecond: 3600 } });
    expect(r.success).toBe(false);
    if (!r.success) {
      expect(describeIssues(r.error)).toBe(
        'options: unknown key "inventoryWaitSecond" (did you mean inventoryWaitSeconds?); known keys: ' +
          "inventoryWaitSeconds, inventoryPollSeconds, jobPollMinSeconds, jobPollMaxSeconds, jobPriority, " +
          "verifySampleSize, headCheckMaxObjects, requireApproval, taskAttempts, redriveBackoffSeconds, " +
          "cancelAfterFailedTasks, sseKmsWithBucketKey, maxActiveJobs, acknowledge.",
      );
    }
  });

  it("refuses unknown top-level keys the same way, suggesting only keys that are close", () => {
    const r = RunRequestSchema.safeParse({ ...valid, kmsKeyID: KEY, colour: "blue" });
    expect(r.success).toBe(false);
    if (!r.success) {
      expect(describeIssues(r.error)).toMatch(
        /^unknown keys "kmsKeyID" \(did you mean kmsKeyArn\?\), "colour"; known keys: bucket, kmsKeyArn, source, engine, /,
      );
    }
    expect(closestKey("RequireApproval", ["requireApproval", "acknowledge"])).toBe("requireApproval");
    expect(closestKey("colour", ["bucket", "source", "region"])).toBeUndefined();
  });
});
