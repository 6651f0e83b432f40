import { DescribeJobCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StateNames } from "../../contract/states.ts";
import { sandboxWorkBucket } from "../../local/deploy.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { becomesCompliant, type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { type CliResult, rekey } from "../support/cli.ts";

const FAST = ["--inventory-poll-seconds", "1", "--job-poll-min-seconds", "1", "--job-poll-max-seconds", "1"];

async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs started with --require-approval copy nothing until the operator approves; stop ends them cleanly. */
describe("approval before copying", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;

  beforeAll(async () => {
    sandbox = await startSandbox();
    await rekeyDeployment(sandbox);
    clients = rekeyClients(sandbox);
    admin = new SandboxAdmin(sandbox.endpoint);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  async function startAwaitingApproval(
    bucket: string,
  ): Promise<{ scenario: MixedBucket; executionArn: string; status: string }> {
    const scenario = await seedMixedBucket(clients, admin, {
      bucket,
      workBucket: sandboxWorkBucket(sandbox.identity),
      objects: 40,
    });
    const started = await rekey(
      sandbox,
      "start",
      "--bucket",
      bucket,
      "--kms-key",
      scenario.targetKeyArn,
      "--inventory-config",
      scenario.inventoryConfigurationId,
      ...FAST,
      "--require-approval",
      "--output",
      "json",
    );
    expect(started.code).toBe(0);
    const { executionArn } = JSON.parse(started.out) as { executionArn: string };
    await until(async () => {
      const s = JSON.parse((await rekey(sandbox, "status", "--execution", executionArn, "--output", "json")).out) as {
        currentState?: string;
      };
      return /inventory/.test(s.currentState ?? "");
    }, "the inventory wait");
    await admin.deliverInventory({ bucket, configurationId: scenario.inventoryConfigurationId });
    let status = "";
    await until(async () => {
      status = (await rekey(sandbox, "status", "--execution", executionArn)).out;
      return status.includes("now:       Waiting for approval");
    }, "the approval wait");
    return { scenario, executionArn, status };
  }

  const currentEncryptions = async (bucket: string) =>
    (await admin.versions(bucket)).filter((v) => v.isLatest && !v.isDeleteMarker).map((v) => v.encryption.type);

  it("waits with the plan visible, copies nothing, and proceeds on approve", async () => {
    const { scenario, executionArn, status } = await startAwaitingApproval("approve-data");
    expect(status).toMatch(/copy nothing until you run rekey approve/);
    expect(status).toMatch(/copy \d+ STANDARD objects/);
    expect(status).toContain(`rekey approve --execution ${executionArn}`);
    expect(status).toMatch(/One-time cost: \$\d/);
    expect(status).toMatch(/Duration: .+ to .+ \(assumed rates\)/);
    const before = await admin.versions(scenario.bucket);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await admin.versions(scenario.bucket)).length).toBe(before.length);

    const approved = await rekey(sandbox, "approve", "--execution", executionArn);
    expect(approved.err).toBe("");
    expect(approved.code).toBe(0);
    expect(approved.out).toMatch(/Approved approve-data-\d{8}: \d+ job\(s\) start copying/);
    const watched = await rekey(sandbox, "status", "--execution", executionArn, "--watch", "--interval", "1");
    expect(watched.code).toBe(0);
    expect(watched.out).toMatch(/SUCCEEDED/);
    const expected = scenario.keys.filter((k) => becomesCompliant(k.expectation)).length;
    expect(watched.out).toMatch(new RegExp(`Re-encrypted\\s+${expected}\\b`));
    expect((await rekey(sandbox, "approve", "--execution", executionArn)).code).toBe(1);
  }, 120_000);

  it("approves a run caught in the check its approval wait loops through", async () => {
    const { executionArn } = await startAwaitingApproval("approve-mid-check");
    const { functionNames } = await rekeyDeployment(sandbox);
    let approved: CliResult | undefined;
    // Runs inside the next "Check copy jobs" invocation: the run's current state is that check, not the wait.
    const off = sandbox.lambda.beforeInvoke(functionNames[StateNames.checkCopyJobs], async () => {
      approved ??= await rekey(sandbox, "approve", "--execution", executionArn);
    });
    try {
      await until(async () => approved !== undefined, "the next check of the copy jobs");
    } finally {
      off();
    }
    expect(approved?.err).toBe("");
    expect(approved?.code).toBe(0);
    expect(approved?.out).toMatch(/Approved approve-mid-check-\d{8}: \d+ job\(s\) start copying/);
  }, 120_000);

  it("ends cleanly on stop: jobs cancelled before copying anything", async () => {
    const { scenario, executionArn } = await startAwaitingApproval("reject-data");
    const encryptionsBefore = await currentEncryptions(scenario.bucket);
    const stopped = await rekey(sandbox, "stop", "--execution", executionArn, "--reason", "not approved");
    expect(stopped.code).toBe(0);
    expect(stopped.out).toMatch(/Cancelled; 0 of \d+ objects were re-encrypted before the stop/);
    expect(stopped.out).toContain("2 object(s) over 5 GiB were planned; their copy had not started.");
    for (const jobId of [...stopped.out.matchAll(/job (\S+): /g)].map((m) => m[1] ?? "")) {
      const { Job } = await clients.s3control.send(
        new DescribeJobCommand({ AccountId: sandbox.identity.accountId, JobId: jobId }),
      );
      expect(Job?.Status).toBe("Cancelled");
    }
    expect(await currentEncryptions(scenario.bucket)).toEqual(encryptionsBefore);
  }, 120_000);
});
