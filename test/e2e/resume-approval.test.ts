import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import { startSandboxExecution } from "../../local/sandbox-run.ts";
import { becomesCompliant, type MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { versionsPerKey as countVersions } from "../support/bucket-snapshot.ts";
import { rekey } from "../support/cli.ts";
import { finalReport, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * An execution that waited for approval was stopped straight through Step Functions (the console's Stop), so its
 * jobs still wait for confirmation. A new run with approval required reuses those jobs: it still waits for the
 * operator, copies nothing before, and its report says whose jobs they were and when they were created.
 */
describe("a re-run that reuses another execution's jobs", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;

  beforeAll(async () => {
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "reuse-data",
      workBucket: "reuse-work",
      objects: 30,
    }));
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const versionsPerKey = () => countVersions(clients.s3, scenario.bucket);

  /** Starts a run with approval required; resolves once it waits for approval, with its final result to come. */
  function startWaiting(name: string): {
    waiting: Promise<void>;
    result: Promise<ExecutionResult>;
    abort: () => Promise<void>;
  } {
    let entered: () => void = () => {};
    const waiting = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let delivered = false;
    const execution = startSandboxExecution({
      sandbox,
      name,
      input: {
        bucket: scenario.bucket,
        kmsKeyArn: scenario.targetKeyArn,
        inventoryConfigurationId: scenario.inventoryConfigurationId,
        workBucket: scenario.workBucket,
        options: { inventoryPollSeconds: 1, jobPollMinSeconds: 1, jobPollMaxSeconds: 1, requireApproval: true },
      },
      onEvent: (event) => {
        if (event.type !== "StateEntered") return;
        if (event.state.name === StateNames.waitForInventory) {
          if (!delivered)
            void admin.deliverInventory({
              bucket: scenario.bucket,
              configurationId: scenario.inventoryConfigurationId,
            });
          delivered = true;
        }
        if (event.state.name === StateNames.waitingForApproval) entered();
      },
    });
    return { waiting, result: execution.result, abort: () => execution.abort().then(() => undefined) };
  }

  it("waits for approval, copies nothing before it, and reports the reused jobs as the earlier run's", async () => {
    const before = await versionsPerKey();
    const first = startWaiting("approval-first");
    await first.waiting;
    await first.abort();
    expect((await first.result).status).toBe("ABORTED");

    const second = startWaiting("approval-second");
    await second.waiting;
    // Waiting: nothing has been copied, by either run.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await versionsPerKey()).toEqual(before);

    const executionArn = `arn:aws:states:${sandbox.identity.region}:${sandbox.identity.accountId}:execution:rekey:approval-second`;
    const approved = await rekey(sandbox, "approve", "--execution", executionArn);
    expect(approved.err).toBe("");
    expect(approved.code).toBe(0);
    const out = finalReport(await second.result);
    expect(out.outcome).toBe("succeeded");

    const report = JSON.parse(
      await getText(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/approval-second/report.json`),
    ) as RunReport;
    const reused = report.jobs.filter((j) => j.createdBy !== undefined);
    expect(reused.length).toBeGreaterThan(0);
    expect(reused.every((j) => j.createdBy === "approval-first" && j.createdAt !== undefined)).toBe(true);
    const byJobs = reused.reduce((n, j) => n + j.succeeded, 0);
    expect(report.totals.doneEarlier).toBe(byJobs);
    expect(report.earlierRuns).toEqual([
      {
        runId: "approval-first",
        objects: byJobs,
        reusedJobs: reused.map((j) => ({ jobId: j.jobId, createdAt: j.createdAt })),
      },
    ]);
    // This run's own work: the objects over 5 GiB it copied part by part after the approval.
    expect(report.totals.reencrypted).toBe(scenario.keys.filter((k) => k.expectation === "large-copy").length);
    expect(out.summary).toMatch(/earlier run approval-first: \d+ object\(s\) made compliant; this run reused its job /);

    const after = await versionsPerKey();
    for (const k of scenario.keys.filter((k) => becomesCompliant(k.expectation))) {
      const copied = k.expectation === "reencrypt" || k.expectation === "large-copy" ? 1 : 0;
      expect({ key: k.key, versions: after.get(k.key) }).toEqual({
        key: k.key,
        versions: (before.get(k.key) ?? 0) + copied,
      });
    }
  }, 240_000);
});
