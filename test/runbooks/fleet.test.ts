import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetRolePolicyCommand } from "@aws-sdk/client-iam";
import { GetBucketEncryptionCommand } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetStatus } from "../../cli/commands/fleet.ts";
import { FLEET_MACHINE_SUFFIX } from "../../contract/fleet.ts";
import { executionArnOf } from "../../contract/states.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { buildCliIfStale } from "../../scripts/build-cli.ts";
import { rekey } from "../support/cli.ts";
import { has, rehearsalScript, run } from "./rehearse.ts";

const RUNBOOK = new URL("../../runbooks/fleet.md", import.meta.url);

/** What the runbook's sandbox setup seeds (local/scenarios/fleet.ts with its prefix) and what each bucket becomes. */
const PILOT = ["acme-new-empty", "acme-logs"];
const MAIN = ["acme-photos"];
const LEFT_OUT = ["acme-compliant", "acme-unversioned"];

/**
 * runbooks/fleet.md pasted into bash against a fresh sandbox, with the aws CLI on the PATH (v1 on these machines;
 * change-window.test.ts covers Debian's v2 as well), then its outcome checked in the sandbox itself: each fleet and
 * each bucket's run succeeded, the buckets left out have no run, the roll-up adds up and matches each run's report,
 * and the evidence folder holds a page per run and the fleet page.
 */
describe.skipIf(!has("aws"))("runbooks/fleet.md, pasted into a shell against the sandbox", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    // What `npm ci` does (the prepare script): the runbook's `rekey` runs the compiled CLI.
    await buildCliIfStale();
    sandbox = await startSandbox({ batchTasksPerSecond: 200 });
    await rekeyDeployment(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("goes from scan and grants through the pilot and the main fleet to the hand-over", async () => {
    const script = rehearsalScript(readFileSync(RUNBOOK, "utf8"));
    expect(script).toContain("rekey fleet start");
    const fleetDir = mkdtempSync(join(tmpdir(), "runbook-fleet-"));
    // Only what the runbook cannot know: where this test's sandbox listens, and a folder of its own for the change's
    // files. No AWS_* of this process leaks in.
    const shell = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_")));
    const { code, out } = await run(script, {
      ...shell,
      HOME: mkdtempSync(join(tmpdir(), "runbook-home-")),
      FLEET_DIR: fleetDir,
      AWS_ENDPOINT_URL: sandbox.endpoint,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    });
    if (code !== 0) console.error(out);
    expect(code).toBe(0);
    expect(out).not.toMatch(/dist\/ is missing or older/);

    // What the runbook says its steps print.
    expect(out).toMatch(/^acme-photos\treaders-lack-decrypt$/m);
    expect(out).toMatch(/^acme-unversioned\tversioning-disabled$/m);
    expect(readFileSync(join(fleetDir, "scan.csv"), "utf8").split(/\r?\n/)[0]).toMatch(
      /^bucket,verdict,why,.*,blockers,warnings$/,
    );
    expect(out.match(/Dry run: nothing was started or written/g)).toHaveLength(2);
    expect(out).toMatch(/acme-unversioned: blocked per scan: preflight would refuse a run: versioning-disabled/);
    expect(out).toMatch(/At most 10 run\(s\) at once, and at most 6 of rekey's Batch Operations jobs live/);
    expect(out).toMatch(/Fleet page: .*\/evidence\/index\.html/);
    expect(out).toMatch(/^index\.html: OK$/m);
    expect(out).not.toMatch(/: FAILED$/m);

    // The grant the runbook made, as IAM holds it.
    const clients = rekeyClients(sandbox);
    const grant = await clients.iam.send(
      new GetRolePolicyCommand({ RoleName: "acme-analytics", PolicyName: "rekey-decrypt-through-s3" }),
    );
    expect(JSON.parse(decodeURIComponent(grant.PolicyDocument ?? "{}"))).toMatchObject({
      Statement: [
        {
          Effect: "Allow",
          Action: "kms:Decrypt",
          Condition: { StringEquals: { "kms:ViaService": "s3.us-east-1.amazonaws.com" } },
        },
      ],
    });

    // Both fleets and every bucket's run, as Step Functions holds them.
    const pilot = JSON.parse(readFileSync(join(fleetDir, "pilot-status.json"), "utf8")) as FleetStatus;
    const main = JSON.parse(readFileSync(join(fleetDir, "fleet-status.json"), "utf8")) as FleetStatus;
    expect(pilot.buckets.map((b) => b.bucket)).toEqual(PILOT);
    expect(main.buckets.map((b) => b.bucket)).toEqual(MAIN);
    for (const fleet of [pilot, main]) {
      const described = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: fleet.executionArn }));
      expect(described.status).toBe("SUCCEEDED");
      expect(fleet.executionArn).toContain(`${FLEET_MACHINE_SUFFIX}:${fleet.fleet}`);
    }
    const { stateMachineArn } = await rekeyDeployment(sandbox);
    const { executions = [] } = await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    const runs = Object.fromEntries(executions.map((e) => [e.name?.replace(/-\d{8}-REHEARSAL$/, ""), e.status]));
    expect(runs).toEqual(Object.fromEntries([...PILOT, ...MAIN].map((b) => [b, "SUCCEEDED"])));
    for (const bucket of LEFT_OUT) expect(runs[bucket]).toBeUndefined();

    // The roll-up: each row is its run's report, and the totals add the rows up.
    for (const fleet of [pilot, main]) {
      expect(fleet.totals).toMatchObject({
        buckets: fleet.buckets.length,
        succeeded: fleet.buckets.length,
        failedRuns: 0,
      });
      let reencrypted = 0;
      let skipped = 0;
      for (const row of fleet.buckets) {
        expect(row).toMatchObject({ status: "SUCCEEDED", outcome: "succeeded", failed: 0 });
        expect(row.executionArn).toBe(executionArnOf(stateMachineArn, row.execution));
        const report = await rekey(sandbox, "report", "--execution", row.execution, "--output", "json");
        expect(report.code, report.err).toBe(0);
        const totals = (JSON.parse(report.out) as { report: { totals: Record<string, number> } }).report.totals;
        expect(row).toMatchObject({
          reencrypted: totals.reencrypted,
          alreadyCompliant: totals.alreadyCompliant,
          skipped: totals.skipped,
        });
        reencrypted += row.reencrypted;
        skipped += row.skipped ?? 0;
      }
      expect(fleet.totals).toMatchObject({ reencrypted, skipped, failedObjects: 0 });
    }
    expect(main.totals.reencrypted).toBeGreaterThan(0);

    // Every bucket a run ended with the target key (the one the seeded compliant bucket has) as its default
    // encryption, with Bucket Key.
    const defaultOf = async (bucket: string) =>
      (await clients.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }))).ServerSideEncryptionConfiguration
        ?.Rules?.[0];
    const target = (await defaultOf("acme-compliant"))?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID;
    expect(target).toMatch(/^arn:aws:kms:/);
    for (const bucket of [...PILOT, ...MAIN]) {
      expect(await defaultOf(bucket)).toMatchObject({
        ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: target },
        BucketKeyEnabled: true,
      });
    }

    // The evidence: a page per run of both fleets, and the fleet page linking to each.
    const fleetPage = readFileSync(join(fleetDir, "evidence", "index.html"), "utf8");
    for (const row of [...pilot.buckets, ...main.buckets]) {
      expect(existsSync(join(fleetDir, "evidence", row.execution, "index.html"))).toBe(true);
      expect(fleetPage).toContain(`${row.execution}/index.html`);
    }
  }, 180_000);
});
