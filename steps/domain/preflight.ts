import {
  ACKNOWLEDGEABLE_BLOCKERS,
  type AcknowledgeableCode,
  FINAL_BLOCKERS,
  type FindingCode,
} from "../../contract/findings.ts";

/**
 * Preflight: from read-only facts about the bucket and the target key, decide whether rekey may write, and what the
 * operator should know. Pure: the step (steps/preflight.ts) gathers the facts; this module judges them.
 *
 * Every fact may be a {@link CannotTell} (the read was denied, or the service does not offer it). An unknown fact is a
 * warning, except versioning, which decides whether a copy can be undone and so blocks.
 *
 * A blocker stops the run before anything is written. Blockers marked "ack" turn into warnings (recorded with
 * `acknowledged: true`) when the run lists their code in `acknowledge`; the others cannot be acknowledged, because
 * the writes would fail anyway (or the key is unusable).
 *
 * | Code                                 | Outcome       | Why                                                                            |
 * |--------------------------------------|---------------|--------------------------------------------------------------------------------|
 * | versioning-disabled                  | blocker (ack) | A copy in place overwrites the only version: no way back.                      |
 * | versioning-suspended                 | blocker (ack) | Copies write the null version, replacing objects written while suspended.      |
 * | versioning-unknown                   | blocker (ack) | Cannot tell whether a copy can be undone.                                      |
 * | object-lock-compliance-default       | blocker (ack) | Every copy becomes a version nobody can delete until retention ends.          |
 * | object-lock-governance-default       | warning       | New versions get governance retention; UpdateObjectEncryption refuses locked. |
 * | object-lock-enabled                  | warning       | Locked objects / legal holds: UpdateObjectEncryption refuses them.            |
 * | object-lock-unseen                   | blocker (ack) | Object Lock on, but the candidates do not show it: a copy drops holds.        |
 * | replication-without-sse-kms          | blocker (ack) | SSE-KMS objects stop replicating: the replica silently falls behind.          |
 * | replication-replicates-copies        | warning       | Every copy is a new version that replicates (cost, destination versions).     |
 * | notifications-on-copy                | blocker (ack) | Consumers get an ObjectCreated event per copied object.                       |
 * | eventbridge-enabled                  | warning       | Copies reach EventBridge; rekey cannot see which rules match.                  |
 * | lifecycle-keyed-on-age               | warning       | Copies reset LastModified: age-based transitions/expirations restart.         |
 * | noncurrent-versions-never-expire     | warning       | Old unencrypted versions stay and are billed until someone deletes them.      |
 * | acls-enabled                         | blocker (ack) | A copy resets object ACLs to private: grants are lost.                         |
 * | acls-enabled-objects-private         | warning       | ACLs enabled, but every object ACL is known to be private already.            |
 * | default-encryption-changes           | warning       | Step 2 replaces the bucket default (another KMS key, or DSSE-KMS).             |
 * | policy-denies-copy                   | blocker       | The bucket policy denies the copies' s3:PutObject: every task would fail.     |
 * | policy-denies-update-encryption      | blocker       | The bucket policy denies s3:UpdateObjectEncryption to the Batch role.          |
 * | policy-unclear                       | warning       | A Deny statement depends on conditions rekey cannot evaluate.                  |
 * | key-not-enabled                      | blocker       | S3 cannot use a disabled / pending-deletion key.                                |
 * | key-wrong-region                     | blocker       | S3 only uses keys in the bucket's region.                                      |
 * | key-not-customer-managed             | blocker       | An AWS managed key's policy cannot be controlled (and cannot be the target).   |
 * | key-other-account                    | warning       | UpdateObjectEncryption only takes keys of the bucket owner's account.          |
 * | key-policy-denies-batch-role         | blocker       | The Batch role may not GenerateDataKey/Decrypt: every task would fail.        |
 * | key-policy-lacks-update-encryption   | warning       | No kms:Encrypt/ReEncrypt* for the role: UpdateObjectEncryption tasks fail.    |
 * | key-policy-unclear                   | warning       | The key policy's grants depend on conditions rekey cannot evaluate.            |
 * | encryption-context-condition         | blocker (ack) | Conditions on object-ARN encryption context stop matching under Bucket Keys.   |
 * | <fact>-unknown (object-lock, replication, notifications, lifecycle, ownership, default-encryption, bucket-policy, key, key-policy) | warning | The read failed; the check was not made. |
 *
 * Not checked here: IAM policies of other principals (they may also condition on object-ARN encryption context),
 * S3 Requester Pays, SCPs/RCPs, VPC endpoint policies.
 */

// ---------------------------------------------------------------------------------------------------------------------
// Facts

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
}

// ---------------------------------------------------------------------------------------------------------------------
// Findings

export interface Finding {
  code: FindingCode;
  message: string;
  fix: string;
  /** Set on a blocker the run acknowledged, which is therefore reported as a warning. */
  acknowledged?: true;
}

export interface PreflightOptions {
  /** Blocker codes the operator accepts; each becomes a warning marked `acknowledged`. */
  acknowledge?: readonly AcknowledgeableCode[];
}

export interface PreflightOutcome {
  blockers: Finding[];
  warnings: Finding[];
}

const ACKNOWLEDGEABLE: ReadonlySet<string> = new Set(ACKNOWLEDGEABLE_BLOCKERS);
const BLOCKING: ReadonlySet<string> = new Set([...ACKNOWLEDGEABLE_BLOCKERS, ...FINAL_BLOCKERS]);

