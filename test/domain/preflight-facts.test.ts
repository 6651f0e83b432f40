import { describe, expect, it } from "vitest";
import {
  cannotTell,
  isCannotTell,
  noncurrentExpirationDays,
  type PreflightFacts,
  summarizeFacts,
} from "../../steps/domain/preflight-facts.ts";
import { healthy, KEY } from "./preflight-fixtures.ts";

/** The healthy bucket, with no lifecycle rule and no bucket policy. */
function facts(changes: Partial<PreflightFacts> = {}): PreflightFacts {
  return { ...healthy(), lifecycle: [], bucketPolicy: null, ...changes };
}

describe("cannotTell", () => {
  it("marks a fact rekey could not read, with the reason, and tells it from real facts", () => {
    expect(cannotTell("GetBucketPolicy: AccessDenied")).toEqual({ cannotTell: "GetBucketPolicy: AccessDenied" });
    expect(isCannotTell(cannotTell("x"))).toBe(true);
    expect(isCannotTell(null)).toBe(false);
    expect(isCannotTell("Enabled")).toBe(false);
    expect(isCannotTell({ enabled: true })).toBe(false);
  });
});

describe("noncurrentExpirationDays", () => {
  it("is unknown when the lifecycle rules could not be read", () => {
    expect(noncurrentExpirationDays(cannotTell("GetBucketLifecycleConfiguration: AccessDenied"))).toBeUndefined();
  });

  it("is unknown when the whole-bucket rules expire only current versions", () => {
    expect(noncurrentExpirationDays([{ enabled: true, wholeBucket: true, expirationDays: 10 }])).toBeUndefined();
  });

  it("ignores a rule with a filter, and takes the soonest whole-bucket rule", () => {
    expect(
      noncurrentExpirationDays([
        { enabled: true, wholeBucket: false, noncurrentExpirationDays: 1 },
        { enabled: true, wholeBucket: true, expirationDays: 5 },
        { enabled: true, wholeBucket: true, noncurrentExpirationDays: 45 },
        { enabled: true, wholeBucket: true, noncurrentExpirationDays: 60 },
      ]),
    ).toBe(45);
  });
});

