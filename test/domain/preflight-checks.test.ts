import { describe, expect, it } from "vitest";
import { describeBlockers, evaluatePreflight } from "../../steps/domain/preflight.ts";
import { cannotTell, type PreflightFacts } from "../../steps/domain/preflight-facts.ts";
import { BUCKET, findingsOf, healthy, KEY } from "./preflight-fixtures.ts";

/** Both sides of preflight's checks, and the text of a refusal (preflight-findings.test.ts has each finding's text). */

describe("preflight: what passes, on either side of each check", () => {
  const codesOf = (changes: Partial<PreflightFacts>) => findingsOf(changes).map((f) => f.code);

  it("a default KMS key named by the target's ARN or key id is the target; an alias cannot be told apart", () => {
    const kms = (kmsKeyId?: string) =>
      codesOf({
        defaultEncryption: { algorithm: "aws:kms", bucketKeyEnabled: true, ...(kmsKeyId ? { kmsKeyId } : {}) },
      });
    expect(kms(KEY)).toEqual([]);
    expect(kms("1234abcd-12ab-34cd-56ef-1234567890ab")).toEqual([]);
    expect(kms("34cd-56ef-1234567890ab")).toEqual(["default-encryption-changes"]);
    expect(kms()).toEqual([]);
    expect(codesOf({ defaultEncryption: { algorithm: "none", bucketKeyEnabled: false } })).toEqual([]);
  });

  it("Object Lock unseen only when the candidates' source is known and blind to it", () => {
    expect(
      codesOf({ objectLock: { enabled: true }, candidates: cannotTell("GetInventoryConfiguration: AccessDenied") }),
    ).toEqual(["object-lock-enabled"]);
    expect(codesOf({ objectLock: { enabled: false }, candidates: { kind: "generate" } })).toEqual([]);
  });

  it("acls-enabled when object ACLs are unknown or known to grant more", () => {
    expect(codesOf({ ownership: "ObjectWriter" })).toEqual(["acls-enabled"]);
    expect(codesOf({ ownership: "ObjectWriter", objectAclsNonPrivate: true })).toEqual(["acls-enabled"]);
    expect(findingsOf({ ownership: "ObjectWriter" })[0]?.message).toContain(
      "are lost, and objects other accounts uploaded (and own) become the bucket owner's.",
    );
    expect(codesOf({ ownership: "BucketOwnerEnforced", objectAclsNonPrivate: true })).toEqual([]);
  });

  it("old versions never expiring matters only in a bucket known to keep versions", () => {
    const noRule = { lifecycle: [] };
    expect(codesOf({ ...noRule, versioning: "Enabled" })).toEqual(["noncurrent-versions-never-expire"]);
    expect(codesOf({ ...noRule, versioning: "Suspended" })).toEqual([
      "versioning-suspended",
      "noncurrent-versions-never-expire",
    ]);
    expect(codesOf({ ...noRule, versioning: "Unversioned" })).toEqual(["versioning-disabled"]);
    expect(codesOf({ ...noRule, versioning: cannotTell("GetBucketVersioning: AccessDenied") })).toEqual([
      "versioning-unknown",
    ]);
  });

  it("a disabled rule keyed on age is not one, and replication without enabled rules says nothing", () => {
    const off = { enabled: false, wholeBucket: true, expirationDays: 1, noncurrentExpirationDays: 30 };
    expect(codesOf({ lifecycle: [{ enabled: true, wholeBucket: true, noncurrentExpirationDays: 30 }, off] })).toEqual(
      [],
    );
    expect(codesOf({ replication: { rules: [] } })).toEqual([]);
  });

  it("a target key ARN that cannot be parsed is not judged for region or account", () => {
    expect(codesOf({ targetKeyArn: "alias/data" })).toEqual([]);
  });
});

describe("preflight: the operator's view", () => {
  it("a rule that only transitions is keyed on age too, and says no expiration", () => {
    const archive = {
      id: "archive",
      enabled: true,
      wholeBucket: true,
      transitions: [{ days: 30, storageClass: "GLACIER" }],
    };
    expect(
      findingsOf({ lifecycle: [archive, { enabled: true, wholeBucket: true, noncurrentExpirationDays: 30 }] })[0]
        ?.message,
    ).toBe(
      'Lifecycle rule "archive" (to GLACIER after 30 days) count age from LastModified, which a copy resets: copied objects restart that clock and transition or expire up to that many days later than planned. (S3UpdateObjectEncryption keeps LastModified.)',
    );
  });

  it("describeBlockers puts each blocker on its own line with its fix, offering to acknowledge only those that may be", () => {
    const { blockers } = evaluatePreflight({
      ...healthy(),
      versioning: "Suspended",
      key: { arn: KEY, state: "Disabled", keyManager: "CUSTOMER" },
    });
    expect(describeBlockers(BUCKET, blockers)).toBe(
      [
        `Preflight refuses to write to bucket ${BUCKET}; 2 blocker(s):`,
        `- [versioning-suspended] ${blockers[0]?.message} Fix: ${blockers[0]?.fix} (or accept it: rekey start --acknowledge versioning-suspended)`,
        `- [key-not-enabled] ${blockers[1]?.message} Fix: ${blockers[1]?.fix}`,
      ].join("\n"),
    );
  });
});
