import { HeadObjectCommand, ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { ListJobsCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunReport, runReportSchema } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { finalReport, runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/** What the sandbox's admin endpoint tells of a job (sandbox/BATCH-OPERATIONS.md). */
interface AdminJob {
  jobId: string;
  status: string;
  totalTasks: number;
  succeeded: number;
  failed: number;
}

async function batchJobs(admin: SandboxAdmin): Promise<AdminJob[]> {
  return (await admin.request<{ jobs: AdminJob[] }>("GET", "/_sandbox/batch/jobs")).jobs;
}

/** Every version of every key, counted with the real SDK (ListObjectVersions, paged). */
async function versionCounts(clients: AwsClients, bucket: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  do {
    const page = await clients.s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
    );
    for (const v of page.Versions ?? []) counts.set(v.Key ?? "", (counts.get(v.Key ?? "") ?? 0) + 1);
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker !== undefined);
  return counts;
}

const TERMINAL = new Set(["Complete", "Failed", "Cancelled"]);

/**
 * Tasks that fail transiently (503 SlowDown, 500 InternalError) in the first jobs go into a redrive job of just
 * those objects; the faults are cleared before the redrive job runs, so the run ends with every object compliant.
 */
describe("a run whose copy tasks are throttled at first", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let result: ExecutionResult;
  let throttled: string[];
  let versionsBefore: Map<string, number>;
  let faultsClearedWith: AdminJob[] = [];

  beforeAll(async () => {
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "redrive-data",
      workBucket: "redrive-work",
      objects: 40,
    }));
    // All in the STANDARD copy job, whose redrive the summary names.
    const standard = scenario.keys.filter((k) => k.expectation === "reencrypt" && k.storageClass === "STANDARD");
    throttled = standard.map((k) => k.key).filter((_, i) => i % 2 === 0);
    expect(throttled.length).toBeGreaterThan(2);
    await admin.request("POST", "/_sandbox/batch/faults", {
      failKeys: throttled.map((key, i) =>
        i % 2 === 0
          ? { key, httpStatus: 503, errorCode: "SlowDown", message: "Please reduce your request rate." }
          : { key, httpStatus: 500, errorCode: "InternalError", message: "We encountered an internal error." },
      ),
    });
    versionsBefore = await versionCounts(clients, scenario.bucket);
    result = await runOnScenario({
      sandbox,
      scenario,
      name: "redrive-run",
      options: { redriveBackoffSeconds: 1 },
      beforeStep: {
        // The first check waits for the first jobs to end, then ends the throttling: no redrive job exists yet
        // (only a check creates one), so every redrive job runs without faults.
        [StateNames.checkCopyJobs]: async () => {
          if (faultsClearedWith.length > 0) return;
          let jobs = await batchJobs(admin);
          while (!jobs.every((j) => TERMINAL.has(j.status))) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            jobs = await batchJobs(admin);
          }
          await admin.request("DELETE", "/_sandbox/batch/faults");
          faultsClearedWith = jobs;
        },
      },
    });
  }, 180_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  it("succeeds with nothing failed", () => {
    const out = finalReport(result);
    expect(out.outcome).toBe("succeeded");
    expect(out.totals.failed).toBe(0);
    expect(out.totals.pending).toBe(0);
  });

  it("ran the throttled objects again in a redrive job created after the first jobs ended", async () => {
    expect(faultsClearedWith.length).toBeGreaterThan(0);
    const listed = await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }));
    const redriveIds = (listed.Jobs ?? [])
      .filter((j) => j.Description?.startsWith("rekey redrive-data redrive-2-of-"))
      .map((j) => j.JobId);
    expect(redriveIds.length).toBeGreaterThan(0);
    const redrives = (await batchJobs(admin)).filter((j) => redriveIds.includes(j.jobId));
    for (const j of redrives) expect(faultsClearedWith.map((c) => c.jobId)).not.toContain(j.jobId);
    expect(redrives.reduce((n, j) => n + j.succeeded, 0)).toBe(throttled.length);
    expect(redrives.every((j) => j.failed === 0 && j.status === "Complete")).toBe(true);
    const laterAttempts = (listed.Jobs ?? []).filter((j) => j.Description?.includes(" redrive-3-of-"));
    expect(laterAttempts).toEqual([]);
  });

  it("leaves every throttled object compliant, each copied exactly once (one new version)", async () => {
    const versionsAfter = await versionCounts(clients, scenario.bucket);
    const reencrypt = scenario.keys.filter((k) => k.expectation === "reencrypt").map((k) => k.key);
    for (const key of reencrypt) {
      expect(versionsAfter.get(key), key).toBe((versionsBefore.get(key) ?? 0) + 1);
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: scenario.bucket, Key: key }));
      expect(head, key).toMatchObject({
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: scenario.targetKeyArn,
        BucketKeyEnabled: true,
      });
    }
  });

  it("reports two attempts: the first jobs with their transient failures, then the redrive", async () => {
    const out = finalReport(result);
    const report: RunReport = runReportSchema.parse(
      JSON.parse(await getText(clients.s3, scenario.workBucket, "runs/redrive-data/redrive-run/report.json")),
    );
    const first = report.jobs.filter((j) => j.attempt === 1);
    const second = report.jobs.filter((j) => j.attempt === 2);
    expect(second.length).toBeGreaterThan(0);
    expect(first.reduce((n, j) => n + (j.failed["throttled-or-transient"] ?? 0), 0)).toBe(throttled.length);
    expect(second.reduce((n, j) => n + j.manifestRows, 0)).toBe(throttled.length);
    expect(second.reduce((n, j) => n + j.succeeded, 0)).toBe(throttled.length);
    for (const j of second) expect(first.map((f) => f.jobId)).toContain(j.redriveOf);
    expect(report.failed).toEqual([]);
    expect(report.reconciliation).toEqual({ ok: true, problems: [] });
    expect(out.summary).toMatch(
      /attempt 1: job \S+ \(STANDARD\): \d+ object\(s\), \d+ succeeded, \d+ failed \(\d+ transient, 0 systemic\)/,
    );
    expect(out.summary).toMatch(/attempt 2: job \S+ \(STANDARD, redrive of \S+\)/);
  });

  it("lists no redriven object as failed", async () => {
    const text = await getText(clients.s3, scenario.workBucket, "runs/redrive-data/redrive-run/failed.csv");
    expect(text.trimEnd().split("\n")).toHaveLength(1);
  });
});

