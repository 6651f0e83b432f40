import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApprovalNotPossibleError } from "../../contract/errors.ts";
import { RunOptionsSchema } from "../../contract/run-context.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { copyLargeObjectsStep } from "../../steps/handlers/copy-large-objects.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { sandboxWithClients } from "../support/sandbox.ts";

/**
 * With approval required, a run whose only jobs were reused from another execution that had them confirmed before it
 * began has nothing of its own the operator approved: its objects over 5 GiB are not copied.
 */
describe("Copy large objects after reused jobs, approval required", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  beforeAll(async () => {
    ({ sandbox, clients } = await sandboxWithClients());
  });
  afterAll(async () => {
    await sandbox.close();
  });

  const run = {
    runId: "second",
    executionId: "arn:aws:states:us-east-1:123456789012:execution:rekey:second",
    bucket: "data",
    kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    region: "us-east-1",
    accountId: "123456789012",
    workBucket: "work",
    inventoryConfigurationId: "inv",
    runPrefix: "runs/data/second/",
    startedAt: new Date().toISOString(),
    options: RunOptionsSchema.parse({ requireApproval: true }),
  };
  const plan = {
    inventoryManifestKey: "inventory/data/inv/2026-01-01T00-00Z/manifest.json",
    inventoryCreatedAt: new Date().toISOString(),
    manifests: [],
    planKey: "plans/data/p/plan.json",
    planPrefix: "plans/data/p/",
    largeObjects: { key: "plans/data/p/large-objects.jsonl", objects: 2, bytes: 12 * 2 ** 30 },
  };
  const job = (reusedStatus: string) => ({
    jobId: "job-1",
    operation: "copy",
    storageClass: "STANDARD",
    manifestKey: "plans/data/p/manifests/copy-STANDARD.csv",
    objects: 3,
    reused: true,
    createdBy: "first",
    createdAt: "2026-01-01T00:00:00.000Z",
    reusedStatus,
  });
  const deps = () => ({
    clients,
    config: { batchRoleArn: "arn:aws:iam::123456789012:role/r" },
    log: silentLogger,
    now: () => new Date(),
  });

  it.each(["Active", "Complete"])(
    "refuses to copy when the reused job was already %s when this run found it",
    async (status) => {
      const err = await invokeStep(
        copyLargeObjectsStep,
        { run, plan, jobs: { jobs: [job(status)] }, timeBudgetMs: 60_000 },
        deps(),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApprovalNotPossibleError);
      expect((err as Error).message).toMatch(/created and confirmed by earlier run\(s\) first before it began/);
      expect((err as Error).message).toMatch(/2 object\(s\) over 5 GiB were not copied/);
    },
  );
});
