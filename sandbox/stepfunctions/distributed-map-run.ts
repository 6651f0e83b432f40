import type { S3Client } from "@aws-sdk/client-s3";
import { childDefinition, type MapStateDefinition } from "./distributed-map.ts";
import { passEvaluator, type StateMachineDefinition } from "./engine.ts";
import { definedOnly, type ExecutionHistory } from "./history.ts";
import { readItems } from "./item-reader.ts";
import { type ChildExecution, type MapRun, resultRecord, type Tolerance, type WorkUnit } from "./map-runs.ts";
import { resultLocation, writeResults } from "./result-writer.ts";
import { MAX_PAYLOAD_BYTES, stateError } from "./tasks.ts";

/**
 * One run of a Distributed Map state (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html):
 * reads the items, applies ItemSelector and ItemBatcher, starts a child workflow execution per item or batch under
 * MaxConcurrency, applies the tolerated failure threshold, writes the results (ResultWriter) and answers the state's
 * result, which the engine then passes through ResultSelector, ResultPath and OutputPath, Retry and Catch.
 */

/** What the service gives a Map Run: S3 for the reader and writer, and the Map Run and child execution registry. */
export interface MapRunHost {
  s3(): S3Client;
  createMapRun(params: {
    parent: ParentExecution;
    label: string | undefined;
    maxConcurrency: number;
    tolerance: Tolerance;
  }): MapRun;
  /** Starts a child workflow execution of the Map Run, as StartExecution starts one. */
  startChild(mapRun: MapRun, definition: StateMachineDefinition, input: unknown): ChildExecution;
}

/** The execution running the Distributed Map state. */
export interface ParentExecution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
}

export const EXCEEDED_THRESHOLD = "States.ExceedToleratedFailureThreshold";
/** The sandbox's cause for EXCEEDED_THRESHOLD (AWS's text is not documented). */
export const EXCEEDED_THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded";

export async function runDistributedMap(params: {
  host: MapRunHost;
  parent: ParentExecution;
  history: ExecutionHistory;
  context: Record<string, unknown>;
  stateName: string;
  state: MapStateDefinition;
  input: unknown;
  /** Registers the Map Run with its parent, so that stopping the parent aborts it; answers the unregister. */
  track: (mapRun: MapRun) => () => void;
}): Promise<unknown> {
  const { state, input, history } = params;
  const context = { ...params.context, State: { Name: params.stateName, EnteredTime: new Date().toISOString() } };
  const maxConcurrency = await setting(
    "MaxConcurrency",
    state.MaxConcurrency,
    state.MaxConcurrencyPath,
    input,
    context,
  );
  const percentage = await setting(
    "ToleratedFailurePercentage",
    state.ToleratedFailurePercentage,
    state.ToleratedFailurePercentagePath,
    input,
    context,
    100,
  );
  const count = await setting(
    "ToleratedFailureCount",
    state.ToleratedFailureCount,
    state.ToleratedFailureCountPath,
    input,
    context,
  );
  const location = state.ResultWriter ? await resultLocation(state.ResultWriter, input, context) : undefined;
  const mapRun = params.host.createMapRun({
    parent: params.parent,
    label: state.Label,
    maxConcurrency: maxConcurrency ?? 0,
    tolerance: definedOnly({ percentage, count }),
  });
  const untrack = params.track(mapRun);
  history.mapRun("MapStateStarted");
  history.mapRun("MapRunStarted", { mapRunArn: mapRun.arn });
  try {
    const items = await readItems({ state, stateName: params.stateName, input, context, s3: params.host.s3 });
    mapRun.units = await workUnits(state, items, input, context);
    const definition = childDefinition(state) as unknown as StateMachineDefinition;
    const outcome = await mapRun.run((unit) => params.host.startChild(mapRun, definition, unit.input));
    if (outcome === "ABORTED") {
      // The parent's stop wrote MapRunAborted already (SandboxExecution.stop), before its own closing event.
      throw stateError("States.Runtime", "The Map Run was aborted.", true);
    }
    let output: unknown;
    if (location) {
      const key = await writeResults({
        s3: params.host.s3(),
        ...location,
        mapRunArn: mapRun.arn,
        records: mapRun.results(),
      });
      output = { MapRunArn: mapRun.arn, ResultWriterDetails: { Bucket: location.bucket, Key: key } };
    } else {
      output = mapRun.units.filter((u) => u.execution).map(outputOf);
    }
    if (outcome === "EXCEEDED") throw stateError(EXCEEDED_THRESHOLD, EXCEEDED_THRESHOLD_CAUSE);
    mapRun.close("SUCCEEDED");
    history.mapRun("MapRunSucceeded");
    history.mapRun("MapStateSucceeded");
    return output;
  } catch (err) {
    if (mapRun.status === "RUNNING") {
      const e = err as Error;
      mapRun.close("FAILED");
      history.mapRun("MapRunFailed", { error: e.name, cause: e.message });
      history.mapRun("MapStateFailed");
    }
    throw err;
  } finally {
    untrack();
  }
}

