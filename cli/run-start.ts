import { DescribeExecutionCommand, ExecutionAlreadyExists, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { FilterEngineChoice } from "../contract/engines.ts";
import { UnexpectedResponseError } from "../contract/errors.ts";
import type { Finding, PreflightFactsSummary } from "../contract/preflight.ts";
import { describeIssues, RunRequestSchema } from "../contract/run-request.ts";
import { executionArnOf } from "../contract/states.ts";
import { gatherPreflightFacts } from "../steps/aws/preflight-reads.ts";
import { checkRunRequest } from "../steps/aws/run-request-checks.ts";
import { evaluatePreflight } from "../steps/domain/preflight.ts";
import { summarizeFacts } from "../steps/domain/preflight-facts.ts";
import type { AwsClients } from "../steps/runtime/clients.ts";
import type { StepConfig } from "../steps/runtime/step.ts";
import { CommandFailedError, UsageError } from "./errors.ts";
import { executionName, listRuns } from "./runs.ts";

/** One bucket's run as `rekey start` and `rekey fleet start` ask for it. */
export interface RunStartRequest {
  bucket: string;
  kmsKey: string;
  inventoryConfig?: string | undefined;
  /** "inventory" or "generate"; by default, inventory when an inventory configuration is given. */
  source?: "inventory" | "generate" | undefined;
  engine?: FilterEngineChoice | undefined;
  workBucket?: string | undefined;
  region?: string | undefined;
  changeId?: string | undefined;
  /** The request's `options`: polling, priority, approval, acknowledgements, the fleet's job bound. */
  runOptions: Record<string, unknown>;
}

/** The execution name a run would take: the day's name of the bucket and change, and which attempt of it. */
export interface FreeName {
  base: string;
  attempt: number;
}

/** What the checks found and decided for one bucket's run, before anything starts. */
export interface PreparedRun {
  executionName: string;
  name: FreeName;
  stateMachineArn: string;
  input: Record<string, unknown>;
  checks: { accountId: string; region: string; workBucket: string; source: "inventory" | "generate" };
  preflight: { facts: PreflightFactsSummary; warnings: Finding[]; blockers: Finding[] };
  steps: string[];
}

/** How many names a day's runs of one bucket and change may take: `<name>`, then `<name>-2` … `<name>-9`. */
const NAME_ATTEMPTS = 9;

/** The execution input of a request, checked against the contract's schema. */
export function runInput(request: RunStartRequest): Record<string, unknown> {
  if (request.changeId !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(request.changeId)) {
    throw new UsageError(
      "--change-id must be 1 to 32 letters, digits, hyphens or underscores (it becomes part of the execution name).",
    );
  }
  const input = {
    bucket: request.bucket,
    kmsKeyArn: request.kmsKey,
    ...(request.source ? { source: request.source } : {}),
    ...(request.engine ? { engine: request.engine } : {}),
    ...(request.inventoryConfig ? { inventoryConfigurationId: request.inventoryConfig } : {}),
    ...(request.workBucket ? { workBucket: request.workBucket } : {}),
    ...(request.region ? { region: request.region } : {}),
    ...(Object.keys(request.runOptions).length ? { options: request.runOptions } : {}),
  };
  const parsed = RunRequestSchema.safeParse(input);
  if (!parsed.success) {
    throw new UsageError(`The run request for ${request.bucket} is invalid:\n${describeIssues(parsed.error)}`);
  }
  return input;
}

/**
 * The read-only part of "Validate input" and "Preflight checks", with the deployment's own settings, so a request
 * they would refuse starts nothing and uses up no execution name; and the first of the day's names no earlier run
 * took. Refuses a bucket that has a run going.
 */
export async function prepareRun(
  deployed: { clients: AwsClients; machine: string; deployment: StepConfig; now: Date },
  request: RunStartRequest,
): Promise<PreparedRun> {
  const { clients, machine, deployment } = deployed;
  const input = runInput(request);
  const busy = await listRuns(clients, machine, { bucket: request.bucket, status: "RUNNING", limit: 1 });
  if (busy[0]) {
    throw new CommandFailedError(
      `A run for bucket ${request.bucket} is already running: ${busy[0].executionArn} (started ${busy[0].startDate?.toISOString() ?? "?"}).\n` +
        `Watch it with: rekey status --execution ${busy[0].executionArn} --watch\nor stop it with: rekey stop --execution ${busy[0].executionArn}`,
    );
  }
  const checked = await checkRunRequest(clients, input, {
    workBucket: deployment.workBucket,
    athenaDeployed: deployment.athena !== undefined,
  });
  const facts = await gatherPreflightFacts(
    {
      bucket: request.bucket,
      kmsKeyArn: request.kmsKey,
      region: checked.region,
      accountId: checked.accountId,
      source: checked.source,
      ...(request.inventoryConfig === undefined ? {} : { inventoryConfigurationId: request.inventoryConfig }),
    },
    clients,
    deployment.batchRoleArn,
  );
  const outcome = evaluatePreflight(facts, { acknowledge: checked.request.options?.acknowledge ?? [] });
  const base = executionName(request.bucket, deployed.now, request.changeId);
  const attempt = await freeAttempt(clients, machine, base);
  return {
    executionName: nameWithAttempt(base, attempt),
    name: { base, attempt },
    stateMachineArn: machine,
    input,
    checks: {
      accountId: checked.accountId,
      region: checked.region,
      workBucket: checked.workBucket,
      source: checked.source,
    },
    preflight: { facts: summarizeFacts(facts), warnings: outcome.warnings, blockers: outcome.blockers },
    steps: whatTheRunDoes(request, checked.workBucket),
  };
}

export function nameWithAttempt(base: string, attempt: number): string {
  return attempt === 1 ? base : `${base}-${attempt}`;
}

/** The first attempt whose name of the day no execution has taken (an ended run keeps its name for 90 days). */
export async function freeAttempt(clients: AwsClients, machine: string, base: string): Promise<number> {
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

export async function startUnderFreeName(
  clients: AwsClients,
  machine: string,
  free: FreeName,
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

function whatTheRunDoes(options: RunStartRequest, workBucket: string): string[] {
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