/** Judges the facts. Pure; every finding names its fix. */
export function evaluatePreflight(facts: PreflightFacts, options: PreflightOptions = {}): PreflightOutcome {
  const raised: Finding[] = [];
  const raise = (code: FindingCode, message: string, fix: string) => raised.push({ code, message, fix });

  checkVersioning(facts, raise);
  checkObjectLock(facts, raise);
  checkReplication(facts, raise);
  checkNotifications(facts, raise);
  checkLifecycle(facts, raise);
  checkOwnership(facts, raise);
  checkDefaultEncryption(facts, raise);
  checkBucketPolicy(facts, raise);
  checkKey(facts, raise);
  checkKeyPolicy(facts, raise);

  const acknowledged = new Set<string>(options.acknowledge ?? []);
  const blockers: Finding[] = [];
  const warnings: Finding[] = [];
  for (const f of raised) {
    if (!BLOCKING.has(f.code)) warnings.push(f);
    else if (ACKNOWLEDGEABLE.has(f.code) && acknowledged.has(f.code)) warnings.push({ ...f, acknowledged: true });
    else blockers.push(f);
  }
  return { blockers, warnings };
}

/** The text of a PreflightBlockedError: every blocker with its fix, and which of them may be acknowledged. */
export function describeBlockers(bucket: string, blockers: readonly Finding[]): string {
  const lines = blockers.map((b) => {
    const ack = ACKNOWLEDGEABLE.has(b.code) ? ` (or acknowledge "${b.code}")` : "";
    return `- [${b.code}] ${b.message} Fix: ${b.fix}${ack}`;
  });
  return `Preflight refuses to write to bucket ${bucket}; ${blockers.length} blocker(s):\n${lines.join("\n")}`;
}

/** Days after which a whole-bucket lifecycle rule expires noncurrent versions; undefined when none does. */
export function noncurrentExpirationDays(lifecycle: Fact<readonly LifecycleRuleFacts[]>): number | undefined {
  if (isCannotTell(lifecycle)) return undefined;
  const days = lifecycle
    .filter((r) => r.enabled && r.wholeBucket && r.noncurrentExpirationDays !== undefined)
    .map((r) => r.noncurrentExpirationDays ?? Number.POSITIVE_INFINITY);
  return days.length ? Math.min(...days) : undefined;
}

type Raise = (code: FindingCode, message: string, fix: string) => void;

function checkVersioning(f: PreflightFacts, raise: Raise): void {
  const v = f.versioning;
  if (isCannotTell(v)) {
    raise(
      "versioning-unknown",
      `rekey cannot read the versioning state of bucket ${f.bucket} (${v.cannotTell}), so it cannot tell whether a copy in place could be undone.`,
      "Grant the preflight role s3:GetBucketVersioning on the bucket and start a new run.",
    );
  } else if (v === "Unversioned") {
    raise(
      "versioning-disabled",
      `Bucket ${f.bucket} has never had versioning enabled: a copy in place overwrites each object, and the original is gone with no version to return to.`,
      `Enable versioning (aws s3api put-bucket-versioning --bucket ${f.bucket} --versioning-configuration Status=Enabled) and start a new run.`,
    );
  } else if (v === "Suspended") {
    raise(
      "versioning-suspended",
      `Versioning of bucket ${f.bucket} is suspended: copies are written as the null version, replacing the null version of every object written while versioning was suspended (older versions with ids are kept).`,
      `Re-enable versioning (aws s3api put-bucket-versioning --bucket ${f.bucket} --versioning-configuration Status=Enabled) and start a new run.`,
    );
  }
}

function checkObjectLock(f: PreflightFacts, raise: Raise): void {
  const lock = f.objectLock;
  if (isCannotTell(lock)) {
    raise(
      "object-lock-unknown",
      `rekey cannot read the Object Lock configuration (${lock.cannotTell}); locked objects would fail to update and copies might get a default retention.`,
      "Grant s3:GetBucketObjectLockConfiguration to the preflight role to have it checked.",
    );
    return;
  }
  if (!lock.enabled) return;
  const source = f.candidates && !isCannotTell(f.candidates) ? f.candidates : undefined;
  if (source && (source.kind === "generate" || !source.showsObjectLock)) {
    raise(
      "object-lock-unseen",
      source.kind === "generate"
        ? `Object Lock is enabled on bucket ${f.bucket}, and this run lists its candidates with the manifest generator, which does not show retention or legal holds: unencrypted objects under governance retention or a legal hold would be copied by Batch Operations into new versions that do not carry the protection, and locked encrypted objects would fail to update.`
        : `Object Lock is enabled on bucket ${f.bucket}, but the inventory configuration does not list ObjectLockMode and ObjectLockLegalHoldStatus: unencrypted objects under governance retention or a legal hold would be copied by Batch Operations into new versions that do not carry the protection, and locked encrypted objects would fail to update.`,
      "Plan from an S3 Inventory whose optional fields include ObjectLockMode, ObjectLockRetainUntilDate and ObjectLockLegalHoldStatus (rekey then skips locked objects and reports them); or, if no object in the bucket is locked, acknowledge object-lock-unseen.",
    );
  }
  const r = lock.defaultRetention;
  const period = r ? (r.years !== undefined ? `${r.years} year(s)` : `${r.days ?? "?"} day(s)`) : "";
  if (r?.mode === "COMPLIANCE") {
    raise(
      "object-lock-compliance-default",
      `Bucket ${f.bucket} applies a default retention of COMPLIANCE mode for ${period}: every copy rekey makes is a new version that nobody, the root user included, can delete or shorten before the retention ends, so the storage of every copied object is committed for ${period}. Objects locked in COMPLIANCE mode also cannot be re-encrypted with S3UpdateObjectEncryption.`,
      "Agree the extra locked versions and their storage with the data owner, or change the bucket's default retention before the run (it applies to new versions only).",
    );
  } else if (r?.mode === "GOVERNANCE") {
    raise(
      "object-lock-governance-default",
      `Bucket ${f.bucket} applies a default retention of GOVERNANCE mode for ${period}: each copy becomes a new version under that retention (removing it early needs s3:BypassGovernanceRetention), and S3UpdateObjectEncryption refuses objects under retention or legal hold.`,
      "Expect the new versions to be retained; objects that must be updated in place need their retention or legal hold removed first.",
    );
  } else {
    raise(
      "object-lock-enabled",
      `Object Lock is enabled on bucket ${f.bucket} (no default retention): S3UpdateObjectEncryption refuses objects under retention or legal hold, and those tasks will fail.`,
      "Include ObjectLockMode, ObjectLockRetainUntilDate and ObjectLockLegalHoldStatus in the inventory's optional fields: rekey then skips locked objects and reports them with their reason. Without those fields their tasks fail and are reported with their keys.",
    );
  }
}

