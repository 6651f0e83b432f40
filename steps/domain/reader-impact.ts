import {
  globMatch,
  isRecord,
  keyPolicyVerdict,
  parseArn,
  parsePolicy,
  type RequestContext,
  type RoleIdentity,
  roleIdentity,
  type Statement,
  statementApplies,
  statementLabel,
  toStrings,
} from "../../iam-policy/evaluator.ts";
import {
  type CannotTell,
  type Fact,
  isCannotTell,
  type PreflightFacts,
  type ReaderPrincipalFacts,
  type SimulatedAnswer,
} from "./preflight-facts.ts";

/**
 * Reader impact: once a bucket's objects are SSE-KMS under the target key, every principal that reads them needs
 * kms:Decrypt on that key, asked by S3 on its behalf. From what IAM's policy simulator answered for each role and
 * user of the account (steps/aws/reader-impact.ts asks it), and the bucket and key policies read by iam-policy/'s
 * evaluator, this module says who would lose access and the statement that would give it back. Pure.
 *
 * KMS's rule (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html): "Unless the key policy
 * explicitly allows it, you cannot use IAM policies to allow access to a KMS key." A key policy allows a principal
 * itself (its ARN, or `*` under conditions), or the account (`arn:aws:iam::<account>:root`), which lets the
 * account's IAM policies decide
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
 * An explicit Deny in either wins.
 */

/** The key whose name in a KMS request S3 makes for an object with Bucket Key: the bucket's ARN. */
export const ENCRYPTION_CONTEXT_KEY = "kms:EncryptionContext:aws:s3:arn";

/** A condition key and its values, as SimulatePrincipalPolicy's ContextEntries take them. */
export interface ContextEntryInput {
  name: string;
  values: string[];
  type: "string" | "stringList";
}

export function viaS3(region: string): string {
  return `s3.${region}.amazonaws.com`;
}

export function partitionOf(arn: string): string {
  return /^arn:([^:]+):/.exec(arn)?.[1] ?? "aws";
}

export function bucketArnOf(bucket: string, partition: string): string {
  return `arn:${partition}:s3:::${bucket}`;
}

/**
 * What KMS sees when S3 decrypts an object for a reader (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html):
 * the service S3 is, the reader's account, and, with `bucketArn`, the encryption context of a Bucket Key (the
 * bucket's ARN). Without it the answer holds for every bucket unless a policy reads the context, which the
 * simulator then names among its missing context values.
 */
export function decryptContextEntries(p: {
  region: string;
  callerAccount: string;
  bucketArn?: string;
}): ContextEntryInput[] {
  return [
    { name: "kms:ViaService", values: [viaS3(p.region)], type: "string" },
    { name: "kms:CallerAccount", values: [p.callerAccount], type: "string" },
    ...(p.bucketArn === undefined
      ? []
      : [
          { name: ENCRYPTION_CONTEXT_KEY, values: [p.bucketArn], type: "string" as const },
          { name: "kms:EncryptionContextKeys", values: ["aws:s3:arn"], type: "stringList" as const },
        ]),
  ];
}

/** Whether a simulation left out a condition key about the encryption context (its answer may differ per bucket). */
export function dependsOnEncryptionContext(missing: readonly string[]): boolean {
  return missing.some((k) => k.toLowerCase().startsWith("kms:encryptioncontext"));
}

// ---------------------------------------------------------------------------------------------------------------------
// Which principals are examined

/** A role or user as ListRoles / ListUsers answer it. */
export interface ListedPrincipal {
  arn: string;
  kind: "role" | "user";
  path: string;
  description?: string;
}

/**
 * How rekey's own step roles describe themselves (infra/constructs/step-function.ts gives each role the description
 * "rekey step <handler>: only the calls this step makes"; test/domain/reader-impact.test.ts keeps the two equal).
 */
export const REKEY_STEP_ROLE_DESCRIPTION = "rekey step ";

/**
 * The principals to simulate, and those skipped with why:
 * - service-linked roles (path /aws-service-role/): their policies are the service's and the account cannot change
 *   them, so a finding about them could not be acted on; services that read a bucket through one say what key
 *   permissions they need in their own documentation.
 * - rekey's Batch Operations role: key-policy-denies-batch-role already judges its use of the key, with more actions.
 * - rekey's step roles: some may s3:GetObject the target objects, but only for HeadObject, which returns no data and
 *   needs no kms:Decrypt (infra/constructs/step-permissions.ts); listing them would block every run on rekey itself.
 *   They are recognised by the description the stack gives them, not by name, so that no customer role is skipped
 *   for resembling the stack's naming.
 */
