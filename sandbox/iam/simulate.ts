import {
  globMatch,
  isRecord,
  parseArn,
  parsePolicy,
  type RequestContext,
  type RequestUnderTest,
  roleIdentity,
  type Statement,
  statementApplies,
} from "../../iam-policy/evaluator.ts";
import { ServiceError } from "../http.ts";
import { type Position, statementPositions } from "./positions.ts";

/**
 * SimulatePrincipalPolicy's evaluation: each action on each resource judged as IAM judges a request
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit Deny in any
 * policy wins; otherwise, in one account, an Allow in an identity-based policy (within the permissions boundary,
 * when one is simulated) or in the resource-based policy allows; across accounts both must allow. Statements are
 * evaluated by iam-policy/, with the request context the caller gave (ContextEntries) and every other condition
 * key absent.
 */

export type Decision = "allowed" | "explicitDeny" | "implicitDeny";

export type PolicySourceType = "user" | "group" | "role" | "aws-managed" | "user-managed" | "resource" | "none";

/** A policy in the simulation and where its statements are, for MatchedStatements. */
export interface PolicySource {
  id: string;
  type: PolicySourceType;
  statements: Statement[];
  positions: { start: Position; end: Position }[];
}

export interface ContextEntry {
  name: string;
  values: string[];
  type: string;
}

export interface Simulation {
  /** The principal's inline and attached policies, then PolicyInputList. */
  identityPolicies: PolicySource[];
  boundaryPolicies: PolicySource[];
  resourcePolicy?: PolicySource;
  /** Whom resource-based policies' Principal elements are matched against. */
  callerArn: string;
  /** The account owning resources whose ARN names none (S3's), and the resource policy's. */
  resourceOwner: string;
  actions: string[];
  resources: string[];
  context: ContextEntry[];
}

export interface MatchedStatement {
  SourcePolicyId: string;
  SourcePolicyType: PolicySourceType;
  StartPosition?: Position;
  EndPosition?: Position;
}

export interface ResourceResult {
  resource: string;
  decision: Decision;
  matched: MatchedStatement[];
  missing: string[];
  /** Per policy type, only when the resource is in another account than the caller and a resource policy is given. */
  details?: Record<string, Decision>;
  allowedByBoundary?: boolean;
}

export interface ActionResult extends Omit<ResourceResult, "resource"> {
  action: string;
  /** The ARN template of the action's resource type, or `*`. */
  resourceName: string;
  resources: ResourceResult[];
}

/** Parses a policy given or stored as text into a source; a document IAM would refuse is InvalidInput here. */
export function policySource(id: string, type: PolicySourceType, text: string): PolicySource {
  const statements = parsePolicy(text);
  if (!Array.isArray(statements)) {
    throw new ServiceError("MalformedPolicyDocument", 400, `${id}: ${statements.cannotTell}`);
  }
  return { id, type, statements, positions: statementPositions(text) };
}

export function simulate(sim: Simulation): ActionResult[] {
  const provided = contextOf(sim.context);
  return sim.actions.map((action) => {
    const resources = sim.resources.map((resource) => evaluate(sim, provided, action, resource));
    const decision = resources.map((r) => r.decision).reduce(mostRestrictive, "allowed" as Decision);
    const matched = dedupe(resources.filter((r) => r.decision === decision).flatMap((r) => r.matched));
    const missing = [...new Set(resources.flatMap((r) => r.missing))];
    const withDetails = resources.filter((r) => r.details !== undefined);
    const details =
      withDetails.length === 0
        ? undefined
        : withDetails.reduce<Record<string, Decision>>((all, r) => {
            for (const [k, v] of Object.entries(r.details ?? {})) all[k] = mostRestrictive(all[k] ?? "allowed", v);
            return all;
          }, {});
    const boundaries = resources.map((r) => r.allowedByBoundary).filter((b) => b !== undefined);
    return {
      action,
      resourceName: sim.resources.every((r) => r === "*") ? "*" : arnTemplate(action),
      decision,
      matched,
      missing,
      ...(details ? { details } : {}),
      ...(boundaries.length ? { allowedByBoundary: boundaries.every(Boolean) } : {}),
      resources,
    };
  });
}

const RANK: Record<Decision, number> = { allowed: 0, implicitDeny: 1, explicitDeny: 2 };

function mostRestrictive(a: Decision, b: Decision): Decision {
  return RANK[b] > RANK[a] ? b : a;
}

