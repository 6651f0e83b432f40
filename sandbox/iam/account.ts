import { randomBytes } from "node:crypto";
import type { SandboxIdentity } from "../config.ts";
import { ServiceError } from "../http.ts";

export interface IamTag {
  Key: string;
  Value: string;
}

/** What roles and users share: a name under a path, an id, inline policies by name and attached managed policies. */
interface Principal {
  name: string;
  path: string;
  id: string;
  arn: string;
  createDate: Date;
  tags: IamTag[];
  /** Inline policy name → its document, as PutRolePolicy / PutUserPolicy sent it. */
  inline: Record<string, string>;
  /** ARNs of the attached managed policies, in the order they were attached. */
  attached: string[];
}

export interface IamRole extends Principal {
  assumeRolePolicy: string;
  description?: string;
  maxSessionDuration: number;
}

export type IamUser = Principal;

/** A customer managed policy; the sandbox keeps its one version, v1. */
export interface ManagedPolicy {
  name: string;
  path: string;
  id: string;
  arn: string;
  description?: string;
  createDate: Date;
  document: string;
  tags: IamTag[];
}

export interface IamSnapshot {
  roles: IamRole[];
  users: IamUser[];
  policies: ManagedPolicy[];
}

/** The kinds of policy document IAM takes: identity-based, a role's trust policy, another resource-based policy. */
export type DocumentKind = "identity" | "trust" | "resource";

/**
 * The IAM entities of the sandbox account: roles, users and customer managed policies (sandbox/IAM-CLOUDWATCH.md).
 * Names are unique per kind, case-insensitively as in IAM; lists come sorted by name.
 */
export class IamAccount {
  private readonly roles = new Map<string, IamRole>();
  private readonly users = new Map<string, IamUser>();
  private readonly policies = new Map<string, ManagedPolicy>();

  constructor(readonly identity: SandboxIdentity) {}

  createRole(input: {
    name: string;
    path?: string;
    assumeRolePolicy: string;
    description?: string;
    maxSessionDuration?: number;
    tags?: IamTag[];
  }): IamRole {
    checkName("roleName", input.name, 64);
    const path = checkPath(input.path);
    checkDocument(input.assumeRolePolicy, "trust");
    const duration = input.maxSessionDuration ?? 3600;
    if (!Number.isInteger(duration) || duration < 3600 || duration > 43200) {
      throw validation(
        `Value '${duration}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200`,
      );
    }
    if (this.roles.has(input.name.toLowerCase())) {
      throw new ServiceError("EntityAlreadyExists", 409, `Role with name ${input.name} already exists.`);
    }
    const role: IamRole = {
      name: input.name,
      path,
      id: newId("AROA"),
      arn: `arn:aws:iam::${this.identity.accountId}:role${path}${input.name}`,
      createDate: wholeSeconds(),
      tags: input.tags ?? [],
      inline: {},
      attached: [],
      assumeRolePolicy: input.assumeRolePolicy,
      ...(input.description !== undefined ? { description: input.description } : {}),
      maxSessionDuration: duration,
    };
    this.roles.set(input.name.toLowerCase(), role);
    return role;
  }

  createUser(input: { name: string; path?: string; tags?: IamTag[] }): IamUser {
    checkName("userName", input.name, 64);
    const path = checkPath(input.path);
    if (this.users.has(input.name.toLowerCase())) {
      throw new ServiceError("EntityAlreadyExists", 409, `User with name ${input.name} already exists.`);
    }
    const user: IamUser = {
      name: input.name,
      path,
      id: newId("AIDA"),
      arn: `arn:aws:iam::${this.identity.accountId}:user${path}${input.name}`,
      createDate: wholeSeconds(),
      tags: input.tags ?? [],
      inline: {},
      attached: [],
    };
    this.users.set(input.name.toLowerCase(), user);
    return user;
  }

  createPolicy(input: {
    name: string;
    path?: string;
    document: string;
    description?: string;
    tags?: IamTag[];
  }): ManagedPolicy {
    checkName("policyName", input.name, 128);
    const path = checkPath(input.path);
    checkDocument(input.document, "identity");
    const arn = `arn:aws:iam::${this.identity.accountId}:policy${path}${input.name}`;
    if ([...this.policies.values()].some((p) => p.name.toLowerCase() === input.name.toLowerCase())) {
      throw new ServiceError(
        "EntityAlreadyExists",
        409,
        `A policy called ${input.name} already exists. Duplicate names are not allowed.`,
      );
    }
    const policy: ManagedPolicy = {
      name: input.name,
      path,
      id: newId("ANPA"),
      arn,
      ...(input.description !== undefined ? { description: input.description } : {}),
      createDate: wholeSeconds(),
      document: input.document,
      tags: input.tags ?? [],
    };
    this.policies.set(arn, policy);
    return policy;
  }

  role(name: string): IamRole {
    const role = this.roles.get(name.toLowerCase());
    if (!role) throw noSuchEntity(`The role with name ${name} cannot be found.`);
    return role;
  }

  user(name: string): IamUser {
    const user = this.users.get(name.toLowerCase());
    if (!user) throw noSuchEntity(`The user with name ${name} cannot be found.`);
    return user;
  }

  policy(arn: string): ManagedPolicy {
    checkPolicyArn(arn);
    const policy = this.policies.get(arn);
    if (!policy) throw noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
    return policy;
  }

  listRoles(): IamRole[] {
    return byName([...this.roles.values()]);
  }

  listUsers(): IamUser[] {
    return byName([...this.users.values()]);
  }