export function principalsToExamine(
  listed: readonly ListedPrincipal[],
  batchRoleArn: string,
): { examine: ListedPrincipal[]; skipped: { arn: string; why: string }[] } {
  const examine: ListedPrincipal[] = [];
  const skipped: { arn: string; why: string }[] = [];
  for (const p of listed) {
    if (p.kind === "role" && p.path.startsWith("/aws-service-role/")) {
      skipped.push({ arn: p.arn, why: "service-linked role" });
    } else if (p.arn === batchRoleArn) {
      skipped.push({ arn: p.arn, why: "rekey's Batch Operations role (judged by key-policy-denies-batch-role)" });
    } else if (p.kind === "role" && p.description?.startsWith(REKEY_STEP_ROLE_DESCRIPTION)) {
      skipped.push({ arn: p.arn, why: "rekey's step role (HeadObject only, which needs no kms:Decrypt)" });
    } else {
      examine.push(p);
    }
  }
  return { examine, skipped };
}

// ---------------------------------------------------------------------------------------------------------------------
// Principal elements

type Scope = "self" | "account" | "any";

/** Whom one AWS principal id of a policy names: a principal itself, a whole account, or anyone. */
function scopeOf(id: string): Scope {
  if (id === "*") return "any";
  if (/^\d{12}$/.test(id) || /^arn:[^:]+:iam::\d{12}:root$/.test(id)) return "account";
  return "self";
}

/**
 * The statement with its Principal narrowed to the ids of the scopes kept, or undefined when none is left. A
 * statement without Principal (NotPrincipal) is kept as the evaluator reads it, as naming principals themselves.
 */
function narrow(st: Statement, keep: ReadonlySet<Scope>): Statement | undefined {
  if (st.Principal === undefined || (!isRecord(st.Principal) && st.Principal !== "*")) {
    return keep.has("self") ? st : undefined;
  }
  if (st.Principal === "*") return keep.has("any") ? st : undefined;
  const aws = st.Principal.AWS === undefined ? [] : toStrings(st.Principal.AWS);
  if (aws === undefined) return keep.has("self") ? st : undefined;
  const ids = aws.filter((id) => keep.has(scopeOf(id)));
  return ids.length ? { ...st, Principal: { AWS: ids } } : undefined;
}

function narrowAll(statements: readonly Statement[], effect: string, keep: ReadonlySet<Scope>): Statement[] {
  return statements.filter((s) => s.Effect === effect).flatMap((s) => narrow(s, keep) ?? []);
}

function identityOf(p: { arn: string; kind: "role" | "user" }): RoleIdentity {
  return roleIdentity(p.arn);
}

function principalContext(p: { arn: string; kind: "role" | "user" }): [string, string | readonly string[] | null][] {
  const id = identityOf(p);
  return [
    ["aws:principalarn", p.arn],
    ["aws:principalaccount", id.account],
    ["aws:principaltype", p.kind === "role" ? "AssumedRole" : "User"],
    // Readers use the SDKs, which call S3 over TLS; S3 calls KMS over TLS too. An assumption: not documented.
    ["aws:securetransport", "true"],
  ];
}

// ---------------------------------------------------------------------------------------------------------------------
// Who reads

export type ReadVerdict = { reads: true; how: string } | { reads: false } | { reads: "unclear"; why: string };

interface BucketView {
  bucket: string;
  bucketAccountId: string;
  partition: string;
  /** The bucket policy's statements; [] when it has none; CannotTell when it could not be read. */
  statements: Statement[] | CannotTell;
}

function objectsCovered(pattern: string, bucketArn: string): boolean {
  const prefix = `${bucketArn}/`;
  return pattern === "*" || globMatch(pattern, `${prefix}*`) || globMatch(pattern, `${prefix}any-object`);
}

/**
 * Whether a principal reads the bucket's objects: the simulator's answer for its IAM policies (with the bucket policy,
 * for a user), and, since the simulator takes a resource-based policy for users only
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html), the bucket policy's
 * statements that name the principal itself, read here. A statement naming the account delegates to IAM, and one
 * naming anyone (`*`) is reported once as an unknown reader (see {@link bucketPolicyOutsiders}).
 */
