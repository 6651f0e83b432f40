import { describe, expect, it } from "vitest";
import {
  globMatch,
  isRecord,
  keyPolicyVerdict,
  parseArn,
  parseOperator,
  parsePolicy,
  type RequestContext,
  type RequestUnderTest,
  roleIdentity,
  type Statement,
  statementApplies,
  statementLabel,
  toStrings,
} from "../../iam-policy/evaluator.ts";
import { cannotTell } from "../../steps/domain/preflight-facts.ts";

const ACCOUNT = "111122223333";
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/rekey-batch`;
const ROLE = roleIdentity(ROLE_ARN);
const OBJECTS = "arn:aws:s3:::data-bucket/*";
/** An IAM policy variable, `${aws:username}` (written so that no linter takes it for a template). */
const USERNAME_VARIABLE = `$${"{aws:username}"}`;

/** s3:PutObject by the Batch role on data-bucket's objects, with `ctx` as the request's condition keys. */
function put(ctx: [string, string | readonly string[] | null][] = []): RequestUnderTest {
  return {
    action: "s3:PutObject",
    role: ROLE,
    ctx: new Map(ctx) as RequestContext,
    resourceCovered: (p) => p === "*" || p === OBJECTS,
  };
}

/** A Deny of s3:PutObject to everyone on data-bucket's objects, with `changes`. */
function deny(changes: Partial<Statement> = {}): Statement {
  return { Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: OBJECTS, ...changes };
}

const applies = (st: Statement, req = put()) => statementApplies(st, req);
const result = (st: Statement, req = put()) => applies(st, req).result;
/** The result of a Deny with one condition, for a request with `ctx`. */
const when = (Condition: Record<string, unknown>, ctx: [string, string | readonly string[] | null][]) =>
  result(deny({ Condition }), put(ctx));

describe("ARNs and identities", () => {
  it("reads a role's account and name, its path left out", () => {
    expect(ROLE).toEqual({ arn: ROLE_ARN, account: ACCOUNT, name: "rekey-batch" });
    expect(roleIdentity(`arn:aws:iam::${ACCOUNT}:role/service/rekey-batch`).name).toBe("rekey-batch");
  });

  it("gives a text that is no ARN no account", () => {
    expect(roleIdentity("rekey-batch")).toEqual({ arn: "rekey-batch", account: "", name: "rekey-batch" });
  });

  it("parseArn reads region and account, and refuses an ARN without a 12-digit account", () => {
    expect(parseArn(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/k`)).toEqual({ region: "eu-west-1", account: ACCOUNT });
    expect(parseArn(ROLE_ARN)).toEqual({ region: "", account: ACCOUNT });
    expect(parseArn("arn:aws:s3:::data-bucket")).toBeUndefined();
    expect(parseArn("arn:aws:kms:eu-west-1:1111:key/k")).toBeUndefined();
    expect(parseArn(`xarn:aws:kms:eu-west-1:${ACCOUNT}:key/k`)).toBeUndefined();
  });

  it("isRecord accepts plain objects only", () => {
    expect(isRecord({})).toBe(true);
    expect(isRecord([])).toBe(false);
    expect(isRecord(null)).toBe(false);
    expect(isRecord("{}")).toBe(false);
  });
});

describe("parsePolicy", () => {
  it("reads the statements of a policy, one statement given as an object, or none", () => {
    expect(parsePolicy(JSON.stringify({ Statement: [deny(), deny({ Sid: "B" })] }))).toEqual([
      deny(),
      deny({ Sid: "B" }),
    ]);
    expect(parsePolicy(JSON.stringify({ Statement: deny() }))).toEqual([deny()]);
    expect(parsePolicy(JSON.stringify({ Version: "2012-10-17" }))).toEqual([]);
  });

  it.each([
    ["not JSON", "{", "the policy is not valid JSON"],
    ["a JSON array", "[]", "the policy is not a JSON object"],
    ["JSON null", "null", "the policy is not a JSON object"],
    ["a statement without Effect", JSON.stringify({ Statement: [{ Action: "s3:*" }] }), "a statement has no Effect"],
    ["a statement that is a string", JSON.stringify({ Statement: ["Deny"] }), "a statement has no Effect"],
    ["an Effect that is no string", JSON.stringify({ Statement: [{ Effect: true }] }), "a statement has no Effect"],
    [
      "a Condition that is an array",
      JSON.stringify({ Statement: [{ Effect: "Deny", Condition: [] }] }),
      "a statement's Condition is not an object",
    ],
  ])("cannot tell about %s", (_, text, reason) => {
    expect(parsePolicy(text)).toEqual(cannotTell(reason));
  });

  it("labels a statement by its Sid in quotes, else by its position from 1", () => {
    expect(statementLabel(deny({ Sid: "DenyPut" }), 4)).toBe('"DenyPut"');
    expect(statementLabel(deny(), 0)).toBe("#1");
    expect(statementLabel(deny({ Sid: "" }), 2)).toBe("#3");
  });
});

