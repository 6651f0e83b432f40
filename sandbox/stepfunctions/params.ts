import type { ServiceError } from "../http.ts";
import { sfnError } from "./names.ts";

/**
 * Reading a JSON 1.0 request's members as Step Functions' model types them, with the errors AWS answers
 * (SerializationException for a wrong type, ValidationException for a broken constraint), and list pagination.
 */

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** A member longer than its model allows: the ValidationException AWS's JSON protocol answers. */
export function checkLength(member: string, length: number, max: number): void {
  if (length > max) {
    throw validation(
      `Value at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    );
  }
}

export function validation(detail: string): ServiceError {
  return sfnError("ValidationException", `1 validation error detected: ${detail}`);
}

export function enumError(member: string, value: string, allowed: readonly string[]): ServiceError {
  return validation(
    `Value '${value}' at '${member}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(", ")}]`,
  );
}

export function required(input: Record<string, unknown>, member: string): string {
  const v = optionalString(input, member);
  if (v === undefined)
    throw validation(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  return v;
}

export function optionalString(input: Record<string, unknown>, member: string): string | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw sfnError("SerializationException", `'${member}' must be a string`);
  return v;
}

export function optionalBoolean(input: Record<string, unknown>, member: string): boolean | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw sfnError("SerializationException", `'${member}' must be a boolean`);
  return v;
}

/** maxResults: 0–1000; 0 (or none) means the default page of 100. */
export function pageSize(input: Record<string, unknown>): number {
  const v = input.maxResults;
  if (v === undefined || v === null) return DEFAULT_PAGE;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw sfnError("SerializationException", "'maxResults' must be an integer");
  }
  if (v < 0)
    throw validation(
      `Value '${v}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0`,
    );
  if (v > MAX_PAGE) {
    throw validation(
      `Value '${v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_PAGE}`,
    );
  }
  return v === 0 ? DEFAULT_PAGE : v;
}

/** Offset pagination for list operations; the token is bound to the operation and its filters. */
export function paginate<T>(
  items: T[],
  input: Record<string, unknown>,
  scope: string,
): { items: T[]; next: { nextToken?: string } } {
  const limit = pageSize(input);
  const token = optionalString(input, "nextToken");
  const offset = token !== undefined ? decodeToken(token, scope) : 0;
  const end = offset + limit;
  return { items: items.slice(offset, end), next: end < items.length ? { nextToken: encodeToken(scope, end) } : {} };
}

export function encodeToken(scope: string, position: number): string {
  return Buffer.from(JSON.stringify({ s: scope, p: position }), "utf8").toString("base64url");
}

export function decodeToken(token: string, scope: string): number {
  try {
    const t = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { s?: unknown; p?: unknown };
    if (t.s === scope && typeof t.p === "number" && Number.isInteger(t.p) && t.p >= 0) return t.p;
  } catch {
    // falls through to InvalidToken
  }
  throw sfnError("InvalidToken", `Invalid Token: '${token}'`);
}
