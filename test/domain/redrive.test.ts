import { describe, expect, it } from "vitest";
import type { ReportRow } from "../../steps/domain/completion-report.ts";
import {
  decideRedrive,
  describeSystemicCauses,
  FailedRowSummary,
  failureKind,
  missingFor,
  redriveBackoffSeconds,
  shouldCancelEarly,
} from "../../steps/domain/redrive.ts";

const failed = (httpStatus: number | undefined, errorCode: string | undefined, resultMessage = ""): ReportRow => ({
  bucket: "b",
  key: `k-${httpStatus}-${errorCode}`,
  rawKey: "k",
  taskStatus: "failed",
  ...(httpStatus === undefined ? {} : { httpStatus }),
  ...(errorCode === undefined ? {} : { errorCode }),
  resultMessage,
});

describe("failureKind", () => {
  it.each([
    [503, "SlowDown"],
    [500, "InternalError"],
    [503, "ServiceUnavailable"],
    [400, "RequestTimeout"],
    [400, "KMS.ThrottlingException"],
    [500, "KMS.KMSInternalException"],
    [500, "KMS.KeyUnavailableException"],
    [500, "KMS.DependencyTimeoutException"],
    [429, undefined],
    [502, undefined],
  ])("%s %s is transient", (status, code) => {
    expect(failureKind(failed(status, code))).toBe("transient");
  });

  it.each([
    [403, "AccessDenied"],
    [400, "KMS.DisabledException"],
    [400, "KMS.NotFoundException"],
    [400, "KMS.KMSInvalidStateException"],
    [403, "KMS.AccessDeniedException"],
    [403, undefined],
  ])("%s %s is systemic", (status, code) => {
    expect(failureKind(failed(status, code))).toBe("systemic");
  });

  it.each([
    [404, "NoSuchKey"],
    [412, "PreconditionFailed"],
    [403, "InvalidObjectState"],
    [400, "InvalidRequest"],
  ])("%s %s is about the object", (status, code) => {
    expect(failureKind(failed(status, code))).toBe("object-specific");
  });

  it("reads the code from the message when the code column says only PermanentFailure", () => {
    expect(failureKind(failed(400, "PermanentFailure", "KMS.DisabledException: key is disabled"))).toBe("systemic");
    expect(failureKind(failed(400, "TemporaryFailure", "KMS.ThrottlingException: rate exceeded"))).toBe("transient");
  });
});

describe("missingFor", () => {
  it("names the key state or the permission each code says is missing", () => {
    expect(missingFor(failed(400, "KMS.DisabledException"))).toMatch(/disabled: enable it/);
    expect(missingFor(failed(400, "KMS.NotFoundException"))).toMatch(/does not exist/);
    expect(missingFor(failed(400, "KMS.KMSInvalidStateException"))).toMatch(/pending deletion/);
    expect(missingFor(failed(403, "KMS.AccessDeniedException"))).toMatch(/kms:GenerateDataKey and kms:Decrypt/);
    expect(missingFor(failed(403, "AccessDenied"))).toMatch(/s3:GetObject.*s3:PutObject/);
    expect(missingFor(failed(403, undefined))).toMatch(/s3:GetObject.*s3:PutObject/);
    expect(missingFor(failed(400, "KMS.InvalidKeyUsageException"))).toMatch(/^a symmetric encryption key/);
    expect(missingFor(failed(403, "AllAccessDisabled"))).toMatch(/^access to the bucket: .*contact AWS Support/);
  });

  it("reads any other KMS code as an unusable key, not as an S3 permission", () => {
    expect(missingFor(failed(400, "KMS.KeyUnavailableException"))).toMatch(/^a usable KMS key/);
    expect(missingFor(failed(400, "PermanentFailure", "KMS.KeyUnavailableException: try later"))).toMatch(
      /^a usable KMS key/,
    );
  });
});