export function readVerdict(
  p: { arn: string; kind: "role" | "user" },
  read: SimulatedAnswer,
  bucket: BucketView,
): ReadVerdict {
  if (read.decision === "explicitDeny") return { reads: false };
  const bucketArn = bucketArnOf(bucket.bucket, bucket.partition);
  const statements = isCannotTell(bucket.statements) ? [] : bucket.statements;
  const req = {
    action: "s3:GetObject",
    role: identityOf(p),
    ctx: new Map([...principalContext(p), ["s3:resourceaccount", bucket.bucketAccountId]]) as RequestContext,
    resourceCovered: (pattern: string) => objectsCovered(pattern, bucketArn),
  };
  const denying = statements.findIndex((st) => st.Effect === "Deny" && statementApplies(st, req).result === true);
  if (denying >= 0) return { reads: false };
  if (read.decision === "allowed") {
    return {
      reads: true,
      how: read.policies.length ? `allowed by ${read.policies.join(", ")}` : "allowed by its IAM policies",
    };
  }
  const own = narrowAll(statements, "Allow", new Set<Scope>(["self"]));
  const verdict = keyPolicyVerdict(own, req);
  if (verdict.verdict === "allowed") return { reads: true, how: "named in the bucket policy" };
  if (verdict.verdict === "unclear") {
    const keys = [...new Set(verdict.unknownKeys)];
    return {
      reads: "unclear",
      why: `a bucket policy statement naming it allows s3:GetObject under conditions rekey cannot evaluate${keys.length ? ` (${keys.join(", ")})` : ""}`,
    };
  }
  return { reads: false };
}

/**
 * Principals the bucket policy lets read its objects that rekey cannot simulate: other accounts' principals, anyone
 * (`*`), and AWS services. Each with the statement that names it.
 */
export function bucketPolicyOutsiders(bucket: BucketView): UnknownReader[] {
  if (isCannotTell(bucket.statements)) return [];
  const bucketArn = bucketArnOf(bucket.bucket, bucket.partition);
  const out = new Map<string, UnknownReader>();
  bucket.statements.forEach((st, i) => {
    if (st.Effect !== "Allow" || !coversGetObject(st, bucketArn)) return;
    const label = `bucket policy statement ${statementLabel(st, i)}`;
    const add = (principal: string, why: string) => {
      if (!out.has(principal)) out.set(principal, { principal, why: `${why} (${label})` });
    };
    const p = st.Principal;
    if (p === "*") {
      add("*", anyoneWhy(st));
      return;
    }
    if (!isRecord(p)) return;
    for (const [kind, value] of Object.entries(p)) {
      for (const id of toStrings(value) ?? []) {
        if (kind === "AWS") {
          if (id === "*") add("*", anyoneWhy(st));
          else {
            const account = /^\d{12}$/.test(id) ? id : parseArn(id)?.account;
            if (account !== undefined && account !== bucket.bucketAccountId) {
              add(
                id,
                "another account's principal: rekey cannot simulate its IAM policies; it needs kms:Decrypt in them and in the key policy",
              );
            }
          }
        } else if (kind === "Service") {
          add(id, "an AWS service: it needs kms:Decrypt from the key policy, which names the service");
        } else {
          add(`${kind}:${id}`, "a principal rekey cannot simulate");
        }
      }
    }
  });
  return [...out.values()];
}

/** Anonymous requests for SSE-KMS objects fail: https://repost.aws/knowledge-center/s3-kms-signature-version-error */
function anyoneWhy(st: Statement): string {
  return `any principal${st.Condition ? ` under ${JSON.stringify(st.Condition)}` : ""}: readers outside the account cannot be simulated, and an anonymous request cannot use a KMS key at all`;
}

/** Whether a statement's Action and Resource may cover s3:GetObject on the bucket's objects (true or cannot tell). */
function coversGetObject(st: Statement, bucketArn: string): boolean {
  const matches = (v: unknown): boolean | undefined => {
    const patterns = toStrings(v);
    return patterns === undefined ? undefined : patterns.some((p) => globMatch(p, "s3:GetObject", true));
  };
  const action =
    st.Action !== undefined ? matches(st.Action) : st.NotAction !== undefined ? !matches(st.NotAction) : undefined;
  const resources = st.Resource === undefined ? undefined : toStrings(st.Resource);
  const resource =
    resources === undefined ? st.NotResource === undefined : resources.some((r) => objectsCovered(r, bucketArn));
  return action !== false && resource;
}