/** Access denied on every task: rekey cancels the job long before Batch Operations' own 50%-of-1,000 rule. */
describe("a run whose every copy task is denied", () => {
  let sandbox: Sandbox;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let result: ExecutionResult;

  beforeAll(async () => {
    ({ sandbox, admin, scenario } = await sandboxWithScenario({
      bucket: "denied-all-data",
      workBucket: "denied-all-work",
      objects: 40,
    }));
    await admin.request("POST", "/_sandbox/batch/faults", {
      failKeys: scenario.keys.map((k) => ({
        key: k.key,
        httpStatus: 403,
        errorCode: "AccessDenied",
        message: "Access Denied",
      })),
    });
    // Slow enough for "Check copy jobs" (every second) to see the jobs running.
    await admin.request("POST", "/_sandbox/batch/settings", { tasksPerSecond: 2 });
    result = await runOnScenario({
      sandbox,
      scenario,
      name: "denied-all-run",
      options: { cancelAfterFailedTasks: 3 },
    });
  }, 180_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  it("fails with SystemicTaskFailureError saying which permission is missing", () => {
    expect(result).toMatchObject({ status: "FAILED", error: "SystemicTaskFailureError" });
    const cause = result.status === "FAILED" ? result.cause : "";
    expect(cause).toMatch(/ended Cancelled: \d+ task\(s\) failed with AccessDenied/);
    expect(cause).toContain("missing s3:GetObject");
    expect(cause).toContain("Fix: Grant what is missing");
  });

  it("cancelled the job before it ran all its tasks", async () => {
    const cancelled = (await batchJobs(admin)).filter((j) => j.status === "Cancelled");
    expect(cancelled.length).toBeGreaterThan(0);
    for (const job of cancelled) {
      expect(job.succeeded).toBe(0);
      expect(job.failed).toBeGreaterThanOrEqual(3);
      expect(job.failed).toBeLessThan(job.totalTasks);
    }
  });

  it("left no job of the run running", async () => {
    const jobs = await batchJobs(admin);
    expect(jobs.length).toBeGreaterThan(1);
    for (const j of jobs) expect(["Cancelling", "Cancelled", "Complete", "Failed"], j.jobId).toContain(j.status);
  });

  it("changed no object", async () => {
    const current = (await admin.versions(scenario.bucket)).filter((v) => v.isLatest);
    for (const k of scenario.keys.filter((k) => k.expectation === "reencrypt")) {
      expect(current.find((v) => v.key === k.key)?.encryption, k.key).toEqual({ type: "NOT-SSE" });
    }
  });
});