describe("summarizeFacts", () => {
  it("says 'none' for no replication, no bucket policy, and leaves out the noncurrent expiration when none applies", () => {
    expect(summarizeFacts(facts())).toStrictEqual({
      versioning: "Enabled",
      objectLock: "disabled",
      replication: "none",
      notifications: "0 target(s)",
      lifecycle: "0 enabled rule(s)",
      objectOwnership: "BucketOwnerEnforced",
      defaultEncryption: "AES256",
      bucketPolicy: "none",
      key: "Enabled, CUSTOMER",
      keyPolicy: "read",
    });
  });

  it("describes every fact of a busy bucket in one line each", () => {
    const summary = summarizeFacts(
      facts({
        versioning: "Suspended",
        objectLock: { enabled: true, defaultRetention: { mode: "GOVERNANCE", days: 30, years: 2 } },
        replication: {
          rules: [
            { enabled: true, sseKmsEncryptedObjects: true },
            { enabled: true, sseKmsEncryptedObjects: false },
            { enabled: true, sseKmsEncryptedObjects: false },
            { enabled: false, sseKmsEncryptedObjects: true },
          ],
        },
        notifications: {
          targets: [
            { kind: "queue", arn: "arn:aws:sqs:eu-west-1:111122223333:q", events: ["s3:ObjectCreated:*"] },
            { kind: "topic", arn: "arn:aws:sns:eu-west-1:111122223333:t", events: ["s3:ObjectRemoved:*"] },
          ],
          eventBridge: true,
        },
        lifecycle: [
          { enabled: true, wholeBucket: true, noncurrentExpirationDays: 7 },
          { enabled: true, wholeBucket: false, expirationDays: 1 },
          { enabled: false, wholeBucket: true, noncurrentExpirationDays: 2 },
        ],
        ownership: "ObjectWriter",
        defaultEncryption: { algorithm: "aws:kms", kmsKeyId: KEY, bucketKeyEnabled: true },
        bucketPolicy: '{"Statement":[]}',
        key: { arn: KEY, state: "PendingDeletion", keyManager: "AWS" },
      }),
    );
    expect(summary).toStrictEqual({
      versioning: "Suspended",
      objectLock: "enabled, default GOVERNANCE 2y",
      replication: "3 enabled rule(s), 1 replicating SSE-KMS",
      notifications: "2 target(s), EventBridge on",
      lifecycle: "2 enabled rule(s)",
      noncurrentExpirationDays: 7,
      objectOwnership: "ObjectWriter",
      defaultEncryption: `aws:kms ${KEY}, Bucket Key`,
      bucketPolicy: "present",
      key: "PendingDeletion, AWS",
      keyPolicy: "read",
    });
  });

  it("gives Object Lock's default retention in days, '?' when it names neither, or says there is none", () => {
    const lock = (objectLock: PreflightFacts["objectLock"]) => summarizeFacts(facts({ objectLock })).objectLock;
    expect(lock({ enabled: true, defaultRetention: { mode: "COMPLIANCE", days: 30 } })).toBe(
      "enabled, default COMPLIANCE 30d",
    );
    expect(lock({ enabled: true, defaultRetention: { mode: "GOVERNANCE", years: 0 } })).toBe(
      "enabled, default GOVERNANCE 0y",
    );
    expect(lock({ enabled: true, defaultRetention: { mode: "GOVERNANCE", days: 0 } })).toBe(
      "enabled, default GOVERNANCE 0d",
    );
    expect(lock({ enabled: true, defaultRetention: { mode: "COMPLIANCE" } })).toBe("enabled, default COMPLIANCE ?d");
    expect(lock({ enabled: true })).toBe("enabled, no default retention");
  });

  it("counts only enabled replication rules that replicate SSE-KMS objects", () => {
    const replication = (rules: { enabled: boolean; sseKmsEncryptedObjects: boolean }[]) =>
      summarizeFacts(facts({ replication: { rules } })).replication;
    expect(replication([])).toBe("0 enabled rule(s), 0 replicating SSE-KMS");
    expect(replication([{ enabled: false, sseKmsEncryptedObjects: true }])).toBe(
      "0 enabled rule(s), 0 replicating SSE-KMS",
    );
    expect(replication([{ enabled: true, sseKmsEncryptedObjects: false }])).toBe(
      "1 enabled rule(s), 0 replicating SSE-KMS",
    );
  });

  it("names a KMS default encryption's key, and DSSE without one", () => {
    const encryption = (defaultEncryption: PreflightFacts["defaultEncryption"]) =>
      summarizeFacts(facts({ defaultEncryption })).defaultEncryption;
    expect(encryption({ algorithm: "aws:kms:dsse", bucketKeyEnabled: false })).toBe("aws:kms:dsse");
    expect(encryption({ algorithm: "aws:kms", kmsKeyId: "alias/data", bucketKeyEnabled: false })).toBe(
      "aws:kms alias/data",
    );
  });

  it("says 'cannot tell' with the reason for every fact it could not read", () => {
    const denied = (what: string) => cannotTell(`${what}: AccessDenied`);
    const summary = summarizeFacts(
      facts({
        versioning: denied("GetBucketVersioning"),
        objectLock: denied("GetObjectLockConfiguration"),
        replication: denied("GetBucketReplication"),
        notifications: denied("GetBucketNotificationConfiguration"),
        lifecycle: denied("GetBucketLifecycleConfiguration"),
        ownership: denied("GetBucketOwnershipControls"),
        defaultEncryption: denied("GetBucketEncryption"),
        bucketPolicy: denied("GetBucketPolicy"),
        key: denied("DescribeKey"),
        keyPolicy: denied("GetKeyPolicy"),
      }),
    );
    expect(summary).toStrictEqual({
      versioning: "cannot tell: GetBucketVersioning: AccessDenied",
      objectLock: "cannot tell: GetObjectLockConfiguration: AccessDenied",
      replication: "cannot tell: GetBucketReplication: AccessDenied",
      notifications: "cannot tell: GetBucketNotificationConfiguration: AccessDenied",
      lifecycle: "cannot tell: GetBucketLifecycleConfiguration: AccessDenied",
      objectOwnership: "cannot tell: GetBucketOwnershipControls: AccessDenied",
      defaultEncryption: "cannot tell: GetBucketEncryption: AccessDenied",
      bucketPolicy: "cannot tell: GetBucketPolicy: AccessDenied",
      key: "cannot tell: DescribeKey: AccessDenied",
      keyPolicy: "cannot tell: GetKeyPolicy: AccessDenied",
    });
  });
});