describe("toStrings and globMatch", () => {
  it("turns a value or list of strings, numbers and booleans into strings; anything else is unreadable", () => {
    expect(toStrings("a")).toEqual(["a"]);
    expect(toStrings(["a", 12, false])).toEqual(["a", "12", "false"]);
    expect(toStrings([])).toEqual([]);
    expect(toStrings(["a", null])).toBeUndefined();
    expect(toStrings({ a: "b" })).toBeUndefined();
  });

  it("matches * to any run of characters and ? to one, over the whole value", () => {
    expect(globMatch("arn:aws:s3:::data-*", "arn:aws:s3:::data-bucket/a")).toBe(true);
    expect(globMatch("arn:aws:s3:::data-*", "xarn:aws:s3:::data-bucket")).toBe(false);
    expect(globMatch("data-bucke?", "data-bucket")).toBe(true);
    expect(globMatch("data-bucke?", "data-buckets")).toBe(false);
    expect(globMatch("data-bucke?", "data-bucke")).toBe(false);
    expect(globMatch("*", "line one\nline two")).toBe(true);
  });

  it("takes every other character literally", () => {
    expect(globMatch("a.b", "axb")).toBe(false);
    expect(globMatch("a+b", "aab")).toBe(false);
    expect(globMatch("a+b", "a+b")).toBe(true);
    expect(globMatch("(a|b)", "a")).toBe(false);
    expect(globMatch(USERNAME_VARIABLE, USERNAME_VARIABLE)).toBe(true);
    expect(globMatch("[ab]", "a")).toBe(false);
    expect(globMatch("a\\b^c", "a\\b^c")).toBe(true);
  });

  it("ignores case only when asked", () => {
    expect(globMatch("S3:Put*", "s3:PutObject")).toBe(false);
    expect(globMatch("S3:Put*", "s3:PutObject", true)).toBe(true);
  });
});

