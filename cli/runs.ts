import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
} from "@aws-sdk/client-sfn";
import type { FindInventoryResult } from "../contract/candidates.ts";
import type { CopyJobsProgress } from "../contract/copy-jobs.ts";
import type { LargeObjectCopyResult } from "../contract/large-objects.ts";
import type { Jobs, Plan } from "../contract/plan.ts";
import type { PreflightResult } from "../contract/preflight.ts";
import type { RunContext } from "../contract/run-context.ts";
import { StateNames } from "../contract/states.ts";
import type { AwsClients } from "../steps/runtime/clients.ts";

/** Execution names allow 1–80 of [A-Za-z0-9_-]; bucket names may also hold dots. */
const NAME_MAX = 80;

/**
 * A readable, deterministic execution name: bucket and UTC date, plus the change id when given, so that the
 * console, the CLI and the change ticket all say the same thing.
 */
export function executionName(bucket: string, date: Date, changeId?: string): string {
  const day = date.toISOString().slice(0, 10).replaceAll("-", "");
  const suffix = changeId ? `-${changeId.replace(/[^A-Za-z0-9_-]/g, "-")}` : "";
  const base = bucket.replace(/[^A-Za-z0-9_-]/g, "-");
  return `${base.slice(0, NAME_MAX - day.length - 1 - suffix.length)}-${day}${suffix}`;
}

/** What an operator reads in each state, for `rekey status` and the change-window runbook. */
export const STATE_MEANINGS: Record<string, string> = {
  [StateNames.validateInput]: "checking the request, the bucket, the key and the inventory configuration",
  [StateNames.preflight]: "reading bucket and key configurations; a blocker stops the run before anything is written",
  [StateNames.enforceDefaultEncryption]: "setting bucket default encryption to the target key with Bucket Key",
  [StateNames.findInventory]:
    "looking for an S3 Inventory delivered after default encryption was enforced (or, without one, for the manifest generator's lists)",
  [StateNames.isInventoryReady]:
    "looking for an S3 Inventory delivered after default encryption was enforced (or, without one, for the manifest generator's lists)",
  [StateNames.waitForInventory]:
    "waiting for S3 to deliver an inventory (the first one can take up to 48 hours), or for Batch Operations to list the bucket",
  [StateNames.sliceInventory]:
    "choosing how to read the inventory and cutting it into slices (the athena engine's queries run here)",
  [StateNames.isPlanStored]: "planning",
  [StateNames.waitForAthena]:
    "waiting a minute for the athena engine's queries, still running in Athena, before Slice the inventory asks again",
  [StateNames.useStoredPlan]: "reusing the plan an earlier run made of this inventory",
  [StateNames.planSlices]:
    "reading the inventory (or the generated lists) slice by slice, in parallel child executions, and writing each slice's part of the manifests",
  [StateNames.combinePlan]: "joining the slices' parts into the manifests and writing the plan",
  [StateNames.anythingToCopy]: "planning",
  [StateNames.noCopyJobs]: "nothing to copy",
  [StateNames.createCopyJobs]: "creating the Batch Operations copy jobs",
  [StateNames.isThereAJobSlot]: "seeing whether the account has room for this run's copy jobs (maxActiveJobs)",
  [StateNames.waitForJobSlot]:
    "waiting for other runs' copy jobs to end: the account has as many live rekey jobs as maxActiveJobs allows",
  [StateNames.checkCopyJobs]: "Batch Operations is copying objects",
  [StateNames.areJobsDone]: "Batch Operations is copying objects",
  [StateNames.waitForJobs]: "Batch Operations is copying objects",
  [StateNames.keepRedriveJobs]: "Batch Operations is copying again the objects whose tasks failed transiently",
  [StateNames.waitingForApproval]:
    "the copy jobs are ready and copy nothing until you run rekey approve (or rekey stop); the plan is below",
  [StateNames.anyLargeObjects]:
    "planning the copies rekey makes itself (objects over 5 GiB, keys too long for a manifest)",
  [StateNames.noLargeObjects]: "nothing for rekey to copy itself",
  [StateNames.copyLargeObjects]:
    "copying what Batch Operations cannot take: objects over 5 GiB part by part, long keys with CopyObject (each call runs up to 13 minutes)",
  [StateNames.areLargeObjectsDone]: "copying what Batch Operations cannot take",
  [StateNames.sliceReports]: "listing the copy jobs' completion reports and cutting them into slices",
  [StateNames.verifySlices]:
    "reading the completion reports slice by slice, in parallel child executions, counting every row and listing failures",
  [StateNames.verifyResults]: "adding up the slices' counts, joining failed.csv and spot-checking re-encrypted objects",
  [StateNames.lookForNonCompliantObjects]:
    "checking the bucket, not the plan, for objects still not under the target key",
  [StateNames.isBucketCheckDone]: "checking the bucket, not the plan, for objects still not under the target key",
  [StateNames.waitForBucketCheck]: "waiting for Batch Operations to list the bucket's non-compliant objects",
  [StateNames.writeFinalReport]: "writing the final report",
  [StateNames.didEveryObjectSucceed]: "finishing",
  [StateNames.reencrypted]: "done",
  [StateNames.finishedWithFailures]: "done, with objects that failed",
  [StateNames.recordFailure]: "recording why the run stopped",
  [StateNames.runFailed]: "stopped",
};