function checkReplication(f: PreflightFacts, raise: Raise): void {
  const rep = f.replication;
  if (isCannotTell(rep)) {
    raise(
      "replication-unknown",
      `rekey cannot read the replication configuration (${rep.cannotTell}); if replication skips SSE-KMS objects, re-encrypted objects would stop replicating.`,
      "Grant s3:GetReplicationConfiguration to the preflight role to have it checked.",
    );
    return;
  }
  if (rep === null) return;
  const enabled = rep.rules.filter((r) => r.enabled);
  const name = (r: ReplicationRuleFacts) =>
    `rule ${r.id ? `"${r.id}"` : "(no id)"}${r.destinationBucket ? ` to ${r.destinationBucket}` : ""}`;
  const skipping = enabled.filter((r) => !r.sseKmsEncryptedObjects);
  if (skipping.length) {
    raise(
      "replication-without-sse-kms",
      `Replication ${skipping.map(name).join(", ")} does not replicate SSE-KMS objects (SourceSelectionCriteria.SseKmsEncryptedObjects is not Enabled). After rekey, re-encrypted objects and every new write (the default becomes SSE-KMS) stop replicating: the replica silently falls behind.`,
      `Enable SseKmsEncryptedObjects on the rule with a ReplicaKmsKeyID for the destination, and give the replication role kms:Decrypt on ${f.targetKeyArn} and kms:Encrypt on the replica key; then start a new run.`,
    );
  }
  const replicating = enabled.filter((r) => r.sseKmsEncryptedObjects);
  if (replicating.length) {
    raise(
      "replication-replicates-copies",
      `Replication ${replicating.map(name).join(", ")} replicates each copied object as a new version: replication requests and transfer are billed, and the destination gains a version per object. (Whether S3UpdateObjectEncryption replicates is not documented.)`,
      `Make sure the replication role may use ${f.targetKeyArn} (kms:Decrypt) and budget for the replication traffic.`,
    );
  }
}

/** Events a copy in place (s3:ObjectCreated:Copy) or a multipart copy (CompleteMultipartUpload) emits. */
const COPY_EVENTS: ReadonlySet<string> = new Set([
  "s3:ObjectCreated:*",
  "s3:ObjectCreated:Copy",
  "s3:ObjectCreated:CompleteMultipartUpload",
]);

function checkNotifications(f: PreflightFacts, raise: Raise): void {
  const n = f.notifications;
  if (isCannotTell(n)) {
    raise(
      "notifications-unknown",
      `rekey cannot read the event notification configuration (${n.cannotTell}); consumers might receive an event per copied object.`,
      "Grant s3:GetBucketNotification to the preflight role to have it checked.",
    );
    return;
  }
  const hit = n.targets.filter((t) => t.events.some((e) => COPY_EVENTS.has(e)));
  if (hit.length) {
    const list = hit.map((t) => `${t.kind} ${t.arn} (${t.events.filter((e) => COPY_EVENTS.has(e)).join(", ")})`);
    raise(
      "notifications-on-copy",
      `Bucket ${f.bucket} sends ObjectCreated events that every copy triggers, to ${list.join("; ")}: the consumers would process each re-encrypted object again (re-ingesting it, or writing objects of their own).`,
      "Confirm with the owners of these targets that one event per object is harmless, or pause them or narrow their filters for the change window.",
    );
  }
  if (n.eventBridge) {
    raise(
      "eventbridge-enabled",
      `Bucket ${f.bucket} sends its events to Amazon EventBridge, including an Object Created event per copied object; rekey cannot see which EventBridge rules match them.`,
      `Check the EventBridge rules on source aws.s3 for bucket ${f.bucket} (aws events list-rules) before the run.`,
    );
  }
}