describe("statementApplies: principal, action and resource", () => {
  it.each<[string, boolean | undefined, unknown]>([
    ["everyone", true, "*"],
    ["every AWS principal", true, { AWS: "*" }],
    ["the role's ARN", true, { AWS: ROLE_ARN }],
    ["the role's account id", true, { AWS: ACCOUNT }],
    ["the role's account root", true, { AWS: `arn:aws:iam::${ACCOUNT}:root` }],
    ["a session of the role", true, { AWS: [`arn:aws:sts::${ACCOUNT}:assumed-role/rekey-batch/s1`] }],
    ["a session of another role", false, { AWS: `arn:aws:sts::${ACCOUNT}:assumed-role/rekey-batch-2/s1` }],
    ["another role", false, { AWS: [`arn:aws:iam::${ACCOUNT}:role/admin`, "444455556666"] }],
    ["a service", false, { Service: "s3.amazonaws.com" }],
    ["a service and the role", true, { Service: "s3.amazonaws.com", AWS: ROLE_ARN }],
    ["a non-AWS principal spelled like the role", false, { Federated: ROLE_ARN, CanonicalUser: ACCOUNT }],
    ["a principal given as a bare string", undefined, ROLE_ARN],
    ["a principal list that is not strings", undefined, { AWS: { arn: ROLE_ARN } }],
  ])("a Principal naming %s covers the role: %s", (_, covers, Principal) => {
    expect(result(deny({ Principal }))).toBe(covers);
  });

  it("NotPrincipal covers the role unless it names it; a statement with neither cannot tell", () => {
    const { Principal: _, ...noPrincipal } = deny();
    expect(result({ ...noPrincipal, NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:role/admin` } })).toBe(true);
    expect(result({ ...noPrincipal, NotPrincipal: { AWS: ROLE_ARN } })).toBe(false);
    expect(result({ ...noPrincipal, NotPrincipal: "arn" })).toBeUndefined();
    expect(result(noPrincipal)).toBeUndefined();
  });

  it("a statement of an identity-based policy, which has no principal, covers the principal it is attached to", () => {
    const { Principal: _, ...noPrincipal } = deny();
    expect(result(noPrincipal, { ...put(), identityPolicy: true })).toBe(true);
    expect(result({ ...noPrincipal, NotPrincipal: { AWS: ROLE_ARN } }, { ...put(), identityPolicy: true })).toBe(false);
    expect(
      result(deny({ Principal: { AWS: "arn:aws:iam::444455556666:root" } }), { ...put(), identityPolicy: true }),
    ).toBe(false);
  });

  it("matches actions by wildcard, ignoring case; NotAction the other way round; neither cannot tell", () => {
    expect(result(deny({ Action: ["s3:Get*", "S3:put*"] }))).toBe(true);
    expect(result(deny({ Action: "s3:Get*" }))).toBe(false);
    expect(result(deny({ Action: [{}] }))).toBeUndefined();
    const { Action: _, ...noAction } = deny();
    expect(result({ ...noAction, NotAction: "s3:Get*" })).toBe(true);
    expect(result({ ...noAction, NotAction: "s3:*" })).toBe(false);
    expect(result({ ...noAction, NotAction: 5 })).toBe(true);
    expect(result({ ...noAction, NotAction: [null] })).toBeUndefined();
    expect(result(noAction)).toBeUndefined();
  });

  it("matches resources with the caller's test; NotResource the other way round; neither means every resource", () => {
    expect(result(deny({ Resource: ["arn:aws:s3:::other/*", OBJECTS] }))).toBe(true);
    expect(result(deny({ Resource: "arn:aws:s3:::other/*" }))).toBe(false);
    expect(result(deny({ Resource: [null] }))).toBeUndefined();
    const { Resource: _, ...noResource } = deny();
    expect(result({ ...noResource, NotResource: "arn:aws:s3:::other/*" })).toBe(true);
    expect(result({ ...noResource, NotResource: OBJECTS })).toBe(false);
    expect(result({ ...noResource, NotResource: {} })).toBeUndefined();
    expect(result(noResource)).toBe(true);
  });

  it("does not look at the conditions of a statement that cannot apply", () => {
    const st = deny({ Action: "s3:GetObject", Condition: { StringEquals: { "aws:sourcevpce": "vpce-1" } } });
    expect(applies(st)).toEqual({ result: false, unknownKeys: [] });
  });

  it("cannot tell when the head is unclear, even with conditions that hold", () => {
    const st = deny({ Principal: ROLE_ARN, Condition: { Bool: { "aws:securetransport": "true" } } });
    expect(applies(st, put([["aws:securetransport", "true"]]))).toEqual({ result: undefined, unknownKeys: [] });
  });
});

describe("parseOperator", () => {
  it.each([
    ["StringEquals", { base: "StringEquals", ifExists: false }],
    ["StringLikeIfExists", { base: "StringLike", ifExists: true }],
    ["ForAnyValue:StringEquals", { base: "StringEquals", set: "ForAnyValue", ifExists: false }],
    ["ForAllValues:ArnLikeIfExists", { base: "ArnLike", set: "ForAllValues", ifExists: true }],
    ["ForAnyValueStringEquals", { base: "ForAnyValueStringEquals", ifExists: false }],
  ])("reads %s", (op, parsed) => {
    expect(parseOperator(op)).toStrictEqual(parsed);
  });
});

describe("statementApplies: conditions", () => {
  const SSE = "s3:x-amz-server-side-encryption";

  it.each<[string, string | string[], string, boolean]>([
    ["StringEquals", ["AES256", "aws:kms"], "aws:kms", true],
    ["StringEquals", "AWS:KMS", "aws:kms", false],
    ["StringNotEquals", "AES256", "aws:kms", true],
    ["StringNotEquals", ["AES256", "aws:kms"], "aws:kms", false],
    ["StringEqualsIgnoreCase", ["AES256", "AWS:KMS"], "aws:kms", true],
    ["StringEqualsIgnoreCase", "AES256", "aws:kms", false],
    ["StringNotEqualsIgnoreCase", ["AES256", "AWS:KMS"], "aws:kms", false],
    ["StringNotEqualsIgnoreCase", "AES256", "aws:kms", true],
    ["StringLike", ["AES*", "aws:*"], "aws:kms", true],
    ["StringLike", "AWS:*", "aws:kms", false],
    ["ArnEquals", "arn:aws:kms:*", "arn:aws:kms:eu-west-1:1:key/k", true],
    ["ArnLike", "arn:aws:s3:*", "arn:aws:kms:eu-west-1:1:key/k", false],
    ["StringNotLike", ["AES*", "aws:*"], "aws:kms", false],
    ["StringNotLike", "AES*", "aws:kms", true],
    ["ArnNotEquals", "arn:aws:kms:*", "arn:aws:kms:eu-west-1:1:key/k", false],
    ["ArnNotLike", "arn:aws:s3:*", "arn:aws:kms:eu-west-1:1:key/k", true],
    ["Bool", ["True"], "true", true],
    ["Bool", "false", "TRUE", false],
    ["Bool", "true", "TRUE", true],
  ])("%s %j, the request sending %j: %s", (op, pattern, value, expected) => {
    expect(when({ [op]: { [SSE]: pattern } }, [[SSE, value]])).toBe(expected);
  });

  it("names an operator it does not support as unclear, with its key", () => {
    expect(
      applies(deny({ Condition: { NumericLessThan: { "s3:max-keys": "10" } } }), put([["s3:max-keys", "5"]])),
    ).toEqual({ result: undefined, unknownKeys: ["s3:max-keys"] });
  });

  it("cannot tell about a key the request context does not know, a policy variable, or values that are not strings", () => {
    const unknown = applies(deny({ Condition: { StringEquals: { "aws:SourceVpce": "vpce-1" } } }));
    expect(unknown).toEqual({ result: undefined, unknownKeys: ["aws:SourceVpce"] });
    const variable = applies(
      deny({ Condition: { StringEquals: { "aws:principalarn": USERNAME_VARIABLE } } }),
      put([["aws:principalarn", ROLE_ARN]]),
    );
    expect(variable).toEqual({ result: undefined, unknownKeys: ["aws:principalarn"] });
    const values = applies(deny({ Condition: { StringEquals: { [SSE]: [{}] } } }), put([[SSE, "aws:kms"]]));
    expect(values).toEqual({ result: undefined, unknownKeys: [SSE] });
  });

  it("reads condition keys whatever their case", () => {
    expect(when({ StringEquals: { "S3:X-Amz-Server-Side-Encryption": "aws:kms" } }, [[SSE, "aws:kms"]])).toBe(true);
  });

  it("cannot tell about an operator whose block is not an object, and names the operator", () => {
    expect(applies(deny({ Condition: { StringEquals: "aws:kms" } }), put([[SSE, "aws:kms"]]))).toEqual({
      result: undefined,
      unknownKeys: ["StringEquals"],
    });
  });

  it("ANDs the keys and the operators: one false key makes the condition false", () => {
    const ctx: [string, string][] = [
      [SSE, "aws:kms"],
      ["aws:securetransport", "true"],
    ];
    expect(when({ StringEquals: { [SSE]: "aws:kms", "aws:securetransport": "true" } }, ctx)).toBe(true);
    expect(when({ StringEquals: { [SSE]: "aws:kms", "aws:securetransport": "false" } }, ctx)).toBe(false);
    expect(when({ StringEquals: { [SSE]: "aws:kms" }, Bool: { "aws:securetransport": "false" } }, ctx)).toBe(false);
    expect(when({ StringEquals: { [SSE]: "aws:kms" }, Bool: { "aws:securetransport": "true" } }, ctx)).toBe(true);
  });

  it("a Bool or Null condition holds when any of its values does", () => {
    expect(when({ Bool: { "aws:securetransport": ["false", "true"] } }, [["aws:securetransport", "true"]])).toBe(true);
    expect(when({ Null: { [SSE]: ["false", "true"] } }, [[SSE, "aws:kms"]])).toBe(true);
  });

  it("Null: true asks for the key to be absent, false for it to be present", () => {
    expect(when({ Null: { [SSE]: "true" } }, [[SSE, null]])).toBe(true);
    expect(when({ Null: { [SSE]: "true" } }, [[SSE, "aws:kms"]])).toBe(false);
    expect(when({ Null: { [SSE]: "false" } }, [[SSE, "aws:kms"]])).toBe(true);
    expect(when({ Null: { [SSE]: "FALSE" } }, [[SSE, null]])).toBe(false);
    expect(when({ Null: { [SSE]: "TRUE" } }, [[SSE, null]])).toBe(true);
  });

  it("an absent key fails a positive operator and satisfies a negated one, IfExists and ForAllValues", () => {
    expect(when({ StringEquals: { [SSE]: "aws:kms" } }, [[SSE, null]])).toBe(false);
    for (const negated of [
      "StringNotEquals",
      "StringNotEqualsIgnoreCase",
      "StringNotLike",
      "ArnNotEquals",
      "ArnNotLike",
    ]) {
      expect(when({ [negated]: { [SSE]: "aws:kms" } }, [[SSE, null]])).toBe(true);
    }
    expect(when({ StringEqualsIfExists: { [SSE]: "aws:kms" } }, [[SSE, null]])).toBe(true);
    expect(when({ "ForAllValues:StringEquals": { [SSE]: "aws:kms" } }, [[SSE, null]])).toBe(true);
    expect(when({ "ForAnyValue:StringNotEquals": { [SSE]: "aws:kms" } }, [[SSE, null]])).toBe(false);
  });

  it("a present key is compared even under IfExists", () => {
    expect(when({ StringEqualsIfExists: { [SSE]: "AES256" } }, [[SSE, "aws:kms"]])).toBe(false);
  });

  it("compares a multivalued key only under ForAllValues (every value) or ForAnyValue (some value)", () => {
    const keys: [string, string[]][] = [["kms:encryptioncontextkeys", ["aws:s3:arn", "other"]]];
    const cond = (op: string, values: string[]) => when({ [op]: { "kms:EncryptionContextKeys": values } }, keys);
    expect(cond("ForAllValues:StringEquals", ["aws:s3:arn", "other"])).toBe(true);
    expect(cond("ForAllValues:StringEquals", ["aws:s3:arn"])).toBe(false);
    expect(cond("ForAnyValue:StringEquals", ["aws:s3:arn"])).toBe(true);
    expect(cond("ForAnyValue:StringEquals", ["none"])).toBe(false);
    expect(cond("StringEquals", ["aws:s3:arn"])).toBeUndefined();
  });
});

describe("keyPolicyVerdict", () => {
  const allow = (changes: Partial<Statement> = {}): Statement => ({ ...deny(), Effect: "Allow", ...changes });
  const verdict = (...statements: Statement[]) => keyPolicyVerdict(statements, put([["aws:sourceip", null]]));

  it("denied names the first Deny that applies, even when an Allow does too", () => {
    expect(verdict(allow(), deny({ Action: "s3:Get*" }), deny({ Sid: "NoPut" }), deny())).toEqual({
      verdict: "denied",
      statement: '"NoPut"',
      unknownKeys: [],
    });
  });

  it("allowed when an Allow applies and no Deny may", () => {
    expect(verdict(deny({ Action: "s3:Get*" }), allow({ Action: "s3:Get*" }), allow())).toEqual({
      verdict: "allowed",
      unknownKeys: [],
    });
  });

  it("not-allowed when no statement applies, including an empty policy", () => {
    expect(verdict(allow({ Action: "s3:Get*" }))).toEqual({ verdict: "not-allowed", unknownKeys: [] });
    expect(verdict()).toEqual({ verdict: "not-allowed", unknownKeys: [] });
  });

  it("unclear when a Deny may apply, or when no Allow surely does; with the keys it could not read", () => {
    const vpce = { StringEquals: { "aws:SourceVpce": "vpce-1" } };
    expect(verdict(allow(), deny({ Condition: vpce }))).toEqual({
      verdict: "unclear",
      unknownKeys: ["aws:SourceVpce"],
    });
    expect(verdict(allow({ Condition: vpce }), allow({ Action: "s3:Get*" }))).toEqual({
      verdict: "unclear",
      unknownKeys: ["aws:SourceVpce"],
    });
  });

  it("unclear when a Deny may apply and no Allow does", () => {
    const vpce = { StringEquals: { "aws:SourceVpce": "vpce-1" } };
    expect(verdict(deny({ Condition: vpce }), allow({ Action: "s3:Get*" }))).toEqual({
      verdict: "unclear",
      unknownKeys: ["aws:SourceVpce"],
    });
  });

  it("reports no unknown keys of a statement that a known key already rules out", () => {
    const notKms = { StringEquals: { "aws:sourceip": "10.0.0.1", "aws:SourceVpce": "vpce-1" } };
    expect(keyPolicyVerdict([allow({ Condition: notKms })], put([["aws:sourceip", "192.0.2.1"]]))).toEqual({
      verdict: "not-allowed",
      unknownKeys: [],
    });
  });

  it("ignores statements whose Effect is neither Allow nor Deny", () => {
    expect(verdict(allow(), { ...deny(), Effect: "deny" })).toEqual({ verdict: "allowed", unknownKeys: [] });
  });
});