export interface RunSummary {
  executionArn: string;
  name: string;
  status: ExecutionStatus | string;
  startDate?: Date | undefined;
  stopDate?: Date | undefined;
  bucket?: string | undefined;
}

export interface RunView extends RunSummary {
  input: Record<string, unknown>;
  output?: unknown;
  error?: string | undefined;
  cause?: string | undefined;
  currentState?: string | undefined;
  jobs?: Jobs | undefined;
  plan?: Plan | undefined;
  progress?: CopyJobsProgress | undefined;
  inventory?: FindInventoryResult | undefined;
  /** The latest Map Run the execution started (its ARN), and the Map state that started it. */
  mapRun?: { state: string; arn: string } | undefined;
  /** The latest result of "Copy objects directly", and whether that state was entered at all. */
  largeCopy?: LargeObjectCopyResult | undefined;
  largeCopyStarted?: boolean;
  /** What "Validate input" made of the request: the work bucket and run prefix among it. */
  context?: RunContext | undefined;
  /** What "Preflight checks" found: its warnings, acknowledged blockers among them. */
  preflight?: PreflightResult | undefined;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function bucketOf(input: unknown): string | undefined {
  const b = (input as { bucket?: unknown } | null)?.bucket;
  return typeof b === "string" ? b : undefined;
}

/** Executions of the state machine, newest first, with the bucket each one is for. */
export async function listRuns(
  clients: AwsClients,
  stateMachineArn: string,
  filter: { bucket?: string | undefined; status?: ExecutionStatus; limit: number },
): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: filter.status, nextToken, maxResults: 100 }),
    );
    for (const e of page.executions ?? []) {
      if (!e.executionArn) continue;
      const d = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      const bucket = bucketOf(parseJson(d.input));
      if (filter.bucket && bucket !== filter.bucket) continue;
      runs.push({
        executionArn: e.executionArn,
        name: e.name ?? "",
        status: e.status ?? "",
        startDate: e.startDate,
        stopDate: e.stopDate,
        bucket,
      });
      if (runs.length >= filter.limit) return runs;
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return runs;
}

/** One execution as an operator needs it: status, current state, and what the steps reported so far. */
export async function readRun(clients: AwsClients, executionArn: string): Promise<RunView> {
  const d = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  const input = (parseJson(d.input) ?? {}) as Record<string, unknown>;
  const view: RunView = {
    executionArn,
    name: d.name ?? "",
    status: d.status ?? "",
    startDate: d.startDate,
    stopDate: d.stopDate,
    bucket: bucketOf(input),
    input,
    output: parseJson(d.output),
    error: d.error,
    cause: d.cause,
  };
  for await (const event of historyNewestFirst(clients, executionArn)) {
    const entered = event.stateEnteredEventDetails;
    if (entered?.name && view.currentState === undefined) view.currentState = entered.name;
    if (entered?.name === StateNames.copyLargeObjects) view.largeCopyStarted = true;
    const mapRunArn = event.mapRunStartedEventDetails?.mapRunArn;
    if (mapRunArn && view.mapRun === undefined) view.mapRun = { state: "", arn: mapRunArn };
    // Newest first: the Map state's MapStateEntered comes after (older than) its MapRunStarted.
    if (view.mapRun && view.mapRun.state === "" && event.type === "MapStateEntered") {
      view.mapRun.state = entered?.name ?? "";
    }
    const exited = event.stateExitedEventDetails;
    if (exited?.name) {
      const state = parseJson(exited.output) as Record<string, unknown> | undefined;
      view.context ??= state?.run as RunContext | undefined;
      view.preflight ??= state?.preflight as PreflightResult | undefined;
      if (exited.name === StateNames.createCopyJobs) view.jobs ??= state?.jobs as Jobs | undefined;
      if (exited.name === StateNames.combinePlan || exited.name === StateNames.useStoredPlan) {
        view.plan ??= state?.plan as Plan | undefined;
      }
      if (exited.name === StateNames.checkCopyJobs) view.progress ??= state?.progress as CopyJobsProgress | undefined;
      if (exited.name === StateNames.copyLargeObjects) {
        view.largeCopy ??= state?.largeCopy as LargeObjectCopyResult | undefined;
      }
      if (exited.name === StateNames.findInventory)
        view.inventory ??= state?.inventory as FindInventoryResult | undefined;
    }
    if (view.currentState && view.jobs && view.plan && view.progress && view.inventory && view.preflight) break;
  }
  return view;
}

async function* historyNewestFirst(clients: AwsClients, executionArn: string): AsyncGenerator<HistoryEvent> {
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        reverseOrder: true,
        includeExecutionData: true,
        maxResults: 1000,
        nextToken,
      }),
    );
    yield* page.events ?? [];
    nextToken = page.nextToken;
  } while (nextToken);
}
