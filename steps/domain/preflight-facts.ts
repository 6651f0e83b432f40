import type { FindingCode } from "../../contract/findings.ts";
import type { PreflightFactsSummary } from "../../contract/preflight.ts";

/**
 * What preflight reads about the bucket and the target key (steps/handlers/preflight-checks.ts gathers them with
 * read-only calls; steps/domain/preflight.ts judges them). Every fact may be a {@link CannotTell}: the read was
 * denied, or the service does not offer it.
 */

/** A fact rekey could not read, and why (e.g. "GetBucketPolicy: AccessDenied"). */
export interface CannotTell {
  readonly cannotTell: string;
}
export type Fact<T> = T | CannotTell;

export function cannotTell(reason: string): CannotTell {
  return { cannotTell: reason };
}

export function isCannotTell(value: unknown): value is CannotTell {
  return typeof value === "object" && value !== null && "cannotTell" in value;
}

export type VersioningStatus = "Enabled" | "Suspended" | "Unversioned";

export interface ObjectLockFacts {
  enabled: boolean;
  defaultRetention?: { mode: "GOVERNANCE" | "COMPLIANCE"; days?: number; years?: number };
}

export interface ReplicationRuleFacts {
  id?: string;
  enabled: boolean;
  /** `SourceSelectionCriteria.SseKmsEncryptedObjects.Status === "Enabled"`. */
  sseKmsEncryptedObjects: boolean;
  destinationBucket?: string;
}
/** `null` below means "no replication configuration". */
export interface ReplicationFacts {
  rules: readonly ReplicationRuleFacts[];
}

export interface NotificationTarget {
  kind: "topic" | "queue" | "lambda";
  arn: string;
  events: readonly string[];
}
export interface NotificationFacts {
  targets: readonly NotificationTarget[];
  eventBridge: boolean;
}

export interface LifecycleRuleFacts {
  id?: string;
  enabled: boolean;
  /** True when the rule has no prefix, tag or size filter. */
  wholeBucket: boolean;
  expirationDays?: number;
  transitions?: readonly { days: number; storageClass: string }[];
  noncurrentExpirationDays?: number;
}

/** Object Ownership; "none" = no ownership controls (a bucket from before 2023: ACLs in force, as ObjectWriter). */
export type ObjectOwnership = "BucketOwnerEnforced" | "BucketOwnerPreferred" | "ObjectWriter" | "none";

export interface DefaultEncryptionFacts {
  algorithm: "AES256" | "aws:kms" | "aws:kms:dsse" | "none";
  kmsKeyId?: string;
  bucketKeyEnabled: boolean;
}

export interface KeyFacts {
  arn: string;
  /** KMS KeyState: Enabled, Disabled, PendingDeletion, PendingImport, Unavailable, ... */
  state: string;
  /** KMS KeyManager: CUSTOMER or AWS. */
  keyManager: string;
  /** The custom key store the key lives in (DescribeKey's CustomKeyStoreId); absent for a key in KMS's own store. */
  customKeyStore?: CustomKeyStoreFacts;
}

/** A custom key store, as DescribeCustomKeyStores tells it; `details` is CannotTell when that read failed. */
export interface CustomKeyStoreFacts {
  id: string;
  details: Fact<KeyStoreDetails>;
}

export interface KeyStoreDetails {
  /** AWS_CLOUDHSM or EXTERNAL_KEY_STORE. */
  type: string;
  name?: string;
  /** CONNECTED, CONNECTING, DISCONNECTED, DISCONNECTING or FAILED. */
  connectionState?: string;
}

/** What IAM's policy simulator answered for one action (SimulatePrincipalPolicy's EvalDecision). */
export interface SimulatedAnswer {
  decision: "allowed" | "explicitDeny" | "implicitDeny";
  /** The policies (SourcePolicyId) of the statements that decided: the denying ones for an explicit deny. */
  policies: readonly string[];
}

/** A role or user of the bucket's account, and what the simulator says it may do. */
export interface ReaderPrincipalFacts {
  arn: string;
  kind: "role" | "user";
  /**
   * s3:GetObject on the bucket's objects by the principal's IAM policies (and, for a user, the bucket policy: the
   * simulator takes a resource-based policy for users only, so a role's bucket-policy grants are judged by rekey).
   */
  read: SimulatedAnswer;
  /**
   * kms:Decrypt of the target key through S3 by the principal's IAM policies (the key policy is judged by rekey);
   * absent when the principal cannot read the bucket.
   */
  decrypt?: SimulatedAnswer;
}

/** The account's IAM roles and users as readers of the bucket (steps/aws/reader-impact.ts reads them). */
export interface ReaderFacts {
  principals: readonly ReaderPrincipalFacts[];
  /** Roles and users listed but not examined, and why (service-linked roles, rekey's own roles). */
  skipped: readonly { arn: string; why: string }[];
}

