import { header, type SandboxRequest } from "../http.ts";
import { parseTimestamp } from "../wire-values.ts";
import { s3Errors } from "./errors.ts";
import {
  activeRetention,
  type ObjectLockMode,
  type ObjectRetention,
  type ObjectVersion,
  type S3Bucket,
} from "./store.ts";

/**
 * Object Lock state a write (PutObject, CopyObject, CreateMultipartUpload) asks for in headers:
 * `x-amz-object-lock-mode` with `x-amz-object-lock-retain-until-date`, and `x-amz-object-lock-legal-hold`.
 * The bucket must have Object Lock enabled.
 */
export function lockFromRequest(
  req: SandboxRequest,
  bucket: S3Bucket,
): { retention?: ObjectRetention; legalHold?: "ON" | "OFF" } {
  const mode = header(req, "x-amz-object-lock-mode");
  const until = header(req, "x-amz-object-lock-retain-until-date");
  const hold = header(req, "x-amz-object-lock-legal-hold");
  if (mode === undefined && until === undefined && hold === undefined) return {};
  if (!bucket.objectLock) throw s3Errors.bucketMissingObjectLock();
  const out: { retention?: ObjectRetention; legalHold?: "ON" | "OFF" } = {};
  if (mode !== undefined || until !== undefined) {
    if (mode === undefined || until === undefined) {
      throw s3Errors.invalidArgument(
        "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
      );
    }
    out.retention = { mode: parseMode(mode), retainUntil: parseRetainUntil(until) };
  }
  if (hold !== undefined) out.legalHold = parseLegalHold(hold);
  return out;
}

export function parseMode(v: string | undefined): ObjectLockMode {
  if (v === "GOVERNANCE" || v === "COMPLIANCE") return v;
  throw s3Errors.invalidArgument("Unknown wormMode directive.", "ObjectLockMode", v ?? "");
}

export function parseLegalHold(v: string | undefined): "ON" | "OFF" {
  if (v === "ON" || v === "OFF") return v;
  throw s3Errors.invalidArgument("Legal Hold must be either of 'ON' or 'OFF'", "LegalHold", v ?? "");
}

/** A retain-until date must parse and lie in the future. */
export function parseRetainUntil(v: string | undefined): Date {
  const invalid = (value: string) =>
    s3Errors.invalidArgument("The retain until date is not valid", "RetainUntilDate", value);
  const until = parseTimestamp(v ?? "", invalid);
  if (until.getTime() <= Date.now()) throw s3Errors.invalidArgument("The retain until date must be in the future!");
  return until;
}

/** Object Lock headers of GET/HEAD: mode and date while a retention is set, legal hold once one was set. */
export function lockHeaders(v: ObjectVersion): Record<string, string> {
  const h: Record<string, string> = {};
  if (v.retention) {
    h["x-amz-object-lock-mode"] = v.retention.mode;
    h["x-amz-object-lock-retain-until-date"] = v.retention.retainUntil.toISOString();
  }
  if (v.legalHold !== undefined) h["x-amz-object-lock-legal-hold"] = v.legalHold;
  return h;
}

/** True when Object Lock currently protects the version in any way (used by UpdateObjectEncryption). */
export function isLocked(v: ObjectVersion): boolean {
  return v.legalHold === "ON" || activeRetention(v) !== undefined;
}
