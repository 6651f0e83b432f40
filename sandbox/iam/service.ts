import { header, type SandboxRequest, ServiceError, type ServiceHandler } from "../http.ts";
import { parseQueryForm, QueryInput, queryError, queryResponse, XmlMap, type XmlValue } from "../query-protocol.ts";
import {
  checkDocument,
  type IamAccount,
  type IamRole,
  type IamTag,
  type IamUser,
  type ManagedPolicy,
  noSuchEntity,
  validation,
} from "./account.ts";
import type { Position } from "./positions.ts";
import {
  type ActionResult,
  type MatchedStatement,
  type PolicySource,
  policySource,
  type ResourceResult,
  simulate,
} from "./simulate.ts";

const NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/";

/** IAM over the query protocol (global endpoint, signed for us-east-1): the operations in sandbox/IAM-CLOUDWATCH.md. */
export function iamService(account: IamAccount): ServiceHandler {
  return async (req: SandboxRequest) => {
    const form =
      req.method === "POST" ? req.body : req.method === "GET" ? Buffer.from(req.rawQuery, "utf8") : undefined;
    if (form === undefined) return undefined;
    if (req.method === "POST" && !(header(req, "content-type") ?? "").includes("x-www-form-urlencoded"))
      return undefined;
    const members = parseQueryForm(form);
    const action = typeof members.Action === "string" ? members.Action : undefined;
    if (action === undefined) return undefined;
    const input = new QueryInput(members, (member, problem, value) => invalidMember(member, problem, value));
    try {
      return queryResponse(NAMESPACE, action, req.requestId, dispatch(account, action, input));
    } catch (err) {
      if (err instanceof ServiceError) return queryError(NAMESPACE, err.status, err.code, err.message, req.requestId);
      throw err;
    }
  };
}

/** IAM names a member in its validation messages by its camel-cased name. */
function invalidMember(member: string, problem: "missing" | "malformed", value?: string): ServiceError {
  const name = member.split(".").pop() ?? member;
  const camel = name.charAt(0).toLowerCase() + name.slice(1);
  return problem === "missing"
    ? validation(`Value null at '${camel}' failed to satisfy constraint: Member must not be null`)
    : validation(`Value '${value ?? ""}' at '${camel}' failed to satisfy constraint: Member must be a valid value`);
}

function dispatch(account: IamAccount, action: string, input: QueryInput): Record<string, XmlValue> | undefined {
  switch (action) {
    case "CreateRole":
      return {
        Role: roleXml(
          account.createRole({
            name: input.required("RoleName"),
            assumeRolePolicy: input.required("AssumeRolePolicyDocument"),
            ...optional("path", input.string("Path")),
            ...optional("description", input.string("Description")),
            ...optional("maxSessionDuration", input.integer("MaxSessionDuration")),
            tags: tags(input),
          }),
          true,
        ),
      };
    case "GetRole":
      return { Role: roleXml(account.role(input.required("RoleName")), true) };
    case "ListRoles":
      return page(underPath(account.listRoles(), input), input, "Roles", (r) => roleXml(r, false));
    case "CreateUser":
      return {
        User: userXml(
          account.createUser({
            name: input.required("UserName"),
            ...optional("path", input.string("Path")),
            tags: tags(input),
          }),
          true,
        ),
      };
    case "GetUser":
      return { User: userXml(account.user(input.required("UserName")), true) };
    case "ListUsers":
      return page(underPath(account.listUsers(), input), input, "Users", (u) => userXml(u, false));
    case "PutRolePolicy":
    case "PutUserPolicy": {
      const owner = ownerOf(account, action, input);
      account.putInline(owner, input.required("PolicyName"), input.required("PolicyDocument"));
      return undefined;
    }
    case "GetRolePolicy":
    case "GetUserPolicy": {
      const kind = action === "GetRolePolicy" ? "role" : "user";
      const owner = ownerOf(account, action, input);
      const name = input.required("PolicyName");
      return {
        [kind === "role" ? "RoleName" : "UserName"]: owner.name,
        PolicyName: name,
        PolicyDocument: encodePolicy(account.inlinePolicy(owner, kind, name)),
      };
    }
    case "ListRolePolicies":
    case "ListUserPolicies": {
      const owner = ownerOf(account, action, input);
      return page(Object.keys(owner.inline).sort(), input, "PolicyNames", (n) => n);
    }
    case "AttachRolePolicy":
    case "AttachUserPolicy":
      account.attach(ownerOf(account, action, input), input.required("PolicyArn"));
      return undefined;
    case "ListAttachedRolePolicies":
    case "ListAttachedUserPolicies": {
      const owner = ownerOf(account, action, input);
      const prefix = input.string("PathPrefix") ?? "/";
      const attached = owner.attached.map((arn) => account.policy(arn)).filter((p) => p.path.startsWith(prefix));
      return page(attached, input, "AttachedPolicies", (p) => ({ PolicyName: p.name, PolicyArn: p.arn }));
    }
    case "CreatePolicy":
      return {
        Policy: policyXml(
          account,
          account.createPolicy({
            name: input.required("PolicyName"),
            document: input.required("PolicyDocument"),
            ...optional("path", input.string("Path")),
            ...optional("description", input.string("Description")),
            tags: tags(input),
          }),
        ),
      };
    case "GetPolicy":
      return { Policy: policyXml(account, account.policy(input.required("PolicyArn"))) };
    case "GetPolicyVersion": {
      const policy = account.policy(input.required("PolicyArn"));
      const version = input.required("VersionId");
      if (version !== "v1") {
        throw noSuchEntity(`Policy ${policy.arn} version ${version} does not exist or is not attachable.`);
      }
      return {
        PolicyVersion: {
          Document: encodePolicy(policy.document),
          VersionId: "v1",
          IsDefaultVersion: true,
          CreateDate: policy.createDate,
        },
      };
    }
    case "SimulatePrincipalPolicy":
      return simulatePrincipalPolicy(account, input);
    default:
      throw new ServiceError("InvalidAction", 400, `The sandbox does not implement IAM ${action}.`);
  }
}