function evaluate(sim: Simulation, provided: RequestContext, action: string, resource: string): ResourceResult {
  const caller = roleIdentity(sim.callerArn);
  const missing = new Set<string>();
  const resourceCovered = (pattern: string) => {
    if (resource === "*") return pattern === "*";
    const resolved = substituteVariables(pattern, provided);
    return resolved !== undefined && globMatch(resolved, resource);
  };
  const judge = (source: PolicySource, identityPolicy: boolean) =>
    source.statements.map((st, i) => ({
      st,
      applies: applies(st, { action, role: caller, ctx: provided, resourceCovered, identityPolicy }, missing),
      match: matchedStatement(source, i),
    }));
  const identity = sim.identityPolicies.flatMap((p) => judge(p, true));
  const boundary = sim.boundaryPolicies.flatMap((p) => judge(p, true));
  const resourcePolicy = sim.resourcePolicy ? judge(sim.resourcePolicy, false) : [];
  const hits = (list: typeof identity, effect: string) => list.filter((j) => j.applies && j.st.Effect === effect);

  const boundaryAllows = sim.boundaryPolicies.length === 0 || hits(boundary, "Allow").length > 0;
  const identityDecision: Decision =
    hits(identity, "Deny").length + hits(boundary, "Deny").length > 0
      ? "explicitDeny"
      : hits(identity, "Allow").length > 0 && boundaryAllows
        ? "allowed"
        : "implicitDeny";
  const resourceDecision: Decision =
    hits(resourcePolicy, "Deny").length > 0
      ? "explicitDeny"
      : hits(resourcePolicy, "Allow").length > 0
        ? "allowed"
        : "implicitDeny";
  const resourceAccount = resource === "*" ? sim.resourceOwner : parseArn(resource)?.account || sim.resourceOwner;
  const crossAccount = sim.resourcePolicy !== undefined && resourceAccount !== caller.account;

  let decision: Decision;
  if (identityDecision === "explicitDeny" || resourceDecision === "explicitDeny") decision = "explicitDeny";
  else if (crossAccount)
    decision = identityDecision === "allowed" && resourceDecision === "allowed" ? "allowed" : "implicitDeny";
  else decision = identityDecision === "allowed" || resourceDecision === "allowed" ? "allowed" : "implicitDeny";

  const all = [...identity, ...boundary, ...resourcePolicy];
  const matched =
    decision === "explicitDeny"
      ? hits(all, "Deny").map((j) => j.match)
      : decision === "allowed"
        ? [...hits(identity, "Allow"), ...hits(resourcePolicy, "Allow")].map((j) => j.match)
        : [];
  return {
    resource,
    decision,
    matched,
    missing: [...missing],
    ...(crossAccount ? { details: { "IAM Policy": identityDecision, "Resource Policy": resourceDecision } } : {}),
    ...(sim.boundaryPolicies.length ? { allowedByBoundary: boundaryAllows } : {}),
  };
}

/**
 * Whether a statement applies. The sandbox knows the whole request context: a condition key the caller did not give
 * is absent. Where the evaluator still cannot tell (an operator it does not read, a policy variable it cannot
 * resolve in a condition), the statement is judged as IAM judges it for an absent key.
 */
function applies(st: Statement, req: RequestUnderTest, missing: Set<string>): boolean {
  const ctx = new Map(req.ctx);
  const keys = conditionKeys(st);
  for (const key of keys) if (!ctx.has(key.toLowerCase())) ctx.set(key.toLowerCase(), null);
  let r = statementApplies(st, { ...req, ctx });
  if (r.result === undefined && r.unknownKeys.length > 0) {
    for (const key of r.unknownKeys) ctx.set(key.toLowerCase(), null);
    r = statementApplies(st, { ...req, ctx });
  }
  const head = statementApplies({ ...st, Condition: undefined }, { ...req, ctx });
  if (head.result !== false) for (const key of keys) if (!req.ctx.has(key.toLowerCase())) missing.add(key);
  return r.result === true;
}

function conditionKeys(st: Statement): string[] {
  const keys: string[] = [];
  for (const block of Object.values(st.Condition ?? {})) if (isRecord(block)) keys.push(...Object.keys(block));
  return keys;
}

function matchedStatement(source: PolicySource, index: number): MatchedStatement {
  const at = source.positions[index];
  return {
    SourcePolicyId: source.id,
    SourcePolicyType: source.type,
    ...(at ? { StartPosition: at.start, EndPosition: at.end } : {}),
  };
}

function dedupe(statements: MatchedStatement[]): MatchedStatement[] {
  const seen = new Set<string>();
  return statements.filter((s) => {
    const id = JSON.stringify(s);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** ContextEntries as the evaluator reads them: lower-case key → one value, or a list for a list type with several. */
function contextOf(entries: ContextEntry[]): RequestContext {
  const ctx = new Map<string, string | readonly string[] | null>();
  for (const e of entries) {
    const list = e.type.endsWith("List");
    ctx.set(e.name.toLowerCase(), list && e.values.length !== 1 ? e.values : (e.values[0] ?? null));
  }
  return ctx;
}

/**
 * A Resource pattern with its policy variables (`${aws:username}`) replaced by the request's values; undefined when a
 * variable names a key the request does not have, which IAM treats as no match.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
 */
function substituteVariables(pattern: string, ctx: RequestContext): string | undefined {
  let unresolved = false;
  const out = pattern.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
    if (name === "*" || name === "?" || name === "$") return name;
    const [key, fallback] = name.split(/\s*,\s*/);
    const value = ctx.get((key ?? "").toLowerCase());
    if (typeof value === "string") return value;
    const quoted = fallback !== undefined ? /^'(.*)'$/.exec(fallback) : null;
    if (quoted) return quoted[1] ?? "";
    unresolved = true;
    return "";
  });
  return unresolved ? undefined : out;
}

/**
 * The ARN template the simulator names as an action's resource when specific resources were simulated: S3 object and
 * bucket actions and KMS key actions; `*` for the rest (the sandbox knows no other service's resource types).
 */
function arnTemplate(action: string): string {
  const [service = "", name = ""] = action.toLowerCase().split(":");
  const partition = variable("Partition");
  if (service === "kms")
    return `arn:${partition}:kms:${variable("Region")}:${variable("Account")}:key/${variable("KeyId")}`;
  if (service !== "s3") return "*";
  const bucket = `arn:${partition}:s3:::${variable("BucketName")}`;
  const objectLevel = /object|multipartupload/.test(name) && !name.startsWith("listbucket");
  return objectLevel ? `${bucket}/${variable("KeyName")}` : bucket;
}

/** `${Name}`, spelt so that it is not read as a template literal's placeholder. */
function variable(name: string): string {
  return ["$", "{", name, "}"].join("");
}
