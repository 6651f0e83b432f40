import { PreflightBlockedError } from "../../contract/errors.ts";
import { ACKNOWLEDGEABLE_BLOCKERS } from "../../contract/findings.ts";
import { describeBlockers } from "../../steps/domain/preflight.ts";
import { createAwsClients } from "../../steps/runtime/clients.ts";
import { type AwsOptions, clientSettingsFor, stateMachineArn } from "../aws.ts";
import { deploymentConfig } from "../deployment.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";
import { type PreparedRun, prepareRun, type RunStartRequest, startUnderFreeName } from "../run-start.ts";

export interface StartOptions extends AwsOptions, RunStartRequest {
  dryRun: boolean;
  output: OutputChoice;
}

/** What `start` found and decided, printed by --dry-run and, in short, by a start. */
type StartPlan = PreparedRun;

/**
 * `rekey start`: the read-only part of "Validate input" and "Preflight checks" first, with the deployment's own
 * settings, so a request they would refuse starts nothing and uses up no execution name; then one execution, under
 * the first of the day's names no earlier run took. --dry-run stops after the checks and says what the run would do.
 */
export async function startCommand(options: StartOptions, io: Io): Promise<number> {
  const settings = await clientSettingsFor(options, io);
  const clients = createAwsClients(settings);
  const machine = await stateMachineArn(clients, options, io);
  const deployment = await deploymentConfig(clients, settings, machine);
  const plan = await prepareRun({ clients, machine, deployment, now: io.now() }, options);
  const outcome = plan.preflight;
  if (options.dryRun) {
    const { name: _, ...shown } = plan;
    printResult(io, options.output, "DryRun", shown, () => dryRunText(plan));
    return outcome.blockers.length ? 2 : 0;
  }
  if (outcome.blockers.length) {
    throw new PreflightBlockedError(describeBlockers(options.bucket, outcome.blockers), {
      fix: "Nothing was started. Resolve each blocker as its fix says (or accept those that allow it with --acknowledge CODE), then run rekey start again.",
      blockers: outcome.blockers,
    });
  }
  const { name, executionArn } = await startUnderFreeName(clients, machine, plan.name, plan.input);
  const data = { executionArn, name, bucket: options.bucket, warnings: outcome.warnings };
  printResult(io, options.output, "Start", data, () =>
    [
      `Started ${name} for s3://${options.bucket}`,
      ...outcome.warnings.map((w) => `  warning:   [${w.code}]${w.acknowledged ? " (acknowledged)" : ""} ${w.message}`),
      `  execution: ${executionArn}`,
      `  watch:     rekey status --execution ${executionArn} --watch`,
      `  stop:      rekey stop --execution ${executionArn}`,
      "",
    ].join("\n"),
  );
  return 0;
}

function dryRunText(plan: StartPlan): string {
  const { checks, preflight } = plan;
  const lines = [
    `Dry run: nothing was started or written. A start now would run ${plan.executionName}.`,
    "",
    `Checks passed: account ${checks.accountId}, region ${checks.region}, work bucket ${checks.workBucket}, candidates from ${checks.source === "inventory" ? "an S3 Inventory" : "Batch Operations' manifest generator"}.`,
    "",
    "What preflight read:",
    ...Object.entries(preflight.facts).map(([k, v]) => `  ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`),
  ];
  if (preflight.blockers.length) {
    lines.push("", `Blockers (${preflight.blockers.length}): the start would be refused.`);
    for (const b of preflight.blockers) {
      const accept = (ACKNOWLEDGEABLE_BLOCKERS as readonly string[]).includes(b.code)
        ? ` (or accept it: --acknowledge ${b.code})`
        : "";
      lines.push(`  [${b.code}] ${b.message}`, `      fix: ${b.fix}${accept}`);
    }
  }
  if (preflight.warnings.length) {
    lines.push("", `Warnings (${preflight.warnings.length}), which go into the report:`);
    for (const w of preflight.warnings) {
      lines.push(
        `  [${w.code}]${w.acknowledged ? " (acknowledged: a blocker you accepted)" : ""} ${w.message}`,
        `      ${w.acknowledged ? "to resolve it instead" : "fix"}: ${w.fix}`,
      );
    }
  }
  lines.push("", "The run would:", ...plan.steps.map((s, i) => `  ${i + 1}. ${s}`));
  lines.push("", "Execution input:", JSON.stringify(plan.input, null, 2), "");
  return lines.join("\n");
}
