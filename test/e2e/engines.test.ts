import { GetBucketInventoryConfigurationCommand, PutBucketInventoryConfigurationCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FilterEngine } from "../../contract/engines.ts";
import { type RunReport, runReportSchema } from "../../contract/final-report.ts";
import { executionArnOf, StateNames } from "../../contract/states.ts";
import { type RekeyClients, rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { PLANNING_CONCURRENCY } from "../../workflow/definition.ts";
import { failedTaskStates, mapRunOf } from "../support/histories.ts";
import { finalReport, runOnScenario, setStateParameters } from "../support/run-scenario.ts";

/**
 * The same bucket, seeded three times, re-encrypted end to end by the deployed state machine with each filter engine
 * (contract/engines.ts): every run ends with the same report, except for the line naming its engine.
 */
describe("every filter engine re-encrypts a bucket to the same report", () => {
  let sandbox: Sandbox;
  let clients: RekeyClients;
  const reports: Partial<Record<FilterEngine, { report: RunReport; summary: string }>> = {};
  let loop: { report: RunReport; summary: string } | undefined;
  let parquet: { report: RunReport; summary: string } | undefined;

  beforeAll(async () => {
    sandbox = await startSandbox();
    clients = rekeyClients(sandbox);
    const admin = new SandboxAdmin(sandbox.endpoint);
    const engines = ["stream", "select", "athena"] as const;
    const scenarios: MixedBucket[] = [];
    for (const engine of engines) {
      scenarios.push(
        await seedMixedBucket(clients, admin, { bucket: `engines-${engine}`, workBucket: "engines-work", objects: 60 }),
      );
    }
    // The three runs at once (one bucket each, so no lock is shared): they spend most of their time waiting.
    await Promise.all(
      engines.map(async (engine, i) => {
        const scenario = scenarios[i];
        if (!scenario) throw new Error(`no scenario for ${engine}`);
        const out = finalReport(
          await runOnScenario({ sandbox, scenario, name: `engines-${engine}`, engine, maxRowsPerFile: 25 }),
        );
        const [, bucket = "", key = ""] = /^s3:\/\/([^/]+)\/(.+)$/.exec(out.reportLocation) ?? [];
        const report = runReportSchema.parse(JSON.parse(await getText(clients.s3, bucket, key)));
        reports[engine] = { report, summary: out.summary };
      }),
    );

    // The same bucket with a Parquet inventory: auto reads it in the deployed step (hyparquet bundled into it).
    const parquetScenario = await seedMixedBucket(clients, admin, {
      bucket: "engines-parquet",
      workBucket: "engines-work",
      objects: 60,
    });
    const { InventoryConfiguration: config } = await clients.s3.send(
      new GetBucketInventoryConfigurationCommand({
        Bucket: parquetScenario.bucket,
        Id: parquetScenario.inventoryConfigurationId,
      }),
    );
    const destination = config?.Destination?.S3BucketDestination;
    if (!config || !destination) throw new Error("the scenario has no inventory configuration");
    await clients.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: parquetScenario.bucket,
        Id: parquetScenario.inventoryConfigurationId,
        InventoryConfiguration: {
          ...config,
          Destination: { S3BucketDestination: { ...destination, Format: "Parquet" } },
        },
      }),
    );
    const parquetOut = finalReport(
      await runOnScenario({ sandbox, scenario: parquetScenario, name: "engines-parquet", maxRowsPerFile: 25 }),
    );
    const [, parquetBucket = "", parquetKey = ""] = /^s3:\/\/([^/]+)\/(.+)$/.exec(parquetOut.reportLocation) ?? [];
    parquet = {
      report: runReportSchema.parse(JSON.parse(await getText(clients.s3, parquetBucket, parquetKey))),
      summary: parquetOut.summary,
    };

    // The same again with the stream engine, fanned out: slices of about two data files, each slice's child
    // execution planning one data file per invocation (the definition's slice size and budget changed through the
    // Step Functions API). Two invocations crash, one after saving its progress, one before starting: the child's
    // Retry runs each again from the progress saved last.
    const delivered = JSON.parse(
      await getText(clients.s3, "engines-work", reports.stream?.report.inventory?.manifestKey ?? ""),
    ) as { files: { size: number }[] };
    const averageFile = delivered.files.reduce((n, f) => n + f.size, 0) / delivered.files.length;
    await setStateParameters(sandbox, [
      [StateNames.writeManifests, "timeBudgetMs", 0],
      [StateNames.sliceInventory, "sliceTargetBytes", Math.ceil(2.5 * averageFile)],
    ]);
    const deployment = await rekeyDeployment(sandbox);
    const scenario = await seedMixedBucket(clients, admin, {
      bucket: "engines-loop",
      workBucket: "engines-work",
      objects: 60,
    });
    const filterFunction = deployment.functionNames[StateNames.writeManifests];
    let invocations = 0;
    const out = finalReport(
      await runOnScenario({
        sandbox,
        scenario,
        name: "engines-loop",
        engine: "stream",
        maxRowsPerFile: 25,
        beforeStep: {
          [StateNames.writeManifests]: async () => {
            invocations += 1;
            if (invocations === 2) await admin.crashLambda(filterFunction, "after");
            if (invocations === 4) await admin.crashLambda(filterFunction, "before");
          },
        },
      }),
    );
    const [, bucket = "", key = ""] = /^s3:\/\/([^/]+)\/(.+)$/.exec(out.reportLocation) ?? [];
    loop = {
      report: runReportSchema.parse(JSON.parse(await getText(clients.s3, bucket, key))),
      summary: out.summary,
    };
  }, 400_000);

  /** Planning's Map Run (the first of the run's two), its slices' executions and their histories. */
  async function slicesOfLoop() {
    const machine = (await rekeyDeployment(sandbox)).stateMachineArn;
    const run = await mapRunOf(clients.sfn, executionArnOf(machine, "engines-loop"), 0);
    // Planning's and verification's ("Verify each slice").
    expect(run.mapRuns).toBe(2);
    return run;
  }
  afterAll(async () => {
    await sandbox?.close();
  });

  /** What must match across engines: every count, route and reason, and the summary without names and times. */
  function comparable(engine: FilterEngine | "loop" | "parquet") {
    const r = engine === "loop" ? loop : engine === "parquet" ? parquet : reports[engine];
    if (!r) throw new Error(`no report for ${engine}`);
    const { totals, routes, skipped, notCurrent, copyPlanned, reconciliation } = r.report;
    const summary = r.summary
      .split("\n")
      .filter((l) => !/^(Planned from|Target key|Full report|Summary|Independent check)/.test(l.trim()))
      .map((l) => l.replace(/engines-[a-z]+/g, "<bucket>").replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>"));
    return { totals, routes, skipped, notCurrent, copyPlanned, reconciliation, summary };
  }

  it.each(["stream", "select", "athena"] as const)("the %s engine's report names it", (engine) => {
    expect(reports[engine]?.report.inventory?.engine?.name).toBe(engine);
    expect(reports[engine]?.summary).toContain(`by the ${engine} engine (asked for in the run request`);
    expect(reports[engine]?.report.totals.reencrypted).toBeGreaterThan(0);
  });

  it.each(["select", "athena"] as const)("the %s engine's report is the stream engine's", (engine) => {
    expect(comparable(engine)).toEqual(comparable("stream"));
  });

  it("reads a Parquet inventory in the deployed step (auto: stream) to the same report", () => {
    expect(parquet?.report.inventory?.engine?.name).toBe("stream");
    expect(parquet?.report.inventory?.manifestKey).toMatch(/manifest\.json$/);
    expect(comparable("parquet")).toEqual(comparable("stream"));
  });

  it("plans in slices, each its own execution over several invocations, to the same report", async () => {
    const { parent, mapRun, children, histories } = await slicesOfLoop();
    // The run's own history has the Map state and its Map Run, and none of the slices' events.
    expect(parent.filter((e) => e.type === "MapRunStarted")).toHaveLength(2);
    expect(parent.filter((e) => e.type === "MapRunSucceeded")).toHaveLength(2);
    expect(parent.some((e) => e.stateEnteredEventDetails?.name === StateNames.writeManifests)).toBe(false);
    // More than one slice, every one succeeded, each with its own history.
    expect(mapRun.itemCounts?.total).toBeGreaterThan(1);
    expect(mapRun.itemCounts?.succeeded).toBe(mapRun.itemCounts?.total);
    expect(mapRun.maxConcurrency).toBe(PLANNING_CONCURRENCY);
    expect(children).toHaveLength(mapRun.itemCounts?.total ?? -1);
    expect(children.every((c) => c.status === "SUCCEEDED")).toBe(true);
    const rounds = histories.map(
      (h) => h.filter((e) => e.stateEnteredEventDetails?.name === StateNames.writeManifests).length,
    );
    // Budget 0: a slice of two data files takes two rounds; at least one slice had more than one file.
    expect(Math.max(...rounds)).toBeGreaterThan(1);
    expect(comparable("loop")).toEqual(comparable("stream"));
  });

  it("ran the two crashed invocations again, in the slices' own executions", async () => {
    const { parent, histories } = await slicesOfLoop();
    expect(parent.some((e) => e.type === "LambdaFunctionFailed")).toBe(false);
    const failures = failedTaskStates(histories);
    expect(failures).toEqual([StateNames.writeManifests, StateNames.writeManifests]);
  });
});
