import type { CopyJobsProgress } from "../contract/copy-jobs.ts";
import type { FilterEngineChoice } from "../contract/engines.ts";
import type { FinalReportOutput } from "../contract/final-report.ts";
import type { LargeObjectCopyResult } from "../contract/large-objects.ts";
import type { Plan, Slicing } from "../contract/plan.ts";
import { StateNames } from "../contract/states.ts";
import { rekeyClients } from "../local/sandbox-clients.ts";
import { rekeyDeployment, startSandboxExecution } from "../local/sandbox-run.ts";
import { type MixedBucket, seedMixedBucket } from "../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../sandbox/admin-client.ts";
import { startSandbox } from "../sandbox/server.ts";
import { formatBytes, formatCount } from "../steps/domain/format.ts";
import { CommandFailedError } from "./errors.ts";
import { bar, formatDuration, ProgressPrinter } from "./progress.ts";
import { executionName } from "./runs.ts";

export interface DemoOptions {
  /** "inventory": wait for (the sandbox's immediate) S3 Inventory delivery; "generate": the manifest generator. */
  source: "inventory" | "generate";
  /** How the inventory is filtered (contract/engines.ts); the run's default (auto) when absent. */
  engine?: FilterEngineChoice;
  objects: number;
  /** Batch Operations tasks per second in the sandbox: slow enough to watch, fast enough not to bore. */
  tasksPerSecond: number;
}

