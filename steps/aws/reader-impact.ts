import {
  type EvaluationResult,
  type IAMClient,
  ListRolesCommand,
  ListUsersCommand,
  SimulatePrincipalPolicyCommand,
} from "@aws-sdk/client-iam";
import pLimit, { type LimitFunction } from "p-limit";
import { UnexpectedResponseError } from "../../contract/errors.ts";
import {
  cannotTell,
  type Fact,
  isCannotTell,
  type ReaderFacts,
  type ReaderPrincipalFacts,
  type SimulatedAnswer,
} from "../domain/preflight-facts.ts";
import {
  bucketArnOf,
  bucketView,
  decryptContextEntries,
  dependsOnEncryptionContext,
  type ListedPrincipal,
  partitionOf,
  principalsToExamine,
  readVerdict,
} from "../domain/reader-impact.ts";
import { httpStatusOf } from "./s3-io.ts";

/**
 * Which of the account's IAM roles and users read a bucket, and whether their IAM policies let them decrypt under
 * the target key through S3: ListRoles and ListUsers, then IAM's policy simulator (SimulatePrincipalPolicy) for
 * each. Read-only. steps/domain/reader-impact.ts judges the answers with the bucket and key policies.
 */

/**
 * Simulations in flight at once, across every bucket sharing a cache: IAM throttles an account's calls as a whole,
 * and the client's adaptive retries (steps/runtime/clients.ts) slow down when it does.
 */
export const SIMULATIONS_IN_FLIGHT = 8;

/** IAM's errors for a ResourcePolicy it will not simulate. */
const REFUSED_DOCUMENT = new Set(["MalformedPolicyDocumentException", "InvalidInputException"]);

/** ListRoles' and ListUsers' largest page (MaxItems). */
const PAGE = 1000;

/**
 * What stays true from one bucket to the next of a scan: the account's roles and users, and each one's kms:Decrypt
 * answer for the key (per bucket only when a policy reads the encryption context). One cache serves one account and
 * one set of credentials; a caller that scans many buckets passes the same one to each.
 */
export class ReaderImpactCache {
  principals: Promise<Fact<ListedPrincipal[]>> | undefined;
  readonly decrypt = new Map<string, Promise<DecryptAnswer>>();
  readonly limit: LimitFunction;

  constructor(concurrency = SIMULATIONS_IN_FLIGHT) {
    this.limit = pLimit(concurrency);
  }

  /** The cached promise of `key`, or a new one; a failed one is dropped so that the next caller asks again. */
  remember<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
    const known = map.get(key);
    if (known) return known;
    const made = make();
    map.set(key, made);
    made.catch(() => map.delete(key));
    return made;
  }
}

/** A kms:Decrypt answer, and whether it was asked without a bucket and a policy read the encryption context. */
interface DecryptAnswer extends SimulatedAnswer {
  bucketSpecific?: boolean;
}

export interface ReaderImpactTarget {
  bucket: string;
  bucketAccountId: string;
  region: string;
  targetKeyArn: string;
  batchRoleArn: string;
  bucketPolicy: Fact<string | null>;
}

/** IAM's error names for a caller without the permission (the query protocol's code, or the status). */
function accessDenied(err: unknown): boolean {
  const name = (err as { name?: string }).name ?? "";
  return name === "AccessDenied" || name === "AccessDeniedException" || httpStatusOf(err) === 403;
}

class Denied extends Error {
  constructor(readonly what: string) {
    super(`${what}: access denied`);
    this.name = "Denied";
  }
}

async function orDenied<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (accessDenied(err)) throw new Denied(what);
    throw err;
  }
}

/**
 * The account's readers of the bucket with their simulated answers; CannotTell (with the call refused) when the
 * caller may not list or simulate. Other errors propagate: throttling the SDK's retries could not absorb is the
 * workflow's to retry.
 */
export async function readReaderImpact(
  iam: IAMClient,
  target: ReaderImpactTarget,
  cache: ReaderImpactCache = new ReaderImpactCache(),
): Promise<Fact<ReaderFacts>> {
  try {
    cache.principals ??= listPrincipals(iam).catch((err: unknown) => {
      cache.principals = undefined;
      throw err;
    });
    const listed = await cache.principals;
    if (isCannotTell(listed)) return listed;
    const { examine, skipped } = principalsToExamine(listed, target.batchRoleArn);
    const answers = await Promise.all(examine.map((p) => cache.limit(() => examinePrincipal(iam, target, p, cache))));
    return { principals: answers.flatMap((a) => a ?? []), skipped };
  } catch (err) {
    if (err instanceof Denied) return cannotTell(err.message);
    throw err;
  }
}

