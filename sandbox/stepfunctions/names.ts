import type { SandboxIdentity } from "../config.ts";
import { ServiceError } from "../http.ts";

/** A Step Functions API error: JSON 1.0 protocol, `{"__type": code, "message": ...}` with HTTP 400. */
export function sfnError(code: string, message: string): ServiceError {
  return new ServiceError(code, 400, message);
}

export const MAX_NAME_LENGTH = 80;

/**
 * Characters a state machine or execution name must not contain (Step Functions service quotas, "General
 * quotas"): whitespace, brackets `< > { } [ ]`, wildcards `? *`, special characters `" # % \ ^ | ~ ` $ & , ; : /`
 * and control characters U+0000–001F, U+007F–009F. Non-ASCII letters are allowed.
 */
const FORBIDDEN_IN_NAME = new Set([...'<>{}[]?*"#%\\^|~`$&,;:/']);

export function isForbidden(ch: string): boolean {
  const code = ch.codePointAt(0) ?? 0;
  return /\s/u.test(ch) || FORBIDDEN_IN_NAME.has(ch) || code <= 0x1f || (code >= 0x7f && code <= 0x9f);
}

export function checkExecutionName(name: string): void {
  const length = [...name].length;
  if (length < 1 || length > MAX_NAME_LENGTH || [...name].some(isForbidden)) {
    throw sfnError("InvalidName", `Invalid Name: '${name}'`);
  }
}

export interface StateMachineArnParts {
  region: string;
  accountId: string;
  name: string;
  /** A version number or alias name after the state machine name (`...:stateMachine:rekey:PROD`). */
  qualifier?: string;
}

export interface ExecutionArnParts {
  region: string;
  accountId: string;
  stateMachineName: string;
  name: string;
}

const ARN = /^arn:(aws[a-z-]*):states:([a-z0-9-]*):(\d*):([A-Za-z]+):(.*)$/s;

function splitArn(arn: string): { region: string; accountId: string; resourceType: string; rest: string } {
  const m = ARN.exec(arn);
  if (!m) throw sfnError("InvalidArn", `Invalid Arn: '${arn}'`);
  const [, , region = "", accountId = "", resourceType = "", rest = ""] = m;
  return { region, accountId, resourceType, rest };
}

/** `arn:aws:states:<region>:<account>:stateMachine:<name>[:<version or alias>]`; anything else is InvalidArn. */
export function parseStateMachineArn(arn: string): StateMachineArnParts {
  const { region, accountId, resourceType, rest } = splitArn(arn);
  if (resourceType !== "stateMachine") {
    throw sfnError("InvalidArn", `Invalid Arn: 'Resource type not valid in this context: ${resourceType}'`);
  }
  const [name = "", qualifier, ...extra] = rest.split(":");
  if (name === "" || extra.length > 0 || qualifier === "") throw sfnError("InvalidArn", `Invalid Arn: '${arn}'`);
  return { region, accountId, name, ...(qualifier !== undefined ? { qualifier } : {}) };
}

/** `arn:aws:states:<region>:<account>:execution:<state machine name>:<execution name>`. */
export function parseExecutionArn(arn: string): ExecutionArnParts {
  const { region, accountId, resourceType, rest } = splitArn(arn);
  if (resourceType !== "execution") {
    throw sfnError("InvalidArn", `Invalid Arn: 'Resource type not valid in this context: ${resourceType}'`);
  }
  const colon = rest.indexOf(":");
  const stateMachineName = colon < 0 ? "" : rest.slice(0, colon);
  const name = colon < 0 ? "" : rest.slice(colon + 1);
  if (stateMachineName === "" || name === "") throw sfnError("InvalidArn", `Invalid Arn: '${arn}'`);
  return { region, accountId, stateMachineName, name };
}

export function isHere(parts: { region: string; accountId: string }, identity: SandboxIdentity): boolean {
  return parts.region === identity.region && parts.accountId === identity.accountId;
}
