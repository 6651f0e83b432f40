import type { SandboxRequest } from "../http.ts";
import { type ConfigurationInput, invalidParameter, lambdaError, validation } from "./functions.ts";

/** Reading a REST-JSON request's body and members as Lambda's model types them, with the errors Lambda answers. */

export function configurationInput(input: Record<string, unknown>): ConfigurationInput {
  const environment = input.Environment;
  let variables: Record<string, string> | undefined;
  if (environment !== undefined && environment !== null) {
    if (typeof environment !== "object" || Array.isArray(environment)) throw serialization("Environment");
    const v = (environment as { Variables?: unknown }).Variables;
    if (v !== undefined && v !== null && (typeof v !== "object" || Array.isArray(v))) {
      throw serialization("Environment.Variables");
    }
    variables = { ...((v ?? {}) as Record<string, string>) };
  }
  return {
    runtime: optionalString(input, "Runtime"),
    role: optionalString(input, "Role"),
    handler: optionalString(input, "Handler"),
    description: optionalString(input, "Description"),
    timeout: optionalNumber(input, "Timeout"),
    memorySize: optionalNumber(input, "MemorySize"),
    environment: variables,
  };
}

/** `Code.ZipFile` (CreateFunction) or `ZipFile` (UpdateFunctionCode): base64 in the JSON body. */
export function zipFileOf(code: unknown): Buffer {
  const zip = code && typeof code === "object" ? (code as { ZipFile?: unknown }).ZipFile : undefined;
  if (typeof zip !== "string" || zip === "") {
    throw invalidParameter("The sandbox accepts function code only as a .zip file in ZipFile (not S3 or an image).");
  }
  return Buffer.from(zip, "base64");
}

export function jsonBody(req: SandboxRequest): Record<string, unknown> {
  let input: unknown;
  try {
    input = req.body.length ? JSON.parse(req.body.toString("utf8")) : {};
  } catch {
    throw lambdaError("SerializationException", 400, "Request body is not valid JSON");
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw lambdaError("SerializationException", 400, "Request body must be a JSON object");
  }
  return input as Record<string, unknown>;
}

export function requiredString(input: Record<string, unknown>, member: string): string {
  const v = optionalString(input, member);
  if (v === undefined) {
    throw validation(`Value null at '${lowerFirst(member)}' failed to satisfy constraint: Member must not be null`);
  }
  return v;
}

export function optionalString(input: Record<string, unknown>, member: string): string | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw serialization(member);
  return v;
}

export function optionalNumber(input: Record<string, unknown>, member: string): number | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number") throw serialization(member);
  return v;
}

export function optionalInteger(value: string | null, member: string, min: number, max: number): number | undefined {
  if (value === null) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw validation(
      `Value '${value}' at '${member}' failed to satisfy constraint: Member must have value between ${min} and ${max}`,
    );
  }
  return n;
}

const serialization = (member: string) =>
  lambdaError("SerializationException", 400, `'${member}' is not of the type the API expects`);
export const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
