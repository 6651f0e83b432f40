import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { DescribeJobCommand } from "@aws-sdk/client-s3-control";
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxWorkBucket } from "../../local/deploy.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { becomesCompliant, type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { rekey } from "../support/cli.ts";

const FAST = ["--inventory-poll-seconds", "1", "--job-poll-min-seconds", "1", "--job-poll-max-seconds", "1"];

async function until<T>(probe: () => Promise<T | undefined>, what: string, seconds = 60): Promise<T> {
  for (let i = 0; i < seconds * 5; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("rekey start, status, runs against the sandbox", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let scenario: MixedBucket;
  let executionArn: string;

  beforeAll(async () => {
    sandbox = await startSandbox();
    await rekeyDeployment(sandbox);
    clients = rekeyClients(sandbox);
    scenario = await seedMixedBucket(clients, new SandboxAdmin(sandbox.endpoint), {
      bucket: "cli-data",
      workBucket: sandboxWorkBucket(sandbox.identity),
      objects: 60,
    });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const start = (...extra: string[]) =>
    rekey(
      sandbox,
      "start",
      "--bucket",
      scenario.bucket,
      "--kms-key",
      scenario.targetKeyArn,
      "--inventory-config",
      scenario.inventoryConfigurationId,
      ...FAST,
      ...extra,
    );

  it("rejects bad arguments with a clear message and exit code 2, before calling AWS", async () => {
    const bad = await rekey(
      sandbox,
      "start",
      "--bucket",
      "Not_A_Bucket",
      "--kms-key",
      "alias/data",
      "--inventory-config",
      "x",
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/not a valid S3 bucket name.*\n.*alias.*describe-key/s);
    expect((await rekey(sandbox, "start", "--kms-key", scenario.targetKeyArn)).err).toMatch(
      /required option '--bucket <name>' not specified/,
    );
    expect((await rekey(sandbox, "status", "--bucket", "a", "--execution", "b")).code).toBe(2);
    const unknown = await rekey(
      sandbox,
      "start",
      "--bucket",
      "b",
      "--kms-key",
      scenario.targetKeyArn,
      "--colour",
      "red",
    );
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown option '--colour'/);
    expect(unknown.err).not.toMatch(/\n\s+at /);
    const source = await rekey(sandbox, "start", "--bucket", "b", "--kms-key", scenario.targetKeyArn, "--source", "s3");
    expect(source.code).toBe(2);
    expect(source.err).toMatch(/'--source <source>' argument 's3' is invalid. Allowed choices are inventory, generate/);
  });

  it("starts a run with a readable name", async () => {
    const started = await start("--output", "json");
    expect(started.err).toBe("");
    expect(started.code).toBe(0);
    const out = JSON.parse(started.out) as { executionArn: string; name: string };
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    expect(out.name).toBe(`cli-data-${day}`);
    executionArn = out.executionArn;
  });

  it("refuses a second concurrent run for the same bucket", async () => {
    const second = await start("--change-id", "CHG2");
    expect(second.code).toBe(1);
    expect(second.err).toContain(`A run for bucket cli-data is already running: ${executionArn}`);
  });

  it("shows the run waiting for its inventory", async () => {
    const waiting = await until(async () => {
      const s = await rekey(sandbox, "status", "--execution", executionArn, "--output", "json");
      const r = JSON.parse(s.out) as { currentState?: string; inventory?: { found: boolean } };
      return r.inventory && !r.inventory.found ? r : undefined;
    }, "the inventory wait");
    expect(waiting.currentState).toMatch(/inventory/);
    // The run's name, as rekey runs prints it, names it as well as its ARN; --endpoint-url, as the aws CLI calls it.
    const byName = await rekey(
      sandbox,
      "status",
      "--execution",
      executionArn.split(":").at(-1) ?? "",
      "--endpoint-url",
      sandbox.endpoint,
      "--query",
      "executionArn",
      "--output",
      "text",
    );
    expect(byName.out).toBe(`${executionArn}\n`);
    const text = await rekey(sandbox, "status", "--execution", executionArn);
    expect(text.out).toMatch(/now: +(Find inventory|Wait for inventory|Is the inventory ready\?)/);
    expect(text.out).toMatch(/inventory: none newer than default encryption yet/);
  });

  it("follows the run to its report with status --watch once the inventory arrives", async () => {
    const delivered = await rekey(
      sandbox,
      "sandbox",
      "deliver-inventory",
      "--bucket",
      scenario.bucket,
      "--inventory-config",
      scenario.inventoryConfigurationId,
    );
    expect(delivered.code).toBe(0);
    const watched = await rekey(sandbox, "status", "--bucket", scenario.bucket, "--watch", "--interval", "1");
    expect(watched.code).toBe(0);
    expect(watched.out).toMatch(/RUNNING/);
    expect(watched.out).toMatch(/SUCCEEDED/);
    expect(watched.out).toMatch(/rekey finished: s3:\/\/cli-data/);
    const expected = scenario.keys.filter((k) => becomesCompliant(k.expectation)).length;
    expect(watched.out).toMatch(new RegExp(`Re-encrypted\\s+${expected}\\b`));
  });

  it("lists the run with its outcome", async () => {
    const runs = await rekey(sandbox, "runs", "--bucket", scenario.bucket);
    expect(runs.code).toBe(0);
    expect(runs.out).toMatch(/^BUCKET\s+RUN\s+STATUS/);
    expect(runs.out).toMatch(/cli-data\s+cli-data-\d{8}\s+SUCCEEDED.*re-encrypted/);
    const table = await rekey(
      sandbox,
      "runs",
      "--bucket",
      scenario.bucket,
      "--query",
      "[].[name, status]",
      "--output",
      "table",
    );
    expect(table.out).toMatch(/\| cli-data-\d{8} +\| SUCCEEDED +\|/);
  });

  it("shows the report with where its evidence is, and streams the skipped and failed lists", async () => {
    const report = await rekey(sandbox, "report", "--bucket", scenario.bucket);
    expect(report.code).toBe(0);
    expect(report.out).toMatch(/rekey finished: s3:\/\/cli-data/);
    expect(report.out).toMatch(/^ {2}skipped\.csv {2}s3:\/\/rekey-work-[^/]+\/plans\/cli-data\/.*\/skipped\.csv/m);
    expect(report.out).toMatch(
      /^ {2}failed\.csv {3}s3:\/\/rekey-work-[^/]+\/runs\/cli-data\/cli-data-\d{8}\/failed\.csv/m,
    );
    const skipped = await rekey(sandbox, "report", "--execution", executionArn, "--skipped");
    const lines = skipped.out.trimEnd().split("\n");
    expect(lines[0]).toBe("bucket,key,reason,storage_class,encryption_status,size");
    const skippedCount = JSON.parse(
      (await rekey(sandbox, "report", "--execution", executionArn, "--query", "report.totals.skipped")).out,
    ) as number;
    expect(lines.length - 1).toBe(skippedCount);
    const failed = await rekey(sandbox, "report", "--execution", executionArn, "--failed");
    expect(failed.out).toBe("bucket,key,category,http_status,error_code,message\n");
    const both = await rekey(sandbox, "report", "--execution", executionArn, "--failed", "--output", "json");
    expect(both.code).toBe(2);
  });

  it("names a second run the same day with -2, or with its change id", async () => {
    const again = await start("--output", "json");
    expect(again.code).toBe(0);
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    expect(JSON.parse(again.out).name).toBe(`cli-data-${day}-2`);
    expect((await rekey(sandbox, "stop", "--execution", JSON.parse(again.out).executionArn)).code).toBe(0);
    const withChange = await start("--change-id", "CHG1234", "--output", "json");
    expect(withChange.code).toBe(0);
    expect(JSON.parse(withChange.out).name).toMatch(/^cli-data-\d{8}-CHG1234$/);
    const stop = await rekey(sandbox, "stop", "--execution", JSON.parse(withChange.out).executionArn);
    expect(stop.code).toBe(0);
    expect(stop.out).toMatch(/No copy job had been created/);
  });
});

describe("rekey start without an inventory configuration", () => {
  it("lists the bucket with the manifest generator and finishes without waiting for a delivery", async () => {
    const sandbox = await startSandbox();
    await rekeyDeployment(sandbox);
    try {
      const clients = rekeyClients(sandbox);
      const scenario = await seedMixedBucket(clients, new SandboxAdmin(sandbox.endpoint), {
        bucket: "cli-generate",
        workBucket: sandboxWorkBucket(sandbox.identity),
        objects: 40,
        objectLock: false,
      });
      const started = await rekey(
        sandbox,
        "start",
        "--bucket",
        scenario.bucket,
        "--kms-key",
        scenario.targetKeyArn,
        ...FAST,
      );
      expect(started.err).toBe("");
      expect(started.code).toBe(0);
      const watched = await rekey(sandbox, "status", "--bucket", scenario.bucket, "--watch", "--interval", "1");
      expect(watched.out).toMatch(/SUCCEEDED/);
      const expected = scenario.keys.filter((k) => becomesCompliant(k.expectation)).length;
      expect(watched.out).toMatch(new RegExp(`Re-encrypted\\s+${expected}\\b`));
      expect(watched.out).toMatch(/Copied in place part by part \(UploadPartCopy\).*: 2 planned/);
    } finally {
      await sandbox.close();
    }
  }, 120_000);
});

describe("rekey stop in the middle of a copy job", () => {
  it("stops the execution, cancels its jobs and says what was done; no object is half-written", async () => {
    const sandbox = await startSandbox({ batchTasksPerSecond: 5 });
    try {
      await rekeyDeployment(sandbox);
      const clients = rekeyClients(sandbox);
      const scenario = await seedMixedBucket(clients, new SandboxAdmin(sandbox.endpoint), {
        bucket: "stop-data",
        workBucket: sandboxWorkBucket(sandbox.identity),
        objects: 200,
      });
      const started = await rekey(
        sandbox,
        "start",
        "--bucket",
        scenario.bucket,
        "--kms-key",
        scenario.targetKeyArn,
        "--inventory-config",
        scenario.inventoryConfigurationId,
        ...FAST,
        "--output",
        "json",
      );
      const { executionArn } = JSON.parse(started.out) as { executionArn: string };
      await until(async () => {
        const s = JSON.parse((await rekey(sandbox, "status", "--execution", executionArn, "--output", "json")).out) as {
          currentState?: string;
        };
        return s.currentState && /inventory/.test(s.currentState) ? true : undefined;
      }, "the inventory wait");
      await rekey(
        sandbox,
        "sandbox",
        "deliver-inventory",
        "--bucket",
        scenario.bucket,
        "--inventory-config",
        scenario.inventoryConfigurationId,
      );
      await until(async () => {
        const s = JSON.parse((await rekey(sandbox, "status", "--execution", executionArn, "--output", "json")).out) as {
          progress?: { succeeded: number };
        };
        return (s.progress?.succeeded ?? 0) > 5 ? true : undefined;
      }, "copies to start");

      const stopped = await rekey(sandbox, "stop", "--execution", executionArn, "--reason", "change window closed");
      expect(stopped.err).toBe("");
      expect(stopped.code).toBe(0);
      expect(stopped.out).toMatch(/Stopped stop-data-\d{8}/);
      expect(stopped.out).toMatch(/job \S+: Cancelled; \d+ of \d+ objects were re-encrypted before the stop/);

      const execution = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(execution.status).toBe("ABORTED");
      const jobIds = [...stopped.out.matchAll(/job (\S+): /g)].map((m) => m[1] ?? "");
      expect(jobIds.length).toBeGreaterThan(0);
      for (const jobId of jobIds) {
        const { Job } = await clients.s3control.send(
          new DescribeJobCommand({ AccountId: sandbox.identity.accountId, JobId: jobId }),
        );
        expect(Job?.Status).toBe("Cancelled");
        expect(Job?.ProgressSummary?.NumberOfTasksSucceeded ?? 0).toBeLessThan(
          Job?.ProgressSummary?.TotalNumberOfTasks ?? 0,
        );
      }
      // Every copy candidate is either fully re-encrypted or exactly as it was.
      let reencrypted = 0;
      for (const k of scenario.keys.filter((k) => k.expectation === "reencrypt")) {
        const head = await clients.s3.send(new HeadObjectCommand({ Bucket: scenario.bucket, Key: k.key }));
        if (head.ServerSideEncryption === "aws:kms") {
          expect(head.SSEKMSKeyId).toBe(scenario.targetKeyArn);
          expect(head.BucketKeyEnabled).toBe(true);
          reencrypted += 1;
        } else {
          expect(head.ServerSideEncryption).toBeUndefined();
          expect(head.VersionId).toBe(k.versionIds.at(-1));
        }
      }
      expect(reencrypted).toBeGreaterThan(0);
      expect((await rekey(sandbox, "stop", "--execution", executionArn)).code).toBe(1);
    } finally {
      await sandbox.close();
    }
  }, 120_000);
});