/**
 * A child's entry in the Map state's output: a succeeded child's output; a failed one (within the tolerated
 * threshold) as its whole result record, as Step Functions returns a failed child's result unchanged.
 */
function outputOf(unit: WorkUnit): unknown {
  const e = unit.execution as ChildExecution;
  unit.written = true;
  return e.status === "SUCCEEDED" ? JSON.parse(e.output ?? "null") : resultRecord(e);
}

/** A numeric setting, from its field or its `...Path` (evaluated against the state's effective input). */
async function setting(
  name: string,
  value: number | undefined,
  path: string | undefined,
  input: unknown,
  context: Record<string, unknown>,
  max = Number.MAX_SAFE_INTEGER,
): Promise<number | undefined> {
  let v: unknown = value;
  if (path !== undefined) {
    try {
      v = await passEvaluator({ InputPath: path })(input, context);
    } catch (err) {
      throw stateError("States.Runtime", (err as Error).message, true);
    }
  }
  if (v === undefined) return undefined;
  const integer = name !== "ToleratedFailurePercentage";
  if (typeof v !== "number" || v < 0 || v > max || (integer && !Number.isInteger(v))) {
    throw stateError("States.Runtime", `${name} must be a number from 0 to ${max}; got ${JSON.stringify(v)}.`, true);
  }
  return v;
}

/** Each item through ItemSelector (with `$$.Map.Item.Index` and `.Value`), then grouped by ItemBatcher. */
async function workUnits(
  state: MapStateDefinition,
  items: unknown[],
  input: unknown,
  context: Record<string, unknown>,
): Promise<WorkUnit[]> {
  const template = state.ItemSelector ?? state.Parameters;
  let selected = items;
  if (template !== undefined) {
    const select = passEvaluator({ Parameters: template });
    selected = [];
    for (const [index, value] of items.entries()) {
      try {
        selected.push(await select(input, { ...context, Map: { Item: { Index: index, Value: value } } }));
      } catch (err) {
        throw stateError("States.Runtime", (err as Error).message, true);
      }
    }
  }
  const batcher = state.ItemBatcher;
  if (!batcher) return selected.map((item) => ({ input: item, items: 1 }));
  const maxItems = await setting(
    "MaxItemsPerBatch",
    batcher.MaxItemsPerBatch,
    batcher.MaxItemsPerBatchPath,
    input,
    context,
  );
  const maxBytes = await setting(
    "MaxInputBytesPerBatch",
    batcher.MaxInputBytesPerBatch,
    batcher.MaxInputBytesPerBatchPath,
    input,
    context,
    MAX_PAYLOAD_BYTES,
  );
  if (!maxItems && !maxBytes) {
    throw stateError("States.Runtime", "ItemBatcher must give MaxItemsPerBatch or MaxInputBytesPerBatch.", true);
  }
  let batchInput: unknown;
  if (batcher.BatchInput !== undefined) {
    try {
      batchInput = await passEvaluator({ Parameters: batcher.BatchInput })(input, context);
    } catch (err) {
      throw stateError("States.Runtime", (err as Error).message, true);
    }
  }
  return batches(selected, batchInput, maxItems || Number.POSITIVE_INFINITY, maxBytes || Number.POSITIVE_INFINITY);
}

/**
 * Consecutive items, as many as fit both limits: at most maxItems, and the child's input `{"BatchInput": ...,
 * "Items": [...]}` at most maxBytes of JSON (an item too large on its own is a batch of one).
 */
function batches(items: unknown[], batchInput: unknown, maxItems: number, maxBytes: number): WorkUnit[] {
  const unitOf = (batch: unknown[]): WorkUnit => ({
    input: batchInput === undefined ? { Items: batch } : { BatchInput: batchInput, Items: batch },
    items: batch.length,
  });
  const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), "utf8");
  const emptySize = bytes(unitOf([]).input);
  const units: WorkUnit[] = [];
  let batch: unknown[] = [];
  let size = emptySize;
  for (const item of items) {
    const itemSize = bytes(item) + (batch.length > 0 ? 1 : 0);
    if (batch.length > 0 && (batch.length >= maxItems || size + itemSize > maxBytes)) {
      units.push(unitOf(batch));
      batch = [];
      size = emptySize;
    }
    size += bytes(item) + (batch.length > 0 ? 1 : 0);
    batch.push(item);
  }
  if (batch.length > 0) units.push(unitOf(batch));
  return units;
}