function simulatePrincipalPolicy(account: IamAccount, input: QueryInput): Record<string, XmlValue> {
  const sourceArn = input.required("PolicySourceArn");
  const principal = account.principalByArn(sourceArn);
  if (!principal) {
    if (/^arn:aws:iam::\d{12}:(role|user|group)\//.test(sourceArn)) throw noSuchEntity(`${sourceArn} does not exist.`);
    throw new ServiceError("InvalidInput", 400, `Invalid ARN: ${sourceArn}. The sandbox simulates roles and users.`);
  }
  const actions = input.strings("ActionNames") ?? [];
  if (actions.length === 0) throw invalidMember("ActionNames", "missing");
  if (input.has("PolicyExclusionList")) {
    throw new ServiceError("InvalidInput", 400, "The sandbox does not simulate PolicyExclusionList.");
  }
  const identityPolicies: PolicySource[] = [
    ...Object.entries(principal.entity.inline).map(([name, text]) => policySource(name, principal.kind, text)),
    ...principal.entity.attached.map((arn) => {
      const p = account.policy(arn);
      return policySource(p.name, "user-managed", p.document);
    }),
    ...givenPolicies(input, "PolicyInputList", "identity"),
  ];
  const boundaryPolicies = givenPolicies(input, "PermissionsBoundaryPolicyInputList", "identity");
  const resourceText = input.string("ResourcePolicy");
  if (resourceText !== undefined) checkDocument(resourceText, "resource");
  const callerArn = input.string("CallerArn") ?? sourceArn;
  if (!/^arn:aws:iam::\d{12}:(user|role|group)\/.+/.test(callerArn)) {
    throw new ServiceError("InvalidInput", 400, `Invalid CallerArn ${callerArn}: name an IAM user, group or role.`);
  }
  const owner = input.string("ResourceOwner");
  const ownerAccount = owner === undefined ? callerArn.split(":")[4] : /(\d{12})/.exec(owner)?.[1];
  if (ownerAccount === undefined) throw new ServiceError("InvalidInput", 400, `Invalid ResourceOwner ${owner}.`);
  const resources = input.strings("ResourceArns") ?? [];
  const results = simulate({
    identityPolicies,
    boundaryPolicies,
    ...(resourceText !== undefined ? { resourcePolicy: policySource("ResourcePolicy", "resource", resourceText) } : {}),
    callerArn,
    resourceOwner: ownerAccount ?? "",
    actions,
    resources: resources.length ? resources : ["*"],
    context: (input.list("ContextEntries") ?? []).map((e) => ({
      name: e.required("ContextKeyName"),
      values: e.strings("ContextKeyValues") ?? [],
      type: e.string("ContextKeyType") ?? "string",
    })),
  });
  const specific = resources.length > 0 && !resources.every((r) => r === "*");
  return page(results, input, "EvaluationResults", (r) => evaluationXml(r, specific));
}

function givenPolicies(input: QueryInput, member: string, kind: "identity"): PolicySource[] {
  return (input.strings(member) ?? []).map((text, i) => {
    checkDocument(text, kind);
    return policySource(`${member}.${i + 1}`, "none", text);
  });
}

function evaluationXml(r: ActionResult, specific: boolean): XmlValue {
  return {
    EvalActionName: r.action,
    EvalResourceName: r.resourceName,
    EvalDecision: r.decision,
    MatchedStatements: r.matched.map(statementXml),
    MissingContextValues: r.missing,
    ...decisionDetails(r, specific),
    ResourceSpecificResults: r.resources.map(
      (res: ResourceResult): XmlValue => ({
        EvalResourceName: res.resource,
        EvalResourceDecision: res.decision,
        MatchedStatements: res.matched.map(statementXml),
        MissingContextValues: res.missing,
        ...decisionDetails(res, specific),
      }),
    ),
  };
}

function statementXml(m: MatchedStatement): XmlValue {
  const at = (p: Position | undefined) => (p ? { Line: p.Line, Column: p.Column } : undefined);
  return {
    SourcePolicyId: m.SourcePolicyId,
    SourcePolicyType: m.SourcePolicyType,
    StartPosition: at(m.StartPosition),
    EndPosition: at(m.EndPosition),
  };
}

/**
 * EvalDecisionDetails: per policy type across accounts; an empty map in one account when specific resources were
 * simulated; absent for `*` (IAM's EvaluationResult documentation). Then the permissions boundary's part.
 */
function decisionDetails(r: Pick<ResourceResult, "details" | "allowedByBoundary">, specific: boolean) {
  return {
    ...(r.details
      ? { EvalDecisionDetails: new XmlMap(r.details) }
      : specific
        ? { EvalDecisionDetails: new XmlMap({}) }
        : {}),
    ...(r.allowedByBoundary !== undefined
      ? { PermissionsBoundaryDecisionDetail: { AllowedByPermissionsBoundary: r.allowedByBoundary } }
      : {}),
  };
}

/** ListRoles / ListUsers: the entities whose path starts with PathPrefix (default "/", all). */
function underPath<T extends { path: string }>(items: T[], input: QueryInput): T[] {
  const prefix = input.string("PathPrefix") ?? "/";
  return items.filter((e) => e.path.startsWith(prefix));
}

function ownerOf(account: IamAccount, action: string, input: QueryInput): IamRole | IamUser {
  return action.includes("Role") ? account.role(input.required("RoleName")) : account.user(input.required("UserName"));
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function tags(input: QueryInput): IamTag[] {
  return (input.list("Tags") ?? []).map((t) => ({ Key: t.required("Key"), Value: t.required("Value") }));
}

/** Policy documents travel URL-encoded (RFC 3986) in IAM's answers, as IAM returns them. */
export function encodePolicy(document: string): string {
  return encodeURIComponent(document).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Role as CreateRole and GetRole answer it (`full`), or as ListRoles lists it (no tags, no last use). */
function roleXml(r: IamRole, full: boolean): XmlValue {
  return {
    Path: r.path,
    RoleName: r.name,
    RoleId: r.id,
    Arn: r.arn,
    CreateDate: r.createDate,
    AssumeRolePolicyDocument: encodePolicy(r.assumeRolePolicy),
    Description: r.description,
    MaxSessionDuration: r.maxSessionDuration,
    Tags: full && r.tags.length ? r.tags.map((t) => ({ ...t })) : undefined,
    RoleLastUsed: full ? {} : undefined,
  };
}

function userXml(u: IamUser, full: boolean): XmlValue {
  return {
    Path: u.path,
    UserName: u.name,
    UserId: u.id,
    Arn: u.arn,
    CreateDate: u.createDate,
    Tags: full && u.tags.length ? u.tags.map((t) => ({ ...t })) : undefined,
  };
}

function policyXml(account: IamAccount, p: ManagedPolicy): XmlValue {
  return {
    PolicyName: p.name,
    PolicyId: p.id,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: "v1",
    AttachmentCount: account.attachmentCount(p.arn),
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    Description: p.description,
    CreateDate: p.createDate,
    UpdateDate: p.createDate,
    Tags: p.tags.length ? p.tags.map((t) => ({ ...t })) : undefined,
  };
}

/**
 * One page of a list: MaxItems (1 to 1000, default 100) from the position Marker names. The marker is the sandbox's
 * own (the position, base64url), as IAM's markers are opaque.
 */
function page<T>(
  items: readonly T[],
  input: QueryInput,
  member: string,
  toXml: (item: T) => XmlValue,
): Record<string, XmlValue> {
  const max = input.integer("MaxItems") ?? 100;
  if (max < 1 || max > 1000) {
    throw validation(
      `Value '${max}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000`,
    );
  }
  const marker = input.string("Marker");
  const start = marker === undefined ? 0 : Number(Buffer.from(marker, "base64url").toString("utf8"));
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw new ServiceError("InvalidInput", 400, `Invalid Marker ${marker}.`);
  }
  const end = Math.min(items.length, start + max);
  const truncated = end < items.length;
  return {
    [member]: items.slice(start, end).map(toXml),
    IsTruncated: truncated,
    ...(truncated ? { Marker: Buffer.from(String(end), "utf8").toString("base64url") } : {}),
  };
}