/** The manifest generator's lists never show Object Lock; an inventory does when it has the lock fields. */
export type CandidateSourceFacts = { kind: "generate" } | { kind: "inventory"; showsObjectLock: boolean };

export interface PreflightFacts {
  bucket: string;
  bucketRegion: string;
  /** The account that owns the bucket (the run's account). */
  bucketAccountId: string;
  targetKeyArn: string;
  /** The role S3 Batch Operations assumes to write. */
  batchRoleArn: string;
  versioning: Fact<VersioningStatus>;
  objectLock: Fact<ObjectLockFacts>;
  /** Where the plan's candidates come from; absent in callers that do not plan (treated as showing Object Lock). */
  candidates?: Fact<CandidateSourceFacts>;
  replication: Fact<ReplicationFacts | null>;
  notifications: Fact<NotificationFacts>;
  lifecycle: Fact<readonly LifecycleRuleFacts[]>;
  ownership: Fact<ObjectOwnership>;
  /** Whether any object ACL grants more than the owner's FULL_CONTROL; undefined when unknown. */
  objectAclsNonPrivate?: boolean;
  defaultEncryption: Fact<DefaultEncryptionFacts>;
  /** The bucket policy's JSON text; `null` when the bucket has none. */
  bucketPolicy: Fact<string | null>;
  key: Fact<KeyFacts>;
  /** The key policy's JSON text. */
  keyPolicy: Fact<string>;
  /** Who reads the bucket and may decrypt under the key; absent in callers that were given no IAM client. */
  readers?: Fact<ReaderFacts>;
}

/** How a check reports a finding. */
export type Raise = (code: FindingCode, message: string, fix: string) => void;

/** Days after which a whole-bucket lifecycle rule expires noncurrent versions; undefined when none does. */
export function noncurrentExpirationDays(lifecycle: Fact<readonly LifecycleRuleFacts[]>): number | undefined {
  if (isCannotTell(lifecycle)) return undefined;
  const days = lifecycle
    .filter((r) => r.enabled && r.wholeBucket && r.noncurrentExpirationDays !== undefined)
    .map((r) => r.noncurrentExpirationDays ?? Number.POSITIVE_INFINITY);
  return days.length ? Math.min(...days) : undefined;
}
// ---------------------------------------------------------------------------------------------------------------------
// Facts summary, for the plan and the run report

export function summarizeFacts(f: PreflightFacts): PreflightFactsSummary {
  const show = <T>(fact: Fact<T>, describe: (v: T) => string) =>
    isCannotTell(fact) ? `cannot tell: ${fact.cannotTell}` : describe(fact);
  const days = noncurrentExpirationDays(f.lifecycle);
  return {
    versioning: show(f.versioning, (v) => v),
    objectLock: show(f.objectLock, (l) =>
      !l.enabled
        ? "disabled"
        : l.defaultRetention
          ? `enabled, default ${l.defaultRetention.mode} ${l.defaultRetention.years !== undefined ? `${l.defaultRetention.years}y` : `${l.defaultRetention.days ?? "?"}d`}`
          : "enabled, no default retention",
    ),
    replication: show(f.replication, (r) =>
      r === null
        ? "none"
        : `${r.rules.filter((x) => x.enabled).length} enabled rule(s), ${r.rules.filter((x) => x.enabled && x.sseKmsEncryptedObjects).length} replicating SSE-KMS`,
    ),
    notifications: show(
      f.notifications,
      (n) => `${n.targets.length} target(s)${n.eventBridge ? ", EventBridge on" : ""}`,
    ),
    lifecycle: show(f.lifecycle, (rules) => `${rules.filter((r) => r.enabled).length} enabled rule(s)`),
    ...(days !== undefined ? { noncurrentExpirationDays: days } : {}),
    objectOwnership: show(f.ownership, (o) => o),
    defaultEncryption: show(
      f.defaultEncryption,
      (d) => `${d.algorithm}${d.kmsKeyId ? ` ${d.kmsKeyId}` : ""}${d.bucketKeyEnabled ? ", Bucket Key" : ""}`,
    ),
    bucketPolicy: show(f.bucketPolicy, (p) => (p === null ? "none" : "present")),
    key: show(
      f.key,
      (k) => `${k.state}, ${k.keyManager}${k.customKeyStore ? `, ${describeKeyStore(k.customKeyStore)}` : ""}`,
    ),
    keyPolicy: show(f.keyPolicy, () => "read"),
  };
}

/** "custom key store cks-… (AWS_CLOUDHSM)", or its id and why its type is unknown. */
export function describeKeyStore(store: CustomKeyStoreFacts): string {
  const d = store.details;
  return isCannotTell(d)
    ? `custom key store ${store.id} (type unknown: ${d.cannotTell})`
    : `custom key store ${store.id} (${d.type}${d.name ? ` "${d.name}"` : ""})`;
}
