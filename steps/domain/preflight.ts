import {
  ACKNOWLEDGEABLE_BLOCKERS,
  type AcknowledgeableCode,
  FINAL_BLOCKERS,
  type FindingCode,
} from "../../contract/findings.ts";
import type { Finding } from "../../contract/preflight.ts";
import { parseArn } from "../../iam-policy/evaluator.ts";
import {
  describeKeyStore,
  isCannotTell,
  type LifecycleRuleFacts,
  noncurrentExpirationDays,
  type PreflightFacts,
  type Raise,
  type ReplicationRuleFacts,
} from "./preflight-facts.ts";
import { checkBucketPolicy, checkKeyPolicy } from "./preflight-policies.ts";
import { judgeReaders, type LosingReader, viaS3 } from "./reader-impact.ts";

/**
 * Preflight: from read-only facts about the bucket and the target key, decide whether rekey may write, and what the
 * operator should know. Pure: the step (steps/handlers/preflight-checks.ts) gathers the facts (steps/domain/preflight-facts.ts);
 * this module judges them, with the policy checks in steps/domain/preflight-policies.ts.
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
 * | readers-lack-decrypt                 | blocker (ack) | Roles/users that read the bucket could not decrypt re-encrypted objects.       |
 * | readers-unknown                      | warning       | Readers rekey cannot judge: other accounts, anyone, services, unreadable IAM.  |
 * | key-in-custom-key-store              | warning       | CloudHSM / external key store: 1,800 requests/s per store; Bucket Key matters. |
 * | <fact>-unknown (object-lock, replication, notifications, lifecycle, ownership, default-encryption, bucket-policy, key, key-policy) | warning | The read failed; the check was not made. |
 *
 * Readers are judged by steps/domain/reader-impact.ts. Not checked here: SCPs/RCPs, VPC endpoint policies,
 * permissions boundaries, S3 Requester Pays, and readers allowed only a part of the bucket (a prefix).
 */