async function listPrincipals(iam: IAMClient): Promise<Fact<ListedPrincipal[]>> {
  try {
    const out: ListedPrincipal[] = [];
    let marker: string | undefined;
    do {
      const page = await orDenied("IAM ListRoles", () =>
        iam.send(new ListRolesCommand({ MaxItems: PAGE, ...(marker ? { Marker: marker } : {}) })),
      );
      for (const r of page.Roles ?? []) {
        out.push({
          arn: r.Arn ?? "",
          kind: "role",
          path: r.Path ?? "/",
          ...(r.Description ? { description: r.Description } : {}),
        });
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    do {
      const page = await orDenied("IAM ListUsers", () =>
        iam.send(new ListUsersCommand({ MaxItems: PAGE, ...(marker ? { Marker: marker } : {}) })),
      );
      for (const u of page.Users ?? []) out.push({ arn: u.Arn ?? "", kind: "user", path: u.Path ?? "/" });
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return out;
  } catch (err) {
    if (err instanceof Denied) return cannotTell(err.message);
    throw err;
  }
}

/** One principal's answers; undefined when it was deleted since the listing (NoSuchEntity). */
async function examinePrincipal(
  iam: IAMClient,
  target: ReaderImpactTarget,
  p: ListedPrincipal,
  cache: ReaderImpactCache,
): Promise<ReaderPrincipalFacts | undefined> {
  const partition = partitionOf(target.targetKeyArn);
  const bucketArn = bucketArnOf(target.bucket, partition);
  try {
    const ask = (withBucketPolicy: boolean) =>
      simulate(iam, {
        PolicySourceArn: p.arn,
        ActionNames: ["s3:GetObject"],
        ResourceArns: [`${bucketArn}/*`],
        ...(withBucketPolicy && typeof target.bucketPolicy === "string"
          ? { ResourcePolicy: target.bucketPolicy, ResourceOwner: target.bucketAccountId }
          : {}),
      });
    // The simulator evaluates a resource-based policy for users only
    // (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html); a role's bucket-policy
    // grants are read by steps/domain/reader-impact.ts, and so are a user's when IAM refuses the bucket policy as a
    // document it cannot simulate.
    const withBucketPolicy = p.kind === "user" && typeof target.bucketPolicy === "string";
    const read = answerOf(
      await ask(withBucketPolicy).catch((err: unknown) => {
        if (withBucketPolicy && REFUSED_DOCUMENT.has((err as { name?: string }).name ?? "")) return ask(false);
        throw err;
      }),
    );
    const verdict = readVerdict(p, read, bucketView(target));
    if (verdict.reads === false) return { arn: p.arn, kind: p.kind, read };
    const decrypt = await decryptAnswer(iam, target, p, bucketArn, cache);
    return { arn: p.arn, kind: p.kind, read, decrypt };
  } catch (err) {
    if ((err as { name?: string }).name === "NoSuchEntityException") return undefined;
    throw err;
  }
}

/**
 * kms:Decrypt through S3 by the principal's IAM policies. Asked first without the bucket's encryption context, so
 * that one answer serves every bucket; asked again with it when a matching statement reads the context.
 */
async function decryptAnswer(
  iam: IAMClient,
  target: ReaderImpactTarget,
  p: ListedPrincipal,
  bucketArn: string,
  cache: ReaderImpactCache,
): Promise<SimulatedAnswer> {
  const callerAccount = /^arn:[^:]+:iam::(\d{12}):/.exec(p.arn)?.[1] ?? target.bucketAccountId;
  const ask = async (withBucket: boolean) =>
    simulate(iam, {
      PolicySourceArn: p.arn,
      ActionNames: ["kms:Decrypt"],
      ResourceArns: [target.targetKeyArn],
      ContextEntries: decryptContextEntries({
        region: target.region,
        callerAccount,
        ...(withBucket ? { bucketArn } : {}),
      }).map((e) => ({ ContextKeyName: e.name, ContextKeyValues: e.values, ContextKeyType: e.type })),
    });
  const base = `${p.arn}\n${target.targetKeyArn}\n${target.region}`;
  const anyBucket = await cache.remember(cache.decrypt, base, async () => {
    const r = await ask(false);
    return { ...answerOf(r), bucketSpecific: dependsOnEncryptionContext(r.MissingContextValues ?? []) };
  });
  const answer = anyBucket.bucketSpecific
    ? await cache.remember(cache.decrypt, `${base}\n${bucketArn}`, async () => answerOf(await ask(true)))
    : anyBucket;
  return { decision: answer.decision, policies: answer.policies };
}

async function simulate(
  iam: IAMClient,
  input: ConstructorParameters<typeof SimulatePrincipalPolicyCommand>[0],
): Promise<EvaluationResult> {
  const out = await orDenied("IAM SimulatePrincipalPolicy", () => iam.send(new SimulatePrincipalPolicyCommand(input)));
  const result = out.EvaluationResults?.[0];
  if (!result) {
    throw new UnexpectedResponseError(`IAM SimulatePrincipalPolicy answered no result for ${input.PolicySourceArn}.`, {
      fix: "Start a new run; if it recurs, report it with the principal's ARN.",
    });
  }
  return result;
}

function answerOf(r: EvaluationResult): SimulatedAnswer {
  const decision = r.EvalDecision === "allowed" || r.EvalDecision === "explicitDeny" ? r.EvalDecision : "implicitDeny";
  const policies = [...new Set((r.MatchedStatements ?? []).flatMap((s) => s.SourcePolicyId ?? []))];
  return { decision, policies };
}
