import { describe, expect, it } from "vitest";
import { cannotTell } from "../../steps/domain/preflight-facts.ts";
import { BUCKET, findingsOf, KEY } from "./preflight-fixtures.ts";

/**
 * The exact findings an operator reads for each fact preflight judges (test/domain/preflight.test.ts has the
 * blocker/warning split and the policy cases): the healthy bucket with one fact changed.
 */

const OTHER_KEY = "arn:aws:kms:us-east-1:444455556666:key/k";

describe("preflight findings: versioning", () => {
  it("versioning-unknown: says why it cannot tell, and blocks", () => {
    expect(findingsOf({ versioning: cannotTell("GetBucketVersioning: AccessDenied") })).toEqual([
      {
        code: "versioning-unknown",
        message: `rekey cannot read the versioning state of bucket ${BUCKET} (GetBucketVersioning: AccessDenied), so it cannot tell whether a copy in place could be undone.`,
        fix: "Grant the preflight role s3:GetBucketVersioning on the bucket and start a new run.",
      },
    ]);
  });

  it("versioning-disabled: gives the command that enables versioning", () => {
    expect(findingsOf({ versioning: "Unversioned" })).toEqual([
      {
        code: "versioning-disabled",
        message: `Bucket ${BUCKET} has never had versioning enabled: a copy in place overwrites each object, and the original is gone with no version to return to.`,
        fix: `Enable versioning (aws s3api put-bucket-versioning --bucket ${BUCKET} --versioning-configuration Status=Enabled) and start a new run.`,
      },
    ]);
  });

  it("versioning-suspended: gives the command that re-enables it", () => {
    expect(findingsOf({ versioning: "Suspended" })).toEqual([
      {
        code: "versioning-suspended",
        message: `Versioning of bucket ${BUCKET} is suspended: copies are written as the null version, replacing the null version of every object written while versioning was suspended (older versions with ids are kept).`,
        fix: `Re-enable versioning (aws s3api put-bucket-versioning --bucket ${BUCKET} --versioning-configuration Status=Enabled) and start a new run.`,
      },
    ]);
  });
});

