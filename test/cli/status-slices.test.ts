import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executionArnOf, StateNames } from "../../contract/states.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { rekey } from "../support/cli.ts";
import { runOnScenario, sandboxWithScenario, setStateParameters } from "../support/run-scenario.ts";
import { until } from "../support/until.ts";

/** `rekey status` while planning fans out: how many slices of the Map Run are done, running and failed. */
describe("rekey status during planning", () => {
  let sandbox: Sandbox;
  let scenario: MixedBucket;

  beforeAll(async () => {
    ({ sandbox, scenario } = await sandboxWithScenario({
      bucket: "status-slices",
      workBucket: "status-slices-work",
      objects: 40,
    }));
    // One slice per data file.
    await setStateParameters(sandbox, [[StateNames.sliceInventory, "sliceTargetBytes", 1]]);
  }, 60_000);
  afterAll(async () => {
    await sandbox?.close();
  });

  it("shows the slices planned so far while they run, and the run goes on once they are done", async () => {
    const deployment = await rekeyDeployment(sandbox);
    // The first slice waits until the status below was read; the others plan meanwhile.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let first = true;
    const off = sandbox.lambda.beforeInvoke(deployment.functionNames[StateNames.writeManifests], async () => {
      if (!first) return;
      first = false;
      await gate;
    });
    try {
      const run = runOnScenario({ sandbox, scenario, name: "status-slices", maxRowsPerFile: 10 });
      const executionArn = executionArnOf(deployment.stateMachineArn, "status-slices");
      type Status = { slices?: { total: number; succeeded: number; running: number; failed: number } };
      const during = await until(
        "the other slices planned, one waiting",
        async () => {
          const out = await rekey(sandbox, "status", "--execution", executionArn, "--output", "json");
          // Until the execution has started, there is nothing to show.
          if (out.code !== 0) return undefined;
          const s = JSON.parse(out.out) as Status;
          return s.slices && s.slices.succeeded === s.slices.total - 1 && s.slices.total > 2 ? s : undefined;
        },
        90_000,
      );
      expect(during.slices).toMatchObject({ running: 1, failed: 0 });
      const text = await rekey(sandbox, "status", "--execution", executionArn);
      expect(text.out).toMatch(new RegExp(`now: +${StateNames.planSlices}: reading the inventory`));
      expect(text.out).toMatch(/slices: +\[[#.]+\] +\d+% \d+\/\d+ done, 1 running, 0 failed/);
      release();
      expect((await run).status).toBe("SUCCEEDED");
      const after = JSON.parse(
        (await rekey(sandbox, "status", "--execution", executionArn, "--output", "json")).out,
      ) as Status;
      expect(after.slices).toBeUndefined();
    } finally {
      release();
      off();
    }
  }, 120_000);
});
