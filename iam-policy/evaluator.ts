/**
 * A small, tri-state evaluator of AWS's IAM policy language: a statement applies to a request, does not, or "cannot
 * tell" (undefined), and a caller that knows less than the whole request context never has a match guessed for it.
 * It knows nothing of who uses it (rekey's preflight reads bucket and key policies with it, the sandbox's IAM
 * simulates with it) and imports nothing. The evaluation logic follows
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and the condition
 * operators https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html.
 */

/** Why a policy could not be read (e.g. "the policy is not valid JSON"). */
export interface CannotTell {
  readonly cannotTell: string;
}

export function cannotTell(reason: string): CannotTell {
  return { cannotTell: reason };
}

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

export interface RoleIdentity {
  arn: string;
  account: string;
  name: string;
}

export function roleIdentity(arn: string): RoleIdentity {
  const parts = parseArn(arn);
  return { arn, account: parts?.account ?? "", name: arn.split("/").pop() ?? "" };
}

export function parseArn(arn: string): { region: string; account: string } | undefined {
  const m = /^arn:[^:]+:[^:]+:([^:]*):(\d{12}):/.exec(arn);
  return m ? { region: m[1] ?? "", account: m[2] ?? "" } : undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The statements of a policy document; CannotTell when the text is not a policy this evaluator can read. */
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

export function statementLabel(st: Statement, index: number): string {
  return st.Sid ? `"${st.Sid}"` : `#${index + 1}`;
}

export function toStrings(v: unknown): string[] | undefined {
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
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, ignoreCase ? "is" : "s").test(value);
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

export interface RequestUnderTest {
  action: string;
  /** The principal making the request (a role, or any IAM identity read the same way). */
  role: RoleIdentity;
  ctx: RequestContext;
  resourceCovered: (pattern: string) => boolean;
  /**
   * The statements come from an identity-based policy, attached to the principal: such a policy has no Principal
   * element, and applies to the principal it is attached to. Otherwise (a resource-based policy) a statement without
   * Principal or NotPrincipal cannot tell whom it covers.
   */
  identityPolicy?: boolean;
}

export function statementApplies(st: Statement, req: RequestUnderTest): { result: Tri; unknownKeys: string[] } {
  const principal: Tri =
    st.Principal !== undefined
      ? principalCovers(st.Principal, req.role)
      : st.NotPrincipal !== undefined
        ? not(principalCovers(st.NotPrincipal, req.role))
        : req.identityPolicy === true
          ? true
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

export function parseOperator(op: string): { base: string; set?: "ForAnyValue" | "ForAllValues"; ifExists: boolean } {
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

export function keyPolicyVerdict(
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
