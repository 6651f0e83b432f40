import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { ListJobsCommand, UpdateJobStatusCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorNames } from "../../contract/errors.ts";
import { StateNames } from "../../contract/states.ts";
import { startSandboxExecution } from "../../local/sandbox-run.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
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

  /** What the operator does with jobs awaiting confirmation, as if in the console: confirm or cancel them. */
  async function answerJobs(status: "Ready" | "Cancelled") {
    const listed = await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }));
    for (const j of listed.Jobs ?? []) {
      if (j.Status !== "Suspended" || !j.JobId) continue;
      await clients.s3control.send(
        new UpdateJobStatusCommand({
          AccountId: sandbox.identity.accountId,
          JobId: j.JobId,
          RequestedJobStatus: status,
        }),
      );
    }
  }

  async function run(bucket: string, requireApproval: boolean, answer?: "Ready" | "Cancelled") {
    const states: string[] = [];
    const answers: Promise<void>[] = [];
    const result = await startSandboxExecution({
      sandbox,
      name: `large-${requireApproval ? "approval" : "direct"}-${bucket}`,
      input: {
        bucket,
        kmsKeyArn: keyArn,
        workBucket: WORK,
        options: { jobPollMinSeconds: 1, jobPollMaxSeconds: 1, requireApproval },
      },
      onEvent: (e) => {
        if (e.type !== "StateEntered") return;
        states.push(e.state.name);
        // Each wait: the jobs may still be preparing (not yet Suspended) the first time round.
        if (answer && e.state.name === StateNames.waitingForApproval) answers.push(answerJobs(answer));
      },
    }).result;
    await Promise.all(answers);
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

  async function bucketWithSmallAndLargeObjects(): Promise<{ bucket: string; versionIds: string[] }> {
    const bucket = await newTestBucket(clients.s3, "approval-mixed", { versioned: true });
    const seeded = await admin.seed(bucket, [
      { key: "big.bin", size: 6 * 1024 ** 3, encryption: { type: "NOT-SSE" } },
      { key: "small.txt", body: "small", encryption: { type: "NOT-SSE" } },
    ]);
    return { bucket, versionIds: seeded.versions.map((v) => v.versionId) };
  }

  it("leaves objects over 5 GiB alone when the operator cancels the jobs instead of approving them", async () => {
    const { bucket, versionIds } = await bucketWithSmallAndLargeObjects();
    const { result, states } = await run(bucket, true, "Cancelled");
    expect(states).toContain(StateNames.waitingForApproval);
    expect(result.status).toBe("FAILED");
    if (result.status !== "FAILED") return;
    expect(result.error).toBe(ErrorNames.ApprovalNotPossible);
    expect(result.cause).toMatch(/ended Cancelled without running a task, so nobody approved/);
    const versions = await admin.versions(bucket);
    expect(versions.map((v) => v.versionId).sort()).toEqual([...versionIds].sort());
  });

  it("copies objects over 5 GiB after the jobs were approved and ran", async () => {
    const { bucket, versionIds } = await bucketWithSmallAndLargeObjects();
    const { result } = await run(bucket, true, "Ready");
    expect(result.status === "FAILED" ? result.cause : result.status).toBe("SUCCEEDED");
    const current = (await admin.versions(bucket)).filter((v) => v.isLatest);
    expect(current.map((v) => v.encryption)).toEqual([
      { type: "SSE-KMS", keyArn, bucketKeyEnabled: true },
      { type: "SSE-KMS", keyArn, bucketKeyEnabled: true },
    ]);
    expect(current.every((v) => !versionIds.includes(v.versionId))).toBe(true);
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