function checkLifecycle(f: PreflightFacts, raise: Raise): void {
  const rules = f.lifecycle;
  if (isCannotTell(rules)) {
    raise(
      "lifecycle-unknown",
      `rekey cannot read the lifecycle configuration (${rules.cannotTell}); it cannot say which rules restart on copy or when old versions expire.`,
      "Grant s3:GetLifecycleConfiguration to the preflight role to have it checked.",
    );
    return;
  }
  const aged = rules.filter((r) => r.enabled && (r.expirationDays !== undefined || (r.transitions?.length ?? 0) > 0));
  if (aged.length) {
    const describe = (r: LifecycleRuleFacts) => {
      const parts = [
        ...(r.transitions ?? []).map((t) => `to ${t.storageClass} after ${t.days} days`),
        ...(r.expirationDays !== undefined ? [`expire after ${r.expirationDays} days`] : []),
      ];
      return `rule ${r.id ? `"${r.id}"` : "(no id)"} (${parts.join(", ")})`;
    };
    raise(
      "lifecycle-keyed-on-age",
      `Lifecycle ${aged.map(describe).join("; ")} count age from LastModified, which a copy resets: copied objects restart that clock and transition or expire up to that many days later than planned. (S3UpdateObjectEncryption keeps LastModified.)`,
      "If a rule enforces a retention limit, expire or transition the objects that are due before the run; otherwise expect the delay.",
    );
  }
  if (!isCannotTell(f.versioning) && f.versioning !== "Unversioned" && noncurrentExpirationDays(rules) === undefined) {
    raise(
      "noncurrent-versions-never-expire",
      `No lifecycle rule expires noncurrent versions of the whole bucket ${f.bucket}: the unencrypted versions each copy leaves behind stay, and are billed, until someone deletes them. rekey never deletes versions.`,
      "After the run is verified, add a lifecycle rule with NoncurrentVersionExpiration (for example NoncurrentDays 30) if the old versions are not needed.",
    );
  }
}

function checkOwnership(f: PreflightFacts, raise: Raise): void {
  const o = f.ownership;
  if (isCannotTell(o)) {
    raise(
      "ownership-unknown",
      `rekey cannot read Object Ownership (${o.cannotTell}); if ACLs are in force, copies would reset object ACLs to private.`,
      "Grant s3:GetBucketOwnershipControls to the preflight role to have it checked.",
    );
    return;
  }
  if (o === "BucketOwnerEnforced") return;
  const setting = o === "none" ? "not set (ACLs in force, as ObjectWriter)" : o;
  if (f.objectAclsNonPrivate === false) {
    raise(
      "acls-enabled-objects-private",
      `Object Ownership of bucket ${f.bucket} is ${setting}, so ACLs are in force; every object ACL is known to be private, so the copies' private ACL changes nothing.`,
      "Consider Object Ownership BucketOwnerEnforced (ACLs disabled).",
    );
    return;
  }
  raise(
    "acls-enabled",
    `Object Ownership of bucket ${f.bucket} is ${setting}, so object ACLs are in force. A copy resets each object's ACL to private: grants to other accounts, groups or the public are lost${o === "ObjectWriter" || o === "none" ? ", and objects other accounts uploaded (and own) become the bucket owner's" : ""}.`,
    "Move any access that object ACLs grant into the bucket policy and set Object Ownership to BucketOwnerEnforced; or confirm no object has grants beyond its owner (S3 Inventory field ObjectAccessControlList).",
  );
}

function checkDefaultEncryption(f: PreflightFacts, raise: Raise): void {
  const d = f.defaultEncryption;
  if (isCannotTell(d)) {
    raise(
      "default-encryption-unknown",
      `rekey cannot read the bucket's default encryption (${d.cannotTell}); the next step sets it to SSE-KMS with the target key.`,
      "Grant s3:GetEncryptionConfiguration to the preflight role to have it checked.",
    );
    return;
  }
  if (d.algorithm === "aws:kms:dsse") {
    raise(
      "default-encryption-changes",
      `Bucket ${f.bucket} defaults to dual-layer SSE-KMS (DSSE-KMS); rekey's next step changes the default to single-layer SSE-KMS with ${f.targetKeyArn}.`,
      "Confirm with the data owner that new objects may use SSE-KMS instead of DSSE-KMS.",
    );
  } else if (d.algorithm === "aws:kms" && d.kmsKeyId !== undefined && !sameKey(d.kmsKeyId, f.targetKeyArn)) {
    raise(
      "default-encryption-changes",
      `Bucket ${f.bucket} defaults to SSE-KMS with ${d.kmsKeyId}; rekey's next step changes the default to ${f.targetKeyArn}. Writers that name ${d.kmsKeyId} explicitly keep using it.`,
      "Tell the writers of this bucket about the new key; readers need kms:Decrypt on it.",
    );
  }
}

/** Whether a key reference (ARN, key id or alias) names the target key ARN; an alias cannot be resolved here. */
function sameKey(ref: string, targetArn: string): boolean {
  return ref === targetArn || targetArn.endsWith(`:key/${ref}`);
}

