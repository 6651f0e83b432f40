import { DescribeJobCommand, NotFoundException } from "@aws-sdk/client-s3-control";
import { describe, expect, it } from "vitest";
import { isUnknownJob } from "../../steps/aws/batch-jobs.ts";
import { useSandbox } from "../support/sandbox.ts";

describe("isUnknownJob", () => {
  const env = useSandbox();

  it("recognises the sandbox's (and AWS's documented) answer for a job S3 Control does not know", async () => {
    const err = await env.s3control
      .send(new DescribeJobCommand({ AccountId: env.sandbox.identity.accountId, JobId: "no-such-job-0000" }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundException);
    expect(isUnknownJob(err)).toBe(true);
  });

  it("also takes NoSuchJobException and a bare 404, the answers reported right after CreateJob", () => {
    expect(isUnknownJob(Object.assign(new Error("no such job"), { name: "NoSuchJobException" }))).toBe(true);
    expect(isUnknownJob(Object.assign(new Error("?"), { name: "Unknown", $metadata: { httpStatusCode: 404 } }))).toBe(
      true,
    );
  });

  it("does not mistake other failures for an unknown job", () => {
    expect(
      isUnknownJob(Object.assign(new Error("denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } })),
    ).toBe(false);
    expect(isUnknownJob(Object.assign(new Error("slow"), { name: "TooManyRequestsException" }))).toBe(false);
    expect(isUnknownJob(undefined)).toBe(false);
  });
});
