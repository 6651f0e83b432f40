import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment, startSandboxExecution } from "../../local/sandbox-run.ts";
import { becomesCompliant, type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { succeededTasks } from "../support/batch-jobs.ts";
import { versionsPerKey as countVersions } from "../support/bucket-snapshot.ts";
import { rekey } from "../support/cli.ts";
import { finalReport, runOnScenario } from "../support/run-scenario.ts";

/**
 * A run after `rekey stop`, from the same inventory, resumes: nothing the stopped run already made compliant gets a
 * second new version, every object ends compliant, and the report says what the earlier run did.
 */
describe("a run after rekey stop resumes without repeating", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let scenario: MixedBucket;

  beforeAll(async () => {
    // Slow enough that the stop lands while the copy jobs are part-way through.
    sandbox = await startSandbox({ batchTasksPerSecond: 4 });
    await rekeyDeployment(sandbox);
    clients = rekeyClients(sandbox);
    scenario = await seedMixedBucket(clients, new SandboxAdmin(sandbox.endpoint), {
      bucket: "resume-data",
      workBucket: "resume-work",
      objects: 60,
    });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const versionsPerKey = () => countVersions(clients.s3, scenario.bucket);

  it("start, stop part-way, start again: no object gets a second new version; every object compliant; the report names the earlier run", async () => {
    const before = await versionsPerKey();
    const admin = new SandboxAdmin(sandbox.endpoint);
    const first = startSandboxExecution({
      sandbox,
      name: "stopped-run",
      input: {
        bucket: scenario.bucket,
        kmsKeyArn: scenario.targetKeyArn,
        inventoryConfigurationId: scenario.inventoryConfigurationId,
        workBucket: scenario.workBucket,
        options: { inventoryPollSeconds: 1, jobPollMinSeconds: 1, jobPollMaxSeconds: 1 },
      },
      onEvent: (event) => {
        if (event.type === "StateEntered" && event.state.name === StateNames.waitForInventory) {
          void admin.deliverInventory({ bucket: scenario.bucket, configurationId: scenario.inventoryConfigurationId });
        }
      },
    });
    for (let i = 0; (await succeededTasks(clients.s3control, sandbox.identity.accountId)) < 3; i++) {
      if (i > 600) throw new Error("the first run's jobs never started copying");
      await new Promise((r) => setTimeout(r, 100));
    }
    const stopped = await rekey(sandbox, "stop", "--execution", first.executionArn, "--reason", "window closed");
    expect(stopped.code).toBe(0);
    expect((await first.result).status).toBe("ABORTED");
    const doneBefore = [...stopped.out.matchAll(/(\d+) of \d+ objects were re-encrypted before the stop/g)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
    expect(doneBefore).toBeGreaterThan(0);

    // The athena engine: with an earlier run's work to leave out object by object, Athena does not route the rows
    // itself (steps/domain/inventory-routes.ts); every current version goes through the step.
    const second = finalReport(await runOnScenario({ sandbox, scenario, name: "resumed-run", engine: "athena" }));
    expect(second.outcome).toBe("succeeded");
    expect(second.summary).toMatch(/by the athena engine/);
    const deliveries = await clients.s3.send(
      new ListObjectsV2Command({ Bucket: scenario.workBucket, Prefix: "plans/" }),
    );
    const sources = await Promise.all(
      (deliveries.Contents ?? [])
        .filter((o) => o.Key?.endsWith("/delivery.json"))
        .map(async (o) => JSON.parse(await getText(clients.s3, scenario.workBucket, o.Key ?? ""))),
    );
    const athena = sources.filter((source) => source.engine?.name === "athena");
    expect(athena).toHaveLength(1);
    expect(athena[0].athena.routed).toBeUndefined();
    expect(athena[0].athena.files.length).toBeGreaterThan(0);
    expect(athena[0].athena.files.every((f: { part?: string }) => f.part === undefined)).toBe(true);

    // Each copied key has exactly one version more than seeded: the stopped run's copy or the resumed run's, not both.
    const after = await versionsPerKey();
    for (const k of scenario.keys.filter((k) => k.expectation === "reencrypt")) {
      expect({ key: k.key, versions: after.get(k.key) }).toEqual({
        key: k.key,
        versions: (before.get(k.key) ?? 0) + 1,
      });
    }
    for (const k of scenario.keys.filter((k) => becomesCompliant(k.expectation) && k.expectation !== "reencrypt")) {
      expect({ key: k.key, versions: after.get(k.key) ?? 0 }).toEqual({
        key: k.key,
        versions: (before.get(k.key) ?? 0) + (k.expectation === "large-copy" ? 1 : 0),
      });
    }

    const report = JSON.parse(
      await getText(clients.s3, scenario.workBucket, second.reportLocation.replace(`s3://${scenario.workBucket}/`, "")),
    ) as RunReport;
    expect(report.reconciliation).toEqual({ ok: true, problems: [] });
    // What the stopped run did is left out of the plan and counted as its work; no copy was refused as changed.
    expect(report.totals.doneEarlier).toBe(doneBefore);
    expect(report.totals.changed).toBe(0);
    expect(report.earlierRuns).toEqual([{ runId: "stopped-run", objects: doneBefore, reusedJobs: [] }]);
    expect(second.summary).toContain(`earlier run stopped-run: ${doneBefore} object(s) made compliant`);
  }, 240_000);
});
