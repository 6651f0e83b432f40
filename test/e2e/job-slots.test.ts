import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateJobCommand, DescribeJobCommand, UpdateJobStatusCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Jobs } from "../../contract/plan.ts";
import { StateNames } from "../../contract/states.ts";
import { sandboxBatchRoleArn } from "../../local/deploy.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { finalReport, runOnScenario } from "../support/run-scenario.ts";

/**
 * maxActiveJobs: a run creates no copy job while the account's other live rekey jobs leave no room for its own; it
 * waits in "Wait for a copy job slot", and goes on once they end.
 */
describe("a run under maxActiveJobs", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;

  beforeAll(async () => {
    sandbox = await startSandbox();
    clients = rekeyClients(sandbox);
    admin = new SandboxAdmin(sandbox.endpoint);
    scenario = await seedMixedBucket(clients, admin, {
      bucket: "slots-data",
      workBucket: "slots-work",
      objects: 16,
      objectLock: false,
    });
  }, 120_000);
  afterAll(async () => {
    await sandbox?.close();
  });

  /** Another run's job, as rekey describes its jobs, kept Active by a slow task rate. */
  async function otherRunsJob(): Promise<string> {
    await clients.s3.send(new CreateBucketCommand({ Bucket: "slots-other" }));
    const keys = ["a", "b", "c", "d"];
    for (const k of keys) await clients.s3.send(new PutObjectCommand({ Bucket: "slots-other", Key: k, Body: k }));
    const manifest = await clients.s3.send(
      new PutObjectCommand({
        Bucket: "slots-other",
        Key: "manifest.csv",
        Body: keys.map((k) => `slots-other,${k}\n`).join(""),
      }),
    );
    const { JobId } = await clients.s3control.send(
      new CreateJobCommand({
        AccountId: sandbox.identity.accountId,
        ConfirmationRequired: false,
        Operation: { S3PutObjectCopy: { TargetResource: "arn:aws:s3:::slots-other" } },
        Manifest: {
          Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
          Location: { ObjectArn: "arn:aws:s3:::slots-other/manifest.csv", ETag: manifest.ETag ?? "" },
        },
        Report: { Enabled: false },
        Priority: 10,
        RoleArn: sandboxBatchRoleArn(sandbox.identity),
        Description: "rekey slots-other STANDARD plans/slots-other/x/ (slots-other-20261203)",
        ClientRequestToken: "slots-other-job",
      }),
    );
    if (!JobId) throw new Error("no job id");
    return JobId;
  }

  it("waits for a slot while another run's job is live, then creates its jobs once that one ends", async () => {
    const { accountId } = sandbox.identity;
    await admin.request("POST", "/_sandbox/batch/settings", { tasksPerSecond: 0.05 });
    const other = await otherRunsJob();
    const seen: string[] = [];
    let waiting: Jobs["waitingForSlots"];
    const result = await runOnScenario({
      sandbox,
      scenario,
      name: "slots-run-1",
      source: "generate",
      options: { maxActiveJobs: 2 },
      onEvent: (event) => {
        if (event.type !== "StateEntered") return;
        seen.push(event.state.name);
        if (event.state.name === StateNames.waitForJobSlot && !waiting) {
          waiting = (event.state.input as { jobs: Jobs }).jobs.waitingForSlots;
          // The other run's job ends: cancelled, as rekey stop would; and the run's own jobs may go fast.
          void (async () => {
            await clients.s3control.send(
              new UpdateJobStatusCommand({ AccountId: accountId, JobId: other, RequestedJobStatus: "Cancelled" }),
            );
            await admin.request("POST", "/_sandbox/batch/settings", { tasksPerSecond: null });
          })();
        }
      },
    });
    expect(finalReport(result).outcome).toBe("succeeded");
    // It needed more jobs than fit beside the other one (1 + its own > 2), so it waited, then created them.
    expect(waiting).toMatchObject({ active: 1, bound: 2 });
    expect(waiting?.needed).toBeGreaterThan(1);
    expect(seen.indexOf(StateNames.waitForJobSlot)).toBeLessThan(seen.lastIndexOf(StateNames.createCopyJobs));
    expect(seen).toContain(StateNames.checkCopyJobs);
    const job = await clients.s3control.send(new DescribeJobCommand({ AccountId: accountId, JobId: other }));
    expect(job.Job?.Status).toMatch(/Cancel/);
  });
});
