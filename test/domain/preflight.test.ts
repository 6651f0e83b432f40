import { describe, expect, it } from "vitest";
import { ACKNOWLEDGEABLE_BLOCKERS, FINAL_BLOCKERS, type FindingCode, WARNINGS } from "../../contract/findings.ts";
import { parsePolicy } from "../../iam-policy/evaluator.ts";
import { describeBlockers, evaluatePreflight, type PreflightOptions } from "../../steps/domain/preflight.ts";
import {
  cannotTell,
  noncurrentExpirationDays,
  type PreflightFacts,
  summarizeFacts,
} from "../../steps/domain/preflight-facts.ts";
import {
  ACCOUNT,
  BUCKET,
  healthy,
  KEY,
  KEY_ID,
  policy,
  REGION,
  ROLE,
  ROOT_KEY_STATEMENT,
} from "./preflight-fixtures.ts";

function judge(changes: Partial<PreflightFacts>, options?: PreflightOptions) {
  const outcome = evaluatePreflight({ ...healthy(), ...changes }, options);
  return {
    outcome,
    blockers: outcome.blockers.map((f) => f.code),
    warnings: outcome.warnings.map((f) => f.code),
    finding: (code: FindingCode) => [...outcome.blockers, ...outcome.warnings].find((f) => f.code === code),
  };
}

