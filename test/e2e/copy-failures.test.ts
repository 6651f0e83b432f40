import { PutObjectCommand } from "@aws-sdk/client-s3";
import { ListJobsCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StateNames } from "../../contract/states.ts";
import { sandboxBatchRoleArn } from "../../local/deploy.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { decodeManifestKey } from "../../steps/domain/batch-manifest.ts";
import { createCopyJobs } from "../../steps/handlers/create-copy-jobs.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/** Copy tasks that fail for a reason an operator must fix: the run says so and fails; nothing else changes. */
describe("a run whose copy tasks are denied", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let result: ExecutionResult;
  let denied: string[];
  let createJobsInput: unknown;
  let createdJobIds: string[] = [];

  beforeAll(async () => {
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "denied-data",
      workBucket: "denied-work",
      objects: 60,
    }));
    denied = scenario.keys
      .filter((k) => k.expectation === "reencrypt")
      .slice(0, 2)
      .map((k) => k.key);
    await admin.request("POST", "/_sandbox/batch/faults", {
      failKeys: denied.map((key) => ({ key, httpStatus: 403, errorCode: "AccessDenied", message: "Access Denied" })),
    });
    result = await runOnScenario({
      sandbox,
      scenario,
      name: "denied-run",
      onEvent: (e) => {
        if (e.type === "StateEntered" && e.state.name === StateNames.createCopyJobs) {
          const state = e.state.input as { run: unknown; plan: unknown; defaultEncryption: unknown };
          createJobsInput = { run: state.run, plan: state.plan, defaultEncryption: state.defaultEncryption };
        }
        if (e.type === "StateExited" && e.state.name === StateNames.createCopyJobs) {
          createdJobIds = ((e.state.output as { jobs: { jobs: { jobId: string }[] } }).jobs.jobs ?? []).map(
            (j) => j.jobId,
          );
        }
      },
    });
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  it("fails the execution with ObjectsNotReencrypted and the summary as its cause", () => {
    expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
    expect(result.status === "FAILED" && result.cause).toMatch(/Failed\s+2\b/);
    expect(result.status === "FAILED" && result.cause).toMatch(/access-or-kms: Stop and fix permissions/);
  });

  it("lists each failed object with its category in failed.csv", async () => {
    const text = await getText(clients.s3, scenario.workBucket, "runs/denied-data/denied-run/failed.csv");
    const rows = text
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.split(","));
    expect(rows.map((r) => decodeManifestKey(r[1] ?? "")).sort()).toEqual([...denied].sort());
    for (const r of rows) expect(r.slice(2, 5)).toEqual(["access-or-kms", "403", "AccessDenied"]);
  });

  it("leaves the denied objects as they were", async () => {
    const current = (await admin.versions(scenario.bucket)).filter((v) => v.isLatest);
    for (const key of denied) expect(current.find((v) => v.key === key)?.encryption).toEqual({ type: "NOT-SSE" });
  });

  it("returns the same jobs when Create copy jobs runs again for the same execution", async () => {
    expect(createdJobIds.length).toBeGreaterThan(0);
    const deps = {
      clients,
      config: { batchRoleArn: sandboxBatchRoleArn(sandbox.identity) },
      log: silentLogger,
      now: () => new Date(),
    };
    const again = await invokeStep(createCopyJobs, createJobsInput, deps);
    expect(again.jobs.map((j) => j.jobId)).toEqual(createdJobIds);
    const listed = await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }));
    expect(listed.Jobs?.length).toBe(createdJobIds.length);
  });
});

/** The final check does not trust the completion report alone: it HEADs re-encrypted objects itself. */
describe("a run where an object is overwritten with SSE-S3 after its copy", () => {
  it("fails with ObjectsNotReencrypted and names the object", async () => {
    const sandbox = await startSandbox();
    try {
      const clients = rekeyClients(sandbox);
      const admin = new SandboxAdmin(sandbox.endpoint);
      const scenario = await seedMixedBucket(clients, admin, {
        bucket: "overwrite-data",
        workBucket: "overwrite-work",
        objects: 20,
      });
      const victim =
        scenario.keys.find((k) => k.expectation === "reencrypt" && k.storageClass === "STANDARD")?.key ?? "";
      const result = await runOnScenario({
        sandbox,
        scenario,
        name: "overwrite-run",
        options: { verifySampleSize: 100_000 },
        beforeStep: {
          [StateNames.verifyResults]: async () => {
            await clients.s3.send(
              new PutObjectCommand({
                Bucket: scenario.bucket,
                Key: victim,
                Body: "late write",
                ServerSideEncryption: "AES256",
              }),
            );
          },
        },
      });
      expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
      expect(result.status === "FAILED" && result.cause).toContain(
        `1 sampled object(s) reported re-encrypted are not SSE-KMS`,
      );
      expect(result.status === "FAILED" && result.cause).toContain(JSON.stringify(victim));
    } finally {
      await sandbox.close();
    }
  }, 60_000);
});