/** `rekey demo`: one bucket re-encrypted end to end in the local sandbox, with progress and the final report. */
export async function demoCommand(options: DemoOptions): Promise<void> {
  const out = new ProgressPrinter();
  const sandbox = await startSandbox({ batchTasksPerSecond: options.tasksPerSecond });
  try {
    const clients = rekeyClients(sandbox);
    const admin = new SandboxAdmin(sandbox.endpoint);
    out.line(
      `Sandbox running at ${sandbox.endpoint} (S3, S3 Batch Operations, KMS, STS, Lambda, Step Functions, Athena; state in memory; console at ${sandbox.endpoint}/_sandbox/console/).`,
    );
    const deployment = await rekeyDeployment(sandbox);
    out.line(
      `Deployed rekey into it: ${Object.keys(deployment.functionNames).length} Lambda functions and ${deployment.stateMachineArn}.`,
    );
    out.line(`Seeding ${formatCount(options.objects)} objects written "before 2023", unencrypted and otherwise...`);
    const scenario = await seedMixedBucket(clients, admin, {
      bucket: "rekey-demo-data",
      workBucket: "rekey-demo-work",
      objects: options.objects,
      // Generated lists cannot see Object Lock (steps/domain/candidates.ts): the locked cases need an inventory.
      objectLock: options.source === "inventory",
    });
    await printCensus(out, admin, scenario, "Before");

    // Named as `rekey start` names a run (<bucket>-<yyyymmdd>[-<change id>]), with the demo as its change.
    const name = executionName("rekey-demo-data", new Date(), "DEMO");
    let delivered = false;
    const started = Date.now();
    const execution = startSandboxExecution({
      sandbox,
      name,
      input: {
        bucket: scenario.bucket,
        kmsKeyArn: scenario.targetKeyArn,
        ...(options.source === "inventory" ? { inventoryConfigurationId: scenario.inventoryConfigurationId } : {}),
        ...(options.engine ? { engine: options.engine } : {}),
        workBucket: scenario.workBucket,
        options: { inventoryPollSeconds: 1, jobPollMinSeconds: 1, jobPollMaxSeconds: 2 },
      },
      onEvent: (event) => {
        const at = `+${((event.timestamp - started) / 1000).toFixed(1).padStart(5)}s`;
        if (event.type === "StateEntered" && event.state.type !== "Choice") {
          if (event.state.name === StateNames.checkCopyJobs || event.state.name === StateNames.waitForJobs) return;
          if (event.state.name === StateNames.waitForInventory && delivered) return;
          out.line(`${at}  ${event.state.name}`);
        }
        if (
          options.source === "inventory" &&
          event.type === "StateEntered" &&
          event.state.name === StateNames.waitForInventory &&
          !delivered
        ) {
          delivered = true;
          out.line("         sandbox: S3 delivers the bucket's inventory now (on AWS it arrives within 48 hours)");
          admin
            .deliverInventory({ bucket: scenario.bucket, configurationId: scenario.inventoryConfigurationId })
            .then((d) =>
              out.line(
                `         sandbox: inventory of ${formatCount(d.rows)} rows in ${d.dataFiles.length} file(s): ${d.manifestKey}`,
              ),
            )
            .catch((err: Error) => out.line(`         sandbox: inventory delivery failed: ${err.message}`));
        }
        if (event.type === "StateExited" && event.state.name === StateNames.sliceInventory) {
          const slicing = (event.state.output as { slicing?: Slicing }).slicing;
          if (slicing && "querying" in slicing) {
            out.line(
              `         Athena's query ${slicing.querying.queryId} is ${slicing.querying.state}; asking again soon`,
            );
          } else if (slicing && !slicing.stored) {
            out.line(
              `         ${formatCount(slicing.files)} file(s) in ${formatCount(slicing.slices)} slice(s), planned in parallel`,
            );
          }
        }
        if (
          event.type === "StateExited" &&
          (event.state.name === StateNames.combinePlan || event.state.name === StateNames.useStoredPlan)
        ) {
          const plan = (event.state.output as { plan?: Plan }).plan;
          if (plan?.engine) out.line(`         engine: ${plan.engine.name} (${plan.engine.why})`);
          for (const m of plan?.manifests ?? [])
            out.line(
              m.operation === "copy"
                ? `         manifest: ${formatCount(m.objects)} ${m.storageClass} objects to copy in place`
                : `         manifest: ${formatCount(m.objects)} encrypted objects to move to the target key (UpdateObjectEncryption, no copy)`,
            );
          if (plan?.largeObjects)
            out.line(
              `         list: ${formatCount(plan.largeObjects.objects)} objects for rekey to copy itself (${formatBytes(plan.largeObjects.bytes)}): over 5 GiB part by part, keys too long for a manifest with CopyObject`,
            );
          if (plan?.estimate) for (const line of plan.estimate.text.split("\n")) out.line(`         ${line}`);
        }
        if (event.type === "StateExited" && event.state.name === StateNames.copyLargeObjects) {
          const l = (event.state.output as { largeCopy?: LargeObjectCopyResult }).largeCopy;
          if (l)
            out.line(
              `         ${bar(l.processed, l.total)} ${formatCount(l.processed)}/${formatCount(l.total)} copied directly: ${formatCount(l.counts.reencrypted)} re-encrypted, ${formatCount(l.counts.failed + l.counts["changed-during-copy"])} failed${l.done ? "" : ", continuing"}`,
            );
        }
        if (event.type === "StateExited" && event.state.name === StateNames.checkCopyJobs) {
          const p = (event.state.output as { progress?: CopyJobsProgress }).progress;
          if (p)
            out.update(
              `         ${bar(p.succeeded + p.failed, p.total)} ${formatCount(p.succeeded)}/${formatCount(p.total)} copied, ${formatCount(p.failed)} failed, ${p.jobs.length} job(s)${p.done ? "" : `, next check in ${formatDuration(p.waitSeconds)}`}`,
            );
          if (p?.done) out.closeLine();
        }
      },
    });
    const result = await execution.result;
    out.closeLine();
    out.line("");
    if (result.status === "SUCCEEDED") {
      const report = result.output as FinalReportOutput;
      out.line(report.summary.trimEnd());
      out.line(`Summary: ${report.summaryLocation}`);
    } else if (result.status === "FAILED") {
      out.line(`The run failed: ${result.error}`);
      out.line(result.cause);
    }
    out.line("");
    await printCensus(out, admin, scenario, "After");
    out.line(`Finished in ${formatDuration((Date.now() - started) / 1000)} (execution ${execution.executionArn}).`);
    if (result.status !== "SUCCEEDED") throw new CommandFailedError(`The demo run ended ${result.status}.`);
  } finally {
    await sandbox.close();
  }
}

/** Current objects by encryption, read straight from the sandbox, independent of rekey's own report. */
async function printCensus(
  out: ProgressPrinter,
  admin: SandboxAdmin,
  scenario: MixedBucket,
  when: string,
): Promise<void> {
  const versions = await admin.versions(scenario.bucket);
  const counts = new Map<string, number>();
  for (const v of versions) {
    if (!v.isLatest || v.isDeleteMarker) continue;
    const e = v.encryption;
    const label =
      e.type === "SSE-KMS"
        ? `SSE-KMS ${e.keyArn === scenario.targetKeyArn ? "target key" : "other key"}${e.bucketKeyEnabled ? " + Bucket Key" : ""}`
        : e.type;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const noncurrent = versions.filter((v) => !v.isLatest && !v.isDeleteMarker).length;
  out.line(
    `${when}: current objects in s3://${scenario.bucket} by encryption (${formatCount(noncurrent)} noncurrent versions kept as they are)`,
  );
  for (const [label, n] of [...counts].sort((a, b) => b[1] - a[1]))
    out.line(`  ${formatCount(n).padStart(8)}  ${label}`);
}
