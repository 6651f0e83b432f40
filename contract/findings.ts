/** Blockers the operator may turn into warnings by naming them in `acknowledge`. */
export const ACKNOWLEDGEABLE_BLOCKERS = [
  "versioning-disabled",
  "versioning-suspended",
  "versioning-unknown",
  "object-lock-compliance-default",
  "object-lock-unseen",
  "replication-without-sse-kms",
  "notifications-on-copy",
  "acls-enabled",
  "encryption-context-condition",
  "readers-lack-decrypt",
] as const;

/** Blockers no acknowledgement lifts: the writes would fail, or the key cannot serve. */
export const FINAL_BLOCKERS = [
  "policy-denies-copy",
  "policy-denies-update-encryption",
  "key-not-enabled",
  "key-wrong-region",
  "key-not-customer-managed",
  "key-policy-denies-batch-role",
] as const;

export const WARNINGS = [
  "object-lock-governance-default",
  "object-lock-enabled",
  "replication-replicates-copies",
  "eventbridge-enabled",
  "lifecycle-keyed-on-age",
  "noncurrent-versions-never-expire",
  "acls-enabled-objects-private",
  "default-encryption-changes",
  "policy-unclear",
  "key-other-account",
  "key-policy-lacks-update-encryption",
  "key-policy-unclear",
  "object-lock-unknown",
  "replication-unknown",
  "notifications-unknown",
  "lifecycle-unknown",
  "ownership-unknown",
  "default-encryption-unknown",
  "bucket-policy-unknown",
  "key-unknown",
  "key-policy-unknown",
  "readers-unknown",
  "key-in-custom-key-store",
] as const;

export type AcknowledgeableCode = (typeof ACKNOWLEDGEABLE_BLOCKERS)[number];

export type FindingCode = AcknowledgeableCode | (typeof FINAL_BLOCKERS)[number] | (typeof WARNINGS)[number];
