import { parseBoolean, parseTimestamp } from "../wire-values.ts";
import { badRequest } from "./errors.ts";

/**
 * Typed values of CreateJob's XML fields (the job itself, its ManifestGenerator and its operation). A value that
 * does not parse is a BadRequestException naming the field.
 */

/** A boolean field, in any case; undefined when absent. */
export function booleanField(value: string | undefined, field: string): boolean | undefined {
  return parseBoolean(value, (v) => badRequest(`Invalid boolean for ${field}: "${v}".`));
}

/** An ISO 8601 timestamp field. */
export function timestampField(value: string, field: string): Date {
  return parseTimestamp(value, (v) => badRequest(`Invalid timestamp for ${field}: "${v}".`));
}

/** One of the values the API model allows for the field. */
export function oneOf<T extends string>(value: string, allowed: readonly T[], field: string): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw badRequest(`Invalid ${field} "${value}"; expected one of ${allowed.join(", ")}.`);
  return found;
}