describe("FailedRowSummary", () => {
  it("counts transient and object-specific rows and groups systemic ones by what is missing", () => {
    const s = new FailedRowSummary();
    for (const row of [
      failed(503, "SlowDown"),
      failed(400, "KMS.ThrottlingException"),
      failed(404, "NoSuchKey"),
      failed(403, "AccessDenied"),
      { ...failed(403, "AccessDenied"), key: "other" },
      failed(400, "KMS.DisabledException"),
      { ...failed(503, "SlowDown"), taskStatus: "succeeded" as const },
    ]) {
      s.add(row);
    }
    expect(s.transient).toBe(2);
    expect(s.objectSpecific).toBe(1);
    const causes = s.systemicCauses();
    expect(causes.map((c) => [c.errorCode, c.count])).toEqual([
      ["AccessDenied", 2],
      ["KMS.DisabledException", 1],
    ]);
    expect(describeSystemicCauses(causes)).toMatch(
      /^2 task\(s\) failed with AccessDenied \(e\.g\. "k-403-AccessDenied"\): missing s3:GetObject/,
    );
  });

  it("puts the largest group first whatever order the rows came in, and names a codeless row by its HTTP status", () => {
    const s = new FailedRowSummary();
    s.add({ ...failed(400, "KMS.DisabledException"), key: "first" });
    s.add({ ...failed(403, undefined), key: "a" });
    s.add({ ...failed(403, undefined), key: "b" });
    s.add({ ...failed(undefined, undefined, "KMS.NotFoundException: no such key"), key: "c" });
    const causes = s.systemicCauses();
    expect(causes.map((c) => [c.errorCode, c.count, c.sampleKey])).toEqual([
      ["HTTP 403", 2, "a"],
      ["KMS.DisabledException", 1, "first"],
      ["HTTP ?", 1, "c"],
    ]);
    expect(describeSystemicCauses(causes.slice(0, 2))).toBe(
      `2 task(s) failed with HTTP 403 (e.g. "a"): missing ${missingFor(failed(403, undefined))}; ` +
        `1 task(s) failed with KMS.DisabledException (e.g. "first"): missing ${missingFor(failed(400, "KMS.DisabledException"))}`,
    );
  });
});

describe("shouldCancelEarly", () => {
  it("cancels once enough tasks failed and they are at least half of those that ran", () => {
    expect(shouldCancelEarly({ succeeded: 0, failed: 100 }, 100)).toBe(true);
    expect(shouldCancelEarly({ succeeded: 100, failed: 100 }, 100)).toBe(true);
    expect(shouldCancelEarly({ succeeded: 101, failed: 100 }, 100)).toBe(false);
    expect(shouldCancelEarly({ succeeded: 0, failed: 99 }, 100)).toBe(false);
  });
});

describe("decideRedrive", () => {
  const ended = new Date("2026-01-01T00:00:00Z");
  const base = {
    status: "Complete",
    attempt: 1,
    transientFailures: 3,
    maxAttempts: 3,
    endedAt: ended,
    now: new Date(ended.getTime() + 60_000),
    backoffBaseSeconds: 60,
  };

  it("redrives a completed job's transient failures once the backoff has passed", () => {
    expect(decideRedrive(base)).toEqual({ action: "redrive", attempt: 2 });
  });

  it("waits out the rest of the backoff, which doubles with each attempt", () => {
    expect(decideRedrive({ ...base, now: new Date(ended.getTime() + 20_000) })).toEqual({
      action: "wait",
      seconds: 40,
      attempt: 2,
    });
    expect(redriveBackoffSeconds(2, 60)).toBe(60);
    expect(redriveBackoffSeconds(3, 60)).toBe(120);
    expect(decideRedrive({ ...base, attempt: 2 })).toEqual({ action: "wait", seconds: 60, attempt: 3 });
  });

  it("stops at the last attempt, and never redrives a job that did not complete or had no transient failure", () => {
    expect(decideRedrive({ ...base, attempt: 3 })).toEqual({ action: "none", reason: "attempts-exhausted" });
    expect(decideRedrive({ ...base, maxAttempts: 1 })).toEqual({ action: "none", reason: "attempts-exhausted" });
    expect(decideRedrive({ ...base, status: "Cancelled" })).toEqual({ action: "none", reason: "job-did-not-complete" });
    expect(decideRedrive({ ...base, transientFailures: 0 })).toEqual({
      action: "none",
      reason: "no-transient-failures",
    });
  });
});
