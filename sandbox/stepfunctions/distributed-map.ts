import { isForbidden } from "./names.ts";

/**
 * A Map state in Distributed mode (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html)
 * as the definition gives it, and what the sandbox does with it before the engine sees the definition.
 */

/** The fields of a Distributed Map state the sandbox reads (JSONPath query language). */
export interface MapStateDefinition {
  Type: "Map";
  ItemProcessor: {
    ProcessorConfig: { Mode: "DISTRIBUTED"; ExecutionType?: string };
    StartAt: string;
    States: Record<string, unknown>;
    Comment?: string;
  };
  ItemReader?: {
    Resource: string;
    ReaderConfig?: {
      InputType?: string;
      CSVHeaderLocation?: string;
      CSVHeaders?: string[];
      CSVDelimiter?: string;
      MaxItems?: number;
      MaxItemsPath?: string;
    };
    Parameters?: Record<string, unknown>;
  };
  ItemsPath?: string;
  ItemSelector?: Record<string, unknown>;
  /** The field ItemSelector replaced; still accepted by Step Functions. */
  Parameters?: Record<string, unknown>;
  ItemBatcher?: {
    MaxItemsPerBatch?: number;
    MaxItemsPerBatchPath?: string;
    MaxInputBytesPerBatch?: number;
    MaxInputBytesPerBatchPath?: string;
    BatchInput?: Record<string, unknown>;
  };
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  ToleratedFailurePercentage?: number;
  ToleratedFailurePercentagePath?: string;
  ToleratedFailureCount?: number;
  ToleratedFailureCountPath?: string;
  Label?: string;
  ResultWriter?: {
    Resource?: string;
    Parameters?: Record<string, unknown>;
    WriterConfig?: unknown;
  };
}

/** The Task resource a Distributed Map state becomes for the engine; no AWS resource has this name. */
export const DISTRIBUTED_MAP_RESOURCE = "arn:aws:states:::sandbox:distributedMap";

type AnyState = Record<string, unknown>;

export function isDistributedMap(state: AnyState): boolean {
  if (state.Type !== "Map") return false;
  const processor = state.ItemProcessor as { ProcessorConfig?: { Mode?: unknown } } | undefined;
  return processor?.ProcessorConfig?.Mode === "DISTRIBUTED";
}

/** The fields a Task state shares with a Map state: input and output processing, error handling, transition. */
const KEPT = ["Comment", "InputPath", "ResultSelector", "ResultPath", "OutputPath", "Retry", "Catch", "Next", "End"];

/** The Task state the engine runs in the Map state's place; its handler runs the Map Run (map-runs.ts). */
export function taskInPlaceOf(map: MapStateDefinition): AnyState {
  const task: AnyState = { Type: "Task", Resource: DISTRIBUTED_MAP_RESOURCE };
  for (const key of KEPT) {
    const value = (map as unknown as AnyState)[key];
    if (value !== undefined) task[key] = value;
  }
  return task;
}

/** What each child workflow execution runs: the ItemProcessor as a state machine definition of its own. */
export function childDefinition(map: MapStateDefinition): Record<string, unknown> {
  const { ProcessorConfig: _config, ...definition } = map.ItemProcessor;
  return definition;
}

/** Step Functions' limit on a Map state's Label, and the characters it must not contain (as execution names). */
const MAX_LABEL_LENGTH = 40;

/**
 * The checks CreateStateMachine makes on Distributed Map states beyond the ASL schema: a Label of at most 40
 * characters without the characters an execution name forbids, and STANDARD child workflows (the sandbox does not
 * run EXPRESS ones; STEP-FUNCTIONS.md). Returns the problem, or undefined.
 */
export function distributedMapProblem(name: string, state: AnyState): string | undefined {
  if (!isDistributedMap(state)) return undefined;
  const map = state as unknown as MapStateDefinition;
  if (map.Label !== undefined) {
    if (typeof map.Label !== "string" || map.Label.length === 0 || map.Label.length > MAX_LABEL_LENGTH) {
      return `The Label of Map state '${name}' must be 1 to ${MAX_LABEL_LENGTH} characters`;
    }
    const bad = [...map.Label].find(isForbidden);
    if (bad !== undefined) return `Label contains invalid character: '${bad}'`;
  }
  const executionType = map.ItemProcessor.ProcessorConfig.ExecutionType ?? "STANDARD";
  if (executionType !== "STANDARD") {
    return `The sandbox runs Distributed Map child workflows of ExecutionType STANDARD only, not '${String(executionType)}' (state '${name}')`;
  }
  return undefined;
}