function checkKey(f: PreflightFacts, raise: Raise): void {
  const k = f.key;
  const arn = parseArn(f.targetKeyArn);
  if (arn && arn.region !== f.bucketRegion) {
    raise(
      "key-wrong-region",
      `KMS key ${f.targetKeyArn} is in ${arn.region}, but bucket ${f.bucket} is in ${f.bucketRegion}; S3 only uses keys in the bucket's region.`,
      `Use a customer managed key in ${f.bucketRegion} (or a multi-Region replica there).`,
    );
  }
  if (arn && arn.account !== f.bucketAccountId) {
    raise(
      "key-other-account",
      `KMS key ${f.targetKeyArn} belongs to account ${arn.account}, not to the bucket owner ${f.bucketAccountId}: S3UpdateObjectEncryption accepts only keys of the bucket owner's account (within an Organization only after AWS Support enables it), so already-encrypted objects cannot be updated.`,
      "Use a key of the bucket owner's account, or expect the S3UpdateObjectEncryption tasks to fail.",
    );
  }
  if (isCannotTell(k)) {
    raise(
      "key-unknown",
      `rekey cannot describe KMS key ${f.targetKeyArn} (${k.cannotTell}).`,
      "Grant kms:DescribeKey on the key to the preflight role to have it checked.",
    );
    return;
  }
  if (k.state !== "Enabled") {
    raise(
      "key-not-enabled",
      `KMS key ${f.targetKeyArn} is ${k.state}, not Enabled: S3 cannot encrypt with it.`,
      k.state === "PendingDeletion"
        ? "Cancel the key deletion (aws kms cancel-key-deletion), enable it, and start a new run."
        : "Enable the key (aws kms enable-key) or choose another, and start a new run.",
    );
  }
  if (k.keyManager !== "CUSTOMER") {
    raise(
      "key-not-customer-managed",
      `KMS key ${f.targetKeyArn} is managed by ${k.keyManager}, not a customer managed key: its policy cannot be changed.`,
      "Create a customer managed symmetric key and pass its ARN.",
    );
  }
}

function checkBucketPolicy(f: PreflightFacts, raise: Raise): void {
  const text = f.bucketPolicy;
  if (text === null) return;
  const statements = isCannotTell(text) ? text : parsePolicy(text);
  if (isCannotTell(statements)) {
    raise(
      "bucket-policy-unknown",
      `rekey cannot read the bucket policy of ${f.bucket} (${statements.cannotTell}); a Deny on s3:PutObject would fail every copy.`,
      "Grant s3:GetBucketPolicy to the preflight role to have it checked.",
    );
    return;
  }
  const role = roleIdentity(f.batchRoleArn);
  const requests: { action: string; code: "policy-denies-copy" | "policy-denies-update-encryption"; what: string }[] = [
    {
      action: "s3:PutObject",
      code: "policy-denies-copy",
      what: `the copies (s3:PutObject with SSE aws:kms, key ${f.targetKeyArn}, Bucket Key on)`,
    },
    {
      action: "s3:UpdateObjectEncryption",
      code: "policy-denies-update-encryption",
      what: "S3UpdateObjectEncryption",
    },
  ];
  const unclear = new Map<string, Set<string>>();
  for (const req of requests) {
    const ctx = req.action === "s3:PutObject" ? copyContext(f, role) : updateEncryptionContext(f, role);
    statements.forEach((st, i) => {
      if (st.Effect !== "Deny") return;
      const { result, unknownKeys } = statementApplies(st, {
        action: req.action,
        role,
        ctx,
        resourceCovered: (p) => s3ObjectResourceCovered(p, f.bucket),
      });
      const label = statementLabel(st, i);
      if (result === true) {
        raise(
          req.code,
          `Bucket policy statement ${label} denies ${req.what} to the Batch Operations role ${f.batchRoleArn}${st.Condition ? `: condition ${JSON.stringify(st.Condition)}` : ""}. Every such task would fail with AccessDenied.`,
          conditionNamesKeyOtherwise(st, f.targetKeyArn)
            ? `The statement names the KMS key differently from the full ARN rekey sends (${f.targetKeyArn}); list that ARN in it. Then start a new run.`
            : "Change the statement so that it allows rekey's request (or exempt the Batch Operations role), then start a new run.",
        );
      } else if (result === undefined) {
        const keys = unclear.get(label) ?? new Set<string>();
        for (const k of unknownKeys.length ? unknownKeys : ["(principal, action or resource)"]) keys.add(k);
        unclear.set(label, keys);
      }
    });
  }
  if (unclear.size) {
    const list = [...unclear].map(([label, keys]) => `${label} (${[...keys].join(", ")})`);
    raise(
      "policy-unclear",
      `Bucket policy Deny statement(s) ${list.join("; ")} depend on conditions rekey cannot evaluate for the Batch Operations role's writes.`,
      "Read these statements against rekey's requests: s3:PutObject from the Batch Operations role with SSE aws:kms, the target key's ARN and Bucket Key on; and s3:UpdateObjectEncryption.",
    );
  }
}

function conditionNamesKeyOtherwise(st: Statement, keyArn: string): boolean {
  for (const block of Object.values(st.Condition ?? {})) {
    if (!isRecord(block)) continue;
    for (const [k, v] of Object.entries(block)) {
      if (k.toLowerCase() !== "s3:x-amz-server-side-encryption-aws-kms-key-id") continue;
      const values = toStrings(v) ?? [];
      if (values.length && !values.some((x) => x === keyArn || globMatch(x, keyArn, false))) return true;
    }
  }
  return false;
}

const BUCKET_KEY_CONTEXT = "kms:encryptioncontext:aws:s3:arn";
const REQUIRED_KMS_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"] as const;
const UPDATE_ENCRYPTION_KMS_ACTIONS = ["kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"] as const;