describe("preflight findings: Object Lock", () => {
  it("object-lock-unknown", () => {
    expect(findingsOf({ objectLock: cannotTell("GetObjectLockConfiguration: AccessDenied") })).toEqual([
      {
        code: "object-lock-unknown",
        message:
          "rekey cannot read the Object Lock configuration (GetObjectLockConfiguration: AccessDenied); locked objects would fail to update and copies might get a default retention.",
        fix: "Grant s3:GetBucketObjectLockConfiguration to the preflight role to have it checked.",
      },
    ]);
  });

  it("a generated list hides locks; a COMPLIANCE default in days", () => {
    expect(
      findingsOf({
        objectLock: { enabled: true, defaultRetention: { mode: "COMPLIANCE", days: 30 } },
        candidates: { kind: "generate" },
      }),
    ).toEqual([
      {
        code: "object-lock-unseen",
        message: `Object Lock is enabled on bucket ${BUCKET}, and this run lists its candidates with the manifest generator, which does not show retention or legal holds: unencrypted objects under governance retention or a legal hold would be copied by Batch Operations into new versions that do not carry the protection, and locked encrypted objects would fail to update.`,
        fix: "Plan from an S3 Inventory whose optional fields include ObjectLockMode, ObjectLockRetainUntilDate and ObjectLockLegalHoldStatus (rekey then skips locked objects and reports them); or, if no object in the bucket is locked, acknowledge object-lock-unseen.",
      },
      {
        code: "object-lock-compliance-default",
        message: `Bucket ${BUCKET} applies a default retention of COMPLIANCE mode for 30 day(s): every copy rekey makes is a new version that nobody, the root user included, can delete or shorten before the retention ends, so the storage of every copied object is committed for 30 day(s). Objects locked in COMPLIANCE mode also cannot be re-encrypted with S3UpdateObjectEncryption.`,
        fix: "Agree the extra locked versions and their storage with the data owner, or change the bucket's default retention before the run (it applies to new versions only).",
      },
    ]);
  });

  it("an inventory without the lock fields hides them; a GOVERNANCE default in years", () => {
    expect(
      findingsOf({
        objectLock: { enabled: true, defaultRetention: { mode: "GOVERNANCE", years: 1 } },
        candidates: { kind: "inventory", showsObjectLock: false },
      }),
    ).toEqual([
      {
        code: "object-lock-unseen",
        message: `Object Lock is enabled on bucket ${BUCKET}, but the inventory configuration does not list ObjectLockMode and ObjectLockLegalHoldStatus: unencrypted objects under governance retention or a legal hold would be copied by Batch Operations into new versions that do not carry the protection, and locked encrypted objects would fail to update.`,
        fix: "Plan from an S3 Inventory whose optional fields include ObjectLockMode, ObjectLockRetainUntilDate and ObjectLockLegalHoldStatus (rekey then skips locked objects and reports them); or, if no object in the bucket is locked, acknowledge object-lock-unseen.",
      },
      {
        code: "object-lock-governance-default",
        message: `Bucket ${BUCKET} applies a default retention of GOVERNANCE mode for 1 year(s): each copy becomes a new version under that retention (removing it early needs s3:BypassGovernanceRetention), and S3UpdateObjectEncryption refuses objects under retention or legal hold.`,
        fix: "Expect the new versions to be retained; objects that must be updated in place need their retention or legal hold removed first.",
      },
    ]);
  });

  it("a default retention with neither days nor years reads '?'", () => {
    expect(findingsOf({ objectLock: { enabled: true, defaultRetention: { mode: "GOVERNANCE" } } })).toEqual([
      {
        code: "object-lock-governance-default",
        message: `Bucket ${BUCKET} applies a default retention of GOVERNANCE mode for ? day(s): each copy becomes a new version under that retention (removing it early needs s3:BypassGovernanceRetention), and S3UpdateObjectEncryption refuses objects under retention or legal hold.`,
        fix: "Expect the new versions to be retained; objects that must be updated in place need their retention or legal hold removed first.",
      },
    ]);
  });

  it("object-lock-enabled: with an inventory that lists the locks, it says what rekey does, not to add the fields", () => {
    expect(
      findingsOf({ objectLock: { enabled: true }, candidates: { kind: "inventory", showsObjectLock: true } }),
    ).toEqual([
      {
        code: "object-lock-enabled",
        message: `Object Lock is enabled on bucket ${BUCKET} (no default retention): S3UpdateObjectEncryption refuses objects under retention or legal hold, and those tasks will fail.`,
        fix: "Nothing to add: the inventory lists ObjectLockMode and ObjectLockLegalHoldStatus, so rekey skips the objects it shows locked and reports them with their reason; an object locked after the inventory was made fails its task and is reported with its key.",
      },
    ]);
  });

  it("object-lock-enabled: no default retention", () => {
    expect(findingsOf({ objectLock: { enabled: true } })).toEqual([
      {
        code: "object-lock-enabled",
        message: `Object Lock is enabled on bucket ${BUCKET} (no default retention): S3UpdateObjectEncryption refuses objects under retention or legal hold, and those tasks will fail.`,
        fix: "Include ObjectLockMode, ObjectLockRetainUntilDate and ObjectLockLegalHoldStatus in the inventory's optional fields: rekey then skips locked objects and reports them with their reason. Without those fields their tasks fail and are reported with their keys.",
      },
    ]);
  });
});