// ---------------------------------------------------------------------------------------------------------------------
// Who could decrypt

/** What would give a principal back its access: statements to add, or a Deny to lift. */
export interface ReaderFix {
  /** A statement for the principal's IAM policy (effective when the key policy lets IAM policies grant the key). */
  identityPolicy?: Statement;
  /** A statement for the key policy naming the principal (needed when the key policy does not delegate to IAM). */
  keyPolicy?: Statement;
  /** The Deny that takes the key away, to change: "key policy statement …" or the IAM policies' names. */
  removeDeny?: string;
}

export interface LosingReader {
  arn: string;
  kind: "role" | "user";
  /** How it reads the bucket. */
  how: string;
  /** Why it could not decrypt. */
  why: string;
  fix: ReaderFix;
}

export interface UnknownReader {
  principal: string;
  why: string;
}

export interface ReaderImpact {
  losing: LosingReader[];
  unknown: UnknownReader[];
  /** Principals simulated, and those skipped (service-linked, rekey's own). */
  examined: number;
  skipped: number;
}

/** The statement a reader's IAM policy needs: kms:Decrypt on the key, only when S3 asks. */
export function identityStatement(keyArn: string, region: string): Statement {
  return {
    Sid: "DecryptObjectsReadThroughS3",
    Effect: "Allow",
    Action: "kms:Decrypt",
    Resource: keyArn,
    Condition: { StringEquals: { "kms:ViaService": viaS3(region) } },
  };
}

/** The key-policy statement that lets principals decrypt through S3 without IAM's say. */
export function keyPolicyStatement(principals: readonly string[], region: string, account: string): Statement {
  return {
    Sid: "AllowReadersToDecryptThroughS3",
    Effect: "Allow",
    Principal: { AWS: principals.length === 1 ? principals[0] : [...principals] },
    Action: "kms:Decrypt",
    Resource: "*",
    Condition: { StringEquals: { "kms:ViaService": viaS3(region), "kms:CallerAccount": account } },
  };
}

type KeyAccess = { ok: true } | { ok: false; why: string; fix: ReaderFix } | { ok: "unclear"; why: string };

/** Whether a reader could decrypt through S3, from the key policy (read here) and its IAM policies (simulated). */
function keyAccess(
  p: ReaderPrincipalFacts,
  keyStatements: Statement[] | CannotTell,
  f: Pick<PreflightFacts, "bucket" | "bucketRegion" | "targetKeyArn">,
): KeyAccess {
  const id = identityOf(p);
  const keyAccount = parseArn(f.targetKeyArn)?.account ?? "";
  const identity = identityStatement(f.targetKeyArn, f.bucketRegion);
  const iam = p.decrypt;
  const iamDenied = (): KeyAccess => ({
    ok: false,
    why: `denied kms:Decrypt by ${iam?.policies.join(", ") || "an IAM policy"}`,
    fix: { removeDeny: `the Deny on kms:Decrypt in ${iam?.policies.join(", ") || "its IAM policies"}` },
  });
  if (iam?.decision === "explicitDeny") return iamDenied();
  if (isCannotTell(keyStatements)) {
    if (iam?.decision === "allowed") return { ok: true };
    return {
      ok: "unclear",
      why: `its IAM policies do not allow kms:Decrypt, and the key policy could not be read (${keyStatements.cannotTell})`,
    };
  }
  const req = {
    action: "kms:Decrypt",
    role: id,
    ctx: new Map<string, string | readonly string[] | null>([
      ...principalContext(p),
      ["kms:viaservice", viaS3(f.bucketRegion)],
      ["kms:calleraccount", id.account],
      [ENCRYPTION_CONTEXT_KEY.toLowerCase(), bucketArnOf(f.bucket, partitionOf(f.targetKeyArn))],
      ["kms:encryptioncontextkeys", ["aws:s3:arn"]],
    ]) as RequestContext,
    resourceCovered: (pattern: string) => pattern === "*" || globMatch(pattern, f.targetKeyArn),
  };
  const denies = keyStatements.filter((s) => s.Effect === "Deny");
  const direct = keyPolicyVerdict(
    [...denies, ...narrowAll(keyStatements, "Allow", new Set<Scope>(["self", "any"]))],
    req,
  );
  const account = keyPolicyVerdict([...denies, ...narrowAll(keyStatements, "Allow", new Set<Scope>(["account"]))], req);
  const denied = [direct, account].find((v) => v.verdict === "denied");
  if (denied) {
    return {
      ok: false,
      why: `the key policy denies it kms:Decrypt (statement ${denied.statement})`,
      fix: { removeDeny: `key policy statement ${denied.statement}` },
    };
  }
  const sameAccount = id.account === keyAccount;
  if (direct.verdict === "allowed" && sameAccount) return { ok: true };
  const unclearKeys = [...new Set([...direct.unknownKeys, ...account.unknownKeys])];
  const unclear = (): KeyAccess => ({
    ok: "unclear",
    why: `whether the key policy allows it depends on what rekey cannot evaluate${unclearKeys.length ? ` (${unclearKeys.join(", ")})` : ""}`,
  });
  if (direct.verdict === "allowed" || account.verdict === "allowed") {
    if (iam?.decision === "allowed") return { ok: true };
    if (iam === undefined) return { ok: "unclear", why: "its IAM policies were not simulated for kms:Decrypt" };
    if (direct.verdict === "unclear") return unclear();
    return {
      ok: false,
      why: "its IAM policies do not allow kms:Decrypt on the key",
      fix: { identityPolicy: identity },
    };
  }
  if (direct.verdict === "not-allowed" && account.verdict === "not-allowed") {
    return {
      ok: false,
      why: "the key policy neither names it nor lets IAM policies grant the key",
      fix: {
        keyPolicy: keyPolicyStatement([p.arn], f.bucketRegion, id.account),
        // A key of another account needs the reader's own IAM policy too.
        ...(sameAccount ? {} : { identityPolicy: identity }),
      },
    };
  }
  return unclear();
}