describe("evaluatePreflight: a healthy bucket", () => {
  it("has neither blockers nor warnings", () => {
    const { blockers, warnings } = judge({});
    expect(blockers).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("puts every code in exactly one list", () => {
    const all = [...ACKNOWLEDGEABLE_BLOCKERS, ...FINAL_BLOCKERS, ...WARNINGS];
    expect(new Set(all).size).toBe(all.length);
  });

  it("names a fix for every finding of a bucket with everything wrong", () => {
    const { outcome } = judge({
      versioning: "Suspended",
      objectLock: { enabled: true, defaultRetention: { mode: "COMPLIANCE", days: 1 } },
      replication: { rules: [{ enabled: true, sseKmsEncryptedObjects: false }] },
      notifications: { targets: [{ kind: "queue", arn: "q", events: ["s3:ObjectCreated:*"] }], eventBridge: true },
      lifecycle: [{ enabled: true, wholeBucket: true, expirationDays: 10 }],
      ownership: "none",
      key: { arn: KEY, state: "Disabled", keyManager: "AWS" },
    });
    const all = [...outcome.blockers, ...outcome.warnings];
    expect(all.length).toBeGreaterThanOrEqual(9);
    for (const f of all) {
      expect(f.message.length).toBeGreaterThan(20);
      expect(f.fix.length).toBeGreaterThan(20);
    }
  });
});

describe("evaluatePreflight: blockers", () => {
  it("object-lock-unseen: Object Lock on, and the candidates cannot show which objects are locked", () => {
    const generated = judge({ objectLock: { enabled: true }, candidates: { kind: "generate" } });
    expect(generated.blockers).toEqual(["object-lock-unseen"]);
    expect(generated.finding("object-lock-unseen")?.message).toMatch(/manifest generator, which does not show/);
    expect(generated.finding("object-lock-unseen")?.fix).toMatch(/ObjectLockMode, ObjectLockRetainUntilDate and/);
    const blind = judge({ objectLock: { enabled: true }, candidates: { kind: "inventory", showsObjectLock: false } });
    expect(blind.blockers).toEqual(["object-lock-unseen"]);
    expect(blind.finding("object-lock-unseen")?.message).toMatch(/inventory configuration does not list/);
    const seeing = judge({ objectLock: { enabled: true }, candidates: { kind: "inventory", showsObjectLock: true } });
    expect(seeing.blockers).toEqual([]);
    expect(judge({ candidates: { kind: "generate" } }).blockers).toEqual([]);
    const accepted = judge(
      { objectLock: { enabled: true }, candidates: { kind: "generate" } },
      { acknowledge: ["object-lock-unseen"] },
    );
    expect(accepted.blockers).toEqual([]);
    expect(accepted.warnings).toContain("object-lock-unseen");
  });

  it("versioning-disabled: a never-versioned bucket would lose the originals", () => {
    const { blockers, finding } = judge({ versioning: "Unversioned" });
    expect(blockers).toEqual(["versioning-disabled"]);
    expect(finding("versioning-disabled")?.fix).toContain("put-bucket-versioning --bucket data-bucket");
  });

  it("versioning-suspended", () => {
    expect(judge({ versioning: "Suspended" }).blockers).toEqual(["versioning-suspended"]);
  });

  it("versioning-unknown: versioning that cannot be read blocks", () => {
    const { blockers, warnings, finding } = judge({ versioning: cannotTell("GetBucketVersioning: access denied") });
    expect(blockers).toEqual(["versioning-unknown"]);
    expect(warnings).toEqual([]);
    expect(finding("versioning-unknown")?.message).toContain("access denied");
  });

  it("object-lock-compliance-default", () => {
    const { blockers, finding } = judge({
      objectLock: { enabled: true, defaultRetention: { mode: "COMPLIANCE", years: 7 } },
    });
    expect(blockers).toEqual(["object-lock-compliance-default"]);
    expect(finding("object-lock-compliance-default")?.message).toContain("7 year(s)");
  });

  it("replication-without-sse-kms: a rule that skips SSE-KMS objects", () => {
    const { blockers, warnings, finding } = judge({
      replication: {
        rules: [{ id: "to-dr", enabled: true, sseKmsEncryptedObjects: false, destinationBucket: "arn:aws:s3:::dr" }],
      },
    });
    expect(blockers).toEqual(["replication-without-sse-kms"]);
    expect(warnings).toEqual([]);
    expect(finding("replication-without-sse-kms")?.message).toContain('rule "to-dr" to arn:aws:s3:::dr');
  });

  it("ignores disabled replication rules", () => {
    const { blockers, warnings } = judge({
      replication: { rules: [{ id: "off", enabled: false, sseKmsEncryptedObjects: false }] },
    });
    expect([...blockers, ...warnings]).toEqual([]);
  });

  it("notifications-on-copy: ObjectCreated:* and :Copy targets, not :Put-only ones", () => {
    const { blockers, finding } = judge({
      notifications: {
        targets: [
          {
            kind: "lambda",
            arn: "arn:aws:lambda:eu-west-1:111122223333:function:ingest",
            events: ["s3:ObjectCreated:*"],
          },
          { kind: "queue", arn: "arn:aws:sqs:eu-west-1:111122223333:copies", events: ["s3:ObjectCreated:Copy"] },
          { kind: "topic", arn: "arn:aws:sns:eu-west-1:111122223333:puts", events: ["s3:ObjectCreated:Put"] },
        ],
        eventBridge: false,
      },
    });
    expect(blockers).toEqual(["notifications-on-copy"]);
    const message = finding("notifications-on-copy")?.message ?? "";
    expect(message).toContain("function:ingest");
    expect(message).toContain("sqs:eu-west-1:111122223333:copies");
    expect(message).not.toContain("puts");
  });

  it("acls-enabled: ObjectWriter, BucketOwnerPreferred, or no ownership controls", () => {
    for (const ownership of ["ObjectWriter", "BucketOwnerPreferred", "none"] as const) {
      expect(judge({ ownership }).blockers).toEqual(["acls-enabled"]);
    }
    expect(judge({ ownership: "ObjectWriter" }).finding("acls-enabled")?.message).toContain(
      "become the bucket owner's",
    );
  });

  it("policy-denies-copy: a bucket policy that demands SSE-S3", () => {
    const { blockers, finding } = judge({
      bucketPolicy: policy({
        Sid: "OnlyAES256",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        Resource: `arn:aws:s3:::${BUCKET}/*`,
        Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption": "AES256" } },
      }),
    });
    expect(blockers).toEqual(["policy-denies-copy"]);
    expect(finding("policy-denies-copy")?.message).toContain('"OnlyAES256"');
  });

  it("policy-denies-copy: a policy naming the key by id (rekey sends the ARN) says so in the fix", () => {
    const { blockers, finding } = judge({
      bucketPolicy: policy({
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        Resource: `arn:aws:s3:::${BUCKET}/*`,
        Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ID } },
      }),
    });
    expect(blockers).toEqual(["policy-denies-copy"]);
    expect(finding("policy-denies-copy")?.message).toContain("statement #1");
    expect(finding("policy-denies-copy")?.fix).toContain(`full ARN rekey sends (${KEY})`);
  });

  it("does not block on a policy that requires the target key by ARN, or the Bucket Key header", () => {
    const { blockers, warnings } = judge({
      bucketPolicy: policy(
        {
          Effect: "Deny",
          Principal: "*",
          Action: "s3:PutObject",
          Resource: `arn:aws:s3:::${BUCKET}/*`,
          Condition: { StringNotEqualsIfExists: { "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY } },
        },
        {
          Effect: "Deny",
          Principal: "*",
          Action: "s3:PutObject",
          Resource: `arn:aws:s3:::${BUCKET}/*`,
          Condition: { Null: { "s3:x-amz-server-side-encryption-bucket-key-enabled": "true" } },
        },
      ),
    });
    expect([...blockers, ...warnings]).toEqual([]);
  });

  it("ignores Deny statements for other buckets, other actions and service principals", () => {
    const { blockers, warnings } = judge({
      bucketPolicy: policy(
        { Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: "arn:aws:s3:::other-bucket/*" },
        { Effect: "Deny", Principal: "*", Action: "s3:DeleteObject", Resource: `arn:aws:s3:::${BUCKET}/*` },
        {
          Effect: "Deny",
          Principal: { Service: "logging.s3.amazonaws.com" },
          Action: "s3:*",
          Resource: `arn:aws:s3:::${BUCKET}/*`,
        },
      ),
    });
    expect([...blockers, ...warnings]).toEqual([]);
  });

  it("policy-denies-update-encryption (and copy): deny everyone but an admin role", () => {
    const { blockers } = judge({
      bucketPolicy: policy({
        Sid: "OnlyAdmin",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: `arn:aws:s3:::${BUCKET}/*`,
        Condition: { ArnNotEquals: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/admin` } },
      }),
    });
    expect(blockers).toEqual(["policy-denies-copy", "policy-denies-update-encryption"]);
  });

  it("lets the same statement through when it exempts the Batch role", () => {
    const { blockers, warnings } = judge({
      bucketPolicy: policy({
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: `arn:aws:s3:::${BUCKET}/*`,
        Condition: { ArnNotLike: { "aws:PrincipalArn": [`arn:aws:iam::${ACCOUNT}:role/admin`, ROLE] } },
      }),
    });
    expect([...blockers, ...warnings]).toEqual([]);
  });

  it("key-not-enabled", () => {
    const { blockers, finding } = judge({ key: { arn: KEY, state: "PendingDeletion", keyManager: "CUSTOMER" } });
    expect(blockers).toEqual(["key-not-enabled"]);
    expect(finding("key-not-enabled")?.fix).toContain("cancel-key-deletion");
  });

  it("key-wrong-region", () => {
    const other = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${KEY_ID}`;
    expect(judge({ targetKeyArn: other }).blockers).toEqual(["key-wrong-region"]);
  });

  it("key-not-customer-managed", () => {
    expect(judge({ key: { arn: KEY, state: "Enabled", keyManager: "AWS" } }).blockers).toEqual([
      "key-not-customer-managed",
    ]);
  });

  it("key-policy-denies-batch-role: the key policy grants only someone else", () => {
    const { blockers, finding } = judge({
      keyPolicy: policy({
        Sid: "AppOnly",
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/app` },
        Action: ["kms:GenerateDataKey*", "kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*"],
        Resource: "*",
      }),
    });
    expect(blockers).toEqual(["key-policy-denies-batch-role"]);
    expect(finding("key-policy-denies-batch-role")?.message).toContain("not allowed by any statement");
  });

  it("key-policy-denies-batch-role: an explicit Deny names the statement", () => {
    const { blockers, finding } = judge({
      keyPolicy: policy(ROOT_KEY_STATEMENT, {
        Sid: "NoBatch",
        Effect: "Deny",
        Principal: { AWS: ROLE },
        Action: "kms:Decrypt",
        Resource: "*",
      }),
    });
    expect(blockers).toEqual(["key-policy-denies-batch-role"]);
    expect(finding("key-policy-denies-batch-role")?.message).toContain('kms:Decrypt denied by "NoBatch"');
  });

  it("encryption-context-condition: grants conditioned on object ARNs stop matching under Bucket Keys", () => {
    const { blockers, finding } = judge({
      keyPolicy: policy(ROOT_KEY_STATEMENT, {
        Sid: "ReadersByObject",
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/reader` },
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: { StringLike: { "kms:EncryptionContext:aws:s3:arn": `arn:aws:s3:::${BUCKET}/*` } },
      }),
    });
    expect(blockers).toEqual(["encryption-context-condition"]);
    expect(finding("encryption-context-condition")?.message).toContain('"ReadersByObject"');
    expect(finding("encryption-context-condition")?.fix).toContain(`arn:aws:s3:::${BUCKET}*`);
  });

  it("a condition already naming the bucket ARN is fine", () => {
    const { blockers, warnings } = judge({
      keyPolicy: policy(ROOT_KEY_STATEMENT, {
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/reader` },
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: { StringLike: { "kms:EncryptionContext:aws:s3:arn": `arn:aws:s3:::${BUCKET}*` } },
      }),
    });
    expect([...blockers, ...warnings]).toEqual([]);
  });

  it("a grant to the Batch role only for object-ARN context also fails the role", () => {
    const { blockers } = judge({
      keyPolicy: policy({
        Effect: "Allow",
        Principal: { AWS: ROLE },
        Action: ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*"],
        Resource: "*",
        Condition: { StringLike: { "kms:EncryptionContext:aws:s3:arn": `arn:aws:s3:::${BUCKET}/*` } },
      }),
    });
    expect(blockers).toEqual(["encryption-context-condition", "key-policy-denies-batch-role"]);
  });
});

describe("evaluatePreflight: warnings", () => {
  it("object-lock-governance-default", () => {
    const { blockers, warnings } = judge({
      objectLock: { enabled: true, defaultRetention: { mode: "GOVERNANCE", days: 30 } },
    });
    expect(blockers).toEqual([]);
    expect(warnings).toEqual(["object-lock-governance-default"]);
  });

  it("object-lock-enabled (no default retention)", () => {
    expect(judge({ objectLock: { enabled: true } }).warnings).toEqual(["object-lock-enabled"]);
  });

  it("replication-replicates-copies", () => {
    const { blockers, warnings } = judge({
      replication: { rules: [{ id: "r", enabled: true, sseKmsEncryptedObjects: true }] },
    });
    expect(blockers).toEqual([]);
    expect(warnings).toEqual(["replication-replicates-copies"]);
  });

  it("eventbridge-enabled", () => {
    expect(judge({ notifications: { targets: [], eventBridge: true } }).warnings).toEqual(["eventbridge-enabled"]);
  });

  it("lifecycle-keyed-on-age: transitions and expirations by days", () => {
    const { warnings, finding } = judge({
      lifecycle: [
        {
          id: "tiering",
          enabled: true,
          wholeBucket: true,
          transitions: [{ days: 90, storageClass: "GLACIER_IR" }],
          expirationDays: 365,
          noncurrentExpirationDays: 30,
        },
      ],
    });
    expect(warnings).toEqual(["lifecycle-keyed-on-age"]);
    expect(finding("lifecycle-keyed-on-age")?.message).toContain(
      'rule "tiering" (to GLACIER_IR after 90 days, expire after 365 days)',
    );
  });

  it("noncurrent-versions-never-expire: no whole-bucket rule, or only a prefix rule", () => {
    expect(judge({ lifecycle: [] }).warnings).toEqual(["noncurrent-versions-never-expire"]);
    expect(
      judge({ lifecycle: [{ id: "logs", enabled: true, wholeBucket: false, noncurrentExpirationDays: 7 }] }).warnings,
    ).toEqual(["noncurrent-versions-never-expire"]);
    expect(judge({ lifecycle: [], versioning: "Unversioned" }).warnings).toEqual([]);
  });

  it("acls-enabled-objects-private: ACLs on, but every object ACL known private", () => {
    const { blockers, warnings } = judge({ ownership: "BucketOwnerPreferred", objectAclsNonPrivate: false });
    expect(blockers).toEqual([]);
    expect(warnings).toEqual(["acls-enabled-objects-private"]);
  });

  it("default-encryption-changes: another KMS key, or DSSE-KMS", () => {
    const other = `arn:aws:kms:${REGION}:${ACCOUNT}:key/other`;
    expect(
      judge({ defaultEncryption: { algorithm: "aws:kms", kmsKeyId: other, bucketKeyEnabled: true } }).warnings,
    ).toEqual(["default-encryption-changes"]);
    expect(judge({ defaultEncryption: { algorithm: "aws:kms:dsse", bucketKeyEnabled: false } }).warnings).toEqual([
      "default-encryption-changes",
    ]);
    // The target key named by id is the same key.
    expect(
      judge({ defaultEncryption: { algorithm: "aws:kms", kmsKeyId: KEY_ID, bucketKeyEnabled: true } }).warnings,
    ).toEqual([]);
  });

  it("policy-unclear: a Deny that depends on the VPC endpoint", () => {
    const { blockers, warnings, finding } = judge({
      bucketPolicy: policy({
        Sid: "OnlyFromVpce",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: `arn:aws:s3:::${BUCKET}/*`,
        Condition: { StringNotEquals: { "aws:SourceVpce": "vpce-1a2b3c4d" } },
      }),
    });
    expect(blockers).toEqual([]);
    expect(warnings).toEqual(["policy-unclear"]);
    expect(finding("policy-unclear")?.message).toContain('"OnlyFromVpce" (aws:SourceVpce)');
  });

  it("key-other-account", () => {
    const other = `arn:aws:kms:${REGION}:999999999999:key/${KEY_ID}`;
    const { blockers, warnings } = judge({
      targetKeyArn: other,
      key: { arn: other, state: "Enabled", keyManager: "CUSTOMER" },
      keyPolicy: policy({
        Effect: "Allow",
        Principal: { AWS: ROLE },
        Action: "kms:*",
        Resource: "*",
      }),
    });
    expect(blockers).toEqual([]);
    expect(warnings).toEqual(["key-other-account"]);
  });

  it("key-policy-lacks-update-encryption: only GenerateDataKey and Decrypt for the role", () => {
    const { blockers, warnings, finding } = judge({
      keyPolicy: policy({
        Effect: "Allow",
        Principal: { AWS: ROLE },
        Action: ["kms:GenerateDataKey", "kms:Decrypt"],
        Resource: "*",
        Condition: { StringEquals: { "kms:ViaService": `s3.${REGION}.amazonaws.com` } },
      }),
    });
    expect(blockers).toEqual([]);
    expect(warnings).toEqual(["key-policy-lacks-update-encryption"]);
    expect(finding("key-policy-lacks-update-encryption")?.message).toContain(
      "kms:Encrypt, kms:ReEncryptFrom, kms:ReEncryptTo",
    );
  });

  it("key-policy-unclear: a grant that depends on the source IP", () => {
    const { blockers, warnings, finding } = judge({
      keyPolicy: policy({
        Effect: "Allow",
        Principal: { AWS: ROLE },
        Action: "kms:*",
        Resource: "*",
        Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } },
      }),
    });
    expect(blockers).toEqual([]);
    expect(warnings).toEqual(["key-policy-unclear"]);
    expect(finding("key-policy-unclear")?.message).toContain("aws:SourceIp");
  });

  it.each([
    ["objectLock", "object-lock-unknown"],
    ["replication", "replication-unknown"],
    ["notifications", "notifications-unknown"],
    ["lifecycle", "lifecycle-unknown"],
    ["ownership", "ownership-unknown"],
    ["defaultEncryption", "default-encryption-unknown"],
    ["bucketPolicy", "bucket-policy-unknown"],
    ["key", "key-unknown"],
    ["keyPolicy", "key-policy-unknown"],
  ] as const)("%s that cannot be read → %s (a warning)", (fact, code) => {
    const { blockers, warnings, finding } = judge({ [fact]: cannotTell("access denied") });
    expect(blockers).toEqual([]);
    expect(warnings).toEqual([code]);
    expect(finding(code)?.message).toContain("access denied");
  });

  it("a key policy that is not JSON is one rekey cannot tell about", () => {
    expect(judge({ keyPolicy: "{not json" }).warnings).toEqual(["key-policy-unknown"]);
    expect(parsePolicy("[]")).toEqual(cannotTell("the policy is not a JSON object"));
  });
});

describe("evaluatePreflight: acknowledgements", () => {
  it("turns a named blocker into a warning marked acknowledged, and leaves the others", () => {
    const facts = { versioning: "Unversioned", ownership: "ObjectWriter" } as const;
    const { blockers, outcome } = judge(facts, { acknowledge: ["versioning-disabled"] });
    expect(blockers).toEqual(["acls-enabled"]);
    expect(outcome.warnings).toEqual([expect.objectContaining({ code: "versioning-disabled", acknowledged: true })]);

    const both = judge(facts, { acknowledge: ["versioning-disabled", "acls-enabled"] });
    expect(both.blockers).toEqual([]);
    expect(both.warnings).toEqual(["versioning-disabled", "acls-enabled"]);
  });

  it("cannot lift a final blocker: acknowledge only accepts acknowledgeable codes", () => {
    // @ts-expect-error key-not-enabled cannot be acknowledged
    const options: PreflightOptions = { acknowledge: ["key-not-enabled"] };
    const { blockers } = judge({ key: { arn: KEY, state: "Disabled", keyManager: "CUSTOMER" } }, options);
    expect(blockers).toEqual(["key-not-enabled"]);
  });

  it("an acknowledgement of a blocker that is not raised changes nothing", () => {
    const { blockers, warnings } = judge({}, { acknowledge: ["notifications-on-copy"] });
    expect([...blockers, ...warnings]).toEqual([]);
  });
});

describe("describeBlockers and summaries", () => {
  it("lists every blocker with its fix, and says which may be acknowledged", () => {
    const { outcome } = judge({
      versioning: "Unversioned",
      key: { arn: KEY, state: "Disabled", keyManager: "CUSTOMER" },
    });
    const text = describeBlockers(BUCKET, outcome.blockers);
    expect(text).toContain("Preflight refuses to write to bucket data-bucket; 2 blocker(s):");
    expect(text).toMatch(
      /- \[versioning-disabled\] .* Fix: Enable versioning .*\(or accept it: rekey start --acknowledge versioning-disabled\)/,
    );
    expect(text).toMatch(/- \[key-not-enabled\] .* Fix: Enable the key[^\n]*$/m);
    expect(text).not.toContain('acknowledge "key-not-enabled"');
  });

  it("finds the expiration of noncurrent versions and summarizes the facts", () => {
    expect(noncurrentExpirationDays([])).toBeUndefined();
    expect(
      noncurrentExpirationDays([
        { enabled: true, wholeBucket: true, noncurrentExpirationDays: 90 },
        { enabled: true, wholeBucket: true, noncurrentExpirationDays: 30 },
        { enabled: false, wholeBucket: true, noncurrentExpirationDays: 1 },
      ]),
    ).toBe(30);
    const summary = summarizeFacts({ ...healthy(), keyPolicy: cannotTell("KMS GetKeyPolicy is not available") });
    expect(summary).toMatchObject({
      versioning: "Enabled",
      objectLock: "disabled",
      replication: "none",
      noncurrentExpirationDays: 30,
      objectOwnership: "BucketOwnerEnforced",
      bucketPolicy: "present",
      key: "Enabled, CUSTOMER",
      keyPolicy: "cannot tell: KMS GetKeyPolicy is not available",
    });
  });
});