function checkKeyPolicy(f: PreflightFacts, raise: Raise): void {
  const text = f.keyPolicy;
  const statements = isCannotTell(text) ? text : parsePolicy(text);
  if (isCannotTell(statements)) {
    raise(
      "key-policy-unknown",
      `rekey cannot read the policy of KMS key ${f.targetKeyArn} (${statements.cannotTell}): it has not checked that the Batch Operations role may use the key, nor looked for encryption-context conditions that Bucket Keys break.`,
      `Check the key policy by hand (aws kms get-key-policy --key-id ${f.targetKeyArn} --policy-name default), or grant kms:GetKeyPolicy to the preflight role.`,
    );
    return;
  }
  const bucketArn = `arn:aws:s3:::${f.bucket}`;

  const broken: string[] = [];
  statements.forEach((st, i) => {
    for (const [op, block] of Object.entries(st.Condition ?? {})) {
      if (!isRecord(block)) continue;
      for (const [k, v] of Object.entries(block)) {
        if (k.toLowerCase() !== BUCKET_KEY_CONTEXT) continue;
        const values = toStrings(v) ?? [];
        const base = parseOperator(op).base.replace(/Not/, "");
        const match = (ctx: string, p: string) =>
          base.startsWith("StringEquals") || base === "ArnEquals"
            ? base.endsWith("IgnoreCase")
              ? ctx.toLowerCase() === p.toLowerCase()
              : ctx === p
            : globMatch(p, ctx, base.endsWith("IgnoreCase"));
        const matchesBucket = values.some((p) => match(bucketArn, p));
        const namesObjects = values.some((p) => p.startsWith(`${bucketArn}/`) || match(`${bucketArn}/any-object`, p));
        if (!matchesBucket && namesObjects) broken.push(`${statementLabel(st, i)} (${op} ${values.join(", ")})`);
      }
    }
  });
  if (broken.length) {
    raise(
      "encryption-context-condition",
      `Key policy statement(s) ${broken.join("; ")} condition on kms:EncryptionContext:aws:s3:arn naming objects of ${f.bucket}. With S3 Bucket Keys the encryption context is the bucket ARN (${bucketArn}), so these conditions stop matching: principals they allow lose access to re-encrypted objects (or a Deny starts to apply). IAM policies with such conditions are not checked here.`,
      `Change the conditions to match ${bucketArn} (for example StringLike "${bucketArn}*"), in the key policy and in IAM policies that use them, then start a new run.`,
    );
  }

  const role = roleIdentity(f.batchRoleArn);
  const ctx = kmsContext(f, role);
  const keyArn = f.targetKeyArn;
  const verdicts = [...REQUIRED_KMS_ACTIONS, ...UPDATE_ENCRYPTION_KMS_ACTIONS].map((action) => ({
    action,
    ...keyPolicyVerdict(statements, { action, role, ctx, resourceCovered: (p) => p === "*" || globMatch(p, keyArn) }),
  }));
  const required = verdicts.filter((v) => (REQUIRED_KMS_ACTIONS as readonly string[]).includes(v.action));
  const forUpdate = verdicts.filter((v) => !(REQUIRED_KMS_ACTIONS as readonly string[]).includes(v.action));

  const refused = required.filter((v) => v.verdict === "denied" || v.verdict === "not-allowed");
  if (refused.length) {
    raise(
      "key-policy-denies-batch-role",
      `The policy of KMS key ${keyArn} does not let the Batch Operations role ${f.batchRoleArn} use it through S3: ${refused.map((v) => `${v.action} ${v.verdict === "denied" ? `denied by ${v.statement}` : "not allowed by any statement"}`).join("; ")}. Every copy would fail.`,
      `Allow the role kms:GenerateDataKey and kms:Decrypt in the key policy (or allow the account, arn:aws:iam::${role.account}:root, and grant them in the role's IAM policy, as rekey's stack does), then start a new run.`,
    );
  }
  const lacking = forUpdate.filter((v) => v.verdict === "denied" || v.verdict === "not-allowed");
  if (lacking.length) {
    raise(
      "key-policy-lacks-update-encryption",
      `The policy of KMS key ${keyArn} does not give the Batch Operations role ${lacking.map((v) => v.action).join(", ")}, which S3UpdateObjectEncryption needs: tasks re-encrypting SSE-S3 or SSE-KMS objects would fail.`,
      "Allow the role kms:Encrypt and kms:ReEncrypt* on the key if the bucket holds already-encrypted objects.",
    );
  }
  const unclear = verdicts.filter((v) => v.verdict === "unclear");
  if (unclear.length) {
    const keys = [...new Set(unclear.flatMap((v) => v.unknownKeys))];
    raise(
      "key-policy-unclear",
      `Whether the policy of KMS key ${keyArn} lets the Batch Operations role ${unclear.map((v) => v.action).join(", ")} depends on what rekey cannot evaluate${keys.length ? ` (${keys.join(", ")})` : ""}.`,
      "Read the key policy against S3 calling KMS for the Batch Operations role, with encryption context aws:s3:arn = the bucket ARN.",
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Facts summary, for the run report

export interface PreflightFactsSummary {
  versioning: string;
  objectLock: string;
  replication: string;
  notifications: string;
  lifecycle: string;
  noncurrentExpirationDays?: number;
  objectOwnership: string;
  defaultEncryption: string;
  bucketPolicy: string;
  key: string;
  keyPolicy: string;
}

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
    key: show(f.key, (k) => `${k.state}, ${k.keyManager}`),
    keyPolicy: show(f.keyPolicy, () => "read"),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// A small, tri-state IAM policy evaluator: enough to read the Deny statements of a bucket policy and the grants of a
// key policy against the requests rekey causes. "undefined" means "cannot tell"; rekey never guesses a match.

export interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, unknown>;
}

type Tri = boolean | undefined;
const and = (xs: readonly Tri[]): Tri => (xs.includes(false) ? false : xs.includes(undefined) ? undefined : true);
const or = (xs: readonly Tri[]): Tri => (xs.includes(true) ? true : xs.includes(undefined) ? undefined : false);
const not = (x: Tri): Tri => (x === undefined ? undefined : !x);

/** Request context: lower-case condition key → value; `null` = known absent; a key not in the map is unknown. */
export type RequestContext = ReadonlyMap<string, string | readonly string[] | null>;

interface RoleIdentity {
  arn: string;
  account: string;
  name: string;
}

function roleIdentity(arn: string): RoleIdentity {
  const parts = parseArn(arn);
  return { arn, account: parts?.account ?? "", name: arn.split("/").pop() ?? "" };
}

function parseArn(arn: string): { region: string; account: string } | undefined {
  const m = /^arn:[^:]+:[^:]+:([^:]*):(\d{12}):/.exec(arn);
  return m ? { region: m[1] ?? "", account: m[2] ?? "" } : undefined;
}

function baseContext(role: RoleIdentity): [string, string | readonly string[] | null][] {
  return [
    ["aws:principalarn", role.arn],
    ["aws:principalaccount", role.account],
    ["aws:principaltype", "AssumedRole"],
    // Batch Operations calls S3 over TLS on the role's behalf; the ubiquitous "Deny unless aws:SecureTransport"
    // statement does not stop it. An assumption: aws-facts does not document it.
    ["aws:securetransport", "true"],
  ];
}

/** What S3 sees for a Batch Operations S3PutObjectCopy task rekey creates (aws-facts 2.6). */
function copyContext(f: PreflightFacts, role: RoleIdentity): RequestContext {
  return new Map([
    ...baseContext(role),
    ["s3:resourceaccount", f.bucketAccountId],
    ["s3:x-amz-server-side-encryption", "aws:kms"],
    ["s3:x-amz-server-side-encryption-aws-kms-key-id", f.targetKeyArn],
    ["s3:x-amz-server-side-encryption-bucket-key-enabled", "true"],
    ["s3:x-amz-server-side-encryption-customer-algorithm", null],
  ]);
}

/** S3UpdateObjectEncryption carries its encryption in the body; which SSE condition keys S3 sets is not documented. */
function updateEncryptionContext(f: PreflightFacts, role: RoleIdentity): RequestContext {
  return new Map([...baseContext(role), ["s3:resourceaccount", f.bucketAccountId]]);
}

/** What KMS sees when S3 calls it for the Batch role, with Bucket Keys: the context is the bucket ARN. */
function kmsContext(f: PreflightFacts, role: RoleIdentity): RequestContext {
  return new Map<string, string | readonly string[] | null>([
    ...baseContext(role),
    ["kms:viaservice", `s3.${f.bucketRegion}.amazonaws.com`],
    ["kms:calleraccount", role.account],
    [BUCKET_KEY_CONTEXT, `arn:aws:s3:::${f.bucket}`],
    ["kms:encryptioncontextkeys", ["aws:s3:arn"]],
  ]);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The statements of a policy document; CannotTell when the text is not a policy rekey can read. */
export function parsePolicy(text: string): Statement[] | CannotTell {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return cannotTell("the policy is not valid JSON");
  }
  if (!isRecord(doc)) return cannotTell("the policy is not a JSON object");
  const raw = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? [] : [doc.Statement];
  const statements: Statement[] = [];
  for (const s of raw) {
    if (!isRecord(s) || typeof s.Effect !== "string") return cannotTell("a statement has no Effect");
    if (s.Condition !== undefined && !isRecord(s.Condition))
      return cannotTell("a statement's Condition is not an object");
    statements.push(s as unknown as Statement);
  }
  return statements;
}

function statementLabel(st: Statement, index: number): string {
  return st.Sid ? `"${st.Sid}"` : `#${index + 1}`;
}

function toStrings(v: unknown): string[] | undefined {
  const list = Array.isArray(v) ? v : [v];
  const out: string[] = [];
  for (const x of list) {
    if (typeof x === "string") out.push(x);
    else if (typeof x === "number" || typeof x === "boolean") out.push(String(x));
    else return undefined;
  }
  return out;
}

/** IAM wildcard match: `*` any run of characters, `?` one character. */
function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, ignoreCase ? "is" : "s").test(value);
}

