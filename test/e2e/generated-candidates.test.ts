import { ListJobsCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../../contract/plan.ts";
import { StateNames } from "../../contract/states.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { becomesCompliant, type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { AdminObjectVersion } from "../../sandbox/s3/admin.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { CANDIDATE_LISTS } from "../../steps/domain/candidates.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { finalReport, runOnScenario } from "../support/run-scenario.ts";

/**
 * `source: generate`: no inventory is configured or delivered; the manifest generator lists each route's objects,
 * the lists' jobs are cancelled unrun, and the plan, jobs and report are the same as from an inventory.
 */
describe("a run without an inventory lists its candidates with the manifest generator", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let before: Map<string, AdminObjectVersion>;
  let result: ExecutionResult;
  let plan: Plan | undefined;
  const entered: string[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox();
    clients = rekeyClients(sandbox);
    admin = new SandboxAdmin(sandbox.endpoint);
    // Object Lock off: locked objects are the one case a generated list cannot tell (steps/domain/candidates.ts).
    scenario = await seedMixedBucket(clients, admin, {
      bucket: "gen-data",
      workBucket: "gen-work",
      objects: 120,
      objectLock: false,
    });
    before = new Map((await admin.versions(scenario.bucket)).map((v) => [v.versionId, v]));
    result = await runOnScenario({
      sandbox,
      scenario,
      name: "gen-run-1",
      source: "generate",
      onEvent: (event) => {
        if (event.type === "StateEntered") entered.push(event.state.name);
        if (
          event.type === "StateExited" &&
          (event.state.name === StateNames.combinePlan || event.state.name === StateNames.useStoredPlan)
        ) {
          plan = (event.state.output as { plan: Plan }).plan;
        }
      },
    });
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  const keysWith = (e: string) => scenario.keys.filter((k) => k.expectation === e);
  const output = () => finalReport(result);

  it("succeeds without any inventory delivery", async () => {
    expect(result.status === "FAILED" ? result.cause : result.status).toBe("SUCCEEDED");
    expect(output().outcome).toBe("succeeded");
    expect(await admin.versions(scenario.workBucket)).not.toContainEqual(
      expect.objectContaining({ key: expect.stringMatching(/^inventory\//) }),
    );
  });

  it("ran one manifest-generator job per candidate list, cancelled before any task, beside the work jobs", async () => {
    const jobs =
      (await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }))).Jobs ?? [];
    const lists = jobs.filter((j) => j.Description?.includes(" list "));
    expect(lists.map((j) => j.Description?.split(" ")[3]).sort()).toEqual(CANDIDATE_LISTS.map((l) => l.name).sort());
    for (const j of lists) {
      expect(j.Status).toBe("Cancelled");
      expect(j.ProgressSummary?.NumberOfTasksSucceeded ?? 0).toBe(0);
    }
    const work = jobs.filter((j) => !j.Description?.includes(" list "));
    expect(new Set(work.map((j) => j.Status))).toEqual(new Set(["Complete"]));
    expect(work.filter((j) => j.Operation === "S3UpdateObjectEncryption")).toHaveLength(1);
  });

  it("plans the same routes as an inventory would, with the estimate naming the listing jobs", () => {
    const copyClasses = new Set(keysWith("reencrypt").map((k) => k.storageClass));
    expect(
      plan?.manifests
        .filter((m) => m.operation === "copy")
        .map((m) => m.storageClass)
        .sort(),
    ).toEqual([...copyClasses].sort());
    expect(plan?.manifests.find((m) => m.operation === "update-encryption")?.objects).toBe(
      keysWith("update-from-sse-s3").length + keysWith("update-from-sse-kms").length,
    );
    expect(plan?.largeObjects?.objects).toBe(keysWith("large-copy").length);
    expect(plan?.largeObjects?.bytes).toBe((6 + 11) * 1024 ** 3);
    expect(plan?.estimate?.text).toContain(
      `Batch Operations jobs listing candidates (cancelled unrun): ${CANDIDATE_LISTS.length} ×`,
    );
    expect(plan?.estimate?.text).toMatch(/the generated lists name keys only/);
  });

  it("makes every object it can compliant and reports the rest with reasons; counts reconcile", async () => {
    const t = output().totals;
    expect(t).toEqual({
      // Current objects only: the generator lists no noncurrent versions or delete markers.
      seen: scenario.keys.filter((k) => k.expectation !== "deleted").length,
      reencrypted: scenario.keys.filter((k) => becomesCompliant(k.expectation)).length,
      alreadyCompliant: keysWith("already-compliant").length,
      skipped: scenario.keys.filter((k) => k.expectation.startsWith("skip-")).length,
      failed: 0,
      gone: 0,
      changed: 0,
      notCurrent: 0,
      pending: 0,
      doneEarlier: 0,
    });
    const current = new Map((await admin.versions(scenario.bucket)).filter((v) => v.isLatest).map((v) => [v.key, v]));
    for (const k of scenario.keys) {
      const now = current.get(k.key);
      if (becomesCompliant(k.expectation) || k.expectation === "already-compliant") {
        expect(now?.encryption, k.key).toEqual({
          type: "SSE-KMS",
          keyArn: scenario.targetKeyArn,
          bucketKeyEnabled: true,
        });
      } else if (k.expectation.startsWith("skip-")) {
        expect(now?.versionId, k.key).toBe(k.versionIds.at(-1));
      }
    }
    for (const [versionId, was] of before) {
      expect(
        (await admin.versions(scenario.bucket)).some((v) => v.versionId === versionId),
        was.key,
      ).toBe(true);
    }
  });

  it("never waited for an inventory delivery window", () => {
    // The lists are ready within a few polls; an inventory run waits at least once for S3's delivery.
    expect(entered.filter((s) => s === StateNames.waitForInventory).length).toBeLessThan(20);
    expect(entered).toContain(StateNames.copyLargeObjects);
  });
});
