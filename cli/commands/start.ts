import { DescribeExecutionCommand, ExecutionAlreadyExists, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { FilterEngineChoice } from "../../contract/engines.ts";
import { PreflightBlockedError, UnexpectedResponseError } from "../../contract/errors.ts";
import { ACKNOWLEDGEABLE_BLOCKERS } from "../../contract/findings.ts";
import type { Finding, PreflightFactsSummary } from "../../contract/preflight.ts";
import { describeIssues, RunRequestSchema } from "../../contract/run-request.ts";
import { executionArnOf } from "../../contract/states.ts";
import { gatherPreflightFacts } from "../../steps/aws/preflight-reads.ts";
import { checkRunRequest } from "../../steps/aws/run-request-checks.ts";
import { describeBlockers, evaluatePreflight } from "../../steps/domain/preflight.ts";
import { summarizeFacts } from "../../steps/domain/preflight-facts.ts";
import { type AwsClients, createAwsClients } from "../../steps/runtime/clients.ts";
import { type AwsOptions, clientSettingsFor, stateMachineArn } from "../aws.ts";
import { deploymentConfig } from "../deployment.ts";
import { CommandFailedError, UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";
import { executionName, listRuns } from "../runs.ts";

export interface StartOptions extends AwsOptions {
  bucket: string;
  kmsKey: string;
  inventoryConfig?: string | undefined;
  /** "inventory" or "generate"; by default, inventory when --inventory-config is given. */
  source?: "inventory" | "generate" | undefined;
  engine?: FilterEngineChoice | undefined;
  workBucket?: string | undefined;
  changeId?: string | undefined;
  /** The request's `options`: polling, priority, approval, acknowledgements. */
  runOptions: Record<string, unknown>;
  dryRun: boolean;
  output: OutputChoice;
}

/** What `start` found and decided, printed by --dry-run and, in short, by a start. */
interface StartPlan {
  executionName: string;
  stateMachineArn: string;
  input: Record<string, unknown>;
  checks: { accountId: string; region: string; workBucket: string; source: "inventory" | "generate" };
  preflight: { facts: PreflightFactsSummary; warnings: Finding[]; blockers: Finding[] };
  steps: string[];
}

/** How many names a day's runs of one bucket and change may take: `<name>`, then `<name>-2` … `<name>-9`. */
const NAME_ATTEMPTS = 9;

/**
 * `rekey start`: the read-only part of "Validate input" and "Preflight checks" first, with the deployment's own
 * settings, so a request they would refuse starts nothing and uses up no execution name; then one execution, under
 * the first of the day's names no earlier run took. --dry-run stops after the checks and says what the run would do.
 */
export async function startCommand(options: StartOptions, io: Io): Promise<number> {
  if (options.changeId !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(options.changeId)) {
    throw new UsageError(
      "--change-id must be 1 to 32 letters, digits, hyphens or underscores (it becomes part of the execution name).",
    );
  }
  const input = {
    bucket: options.bucket,
    kmsKeyArn: options.kmsKey,
    ...(options.source ? { source: options.source } : {}),
    ...(options.engine ? { engine: options.engine } : {}),
    ...(options.inventoryConfig ? { inventoryConfigurationId: options.inventoryConfig } : {}),
    ...(options.workBucket ? { workBucket: options.workBucket } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(Object.keys(options.runOptions).length ? { options: options.runOptions } : {}),
  };
  const parsed = RunRequestSchema.safeParse(input);
  if (!parsed.success) throw new UsageError(`The run request is invalid:\n${describeIssues(parsed.error)}`);

  const settings = await clientSettingsFor(options, io);
  const clients = createAwsClients(settings);
  const machine = await stateMachineArn(clients, options, io);
  const busy = await listRuns(clients, machine, { bucket: options.bucket, status: "RUNNING", limit: 1 });
  if (busy[0]) {
    throw new CommandFailedError(
      `A run for bucket ${options.bucket} is already running: ${busy[0].executionArn} (started ${busy[0].startDate?.toISOString() ?? "?"}).\n` +
        `Watch it with: rekey status --execution ${busy[0].executionArn} --watch\nor stop it with: rekey stop --execution ${busy[0].executionArn}`,
    );
  }
  const deployment = await deploymentConfig(clients, settings, machine);
  const checked = await checkRunRequest(clients, input, {
    workBucket: deployment.workBucket,
    athenaDeployed: deployment.athena !== undefined,
  });
  const facts = await gatherPreflightFacts(
    {
      bucket: options.bucket,
      kmsKeyArn: options.kmsKey,
      region: checked.region,
      accountId: checked.accountId,
      source: checked.source,
      ...(options.inventoryConfig === undefined ? {} : { inventoryConfigurationId: options.inventoryConfig }),
    },
    clients,
    deployment.batchRoleArn,
  );
  const outcome = evaluatePreflight(facts, { acknowledge: checked.request.options?.acknowledge ?? [] });
  const baseName = executionName(options.bucket, io.now(), options.changeId);
  const attempt = await freeAttempt(clients, machine, baseName);
  const plan: StartPlan = {
    executionName: nameWithAttempt(baseName, attempt),
    stateMachineArn: machine,
    input,
    checks: {
      accountId: checked.accountId,
      region: checked.region,
      workBucket: checked.workBucket,
      source: checked.source,
    },
    preflight: { facts: summarizeFacts(facts), warnings: outcome.warnings, blockers: outcome.blockers },
    steps: whatTheRunDoes(options, checked.workBucket),
  };
  if (options.dryRun) {
    printResult(io, options.output, "DryRun", plan, () => dryRunText(plan));
    return outcome.blockers.length ? 2 : 0;
  }
  if (outcome.blockers.length) {
    throw new PreflightBlockedError(describeBlockers(options.bucket, outcome.blockers), {
      fix: "Nothing was started. Resolve each blocker as its fix says (or accept those that allow it with --acknowledge CODE), then run rekey start again.",
      blockers: outcome.blockers,
    });
  }
  const { name, executionArn } = await startUnderFreeName(clients, machine, { base: baseName, attempt }, input);
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

function nameWithAttempt(base: string, attempt: number): string {
  return attempt === 1 ? base : `${base}-${attempt}`;
}

/** The first attempt whose name of the day no execution has taken (an ended run keeps its name for 90 days). */
async function freeAttempt(clients: AwsClients, machine: string, base: string): Promise<number> {
  for (let attempt = 1; attempt <= NAME_ATTEMPTS; attempt++) {
    const name = nameWithAttempt(base, attempt);
    try {
      await clients.sfn.send(new DescribeExecutionCommand({ executionArn: executionArnOf(machine, name) }));
    } catch (err) {
      if ((err as Error).name === "ExecutionDoesNotExist") return attempt;
      throw err;
    }
  }
  throw new CommandFailedError(
    `${base} and ${base}-2 … ${base}-${NAME_ATTEMPTS} are all taken by earlier runs today. Pass --change-id to name this run.`,
  );
}

async function startUnderFreeName(
  clients: AwsClients,
  machine: string,
  free: { base: string; attempt: number },
  input: Record<string, unknown>,
): Promise<{ name: string; executionArn: string }> {
  const { base } = free;
  let { attempt } = free;
  for (;;) {
    const name = nameWithAttempt(base, attempt);
    try {
      const { executionArn } = await clients.sfn.send(
        new StartExecutionCommand({ stateMachineArn: machine, name, input: JSON.stringify(input) }),
      );
      if (!executionArn) {
        throw new UnexpectedResponseError(`StartExecution of ${name} returned no executionArn.`, {
          fix: `Look for the execution with rekey status --bucket ${String(input.bucket)}; start it again if it is not there.`,
        });
      }
      return { name, executionArn };
    } catch (err) {
      // Another start took the name between the look and this call: take the next one.
      if (!(err instanceof ExecutionAlreadyExists) || attempt >= NAME_ATTEMPTS) throw err;
      attempt++;
    }
  }
}

function whatTheRunDoes(options: StartOptions, workBucket: string): string[] {
  const hours = Number(options.runOptions.inventoryWaitSeconds ?? 72 * 3600) / 3600;
  const inventory = options.inventoryConfig !== undefined && options.source !== "generate";
  return [
    `take the bucket's lock (runs/${options.bucket}/lock.json in s3://${workBucket})`,
    `set the default encryption of s3://${options.bucket} to SSE-KMS under ${options.kmsKey}, with S3 Bucket Key (new writes from then on)`,
    inventory
      ? `wait up to ${hours} h for an S3 Inventory of configuration "${options.inventoryConfig}" delivered after that, then plan from it with the ${options.engine ?? "auto"} engine`
      : "have Batch Operations' manifest generator list the objects not yet under the key, and plan from its lists",
    options.runOptions.requireApproval === true
      ? "create the copy jobs suspended, and wait for rekey approve before any object is copied"
      : "create one Batch Operations copy job per storage class (and one encryption-update job), which start at once",
    "copy objects over 5 GiB part by part, and keys too long for a manifest one by one",
    "read every completion report, spot-check re-encrypted objects, and check the bucket itself for objects still not under the key",
    `write report.json and summary.txt under s3://${workBucket}/runs/${options.bucket}/<run>/`,
  ];
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