function s3ObjectResourceCovered(pattern: string, bucket: string): boolean {
  const prefix = `arn:aws:s3:::${bucket}/`;
  return pattern === "*" || pattern.startsWith(prefix) || globMatch(pattern, `${prefix}any-object`);
}

function principalCovers(principal: unknown, role: RoleIdentity): Tri {
  if (principal === "*") return true;
  if (!isRecord(principal)) return undefined;
  let covers = false;
  for (const [kind, value] of Object.entries(principal)) {
    const ids = toStrings(value);
    if (!ids) return undefined;
    if (kind !== "AWS") continue;
    for (const id of ids) {
      if (
        id === "*" ||
        id === role.arn ||
        id === role.account ||
        id === `arn:aws:iam::${role.account}:root` ||
        id.startsWith(`arn:aws:sts::${role.account}:assumed-role/${role.name}/`)
      ) {
        covers = true;
      }
    }
  }
  return covers;
}

interface RequestUnderTest {
  action: string;
  role: RoleIdentity;
  ctx: RequestContext;
  resourceCovered: (pattern: string) => boolean;
}

function statementApplies(st: Statement, req: RequestUnderTest): { result: Tri; unknownKeys: string[] } {
  const principal: Tri =
    st.Principal !== undefined
      ? principalCovers(st.Principal, req.role)
      : st.NotPrincipal !== undefined
        ? not(principalCovers(st.NotPrincipal, req.role))
        : undefined;
  const actionMatch = (v: unknown): Tri => {
    const patterns = toStrings(v);
    return patterns === undefined ? undefined : patterns.some((p) => globMatch(p, req.action, true));
  };
  const action: Tri =
    st.Action !== undefined
      ? actionMatch(st.Action)
      : st.NotAction !== undefined
        ? not(actionMatch(st.NotAction))
        : undefined;
  const resourceMatch = (v: unknown): Tri => {
    const patterns = toStrings(v);
    return patterns === undefined ? undefined : patterns.some(req.resourceCovered);
  };
  const resource: Tri =
    st.Resource !== undefined
      ? resourceMatch(st.Resource)
      : st.NotResource !== undefined
        ? not(resourceMatch(st.NotResource))
        : true;
  const head = and([principal, action, resource]);
  if (head === false) return { result: false, unknownKeys: [] };
  const cond = evaluateConditions(st.Condition, req.ctx);
  return { result: and([head, cond.result]), unknownKeys: cond.unknownKeys };
}