  /** PutRolePolicy / PutUserPolicy: adds or replaces an inline policy. */
  putInline(owner: IamRole | IamUser, policyName: string, document: string): void {
    checkName("policyName", policyName, 128);
    checkDocument(document, "identity");
    owner.inline[policyName] = document;
  }

  inlinePolicy(owner: IamRole | IamUser, kind: "role" | "user", policyName: string): string {
    const document = owner.inline[policyName];
    if (document === undefined) {
      throw noSuchEntity(`The ${kind} policy with name ${policyName} cannot be found.`);
    }
    return document;
  }

  /** AttachRolePolicy / AttachUserPolicy: attaching a policy twice changes nothing, as in IAM. */
  attach(owner: IamRole | IamUser, policyArn: string): void {
    this.policy(policyArn);
    if (!owner.attached.includes(policyArn)) owner.attached.push(policyArn);
  }

  attachmentCount(arn: string): number {
    const principals = [...this.roles.values(), ...this.users.values()];
    return principals.filter((p) => p.attached.includes(arn)).length;
  }

  /** The role or user an ARN names, in this account; undefined when it names neither. */
  principalByArn(arn: string): { kind: "role" | "user"; entity: IamRole | IamUser } | undefined {
    const m = /^arn:aws:iam::(\d{12}):(role|user)(\/(?:.*\/)?)?([^/]+)$/.exec(arn);
    if (!m || m[1] !== this.identity.accountId) return undefined;
    const kind = m[2] as "role" | "user";
    const found = (kind === "role" ? this.roles : this.users).get((m[4] ?? "").toLowerCase());
    return found && found.arn === arn ? { kind, entity: found } : undefined;
  }

  /** Every role, user and policy, for the data directory (sandbox/persistence/). */
  snapshot(): IamSnapshot {
    const copy = <T extends { tags: IamTag[] }>(e: T): T => structuredClone(e);
    return {
      roles: [...this.roles.values()].map(copy),
      users: [...this.users.values()].map(copy),
      policies: [...this.policies.values()].map(copy),
    };
  }

  /** Puts back what a data directory saved. */
  restore(saved: IamSnapshot): void {
    for (const r of saved.roles) this.roles.set(r.name.toLowerCase(), structuredClone(r));
    for (const u of saved.users) this.users.set(u.name.toLowerCase(), structuredClone(u));
    for (const p of saved.policies) this.policies.set(p.arn, structuredClone(p));
  }
}

function byName<T extends { name: string }>(items: T[]): T[] {
  return items.sort((a, b) =>
    a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0,
  );
}

/** IAM ids: a four-letter prefix naming the kind (AROA role, AIDA user, ANPA policy) and 17 more characters. */
function newId(prefix: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return prefix + [...randomBytes(17)].map((b) => alphabet[b % 32]).join("");
}

function wholeSeconds(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}

export function noSuchEntity(message: string): ServiceError {
  return new ServiceError("NoSuchEntity", 404, message);
}

export function validation(detail: string): ServiceError {
  return new ServiceError("ValidationError", 400, `1 validation error detected: ${detail}`);
}

function checkName(member: string, name: string, max: number): void {
  if (name.length < 1 || name.length > max || !/^[\w+=,.@-]+$/.test(name)) {
    throw validation(
      `Value '${name}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and ${max}`,
    );
  }
}

/** A path starts and ends with "/" (default "/"), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html. */
function checkPath(path: string | undefined): string {
  const p = path ?? "/";
  if (p.length > 512 || !/^\/(?:[\u0021-\u007E]*\/)?$/.test(p)) {
    throw validation(
      `Value '${p}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)`,
    );
  }
  return p;
}

function checkPolicyArn(arn: string): void {
  if (!/^arn:aws:iam::(\d{12}|aws):policy\/(.+\/)?[^/]+$/.test(arn)) {
    throw new ServiceError("InvalidInput", 400, `ARN ${arn} is not valid.`);
  }
}

/**
 * The checks IAM makes before it stores a policy (MalformedPolicyDocument): JSON, an object with statements, each
 * with Effect Allow or Deny and actions; an identity-based policy names resources and no principal, a trust or other
 * resource-based policy names a principal.
 */
export function checkDocument(text: string, kind: DocumentKind): void {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed("This policy contains invalid Json");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw malformed("Syntax errors in policy.");
  const raw = (doc as Record<string, unknown>).Statement;
  if (raw === undefined) throw malformed("Syntax errors in policy.");
  const statements = Array.isArray(raw) ? raw : [raw];
  for (const st of statements) {
    if (typeof st !== "object" || st === null || Array.isArray(st)) throw malformed("Syntax errors in policy.");
    const s = st as Record<string, unknown>;
    if (s.Effect !== "Allow" && s.Effect !== "Deny") throw malformed("Syntax errors in policy.");
    if (s.Action === undefined && s.NotAction === undefined) throw malformed("Policy statement must contain actions.");
    const namesPrincipal = s.Principal !== undefined || s.NotPrincipal !== undefined;
    if (kind === "identity" && namesPrincipal) throw malformed("Policy document should not specify a principal.");
    if (kind === "identity" && s.Resource === undefined && s.NotResource === undefined) {
      throw malformed("Policy statement must contain resources.");
    }
    if (kind === "trust" && !namesPrincipal) throw malformed("AssumeRolepolicy contained an invalid principal.");
    if (kind === "resource" && !namesPrincipal) throw malformed("Policy document must specify a principal.");
  }
}

function malformed(message: string): ServiceError {
  return new ServiceError("MalformedPolicyDocument", 400, message);
}
