import { describe, expect, it } from "vitest";
import * as errors from "../../contract/errors.ts";
import {
  ApprovalNotPossibleError,
  BatchJobFailedError,
  BucketBusyError,
  CompletionReportError,
  EngineUnavailableError,
  ErrorNames,
  InvalidInputError,
  InvariantViolatedError,
  InventoryConfigurationError,
  InventoryFormatError,
  InventoryNotReadyError,
  isRekeyError,
  ManifestWriteError,
  ObjectChangedDuringCopyError,
  PreflightBlockedError,
  RekeyError,
  SystemicTaskFailureError,
  TransientAwsError,
  UnexpectedResponseError,
  VerificationFailedError,
} from "../../contract/errors.ts";

const fix = "do the thing";
const instances: RekeyError[] = [
  new InvalidInputError("bad", { fix }),
  new InventoryFormatError("bad", { fix, file: "f.csv.gz", line: 3 }),
  new InventoryNotReadyError("bad", { fix, deliveredAfter: new Date(0) }),
  new InventoryConfigurationError("bad", { fix }),
  new ManifestWriteError("bad", { fix }),
  new BatchJobFailedError("bad", { fix, jobId: "job-1" }),
  new CompletionReportError("bad", { fix, file: "r.csv" }),
  new VerificationFailedError("bad", { fix }),
  new TransientAwsError("bad", { fix }),
  new ObjectChangedDuringCopyError("bad", { fix, bucket: "b", key: "k" }),
  new ApprovalNotPossibleError("bad", { fix }),
  new UnexpectedResponseError("bad", { fix }),
  new InvariantViolatedError("bad", { fix }),
  new BucketBusyError("bad", { fix, holder: "arn:aws:states:us-east-1:123456789012:execution:rekey:other" }),
  new EngineUnavailableError("bad", { fix }),
  new SystemicTaskFailureError("bad", { fix, jobId: "job-1" }),
  new PreflightBlockedError("bad", { fix, blockers: [{ code: "versioning-disabled", message: "m", fix: "f" }] }),
];

describe("errors", () => {
  it.each(instances.map((e) => [e.name, e] as const))("%s keeps its class name as error.name", (_name, e) => {
    expect(e.name).toBe(e.constructor.name);
    expect(Object.values(ErrorNames)).toContain(e.name);
    expect(e).toBeInstanceOf(Error);
    expect(isRekeyError(e)).toBe(true);
    expect(e.fix).toBe(fix);
    expect(e.message).toContain("Fix: do the thing");
  });

  it("has one ErrorNames entry per exported error class", () => {
    const classNames = Object.entries(errors)
      .filter(([, v]) => typeof v === "function" && v.prototype instanceof RekeyError)
      .map(([k]) => k)
      .sort();

    expect(Object.values(ErrorNames).sort()).toEqual(classNames);
    expect(instances.map((e) => e.name).sort()).toEqual(classNames);
  });

  it("names file and line, and keeps the cause", () => {
    const cause = new Error("zlib");
    const e = new InventoryFormatError("broken", { fix, file: "data/a.csv.gz", line: 7, cause });

    expect(e.message).toBe("data/a.csv.gz line 7: broken Fix: do the thing");
    expect(e.cause).toBe(cause);
    expect(e.problem).toBe("data/a.csv.gz line 7: broken");
  });

  it("does not mistake other errors for rekey errors", () => {
    expect(isRekeyError(new Error("x"))).toBe(false);
  });
});
