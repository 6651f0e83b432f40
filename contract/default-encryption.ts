/** What "Enforce default encryption" hands on. */

/** A bucket's default encryption rule, as GetBucketEncryption returns it. */
export interface DefaultEncryptionRule {
  ApplyServerSideEncryptionByDefault?: { SSEAlgorithm: string | undefined; KMSMasterKeyID?: string | undefined };
  BucketKeyEnabled?: boolean | undefined;
}

export interface DefaultEncryptionResult {
  /** From this instant every new write to the bucket is SSE-KMS under the target key with Bucket Key. */
  enforcedAt: string;
  /** False when an earlier run had already set exactly this configuration. */
  changed: boolean;
  previous: DefaultEncryptionRule[] | null;
}
