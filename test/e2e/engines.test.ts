import { GetExecutionHistoryCommand, type HistoryEvent } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FilterEngine } from "../../contract/engines.ts";
import { type RunReport, runReportSchema } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import { executionArnOf } from "../../local/executions.ts";
import { type RekeyClients, rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { finalReport, runOnScenario, setTimeBudget } from "../support/run-scenario.ts";

/**
 * The same bucket, seeded three times, re-encrypted end to end by the deployed state machine with each filter engine
 * (contract/engines.ts): every run ends with the same report, except for the line naming its engine.
 */
describe("every filter engine re-encrypts a bucket to the same report", () => {
  let sandbox: Sandbox;
  let clients: RekeyClients;
  const reports: Partial<Record<FilterEngine, { report: RunReport; summary: string }>> = {};
  let loop: { report: RunReport; summary: string } | undefined;
  const loopEntered: string[] = [];

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

    // The same again with the stream engine, planning one data file per invocation (the definition's budget set to
    // 0 through the Step Functions API); its second invocation crashes after saving its progress, its fourth before
    // starting: the state's Retry runs each again from the progress saved last.
    await setTimeBudget(sandbox, StateNames.writeManifests, 0);
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
        onEvent: (e) => {
          if (e.type === "StateEntered") loopEntered.push(e.state.name);
        },
      }),
    );
    const [, bucket = "", key = ""] = /^s3:\/\/([^/]+)\/(.+)$/.exec(out.reportLocation) ?? [];
    loop = {
      report: runReportSchema.parse(JSON.parse(await getText(clients.s3, bucket, key))),
      summary: out.summary,
    };
  }, 400_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  /** What must match across engines: every count, route and reason, and the summary without names and times. */
  function comparable(engine: FilterEngine | "loop") {
    const r = engine === "loop" ? loop : reports[engine];
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

  it("plans over several invocations, two of them crashed and retried, to the same report", () => {
    const rounds = loopEntered.filter((n) => n === StateNames.writeManifests).length;
    // One round per data file (25 rows a file): more than two.
    expect(rounds).toBeGreaterThan(2);
    expect(loopEntered.filter((n) => n === StateNames.isPlanComplete)).toHaveLength(rounds);
    expect(comparable("loop")).toEqual(comparable("stream"));
  });

  it("ran the two crashed invocations again", async () => {
    const machine = (await rekeyDeployment(sandbox)).stateMachineArn;
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await clients.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: executionArnOf(machine, "engines-loop"), nextToken }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    let state = "";
    const failures: string[] = [];
    for (const e of events) {
      if (e.type === "TaskStateEntered") state = e.stateEnteredEventDetails?.name ?? "";
      if (e.type === "LambdaFunctionFailed") failures.push(state);
    }
    expect(failures).toEqual([StateNames.writeManifests, StateNames.writeManifests]);
  });
});
