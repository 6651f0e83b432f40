import type { Finding } from "../../contract/preflight.ts";
import { evaluatePreflight } from "../../steps/domain/preflight.ts";
import type { PreflightFacts } from "../../steps/domain/preflight-facts.ts";

/** A bucket and key preflight finds nothing wrong with; the preflight tests change one fact at a time. */
export const BUCKET = "data-bucket";
export const ACCOUNT = "111122223333";
export const REGION = "eu-west-1";
export const KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab";
export const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`;
export const ROLE = `arn:aws:iam::${ACCOUNT}:role/rekey-batch`;

export const policy = (...Statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement });

/** The key policy AWS creates by default: the account, and so IAM policies, decide. */
export const ROOT_KEY_STATEMENT = {
  Sid: "Enable IAM User Permissions",
  Effect: "Allow",
  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  Action: "kms:*",
  Resource: "*",
};

/** The usual "encrypted uploads only, TLS only" bucket policy: rekey's copies pass it. */
export const ENFORCING_BUCKET_POLICY = policy(
  {
    Sid: "DenyIncorrectEncryptionHeader",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:PutObject",
    Resource: `arn:aws:s3:::${BUCKET}/*`,
    Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" } },
  },
  {
    Sid: "DenyUnEncryptedObjectUploads",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:PutObject",
    Resource: `arn:aws:s3:::${BUCKET}/*`,
    Condition: { Null: { "s3:x-amz-server-side-encryption": "true" } },
  },
  {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: { AWS: "*" },
    Action: "s3:*",
    Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  },
);

export function healthy(): PreflightFacts {
  return {
    bucket: BUCKET,
    bucketRegion: REGION,
    bucketAccountId: ACCOUNT,
    targetKeyArn: KEY,
    batchRoleArn: ROLE,
    versioning: "Enabled",
    objectLock: { enabled: false },
    replication: null,
    notifications: { targets: [], eventBridge: false },
    lifecycle: [{ id: "expire-noncurrent", enabled: true, wholeBucket: true, noncurrentExpirationDays: 30 }],
    ownership: "BucketOwnerEnforced",
    defaultEncryption: { algorithm: "AES256", bucketKeyEnabled: false },
    bucketPolicy: ENFORCING_BUCKET_POLICY,
    key: { arn: KEY, state: "Enabled", keyManager: "CUSTOMER" },
    keyPolicy: policy(ROOT_KEY_STATEMENT),
  };
}

/** Every finding, blockers first, for the healthy bucket with `changes`. */
export function findingsOf(changes: Partial<PreflightFacts>): Finding[] {
  const { blockers, warnings } = evaluatePreflight({ ...healthy(), ...changes });
  return [...blockers, ...warnings];
}
