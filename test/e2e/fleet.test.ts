import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListJobsCommand } from "@aws-sdk/client-s3-control";
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetStatus } from "../../cli/commands/fleet.ts";
import { STATE_MACHINE_NAME, sandboxWorkBucket } from "../../local/deploy.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { type FleetScenario, seedFleet } from "../../local/scenarios/fleet.ts";
import { seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { rekey } from "../support/cli.ts";

const FAST = ["--job-poll-min-seconds", "1", "--job-poll-max-seconds", "2"];

/** The most runs that were going at one moment, from each run's start and stop. */
function mostAtOnce(runs: { start: number; stop: number }[]): number {
  const edges = runs.flatMap((r) => [
    { at: r.start, d: 1 },
    { at: r.stop, d: -1 },
  ]);
  // An end and a start at the same moment: the end first (the slot was freed for the start).
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let most = 0;
  for (const e of edges) {
    now += e.d;
    most = Math.max(most, now);
  }
  return most;
}

/**
 * `rekey fleet` end to end in the sandbox: scan an account, start a fleet from the scan's output with a bound on
 * runs at once, one bucket's run failing without stopping the others, and a roll-up matching each bucket's report;
 * then a fleet stopped while a run waits for approval.
 */
describe("rekey fleet", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let fleet: FleetScenario;
  let dir: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ batchTasksPerSecond: 200 });
    await rekeyDeployment(sandbox);
    clients = rekeyClients(sandbox);
    admin = new SandboxAdmin(sandbox.endpoint);
    fleet = await seedFleet(clients, admin, {
      prefix: "fleet-",
      workBucket: sandboxWorkBucket(sandbox.identity),
      objects: 16,
    });
    dir = await mkdtemp(join(tmpdir(), "rekey-fleet-test-"));
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("runs the buckets that need it, at most the bound at once, one failure stopping no other, and rolls them up", async () => {
    const scan = await rekey(
      sandbox,
      "scan",
      "--kms-key",
      fleet.targetKeyArn,
      "--prefix",
      "fleet-",
      "--output",
      "json",
    );
    expect(scan.code, scan.err).toBe(0);
    const scanFile = join(dir, "scan.json");
    await writeFile(scanFile, scan.out);
    // The logs bucket's run fails after its checks: S3 refuses it the default encryption.
    const logs = fleet.mixed[1]?.bucket ?? "";
    await admin.addFaults({
      service: "s3",
      operation: "PutBucketEncryption",
      bucket: logs,
      count: 1000,
      error: "accessDenied",
    });

    const start = await rekey(
      sandbox,
      "fleet",
      "start",
      "--kms-key",
      fleet.targetKeyArn,
      "--buckets-file",
      scanFile,
      "--source",
      "generate",
      "--max-concurrent-runs",
      "2",
      ...FAST,
      "--output",
      "json",
    );
    expect(start.code, start.err).toBe(0);
    const started = JSON.parse(start.out) as {
      fleet: string;
      buckets: { bucket: string; name: string }[];
      excluded: { bucket: string; reason: string }[];
    };
    // Smallest first: the empty bucket, then the smaller mixed bucket, then the larger.
    expect(started.buckets.map((b) => b.bucket)).toEqual([fleet.emptyWithoutDefault, logs, fleet.mixed[0]?.bucket]);
    expect(Object.fromEntries(started.excluded.map((e) => [e.bucket, e.reason]))).toEqual({
      [fleet.compliant]: expect.stringContaining("compliant"),
      [fleet.unversioned]: expect.stringContaining("versioning-disabled"),
    });

    let status: FleetStatus | undefined;
    for (let i = 0; i < 600; i++) {
      const r = await rekey(sandbox, "fleet", "status", "--fleet", started.fleet, "--output", "json");
      status = JSON.parse(r.out) as FleetStatus;
      if (status.status !== "RUNNING" && !status.buckets.some((b) => b.status === "RUNNING")) break;
      await new Promise((done) => setTimeout(done, 500));
    }
    if (!status) throw new Error("no fleet status");
    expect(status.status).toBe("SUCCEEDED");
    const byBucket = Object.fromEntries(status.buckets.map((b) => [b.bucket, b]));
    expect(byBucket[logs]).toMatchObject({ status: "FAILED" });
    expect(byBucket[logs]?.error).toMatch(/AccessDenied/);
    expect(byBucket[fleet.emptyWithoutDefault]).toMatchObject({
      status: "SUCCEEDED",
      outcome: "succeeded",
      reencrypted: 0,
    });
    expect(byBucket[fleet.mixed[0]?.bucket ?? ""]).toMatchObject({ status: "SUCCEEDED" });

    // Each row and the totals match the bucket's own report.
    let reencrypted = 0;
    let failed = 0;
    let skipped = 0;
    for (const b of started.buckets) {
      if (b.bucket === logs) continue;
      const report = await rekey(sandbox, "report", "--execution", b.name, "--output", "json");
      expect(report.code, report.err).toBe(0);
      const totals = (JSON.parse(report.out) as { report: { totals: Record<string, number> } }).report.totals;
      expect(byBucket[b.bucket]).toMatchObject({
        reencrypted: totals.reencrypted,
        skipped: totals.skipped,
        failed: totals.failed,
        alreadyCompliant: totals.alreadyCompliant,
      });
      reencrypted += totals.reencrypted ?? 0;
      failed += totals.failed ?? 0;
      skipped += totals.skipped ?? 0;
    }
    expect(reencrypted).toBeGreaterThan(0);
    expect(status.totals).toMatchObject({ buckets: 3, reencrypted, failedObjects: failed, skipped, failedRuns: 1 });

    // Never more runs at once than the bound, by the runs' own start and stop times.
    const machine = `arn:aws:states:${sandbox.identity.region}:${sandbox.identity.accountId}:stateMachine:${STATE_MACHINE_NAME}`;
    const runs = [];
    for (const b of started.buckets) {
      const d = await clients.sfn.send(
        new DescribeExecutionCommand({ executionArn: `${machine.replace(":stateMachine:", ":execution:")}:${b.name}` }),
      );
      runs.push({ start: d.startDate?.getTime() ?? 0, stop: d.stopDate?.getTime() ?? 0 });
    }
    expect(mostAtOnce(runs)).toBeLessThanOrEqual(2);

    const table = await rekey(sandbox, "fleet", "status", "--fleet", started.fleet);
    expect(table.code).toBe(1); // a bucket's run failed
    expect(table.out).toMatch(/TOTAL \(3\)/);
    await admin.clearFaults();

    // The same scan again: the buckets whose run succeeded are left out, the failed one runs again.
    const again = await rekey(
      sandbox,
      "fleet",
      "start",
      "--kms-key",
      fleet.targetKeyArn,
      "--buckets-file",
      scanFile,
      "--source",
      "generate",
      "--dry-run",
      "--output",
      "json",
    );
    expect(again.code, again.err).toBe(0);
    const retry = JSON.parse(again.out) as typeof started;
    expect(retry.buckets.map((b) => b.bucket)).toEqual([logs]);
    expect(retry.buckets[0]?.name).toBe(`${started.buckets[1]?.name}-2`);
    const doneReason = Object.fromEntries(retry.excluded.map((e) => [e.bucket, e.reason]));
    expect(doneReason[fleet.emptyWithoutDefault]).toMatch(/^re-encrypted by .*--include-done/);
    expect(doneReason[fleet.mixed[0]?.bucket ?? ""]).toMatch(/^re-encrypted by/);
  });

  // Whether Step Functions' best-effort stop of a stopped fleet's waiting run succeeds or not (sandbox/behaviours.ts).
  it.each(["Stopped", "LeftRunning"] as const)(
    "stops a fleet: no further run starts, and the run going is stopped with its jobs cancelled (nested run on abort: %s)",
    async (onAbort) => {
      await admin.request("POST", "/_sandbox/behaviours", { nestedExecutionOnAbort: onAbort });
      const tag = onAbort.toLowerCase();
      // Buckets of their own: the first test left the fleet's re-encrypted.
      const keys = { targetKeyArn: fleet.targetKeyArn, otherKeyArn: fleet.mixed[0]?.otherKeyArn ?? "" };
      const seed = (bucket: string) =>
        seedMixedBucket(clients, admin, {
          bucket,
          workBucket: sandboxWorkBucket(sandbox.identity),
          objects: 8,
          objectLock: false,
          keys,
        });
      const [first, second] = [await seed(`stop-a-${tag}`), await seed(`stop-b-${tag}`)];
      const start = await rekey(
        sandbox,
        "fleet",
        "start",
        "--kms-key",
        fleet.targetKeyArn,
        "--bucket",
        first.bucket,
        "--bucket",
        second.bucket,
        "--source",
        "generate",
        "--change-id",
        `STOP-${tag}`,
        "--require-approval",
        "--max-concurrent-runs",
        "1",
        ...FAST,
        "--output",
        "json",
      );
      expect(start.code, start.err).toBe(0);
      const { fleet: name } = JSON.parse(start.out) as { fleet: string };
      let status: FleetStatus | undefined;
      for (let i = 0; i < 600; i++) {
        const r = await rekey(sandbox, "fleet", "status", "--fleet", name, "--output", "json");
        status = JSON.parse(r.out) as FleetStatus;
        if (status.buckets.some((b) => b.currentState === "Waiting for approval")) break;
        await new Promise((done) => setTimeout(done, 300));
      }
      expect(status?.buckets.map((b) => b.status).sort()).toEqual(["QUEUED", "RUNNING"]);

      const stop = await rekey(sandbox, "fleet", "stop", "--fleet", name, "--output", "json");
      expect(stop.code, stop.err).toBe(0);
      const stopped = JSON.parse(stop.out) as FleetStatus & { stopped: { bucket: string; jobs: number }[] };
      expect(stopped.status).toBe("ABORTED");
      expect(stopped.stopped).toHaveLength(1);
      expect(stopped.stopped[0]?.jobs).toBeGreaterThan(0);
      expect(stopped.buckets.map((b) => b.status).sort()).toEqual(["ABORTED", "NOT_STARTED"]);
      // The stopped run's copy jobs were cancelled, whoever stopped the run.
      const jobs =
        (await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }))).Jobs ?? [];
      const runsJobs = jobs.filter((j) => j.Description?.startsWith(`rekey ${first.bucket} `));
      expect(runsJobs.length).toBeGreaterThan(0);
      for (const j of runsJobs) expect(j.Status).toMatch(/^Cancell/);
      // Stopping it again finds nothing to stop.
      const again = await rekey(sandbox, "fleet", "stop", "--fleet", name);
      expect(again.code).toBe(1);
    },
  );
});