describe("preflight findings: replication", () => {
  it("replication-unknown", () => {
    expect(findingsOf({ replication: cannotTell("GetBucketReplication: AccessDenied") })).toEqual([
      {
        code: "replication-unknown",
        message:
          "rekey cannot read the replication configuration (GetBucketReplication: AccessDenied); if replication skips SSE-KMS objects, re-encrypted objects would stop replicating.",
        fix: "Grant s3:GetReplicationConfiguration to the preflight role to have it checked.",
      },
    ]);
  });

  it("names every enabled rule, with its id and destination when it has them", () => {
    expect(
      findingsOf({
        replication: {
          rules: [
            { id: "to-dr", enabled: true, sseKmsEncryptedObjects: false, destinationBucket: "arn:aws:s3:::dr" },
            { enabled: true, sseKmsEncryptedObjects: false },
            { id: "kms", enabled: true, sseKmsEncryptedObjects: true },
            { enabled: true, sseKmsEncryptedObjects: true, destinationBucket: "arn:aws:s3:::dr2" },
          ],
        },
      }),
    ).toEqual([
      {
        code: "replication-without-sse-kms",
        message:
          'Replication rule "to-dr" to arn:aws:s3:::dr, rule (no id) does not replicate SSE-KMS objects (SourceSelectionCriteria.SseKmsEncryptedObjects is not Enabled). After rekey, re-encrypted objects and every new write (the default becomes SSE-KMS) stop replicating: the replica silently falls behind.',
        fix: `Enable SseKmsEncryptedObjects on the rule with a ReplicaKmsKeyID for the destination, and give the replication role kms:Decrypt on ${KEY} and kms:Encrypt on the replica key; then start a new run.`,
      },
      {
        code: "replication-replicates-copies",
        message:
          'Replication rule "kms", rule (no id) to arn:aws:s3:::dr2 replicates each copied object as a new version: replication requests and transfer are billed, and the destination gains a version per object. (Whether S3UpdateObjectEncryption replicates is not documented.)',
        fix: `Make sure the replication role may use ${KEY} (kms:Decrypt) and budget for the replication traffic.`,
      },
    ]);
  });
});

describe("preflight findings: notifications", () => {
  it("notifications-unknown", () => {
    expect(findingsOf({ notifications: cannotTell("GetBucketNotificationConfiguration: AccessDenied") })).toEqual([
      {
        code: "notifications-unknown",
        message:
          "rekey cannot read the event notification configuration (GetBucketNotificationConfiguration: AccessDenied); consumers might receive an event per copied object.",
        fix: "Grant s3:GetBucketNotification to the preflight role to have it checked.",
      },
    ]);
  });

  it("lists each target with only the events a copy triggers; EventBridge apart", () => {
    expect(
      findingsOf({
        notifications: {
          targets: [
            {
              kind: "queue",
              arn: "arn:aws:sqs:eu-west-1:111122223333:q",
              events: ["s3:ObjectCreated:Put", "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectCreated:Copy"],
            },
            { kind: "lambda", arn: "arn:aws:lambda:eu-west-1:111122223333:function:f", events: ["s3:ObjectCreated:*"] },
          ],
          eventBridge: true,
        },
      }),
    ).toEqual([
      {
        code: "notifications-on-copy",
        message: `Bucket ${BUCKET} sends ObjectCreated events that every copy triggers, to queue arn:aws:sqs:eu-west-1:111122223333:q (s3:ObjectCreated:CompleteMultipartUpload, s3:ObjectCreated:Copy); lambda arn:aws:lambda:eu-west-1:111122223333:function:f (s3:ObjectCreated:*): the consumers would process each re-encrypted object again (re-ingesting it, or writing objects of their own).`,
        fix: "Confirm with the owners of these targets that one event per object is harmless, or pause them or narrow their filters for the change window.",
      },
      {
        code: "eventbridge-enabled",
        message: `Bucket ${BUCKET} sends its events to Amazon EventBridge, including an Object Created event per copied object; rekey cannot see which EventBridge rules match them.`,
        fix: `Check the EventBridge rules on source aws.s3 for bucket ${BUCKET} (aws events list-rules) before the run.`,
      },
    ]);
  });
});

