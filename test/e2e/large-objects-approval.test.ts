import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { startSandboxExecution } from "../../sandbox/run-workflow.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import type { AwsClients } from "../../steps/clients.ts";
import { ErrorNames } from "../../steps/errors.ts";
import { StateNames } from "../../workflow/definition.ts";
import { newTestBucket, sandboxWithClients } from "../support/sandbox.ts";

/**
 * Approval confirms Batch Operations jobs, and the multipart copies start after them. A run with approval whose
 * only work is objects over 5 GiB has no job to confirm: it must stop before copying, not copy unapproved.
 */
describe("a run that requires approval but has only objects over 5 GiB to copy", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let keyArn: string;
  const WORK = "approval-large-work";

  beforeAll(async () => {
    ({ sandbox, clients } = await sandboxWithClients());
    admin = new SandboxAdmin(sandbox.endpoint);
    await clients.s3.send(new CreateBucketCommand({ Bucket: WORK }));
    keyArn = (await clients.kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? "";
  });
  afterAll(() => sandbox?.close());

  async function run(bucket: string, requireApproval: boolean) {
    const states: string[] = [];
    const result = await startSandboxExecution({
      sandbox,
      name: `large-${requireApproval ? "approval" : "direct"}-${bucket}`,
      input: {
        bucket,
        kmsKeyArn: keyArn,
        workBucket: WORK,
        options: { jobPollMinSeconds: 1, jobPollMaxSeconds: 1, requireApproval },
      },
      waitTimeOverrides: { [StateNames.waitForInventory]: 50, [StateNames.waitForJobs]: 50 },
      onEvent: (e) => {
        if (e.type === "StateEntered") states.push(e.state.name);
      },
    }).result;
    return { result, states };
  }

  async function bucketWithOneLargeObject(): Promise<{ bucket: string; versionId: string }> {
    const bucket = await newTestBucket(clients.s3, "approval-large", { versioned: true });
    const seeded = await admin.seed(bucket, [{ key: "big.bin", size: 6 * 1024 ** 3, encryption: { type: "NOT-SSE" } }]);
    return { bucket, versionId: seeded.versions[0]?.versionId ?? "" };
  }

  it("stops with ApprovalNotPossibleError and writes nothing", async () => {
    const { bucket, versionId } = await bucketWithOneLargeObject();
    const { result, states } = await run(bucket, true);
    expect(result.status).toBe("FAILED");
    if (result.status !== "FAILED") return;
    expect(result.error).toBe(ErrorNames.ApprovalNotPossible);
    expect(result.cause).toMatch(
      /only work is 1 object\(s\) over 5 GiB.*start the run again without --require-approval/s,
    );
    expect(states).not.toContain(StateNames.createCopyJobs);
    const versions = await admin.versions(bucket);
    expect(versions.map((v) => [v.versionId, v.encryption.type])).toEqual([[versionId, "NOT-SSE"]]);
  });

  it("copies the object when approval is not required", async () => {
    const { bucket, versionId } = await bucketWithOneLargeObject();
    const { result } = await run(bucket, false);
    expect(result.status === "FAILED" ? result.cause : result.status).toBe("SUCCEEDED");
    const current = (await admin.versions(bucket)).find((v) => v.isLatest);
    expect(current?.versionId).not.toBe(versionId);
    expect(current?.encryption).toEqual({ type: "SSE-KMS", keyArn, bucketKeyEnabled: true });
  });
});
