/**
 * Booleans and timestamps as the AWS REST protocols carry them in headers, query strings and XML bodies. Each
 * service answers a value that does not parse with its own error, which the caller gives as `invalid`.
 */

/**
 * "true" or "false" in any case, white space around allowed (the aws CLI v2 sends "True"); undefined when absent.
 * Anything else is `invalid(value)`: an error to throw, or the boolean to read it as (a flag S3 does not check).
 */
export function parseBoolean(value: string, invalid: (value: string) => Error | boolean): boolean;
export function parseBoolean(
  value: string | undefined,
  invalid: (value: string) => Error | boolean,
): boolean | undefined;
export function parseBoolean(
  value: string | undefined,
  invalid: (value: string) => Error | boolean,
): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === "true") return true;
  if (v === "false") return false;
  const fallback = invalid(value);
  if (fallback instanceof Error) throw fallback;
  return fallback;
}

/** A flag S3 does not validate: true when it says true (in any case), false when absent or anything else. */
export function isTrue(value: string | null | undefined): boolean {
  return parseBoolean(value ?? undefined, () => false) ?? false;
}

/**
 * An ISO 8601 or HTTP date (what `Date.parse` reads). Anything else is `invalid(value)`: an error to throw, or
 * undefined where the protocol ignores a date it cannot read (HTTP's If-Modified-Since).
 */
export function parseTimestamp(value: string, invalid: (value: string) => Error): Date;
export function parseTimestamp(value: string, invalid: (value: string) => Error | undefined): Date | undefined;
export function parseTimestamp(value: string, invalid: (value: string) => Error | undefined): Date | undefined {
  const t = Date.parse(value);
  if (!Number.isNaN(t)) return new Date(t);
  const error = invalid(value);
  if (error) throw error;
  return undefined;
}