describe("preflight findings: lifecycle", () => {
  it("lifecycle-unknown", () => {
    expect(findingsOf({ lifecycle: cannotTell("GetBucketLifecycleConfiguration: AccessDenied") })).toEqual([
      {
        code: "lifecycle-unknown",
        message:
          "rekey cannot read the lifecycle configuration (GetBucketLifecycleConfiguration: AccessDenied); it cannot say which rules restart on copy or when old versions expire.",
        fix: "Grant s3:GetLifecycleConfiguration to the preflight role to have it checked.",
      },
    ]);
  });

  it("describes each age-keyed rule; a rule with an empty transition list is not one", () => {
    expect(
      findingsOf({
        lifecycle: [
          {
            id: "archive",
            enabled: true,
            wholeBucket: false,
            transitions: [
              { days: 30, storageClass: "STANDARD_IA" },
              { days: 90, storageClass: "GLACIER" },
            ],
            expirationDays: 365,
          },
          { enabled: true, wholeBucket: true, expirationDays: 10 },
          { enabled: true, wholeBucket: true, transitions: [] },
        ],
      }),
    ).toEqual([
      {
        code: "lifecycle-keyed-on-age",
        message:
          'Lifecycle rule "archive" (to STANDARD_IA after 30 days, to GLACIER after 90 days, expire after 365 days); rule (no id) (expire after 10 days) count age from LastModified, which a copy resets: copied objects restart that clock and transition or expire up to that many days later than planned. (S3UpdateObjectEncryption keeps LastModified.)',
        fix: "If a rule enforces a retention limit, expire or transition the objects that are due before the run; otherwise expect the delay.",
      },
      {
        code: "noncurrent-versions-never-expire",
        message: `No lifecycle rule expires noncurrent versions of the whole bucket ${BUCKET}: the unencrypted versions each copy leaves behind stay, and are billed, until someone deletes them. rekey never deletes versions.`,
        fix: "After the run is verified, add a lifecycle rule with NoncurrentVersionExpiration (for example NoncurrentDays 30) if the old versions are not needed.",
      },
    ]);
  });
});

describe("preflight findings: Object Ownership", () => {
  it("ownership-unknown", () => {
    expect(findingsOf({ ownership: cannotTell("GetBucketOwnershipControls: AccessDenied") })).toEqual([
      {
        code: "ownership-unknown",
        message:
          "rekey cannot read Object Ownership (GetBucketOwnershipControls: AccessDenied); if ACLs are in force, copies would reset object ACLs to private.",
        fix: "Grant s3:GetBucketOwnershipControls to the preflight role to have it checked.",
      },
    ]);
  });

  it("no ownership controls: ACLs in force, and other accounts' objects change owner", () => {
    expect(findingsOf({ ownership: "none" })).toEqual([
      {
        code: "acls-enabled",
        message: `Object Ownership of bucket ${BUCKET} is not set (ACLs in force, as ObjectWriter), so object ACLs are in force. A copy resets each object's ACL to private: grants to other accounts, groups or the public are lost, and objects other accounts uploaded (and own) become the bucket owner's.`,
        fix: "Move any access that object ACLs grant into the bucket policy and set Object Ownership to BucketOwnerEnforced; or confirm no object has grants beyond its owner (S3 Inventory field ObjectAccessControlList).",
      },
    ]);
  });

  it("BucketOwnerPreferred: grants are lost, ownership does not change", () => {
    expect(findingsOf({ ownership: "BucketOwnerPreferred" })).toEqual([
      {
        code: "acls-enabled",
        message: `Object Ownership of bucket ${BUCKET} is BucketOwnerPreferred, so object ACLs are in force. A copy resets each object's ACL to private: grants to other accounts, groups or the public are lost.`,
        fix: "Move any access that object ACLs grant into the bucket policy and set Object Ownership to BucketOwnerEnforced; or confirm no object has grants beyond its owner (S3 Inventory field ObjectAccessControlList).",
      },
    ]);
  });

  it("acls-enabled-objects-private: every object ACL known private", () => {
    expect(findingsOf({ ownership: "ObjectWriter", objectAclsNonPrivate: false })).toEqual([
      {
        code: "acls-enabled-objects-private",
        message: `Object Ownership of bucket ${BUCKET} is ObjectWriter, so ACLs are in force; every object ACL is known to be private, so the copies' private ACL changes nothing.`,
        fix: "Consider Object Ownership BucketOwnerEnforced (ACLs disabled).",
      },
    ]);
  });
});

