import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DisableKeyCommand, EnableKeyCommand } from "@aws-sdk/client-kms";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment, startSandboxExecution } from "../../local/sandbox-run.ts";
import { type Expectation, type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { succeededTasks } from "../support/batch-jobs.ts";
import { differences, type Expected, type ObjectState, snapshotBucket } from "../support/bucket-snapshot.ts";
import { finalReport, runOnScenario } from "../support/run-scenario.ts";
import { until } from "../support/until.ts";

/**
 * The fault matrix: each fault injected into a real run in the sandbox, and the bucket then compared object by
 * object, with the SDK, against a snapshot taken before the run (bytes, metadata, content type, tags, class,
 * versions, encryption): nothing lost, nothing silently changed, nothing done twice, and the report says what
 * happened. Faults covered in their own files: throttled and denied Batch tasks (redrive.test.ts), stop then resume
 * (resume.test.ts), a job failing on its manifest (resume-manifest-etag.test.ts), two concurrent starts
 * (bucket-lock.test.ts), keys not encoded as planned (confirmed-gone.test.ts), step crashes (step-crash.test.ts).
 */

/** What a run that completes does to each seeded key (the sandbox's default: encryption updates in place). */
function planned(scenario: MixedBucket): (key: string) => Expected {
  const byKey = new Map(scenario.keys.map((k) => [k.key, k.expectation]));
  return (key) => expectedOf(byKey.get(key));
}

function expectedOf(expectation: Expectation | undefined): Expected {
  switch (expectation) {
    case "reencrypt":
    case "large-copy":
      return "copied";
    case "update-from-sse-s3":
    case "update-from-sse-kms":
      return "updated";
    default:
      return "untouched";
  }
}

async function reportOf(clients: AwsClients, scenario: MixedBucket, location: string): Promise<RunReport> {
  return JSON.parse(
    await getText(clients.s3, scenario.workBucket, location.replace(`s3://${scenario.workBucket}/`, "")),
  ) as RunReport;
}

describe("the fault matrix", () => {
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

  const seed = (name: string) =>
    seedMixedBucket(clients, admin, { bucket: `fm-${name}`, workBucket: `fm-${name}-work`, objects: 16 });

  it("throttled step calls (S3, KMS, S3 Control): the run succeeds and every object ends as planned, once", async () => {
    const scenario = await seed("throttled");
    const before = await snapshotBucket(clients.s3, scenario.bucket);
    // A seeded share of every call the steps make (half of the few KMS calls), failed with each service's throttling error.
    const rules = await admin.addFaults(
      { service: "s3", share: 0.1, seed: 3 },
      { service: "kms", share: 0.5, seed: 4 },
      { service: "s3control", share: 0.1, seed: 5 },
    );
    let result: Awaited<ReturnType<typeof runOnScenario>>;
    try {
      result = await runOnScenario({ sandbox, scenario, name: "throttled-steps" });
    } finally {
      const seen = await admin.faults();
      await admin.clearFaults();
      // The faults happened: each rule failed some of the steps' calls.
      for (const rule of rules) expect(seen.find((r) => r.id === rule.id)?.injected, rule.service).toBeGreaterThan(0);
    }
    const report = finalReport(result);
    expect(report.outcome).toBe("succeeded");
    const after = await snapshotBucket(clients.s3, scenario.bucket);
    expect(differences(before, after, scenario.targetKeyArn, planned(scenario))).toEqual([]);
  }, 240_000);

  it("objects deleted and overwritten between planning and copy: the newer write kept as written, class included", async () => {
    const scenario = await seed("changed");
    const before = await snapshotBucket(clients.s3, scenario.bucket);
    const copies = scenario.keys.filter((k) => k.expectation === "reencrypt");
    const [overwritten, deleted] = [copies[0]?.key ?? "", copies[1]?.key ?? ""];
    let newer: ObjectState | undefined;
    const result = await runOnScenario({
      sandbox,
      scenario,
      name: "changed-mid-run",
      beforeStep: {
        [StateNames.createCopyJobs]: async () => {
          if (newer) return;
          // An application writes while the run goes on: a new body, metadata, tags and class, no encryption
          // headers (the bucket default, enforced by now, encrypts it).
          await clients.s3.send(
            new PutObjectCommand({
              Bucket: scenario.bucket,
              Key: overwritten,
              Body: "written by the application during the run",
              ContentType: "application/x-newer",
              Metadata: { writer: "app" },
              Tagging: "written=during-run",
              StorageClass: "STANDARD_IA",
            }),
          );
          await clients.s3.send(new DeleteObjectCommand({ Bucket: scenario.bucket, Key: deleted }));
          newer = (await snapshotBucket(clients.s3, scenario.bucket)).get(overwritten);
        },
      },
    });
    const report = finalReport(result);
    expect(newer?.storageClass).toBe("STANDARD_IA");
    const after = await snapshotBucket(clients.s3, scenario.bucket);
    const expected = planned(scenario);
    expect(
      differences(before, after, scenario.targetKeyArn, (key) =>
        key === overwritten ? { writtenDuringRun: newer as ObjectState } : key === deleted ? "deleted" : expected(key),
      ),
    ).toEqual([]);
    // Counted as what happened to them, not as re-encrypted.
    expect(report.totals.changed).toBe(1);
    expect(report.totals.gone).toBe(1);
    expect(report.totals.failed).toBe(0);
  }, 240_000);

  it("the KMS key disabled mid-job: the run stops naming the key state, nothing half-done; re-enabled, a new run finishes without a second copy", async () => {
    const scenario = await seed("kms-disabled");
    const before = await snapshotBucket(clients.s3, scenario.bucket);
    // Slow tasks, so the key is disabled while the jobs are part-way through.
    sandbox.batch.engine.tasksPerSecond = 3;
    let disabled = false;
    let first: Awaited<ReturnType<typeof runOnScenario>>;
    try {
      first = await runOnScenario({
        sandbox,
        scenario,
        name: "key-disabled",
        options: { cancelAfterFailedTasks: 2 },
        beforeStep: {
          [StateNames.checkCopyJobs]: async () => {
            if (disabled) return;
            disabled = true;
            await clients.kms.send(new DisableKeyCommand({ KeyId: scenario.targetKeyArn }));
          },
        },
      });
    } finally {
      sandbox.batch.engine.tasksPerSecond = undefined;
      await clients.kms.send(new EnableKeyCommand({ KeyId: scenario.targetKeyArn }));
    }
    expect(first.status).toBe("FAILED");
    expect(first.status === "FAILED" ? first.error : "").toBe("SystemicTaskFailureError");
    expect(first.status === "FAILED" ? first.cause : "").toMatch(/disabled/i);

    // Each object either untouched or copied exactly once: never half-written, never twice.
    const between = await snapshotBucket(clients.s3, scenario.bucket);
    const partly = (key: string, was: ObjectState): Expected => {
      const now = between.get(key);
      if (!now || now.versionId === was.versionId) {
        const compliant = now?.encryption === "aws:kms" && now.kmsKeyId === scenario.targetKeyArn && now.bucketKey;
        return compliant && !(was.kmsKeyId === scenario.targetKeyArn && was.bucketKey) ? "updated" : "untouched";
      }
      return "copied";
    };
    expect(differences(before, between, scenario.targetKeyArn, partly)).toEqual([]);
    // The fault struck part-way: some of the planned work was left for the next run.
    const done = [...before].filter(([k, was]) => partly(k, was) !== "untouched");
    const toDo = [...before.keys()].filter((k) => planned(scenario)(k) !== "untouched");
    expect(done.length).toBeLessThan(toDo.length);

    const second = finalReport(await runOnScenario({ sandbox, scenario, name: "key-enabled-again" }));
    expect(second.outcome).toBe("succeeded");
    const after = await snapshotBucket(clients.s3, scenario.bucket);
    expect(differences(before, after, scenario.targetKeyArn, planned(scenario))).toEqual([]);
    const report = await reportOf(clients, scenario, second.reportLocation);
    expect(report.reconciliation).toEqual({ ok: true, problems: [] });
  }, 300_000);
});

describe("the sandbox restarted mid-run (its data directory kept)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "fault-matrix-"));
  const open: Sandbox[] = [];
  afterAll(async () => {
    for (const sandbox of open) await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the running execution ends FAILED saying why; a new run finishes the bucket without a second copy", async () => {
    // Slow tasks, so the restart lands while the copy jobs are part-way through.
    const first = await startSandbox({ dataDir: dir, batchTasksPerSecond: 3 });
    await rekeyDeployment(first);
    const clients = rekeyClients(first);
    const admin = new SandboxAdmin(first.endpoint);
    const scenario = await seedMixedBucket(clients, admin, {
      bucket: "fm-restart",
      workBucket: "fm-restart-work",
      objects: 16,
    });
    const before = await snapshotBucket(clients.s3, scenario.bucket);
    const accountId = first.identity.accountId;
    const running = startSandboxExecution({
      sandbox: first,
      name: "before-restart",
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
    await until(
      "the copy jobs to start copying",
      async () => ((await succeededTasks(clients.s3control, accountId)) >= 2 ? true : undefined),
      60_000,
    );
    await first.close();
    // Following the execution fails once the sandbox is gone; the execution itself is what matters.
    await running.result.catch(() => undefined);

    const second = await startSandbox({ dataDir: dir });
    open.push(second);
    await rekeyDeployment(second);
    const after = rekeyClients(second);
    const described = await after.sfn.send(new DescribeExecutionCommand({ executionArn: running.executionArn }));
    expect(described.status).toBe("FAILED");
    expect(described.cause ?? "").toMatch(/sandbox stopped while this execution was running/);

    const resumed = finalReport(await runOnScenario({ sandbox: second, scenario, name: "after-restart" }));
    expect(resumed.outcome).toBe("succeeded");
    const end = await snapshotBucket(after.s3, scenario.bucket);
    expect(differences(before, end, scenario.targetKeyArn, planned(scenario))).toEqual([]);
  }, 300_000);
});
