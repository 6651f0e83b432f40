import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InventoryFormatError, TransientAwsError } from "../../contract/errors.ts";
import { StateNames } from "../../contract/states.ts";
import { invokeStep, isTransient } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { defineStep, type StepDeps } from "../../steps/runtime/step.ts";

const deps = { log: silentLogger, now: () => new Date() } as unknown as StepDeps;
const sdkError = (name: string, httpStatusCode?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode }, ...extra });

function failingStep(err: unknown) {
  return defineStep({
    state: StateNames.checkCopyJobs,
    input: z.object({ n: z.number() }),
    async run() {
      throw err;
    },
  });
}

describe("invokeStep", () => {
  it("rejects input that does not match the step's schema as InvalidInputError, naming the field", async () => {
    await expect(invokeStep(failingStep(new Error("unreached")), { n: "one" }, deps)).rejects.toMatchObject({
      name: "InvalidInputError",
      message: expect.stringMatching(/"Check copy jobs" received input it cannot use:\nn: /),
    });
  });

  it.each([
    sdkError("SlowDown", 503),
    sdkError("InternalError", 500),
    sdkError("ThrottlingException", 400),
    sdkError("TooManyRequestsException", 429),
    Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
    sdkError("Whatever", 400, { $retryable: { throttling: true } }),
  ])("turns a passing AWS problem (%s) into the retried TransientAwsError", async (err) => {
    const rejection = invokeStep(failingStep(err), { n: 1 }, deps);
    await expect(rejection).rejects.toBeInstanceOf(TransientAwsError);
    await expect(rejection).rejects.toMatchObject({ name: "TransientAwsError", cause: err });
  });

  it.each([
    sdkError("AccessDenied", 403),
    sdkError("NoSuchBucket", 404),
    sdkError("InvalidRequest", 400),
    new TypeError("bug"),
  ])("lets a problem that retrying cannot fix (%s) end the run", async (err) => {
    await expect(invokeStep(failingStep(err), { n: 1 }, deps)).rejects.toBe(err);
    expect(isTransient(err)).toBe(false);
  });

  it("passes rekey's own errors through unchanged", async () => {
    const err = new InventoryFormatError("bad line", { file: "f.csv.gz", line: 3, fix: "wait" });
    await expect(invokeStep(failingStep(err), { n: 1 }, deps)).rejects.toBe(err);
  });
});
