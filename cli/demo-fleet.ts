import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rekeyClients } from "../local/sandbox-clients.ts";
import { rekeyDeployment } from "../local/sandbox-run.ts";
import { seedFleet } from "../local/scenarios/fleet.ts";
import { SandboxAdmin } from "../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS } from "../sandbox/config.ts";
import { startSandbox } from "../sandbox/server.ts";
import { formatCount } from "../steps/domain/format.ts";
import { evidenceCommand } from "./commands/evidence.ts";
import { type FleetStatus, fleetStartCommand, fleetStatusCommand } from "./commands/fleet.ts";
import { reportCommand } from "./commands/report.ts";
import { scanCommand } from "./commands/scan.ts";
import { CommandFailedError } from "./errors.ts";
import { type Io, processIo } from "./io.ts";
import { formatDuration } from "./progress.ts";

export interface FleetDemoOptions {
  /** Objects in the larger mixed bucket (the smaller holds a quarter). */
  objects: number;
  tasksPerSecond: number;
  maxConcurrentRuns: number;
}

/**
 * `rekey demo --fleet`: a sandbox account with buckets in different states, scanned with `rekey scan`, the buckets that
 * need it run as one fleet with `rekey fleet start` under a bound on runs at once, and the roll-up of `rekey fleet
 * status` checked against each bucket's own report.
 */
export async function fleetDemoCommand(options: FleetDemoOptions): Promise<void> {
  const sandbox = await startSandbox({ batchTasksPerSecond: options.tasksPerSecond });
  const dir = await mkdtemp(join(tmpdir(), "rekey-fleet-demo-"));
  const say = (line = "") => processIo.out.write(`${line}\n`);
  try {
    const deployment = await rekeyDeployment(sandbox);
    const clients = rekeyClients(sandbox);
    say(`Sandbox running at ${sandbox.endpoint} (console at ${sandbox.endpoint}/_sandbox/console/).`);
    say(
      `Deployed rekey into it: ${deployment.stateMachineArn}\n  and its fleet machine: ${deployment.fleetStateMachineArn}`,
    );
    say("Seeding an account: two buckets of old objects, an empty one, a compliant one and an unversioned one...");
    const fleet = await seedFleet(clients, new SandboxAdmin(sandbox.endpoint), {
      prefix: "demo-",
      workBucket: deployment.workBucket,
      objects: options.objects,
    });
    // The CLI's own commands, as an operator's shell with the sandbox's variables would run them.
    const env = {
      AWS_ENDPOINT_URL: sandbox.endpoint,
      AWS_REGION: sandbox.identity.region,
      AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
    };
    const shown: Io = { ...processIo, env };
    const captured = () => {
      let text = "";
      const io: Io = { ...processIo, env, out: { write: (t: string) => (text += t) } };
      return { io, text: () => text };
    };
    const aws = { endpoint: sandbox.endpoint, region: sandbox.identity.region };

    say(`\n$ rekey scan --kms-key ${fleet.targetKeyArn} --prefix demo-`);
    const scanFilter = { prefix: "demo-" };
    await scanCommand({ ...aws, kmsKey: fleet.targetKeyArn, filter: scanFilter, output: {} }, shown);
    const scanJson = captured();
    await scanCommand(
      { ...aws, kmsKey: fleet.targetKeyArn, filter: scanFilter, output: { format: "json" } },
      scanJson.io,
    );
    const scanFile = join(dir, "scan.json");
    await writeFile(scanFile, scanJson.text());

    say(
      `\n$ rekey scan ... --output json > scan.json\n$ rekey fleet start --kms-key ... --buckets-file scan.json --source generate --max-concurrent-runs ${options.maxConcurrentRuns}`,
    );
    const start = captured();
    const started = Date.now();
    const code = await fleetStartCommand(
      {
        ...aws,
        kmsKey: fleet.targetKeyArn,
        buckets: [],
        bucketsFile: scanFile,
        source: "generate",
        maxConcurrentRuns: options.maxConcurrentRuns,
        includeDone: false,
        order: "smallest-first",
        runOptions: { jobPollMinSeconds: 1, jobPollMaxSeconds: 2 },
        dryRun: false,
        output: { format: "json" },
      },
      start.io,
    );
    if (code !== 0) throw new CommandFailedError(`rekey fleet start ended with exit code ${code}.`);
    const plan = JSON.parse(start.text()) as {
      fleet: string;
      buckets: { bucket: string; name: string }[];
      excluded: { bucket: string; reason: string }[];
    };
    say(`Started fleet ${plan.fleet}: ${plan.buckets.map((b) => b.bucket).join(", ")} (smallest first)`);
    for (const e of plan.excluded) say(`  left out ${e.bucket}: ${e.reason}`);

    // Follow the fleet, a line whenever a bucket's state changes.
    const last = new Map<string, string>();
    let status: FleetStatus | undefined;
    for (;;) {
      const poll = captured();
      await fleetStatusCommand(
        { ...aws, fleet: plan.fleet, watch: false, interval: 1, output: { format: "json" } },
        poll.io,
      );
      status = JSON.parse(poll.text()) as FleetStatus;
      for (const b of status.buckets) {
        const now = b.status === "RUNNING" ? `running: ${b.currentState ?? "?"}` : b.status.toLowerCase();
        if (last.get(b.bucket) !== now) {
          say(`  +${formatDuration((Date.now() - started) / 1000).padStart(6)}  ${b.bucket}: ${now}`);
          last.set(b.bucket, now);
        }
      }
      if (status.status !== "RUNNING" && !status.buckets.some((b) => b.status === "RUNNING")) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    say(`\n$ rekey fleet status --fleet ${plan.fleet}`);
    await fleetStatusCommand({ ...aws, fleet: plan.fleet, watch: false, interval: 1, output: {} }, shown);

    // The roll-up against each bucket's own report.json, read as `rekey report` reads it.
    say("\nChecking the roll-up against each bucket's report (rekey report --execution <run> --output json):");
    const mismatches: string[] = [];
    for (const row of status.buckets) {
      const report = captured();
      await reportCommand({ ...aws, execution: row.execution, list: undefined, output: { format: "json" } }, report.io);
      const totals = (JSON.parse(report.text()) as { report?: { totals?: Record<string, number> } }).report?.totals;
      if (!totals) {
        say(`  ${row.bucket}: no report (the run ${row.status.toLowerCase()})`);
        continue;
      }
      const same =
        totals.reencrypted === row.reencrypted &&
        totals.skipped === row.skipped &&
        totals.failed === row.failed &&
        totals.alreadyCompliant === row.alreadyCompliant;
      say(
        `  ${row.bucket}: report says ${formatCount(totals.reencrypted ?? 0)} re-encrypted, ${formatCount(totals.alreadyCompliant ?? 0)} already compliant, ${formatCount(totals.skipped ?? 0)} skipped, ${formatCount(totals.failed ?? 0)} failed: ${same ? "matches" : "DOES NOT MATCH"} the roll-up`,
      );
      if (!same) mismatches.push(row.bucket);
    }
    say(`\n$ rekey evidence --fleet ${plan.fleet} --out rekey-evidence`);
    await evidenceCommand({ ...aws, executions: [], fleet: plan.fleet, out: "rekey-evidence", output: {} }, shown);
    say(`\nFinished in ${formatDuration((Date.now() - started) / 1000)}.`);
    if (mismatches.length)
      throw new CommandFailedError(`The roll-up differs from the reports of ${mismatches.join(", ")}.`);
    if (status.totals.failedRuns) throw new CommandFailedError(`${status.totals.failedRuns} bucket run(s) failed.`);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await sandbox.close();
  }
}
