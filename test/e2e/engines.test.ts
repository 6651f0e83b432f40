import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FilterEngine } from "../../contract/engines.ts";
import { type RunReport, runReportSchema } from "../../contract/final-report.ts";
import { type RekeyClients, rekeyClients } from "../../local/sandbox-clients.ts";
import { seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { finalReport, runOnScenario } from "../support/run-scenario.ts";

/**
 * The same bucket, seeded three times, re-encrypted end to end by the deployed state machine with each filter engine
 * (contract/engines.ts): every run ends with the same report, except for the line naming its engine.
 */
describe("every filter engine re-encrypts a bucket to the same report", () => {
  let sandbox: Sandbox;
  let clients: RekeyClients;
  const reports: Partial<Record<FilterEngine, { report: RunReport; summary: string }>> = {};

  beforeAll(async () => {
    sandbox = await startSandbox();
    clients = rekeyClients(sandbox);
    const admin = new SandboxAdmin(sandbox.endpoint);
    for (const engine of ["stream", "select", "athena"] as const) {
      const scenario = await seedMixedBucket(clients, admin, {
        bucket: `engines-${engine}`,
        workBucket: "engines-work",
        objects: 120,
      });
      const out = finalReport(
        await runOnScenario({ sandbox, scenario, name: `engines-${engine}`, engine, maxRowsPerFile: 40 }),
      );
      const [, bucket = "", key = ""] = /^s3:\/\/([^/]+)\/(.+)$/.exec(out.reportLocation) ?? [];
      const report = runReportSchema.parse(JSON.parse(await getText(clients.s3, bucket, key)));
      reports[engine] = { report, summary: out.summary };
    }
  }, 300_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  /** What must match across engines: every count, route and reason, and the summary without names and times. */
  function comparable(engine: FilterEngine) {
    const r = reports[engine];
    if (!r) throw new Error(`no report for ${engine}`);
    const { totals, routes, skipped, notCurrent, copyPlanned, reconciliation } = r.report;
    const summary = r.summary
      .split("\n")
      .filter((l) => !/^(Planned from|Target key|Full report|Summary|Independent check)/.test(l.trim()))
      .map((l) => l.replaceAll(`engines-${engine}`, "<bucket>").replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>"));
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
});