// ---------------------------------------------------------------------------------------------------------------------
// Findings

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
  checkKeyStore(facts, raise);
  checkKeyPolicy(facts, raise);
  checkReaders(facts, raise);

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
    const ack = ACKNOWLEDGEABLE.has(b.code) ? ` (or accept it: rekey start --acknowledge ${b.code})` : "";
    return `- [${b.code}] ${b.message} Fix: ${b.fix}${ack}`;
  });
  return `Preflight refuses to write to bucket ${bucket}; ${blockers.length} blocker(s):\n${lines.join("\n")}`;
}

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
    // The inventory's fields already in place: say what rekey does with them, not to add them.
    const listsLocks =
      f.candidates !== undefined &&
      !isCannotTell(f.candidates) &&
      f.candidates.kind !== "generate" &&
      f.candidates.showsObjectLock;
    raise(
      "object-lock-enabled",
      `Object Lock is enabled on bucket ${f.bucket} (no default retention): S3UpdateObjectEncryption refuses objects under retention or legal hold, and those tasks will fail.`,
      listsLocks
        ? "Nothing to add: the inventory lists ObjectLockMode and ObjectLockLegalHoldStatus, so rekey skips the objects it shows locked and reports them with their reason; an object locked after the inventory was made fails its task and is reported with its key."
        : "Include ObjectLockMode, ObjectLockRetainUntilDate and ObjectLockLegalHoldStatus in the inventory's optional fields: rekey then skips locked objects and reports them with their reason. Without those fields their tasks fail and are reported with their keys.",
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
export function sameKey(ref: string, targetArn: string): boolean {
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

/** Custom key store request quotas: https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html#rps-key-stores */
const KEY_STORE_REQUESTS_PER_SECOND = "1,800";

function checkKeyStore(f: PreflightFacts, raise: Raise): void {
  if (isCannotTell(f.key) || f.key.customKeyStore === undefined) return;
  const store = f.key.customKeyStore;
  const details = isCannotTell(store.details) ? undefined : store.details;
  const kind =
    details?.type === "AWS_CLOUDHSM"
      ? "an AWS CloudHSM key store"
      : details?.type === "EXTERNAL_KEY_STORE"
        ? "an external key store"
        : "a custom key store";
  const backing =
    details?.type === "AWS_CLOUDHSM"
      ? " The CloudHSM cluster's other work lowers that rate further."
      : details?.type === "EXTERNAL_KEY_STORE"
        ? " Every request also travels to your external key manager through its proxy: when that is slow or unreachable, copies and reads fail."
        : "";
  const connection =
    details?.connectionState !== undefined && details.connectionState !== "CONNECTED"
      ? ` The key store is ${details.connectionState}: KMS cannot use its keys until it is CONNECTED.`
      : "";
  raise(
    "key-in-custom-key-store",
    `KMS key ${f.targetKeyArn} lives in ${kind} (${describeKeyStore(store)}). Every cryptographic request on it (S3's GenerateDataKey for each copy, Decrypt for each read of a re-encrypted object) counts against the key store's own quota of ${KEY_STORE_REQUESTS_PER_SECOND} requests per second, shared by every key in the store and every account using them and not adjustable, on top of the account's KMS quota (https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html#rps-key-stores); throttled copies fail.${backing}${connection}`,
    "Keep the S3 Bucket Key on, as rekey's copies and the default encryption it sets do: S3 then asks KMS for a bucket-level key and derives object keys from it for a time, instead of one KMS request per object, which cuts the requests to KMS by up to 99% (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html); with a key store's fixed quota it decides whether the run and the bucket's readers stay under it. Run while the key store's other users are quiet, and make sure writers that set their own encryption also use the Bucket Key.",
  );
}

/** How many principals a reader finding names; the rest are counted. */
const READERS_NAMED = 5;

function checkReaders(f: PreflightFacts, raise: Raise): void {
  const impact = judgeReaders(f);
  if (impact === undefined) return;
  const more = (n: number) => (n > READERS_NAMED ? `; and ${n - READERS_NAMED} more` : "");
  if (impact.losing.length) {
    const named = impact.losing.slice(0, READERS_NAMED).map((r) => `${r.arn} (reads: ${r.how}; ${r.why})`);
    raise(
      "readers-lack-decrypt",
      `${impact.losing.length} IAM principal(s) of account ${f.bucketAccountId} can read objects of bucket ${f.bucket} but could not decrypt them once they are SSE-KMS under ${f.targetKeyArn}: ${named.join("; ")}${more(impact.losing.length)}. Each would get AccessDenied reading a re-encrypted object.`,
      readerFixes(f, impact.losing),
    );
  }
  if (impact.unknown.length) {
    const named = impact.unknown.slice(0, READERS_NAMED).map((u) => `${u.principal}: ${u.why}`);
    raise(
      "readers-unknown",
      `rekey cannot tell whether these readers of bucket ${f.bucket} could decrypt its objects once they are under ${f.targetKeyArn}: ${named.join("; ")}${more(impact.unknown.length)}.`,
      `Check each by hand before the run: a reader needs kms:Decrypt on ${f.targetKeyArn} when S3 asks (kms:ViaService ${viaS3(f.bucketRegion)}), allowed by the key policy and, unless the key policy names the reader itself, by the reader's own IAM policies. Where rekey could not list or simulate the account's roles and users, grant it iam:ListRoles, iam:ListUsers and iam:SimulatePrincipalPolicy.`,
    );
  }
}

/** The fix of readers-lack-decrypt: the statements to add (one for IAM policies, one for the key policy) and whom for. */
function readerFixes(f: PreflightFacts, losing: readonly LosingReader[]): string {
  const names = (rs: readonly LosingReader[]) =>
    `${rs
      .slice(0, READERS_NAMED)
      .map((r) => r.arn)
      .join(", ")}${rs.length > READERS_NAMED ? ` and ${rs.length - READERS_NAMED} more` : ""}`;
  const parts: string[] = [];
  const viaIam = losing.filter((r) => r.fix.identityPolicy);
  const first = viaIam[0]?.fix.identityPolicy;
  if (first) {
    parts.push(`Add to the IAM policies of ${names(viaIam)} the statement ${JSON.stringify(first)}.`);
  }
  const viaKey = losing.filter((r) => r.fix.keyPolicy);
  const keyStatement = viaKey[0]?.fix.keyPolicy;
  if (keyStatement) {
    const principals = viaKey.map((r) => r.arn);
    const statement = {
      ...keyStatement,
      Principal: { AWS: principals.length === 1 ? principals[0] : principals.slice(0, READERS_NAMED) },
    };
    parts.push(
      `The key policy lets no IAM policy grant the key to ${names(viaKey)}: add to it the statement ${JSON.stringify(statement)}${principals.length > READERS_NAMED ? " with every one of them" : ""} (or a statement allowing the account, arn:aws:iam::${f.bucketAccountId}:root, so that IAM policies count).`,
    );
  }
  const denies = new Map<string, LosingReader[]>();
  for (const r of losing)
    if (r.fix.removeDeny) denies.set(r.fix.removeDeny, [...(denies.get(r.fix.removeDeny) ?? []), r]);
  for (const [deny, rs] of denies)
    parts.push(`Change ${deny} so that it does not deny ${names(rs)} kms:Decrypt through S3.`);
  return `${parts.join(" ")} Then start a new run.`;
}
