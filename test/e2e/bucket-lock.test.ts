import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateNames } from "../../contract/states.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import { startSandboxExecution } from "../../local/sandbox-run.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { currentBucketLock } from "../../steps/aws/bucket-lock.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { versionPages } from "../support/bucket-snapshot.ts";
import { runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * One run per bucket, whoever starts it: executions started straight through the Step Functions API (no CLI
 * pre-check) on the same bucket. The lock is runs/<bucket>/lock.json in the work bucket (steps/aws/bucket-lock.ts).
 */
describe("one run per bucket", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let scenario: MixedBucket;

  beforeEach(async () => {
    ({ sandbox, clients, scenario } = await sandboxWithScenario({
      bucket: "locked-data",
      workBucket: "locked-work",
      objects: 30,
      objectLock: false,
    }));
  });
  afterEach(async () => {
    await sandbox.close();
  });

  const arnOf = (name: string) =>
    `arn:aws:states:${sandbox.identity.region}:${sandbox.identity.accountId}:execution:rekey:${name}`;
  const lock = () => currentBucketLock(clients.s3, scenario.workBucket, scenario.bucket);

  /** Versions (and delete markers) per key of the data bucket, read with the real SDK. */
  async function versionsPerKey(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for await (const page of versionPages(clients.s3, scenario.bucket)) {
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        counts.set(v.Key ?? "", (counts.get(v.Key ?? "") ?? 0) + 1);
      }
    }
    return counts;
  }

  it.each(["generate", "inventory"] as const)(
    "of two executions started at once (source: %s), one runs and the other fails with BucketBusyError naming it; nothing is copied twice; then the lock is gone and a new run starts",
    async (source) => {
      const before = await versionsPerKey();
      const names = ["first", "second"];
      const results = await Promise.all(names.map((name) => runOnScenario({ sandbox, scenario, name, source })));

      const ran = results.findIndex((r) => r.status === "SUCCEEDED");
      const refused = results.findIndex((r) => r.status !== "SUCCEEDED");
      expect(ran, JSON.stringify(results)).toBeGreaterThanOrEqual(0);
      expect(refused, JSON.stringify(results)).toBeGreaterThanOrEqual(0);
      const failure = results[refused] as Extract<ExecutionResult, { error: string }>;
      expect(failure.status).toBe("FAILED");
      expect(failure.error).toBe("BucketBusyError");
      expect(failure.cause).toContain(arnOf(names[ran] as string));
      expect(failure.cause).toMatch(/rekey stop/);

      // Every object the run re-encrypted got exactly one new version: no second copy by the refused run.
      const after = await versionsPerKey();
      const added = [...after].map(([key, n]) => n - (before.get(key) ?? 0));
      expect(added.some((n) => n === 1)).toBe(true);
      expect(added.filter((n) => n > 1)).toEqual([]);

      expect(await lock()).toBeUndefined();
      const next = await runOnScenario({ sandbox, scenario, name: "third", source });
      expect(next.status, JSON.stringify(next)).toBe("SUCCEEDED");
      expect(await lock()).toBeUndefined();
    },
  );

  it("a run stopped with StopExecution leaves its lock, and the next run takes it over", async () => {
    const stopped = startSandboxExecution({
      sandbox,
      name: "stopped",
      input: { bucket: scenario.bucket, kmsKeyArn: scenario.targetKeyArn, workBucket: scenario.workBucket },
      onEvent: (event) => {
        // Stopped once it holds the lock and before it writes anything: it cannot release the lock.
        if (event.type === "StateEntered" && event.state.name === StateNames.preflight) void stopped.abort();
      },
    });
    expect((await stopped.result).status).toBe("ABORTED");
    expect((await lock())?.executionArn).toBe(stopped.executionArn);

    const next = await runOnScenario({ sandbox, scenario, name: "after-stop", source: "generate" });
    expect(next.status, JSON.stringify(next)).toBe("SUCCEEDED");
    expect(await lock()).toBeUndefined();
  });
});
