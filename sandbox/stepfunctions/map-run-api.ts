import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SandboxIdentity } from "../config.ts";
import { sandboxS3Client } from "../sdk-clients.ts";
import type { MapRunHost } from "./distributed-map-run.ts";
import type { StateMachineDefinition } from "./engine.ts";
import type { SandboxExecution } from "./executions.ts";
import { MapRun } from "./map-runs.ts";
import { sfnError } from "./names.ts";
import { paginate, required, validation } from "./params.ts";
import { definedOnly, seconds } from "./wire.ts";

/**
 * The Map Runs of Distributed Map states: where they are kept, how their child executions start, and the API that
 * shows them (DescribeMapRun, ListMapRuns, UpdateMapRun). Map Runs are kept in memory only (STEP-FUNCTIONS.md).
 */

/** What the sandbox's Step Functions appends to its S3 client's user agent (ItemReader, ResultWriter), for fault rules. */
export const STEP_FUNCTIONS_USER_AGENT = "sandbox-step-functions";

const MAP_RUN_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:mapRun:[^:]+\/[^:/]+:[^:]+$/;

export interface ChildLaunch {
  executionArn: string;
  stateMachineArn: string;
  stateMachineName: string;
  name: string;
  input: unknown;
  definition: StateMachineDefinition;
  roleArn: string;
  mapRunArn: string;
}

export function createMapRuns(deps: {
  identity: SandboxIdentity;
  /** The sandbox's own endpoint, for the S3 calls of ItemReader and ResultWriter (as Batch Operations makes its). */
  endpoint: () => string;
  /** Starts an execution as StartExecution does (service.ts), here a Map Run's child. */
  launch: (child: ChildLaunch) => SandboxExecution;
  executions: () => Iterable<SandboxExecution>;
}) {
  const runs = new Map<string, MapRun>();
  let s3: S3Client | undefined;
  const client = () => {
    s3 ??= sandboxS3Client(
      { endpoint: deps.endpoint(), region: deps.identity.region },
      { maxAttempts: 3, customUserAgent: STEP_FUNCTIONS_USER_AGENT },
    );
    return s3;
  };

  const find = (arn: string) => {
    if (!MAP_RUN_ARN.test(arn)) throw sfnError("InvalidArn", `Invalid Arn: '${arn}'`);
    const run = runs.get(arn);
    if (!run) throw sfnError("ResourceNotFound", `Resource not found: '${arn}'`);
    return run;
  };

  /** The host a parent execution's Distributed Map states use; children run with the parent's role. */
  const host = (roleArn: string): MapRunHost => ({
    s3: client,
    createMapRun({ parent, label, maxConcurrency, tolerance }) {
      // `<machine>/<label>`: the label, or a UUID when the state has none (the labelled state machine ARN).
      const machineName = parent.stateMachineArn.slice(parent.stateMachineArn.indexOf(":stateMachine:") + 14);
      const labelled = `${machineName}/${label ?? randomUUID()}`;
      const prefix = `arn:aws:states:${deps.identity.region}:${deps.identity.accountId}`;
      const run = new MapRun(
        `${prefix}:mapRun:${labelled}:${randomUUID()}`,
        parent.executionArn,
        `${prefix}:stateMachine:${labelled}`,
        Date.now(),
        maxConcurrency,
        tolerance,
      );
      runs.set(run.arn, run);
      return run;
    },
    startChild(mapRun, definition, input) {
      const name = randomUUID();
      const stateMachineName = mapRun.stateMachineArn.slice(mapRun.stateMachineArn.indexOf(":stateMachine:") + 14);
      return deps.launch({
        executionArn: `${mapRun.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`,
        stateMachineArn: mapRun.stateMachineArn,
        stateMachineName,
        name,
        input,
        definition,
        roleArn,
        mapRunArn: mapRun.arn,
      });
    },
  });

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    DescribeMapRun(input) {
      const run = find(required(input, "mapRunArn"));
      return definedOnly({
        mapRunArn: run.arn,
        executionArn: run.executionArn,
        status: run.status,
        startDate: seconds(run.startDate),
        stopDate: run.stopDate !== undefined ? seconds(run.stopDate) : undefined,
        maxConcurrency: run.maxConcurrency,
        toleratedFailurePercentage: run.tolerance.percentage ?? 0,
        toleratedFailureCount: run.tolerance.count ?? 0,
        itemCounts: run.counts("items"),
        executionCounts: run.counts("executions"),
        redriveCount: 0,
      });
    },
    ListMapRuns(input) {
      const executionArn = required(input, "executionArn");
      const items = [...runs.values()].filter((r) => r.executionArn === executionArn);
      const page = paginate(items, input, `ListMapRuns:${executionArn}`);
      return {
        mapRuns: page.items.map((r) =>
          definedOnly({
            executionArn: r.executionArn,
            mapRunArn: r.arn,
            stateMachineArn: r.stateMachineArn,
            startDate: seconds(r.startDate),
            stopDate: r.stopDate !== undefined ? seconds(r.stopDate) : undefined,
          }),
        ),
        ...page.next,
      };
    },
    UpdateMapRun(input) {
      const run = find(required(input, "mapRunArn"));
      const maxConcurrency = numberMember(input, "maxConcurrency", true);
      const percentage = numberMember(input, "toleratedFailurePercentage", false, 100);
      const count = numberMember(input, "toleratedFailureCount", true);
      if (maxConcurrency === undefined && percentage === undefined && count === undefined) {
        throw validation(
          "At least one of maxConcurrency, toleratedFailurePercentage, toleratedFailureCount must be given",
        );
      }
      if (run.status !== "RUNNING") throw validation(`Map Run is not running: '${run.arn}'`);
      run.update({
        ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
        tolerance: definedOnly({ percentage, count }),
      });
      return {};
    },
  };

  return {
    host,
    operations,
    /** The child executions of a Map Run, for ListExecutions(mapRunArn). */
    children(mapRunArn: string): SandboxExecution[] {
      find(mapRunArn);
      return [...deps.executions()].filter((e) => e.mapRunArn === mapRunArn);
    },
  };
}

function numberMember(
  input: Record<string, unknown>,
  member: string,
  integer: boolean,
  max?: number,
): number | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || (integer && !Number.isInteger(v))) {
    throw sfnError("SerializationException", `'${member}' must be a number`);
  }
  if (v < 0 || (max !== undefined && v > max)) {
    throw validation(
      `Value '${v}' at '${member}' failed to satisfy constraint: Member must be between 0 and ${max ?? "its maximum"}`,
    );
  }
  return v;
}
