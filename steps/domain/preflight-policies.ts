import {
  globMatch,
  isRecord,
  keyPolicyVerdict,
  parseOperator,
  parsePolicy,
  type RequestContext,
  type RoleIdentity,
  roleIdentity,
  type Statement,
  statementApplies,
  statementLabel,
  toStrings,
} from "../../iam-policy/evaluator.ts";
import { isCannotTell, type PreflightFacts, type Raise } from "./preflight-facts.ts";

/**
 * The preflight checks that read policies: whether the bucket policy denies the Batch Operations role's writes, and
 * whether the key policy lets that role use the key through S3 (with Bucket Keys, whose encryption context is the
 * bucket ARN). Each request rekey causes is described by the condition keys S3 or KMS set for it.
 */

export function checkBucketPolicy(f: PreflightFacts, raise: Raise): void {
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

export function checkKeyPolicy(f: PreflightFacts, raise: Raise): void {
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
          base.startsWith("StringEquals")
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

function baseContext(role: RoleIdentity): [string, string | readonly string[] | null][] {
  return [
    ["aws:principalarn", role.arn],
    ["aws:principalaccount", role.account],
    ["aws:principaltype", "AssumedRole"],
    // Batch Operations calls S3 over TLS on the role's behalf; the ubiquitous "Deny unless aws:SecureTransport"
    // statement does not stop it. An assumption: AWS does not document it.
    ["aws:securetransport", "true"],
  ];
}

/**
 * What S3 sees for a Batch Operations S3PutObjectCopy task rekey creates: the PutObject condition keys of
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html with the values rekey's job sets.
 */
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

function s3ObjectResourceCovered(pattern: string, bucket: string): boolean {
  const prefix = `arn:aws:s3:::${bucket}/`;
  return pattern === "*" || pattern.startsWith(prefix) || globMatch(pattern, `${prefix}any-object`);
}