describe("preflight findings: default encryption", () => {
  it("default-encryption-unknown", () => {
    expect(findingsOf({ defaultEncryption: cannotTell("GetBucketEncryption: AccessDenied") })).toEqual([
      {
        code: "default-encryption-unknown",
        message:
          "rekey cannot read the bucket's default encryption (GetBucketEncryption: AccessDenied); the next step sets it to SSE-KMS with the target key.",
        fix: "Grant s3:GetEncryptionConfiguration to the preflight role to have it checked.",
      },
    ]);
  });

  it("DSSE-KMS becomes single-layer SSE-KMS", () => {
    expect(findingsOf({ defaultEncryption: { algorithm: "aws:kms:dsse", bucketKeyEnabled: false } })).toEqual([
      {
        code: "default-encryption-changes",
        message: `Bucket ${BUCKET} defaults to dual-layer SSE-KMS (DSSE-KMS); rekey's next step changes the default to single-layer SSE-KMS with ${KEY}.`,
        fix: "Confirm with the data owner that new objects may use SSE-KMS instead of DSSE-KMS.",
      },
    ]);
  });

  it("another KMS key, named as the bucket names it", () => {
    expect(
      findingsOf({ defaultEncryption: { algorithm: "aws:kms", kmsKeyId: "alias/old", bucketKeyEnabled: true } }),
    ).toEqual([
      {
        code: "default-encryption-changes",
        message: `Bucket ${BUCKET} defaults to SSE-KMS with alias/old; rekey's next step changes the default to ${KEY}. Writers that name alias/old explicitly keep using it.`,
        fix: "Tell the writers of this bucket about the new key; readers need kms:Decrypt on it.",
      },
    ]);
  });
});

describe("preflight findings: the key", () => {
  it("a key of another region and account that cannot be described", () => {
    expect(findingsOf({ targetKeyArn: OTHER_KEY, key: cannotTell("DescribeKey: AccessDenied") })).toEqual([
      {
        code: "key-wrong-region",
        message: `KMS key arn:aws:kms:us-east-1:444455556666:key/k is in us-east-1, but bucket ${BUCKET} is in eu-west-1; S3 only uses keys in the bucket's region.`,
        fix: "Use a customer managed key in eu-west-1 (or a multi-Region replica there).",
      },
      {
        code: "key-other-account",
        message:
          "KMS key arn:aws:kms:us-east-1:444455556666:key/k belongs to account 444455556666, not to the bucket owner 111122223333: S3UpdateObjectEncryption accepts only keys of the bucket owner's account (within an Organization only after AWS Support enables it), so already-encrypted objects cannot be updated.",
        fix: "Use a key of the bucket owner's account, or expect the S3UpdateObjectEncryption tasks to fail.",
      },
      {
        code: "key-unknown",
        message: "rekey cannot describe KMS key arn:aws:kms:us-east-1:444455556666:key/k (DescribeKey: AccessDenied).",
        fix: "Grant kms:DescribeKey on the key to the preflight role to have it checked.",
      },
    ]);
  });

  it("a key pending deletion, managed by AWS", () => {
    expect(findingsOf({ key: { arn: KEY, state: "PendingDeletion", keyManager: "AWS" } })).toEqual([
      {
        code: "key-not-enabled",
        message: `KMS key ${KEY} is PendingDeletion, not Enabled: S3 cannot encrypt with it.`,
        fix: "Cancel the key deletion (aws kms cancel-key-deletion), enable it, and start a new run.",
      },
      {
        code: "key-not-customer-managed",
        message: `KMS key ${KEY} is managed by AWS, not a customer managed key: its policy cannot be changed.`,
        fix: "Create a customer managed symmetric key and pass its ARN.",
      },
    ]);
  });

  it("a disabled key", () => {
    expect(findingsOf({ key: { arn: KEY, state: "Disabled", keyManager: "CUSTOMER" } })).toEqual([
      {
        code: "key-not-enabled",
        message: `KMS key ${KEY} is Disabled, not Enabled: S3 cannot encrypt with it.`,
        fix: "Enable the key (aws kms enable-key) or choose another, and start a new run.",
      },
    ]);
  });
});