/** Who would lose access to the bucket's objects once they are under the target key; undefined when not read. */
export function judgeReaders(f: PreflightFacts): ReaderImpact | undefined {
  const readers = f.readers;
  if (readers === undefined) return undefined;
  const bucket: BucketView = {
    bucket: f.bucket,
    bucketAccountId: f.bucketAccountId,
    partition: partitionOf(f.targetKeyArn),
    statements: statementsOf(f.bucketPolicy),
  };
  const outsiders = bucketPolicyOutsiders(bucket);
  if (isCannotTell(readers)) {
    return {
      losing: [],
      unknown: [
        { principal: `the roles and users of account ${f.bucketAccountId}`, why: readers.cannotTell },
        ...outsiders,
      ],
      examined: 0,
      skipped: 0,
    };
  }
  const keyStatements = isCannotTell(f.keyPolicy) ? f.keyPolicy : parsePolicy(f.keyPolicy);
  const losing: LosingReader[] = [];
  const unknown: UnknownReader[] = [];
  for (const p of readers.principals) {
    const read = readVerdict(p, p.read, bucket);
    if (read.reads === false) continue;
    if (read.reads === "unclear") {
      unknown.push({ principal: p.arn, why: read.why });
      continue;
    }
    const access = keyAccess(p, keyStatements, f);
    if (access.ok === true) continue;
    if (access.ok === "unclear") unknown.push({ principal: p.arn, why: access.why });
    else losing.push({ arn: p.arn, kind: p.kind, how: read.how, why: access.why, fix: access.fix });
  }
  return {
    losing,
    unknown: [...unknown, ...outsiders],
    examined: readers.principals.length,
    skipped: readers.skipped.length,
  };
}

function statementsOf(policy: Fact<string | null>): Statement[] | CannotTell {
  if (isCannotTell(policy)) return policy;
  if (policy === null) return [];
  return parsePolicy(policy);
}

/** The bucket as {@link readVerdict} reads it, for the adapter that decides whom to simulate for kms:Decrypt. */
export function bucketView(f: {
  bucket: string;
  bucketAccountId: string;
  targetKeyArn: string;
  bucketPolicy: Fact<string | null>;
}): BucketView {
  return {
    bucket: f.bucket,
    bucketAccountId: f.bucketAccountId,
    partition: partitionOf(f.targetKeyArn),
    statements: statementsOf(f.bucketPolicy),
  };
}
