export const SKIP_REASONS = {
  "sse-kms-key-unverified": {
    summary: "SSE-KMS with a key the inventory does not name",
    whatToDo:
      "S3 Inventory does not report the KMS key. Check a sample with HeadObject (SSEKMSKeyId) or S3 Metadata tables; objects under another key need S3UpdateObjectEncryption.",
  },
  archived: {
    summary: "Archived (GLACIER, DEEP_ARCHIVE or an Intelligent-Tiering archive tier)",
    whatToDo:
      "Restore the objects (RestoreObject or a Batch Operations restore job), then run rekey again while the restored copies are available.",
  },
  "sse-c": {
    summary: "Encrypted with a customer-provided key (SSE-C)",
    whatToDo:
      "rekey cannot read SSE-C objects. The owner of the customer key must re-upload or copy them with SSE-KMS.",
  },
  "dsse-kms": {
    summary: "Encrypted with dual-layer SSE-KMS (DSSE-KMS)",
    whatToDo: "Left as is: DSSE-KMS is a stronger setting. Decide with the data owner whether to convert it.",
  },
  "storage-class-not-copyable": {
    summary: "Storage class a Batch Operations copy cannot keep",
    whatToDo:
      "The copy job's StorageClass cannot name this class (e.g. REDUCED_REDUNDANCY, OUTPOSTS). Transition the objects to a supported class (lifecycle rule), or copy them by hand.",
  },
  "missing-columns": {
    summary: "Inventory row lacks a field rekey needs",
    whatToDo:
      "Add Size, StorageClass and EncryptionStatus to the inventory configuration's optional fields and run again after the next delivery.",
  },
  "unknown-encryption-status": {
    summary: "Encryption status rekey does not know",
    whatToDo: "Check a sample with HeadObject and report the value; rekey leaves these objects alone.",
  },
  "object-lock-compliance": {
    summary: "Under Object Lock in compliance mode",
    whatToDo:
      "Nobody can change or replace the locked version until its retention ends (a copy would only add a version beside it); run rekey again after the retain-until date.",
  },
  "object-lock-governance": {
    summary: "Under Object Lock governance retention or a legal hold",
    whatToDo:
      "UpdateObjectEncryption refuses locked objects, and a Batch copy would not carry the retention or hold to the new version: remove the legal hold or governance retention (with the s3:BypassGovernanceRetention permission), run rekey again, then restore the lock.",
  },
  "changed-before-copy": {
    summary: "Over 5 GiB and planned for the multipart copy, but no longer copyable when its turn came",
    whatToDo:
      "The object was re-written, archived or encrypted otherwise after planning; the large-object results in the work bucket (plans/…/large-objects/batch-….json) give each key and reason. Run rekey again to plan it as it is now.",
  },
  "key-too-long-for-manifest": {
    summary:
      "Key longer than a Batch Operations manifest allows once encoded (1,024 characters), in a class a copy cannot read",
    whatToDo:
      "rekey copies such keys itself (CopyObject), but these are archived (GLACIER, DEEP_ARCHIVE) and encrypted: call UpdateObjectEncryption on each (aws s3api update-object-encryption) with the target key and BucketKeyEnabled, or restore them and run rekey again.",
  },
} as const satisfies Record<string, { summary: string; whatToDo: string }>;

export type SkipReason = keyof typeof SKIP_REASONS;

export const NOT_CURRENT_REASONS = {
  "noncurrent-version": {
    summary: "Noncurrent version",
    whatToDo:
      "Not touched (rekey never pins versions). Old unencrypted versions stay until a lifecycle rule (NoncurrentVersionExpiration) expires them.",
  },
  "delete-marker": {
    summary: "Delete marker",
    whatToDo: "Nothing to encrypt.",
  },
} as const satisfies Record<string, { summary: string; whatToDo: string }>;

export type NotCurrentReason = keyof typeof NOT_CURRENT_REASONS;

export const TASK_FAILURE_CATEGORIES = {
  gone: {
    summary: "Object deleted since planning",
    whatToDo: "Nothing: the object no longer exists, so it needs no encryption. Counted apart from failures.",
    retryable: false,
  },
  "throttled-or-transient": {
    summary: "Throttled or transient S3/KMS error",
    whatToDo:
      "rekey already ran these tasks again in redrive jobs, up to taskAttempts attempts (the report lists each attempt), and they failed every time. Starting rekey again from the same inventory reuses its plan and jobs and does not retry them; a run from the next inventory delivery plans these objects again. Before that, lower jobPriority or raise the S3 or KMS request quota.",
    retryable: true,
  },
  "access-or-kms": {
    summary: "Access denied or KMS key problem",
    whatToDo:
      "Stop and fix permissions: the Batch Operations role needs s3:GetObject*/PutObject* on the bucket and kms:Decrypt/GenerateDataKey on the target (and source) key; check the key is enabled and its policy, and any bucket policy or SCP denying the copy.",
    retryable: false,
  },
  "object-state": {
    summary: "Object not readable in its storage class (archived)",
    whatToDo: "Restore the object, then run rekey again.",
    retryable: false,
  },
  precondition: {
    summary: "Precondition failed (object changed during the copy)",
    whatToDo:
      "The object changed while the job ran; the final verification re-checks it. Run rekey again if it is still not compliant.",
    retryable: false,
  },
  other: {
    summary: "Other failure",
    whatToDo: "Read ResultMessage in the completion report for these tasks; run rekey again once the cause is fixed.",
    retryable: false,
  },
  "changed-not-compliant": {
    summary: "Written again since planning, with an encryption other than the bucket default",
    whatToDo:
      "rekey did not copy over the newer write (each copy is conditional on the object being unmodified since default encryption was enforced), but its writer asked for another encryption (SSE-S3, another KMS key or no Bucket Key). Find that writer and make it use the bucket default, then run rekey again to plan the object as it is now.",
    retryable: false,
  },
  "missing-but-present": {
    summary: "Reported missing (404) by the copy, but the object exists",
    whatToDo:
      "Batch Operations looked for another key than the object's: the manifest key did not decode to the object's key, most likely a key encoding problem (for example a raw + in a hand-made inventory, which decodes to a space). Check that the inventory's keys are URL-encoded as S3 Inventory writes them, then run rekey again; these objects were not changed.",
    retryable: false,
  },
} as const satisfies Record<string, { summary: string; whatToDo: string; retryable: boolean }>;

export type TaskFailureCategory = keyof typeof TASK_FAILURE_CATEGORIES;