function parseOperator(op: string): { base: string; set?: "ForAnyValue" | "ForAllValues"; ifExists: boolean } {
  let rest = op;
  let set: "ForAnyValue" | "ForAllValues" | undefined;
  for (const prefix of ["ForAnyValue", "ForAllValues"] as const) {
    if (rest.startsWith(`${prefix}:`)) {
      set = prefix;
      rest = rest.slice(prefix.length + 1);
    }
  }
  const ifExists = rest.endsWith("IfExists");
  if (ifExists) rest = rest.slice(0, -"IfExists".length);
  return { base: rest, ...(set ? { set } : {}), ifExists };
}

const NEGATED = new Set([
  "StringNotEquals",
  "StringNotEqualsIgnoreCase",
  "StringNotLike",
  "ArnNotEquals",
  "ArnNotLike",
]);

/** One context value against the policy values with a positive or negated string/ARN/Bool operator; undefined = unsupported. */
function matchOne(base: string, value: string, patterns: readonly string[]): Tri {
  switch (base) {
    case "StringEquals":
      return patterns.includes(value);
    case "StringNotEquals":
      return !patterns.includes(value);
    case "StringEqualsIgnoreCase":
      return patterns.some((p) => p.toLowerCase() === value.toLowerCase());
    case "StringNotEqualsIgnoreCase":
      return !patterns.some((p) => p.toLowerCase() === value.toLowerCase());
    case "StringLike":
    case "ArnEquals":
    case "ArnLike":
      return patterns.some((p) => globMatch(p, value));
    case "StringNotLike":
    case "ArnNotEquals":
    case "ArnNotLike":
      return !patterns.some((p) => globMatch(p, value));
    case "Bool":
      return patterns.some((p) => p.toLowerCase() === value.toLowerCase());
    default:
      return undefined;
  }
}

/**
 * IAM semantics used: operators AND, keys within an operator AND, values OR. A key absent from the request makes a
 * condition false, except for negated operators, `...IfExists`, `ForAllValues` (true) and `Null` (true when the
 * policy asks for absence).
 */
function evaluateConditions(
  condition: Record<string, unknown> | undefined,
  ctx: RequestContext,
): {
  result: Tri;
  unknownKeys: string[];
} {
  const results: Tri[] = [];
  const unknownKeys: string[] = [];
  for (const [op, block] of Object.entries(condition ?? {})) {
    const { base, set, ifExists } = parseOperator(op);
    if (!isRecord(block)) return { result: undefined, unknownKeys: [op] };
    for (const [rawKey, rawValues] of Object.entries(block)) {
      const key = rawKey.toLowerCase();
      const patterns = toStrings(rawValues);
      let r: Tri;
      if (!patterns || patterns.some((p) => p.includes("${")) || !ctx.has(key)) {
        r = undefined;
      } else {
        const value = ctx.get(key) ?? null;
        if (base === "Null") {
          r = patterns.some((p) => (p.toLowerCase() === "true") === (value === null));
        } else if (value === null) {
          r = ifExists || set === "ForAllValues" ? true : set === "ForAnyValue" ? false : NEGATED.has(base);
        } else if (typeof value === "string") {
          r = matchOne(base, value, patterns);
        } else {
          const each = value.map((v) => matchOne(base, v, patterns));
          r = set === "ForAllValues" ? and(each) : set === "ForAnyValue" ? or(each) : undefined;
        }
      }
      if (r === undefined) unknownKeys.push(rawKey);
      results.push(r);
    }
  }
  return { result: and(results), unknownKeys };
}

function keyPolicyVerdict(
  statements: readonly Statement[],
  req: RequestUnderTest,
): { verdict: "allowed" | "denied" | "not-allowed" | "unclear"; statement?: string; unknownKeys: string[] } {
  const unknownKeys: string[] = [];
  const judge = (effect: string) =>
    statements
      .map((st, i) => ({ st, i }))
      .filter(({ st }) => st.Effect === effect)
      .map(({ st, i }) => {
        const r = statementApplies(st, req);
        if (r.result === undefined) unknownKeys.push(...r.unknownKeys);
        return { result: r.result, label: statementLabel(st, i) };
      });
  const denies = judge("Deny");
  const allows = judge("Allow");
  const denying = denies.find((d) => d.result === true);
  if (denying) return { verdict: "denied", statement: denying.label, unknownKeys };
  const denied = or(denies.map((d) => d.result));
  const allowed = or(allows.map((a) => a.result));
  if (denied === false && allowed === true) return { verdict: "allowed", unknownKeys };
  if (denied === false && allowed === false) return { verdict: "not-allowed", unknownKeys };
  return { verdict: "unclear", unknownKeys };
}
