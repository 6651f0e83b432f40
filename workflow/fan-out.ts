import { StateNames, type TaskStateName } from "../contract/states.ts";
import { type Json, task } from "./task-state.ts";

/**
 * A Distributed Map that runs one step over slices of work, one child execution per slice, each calling the step
 * again while it returns `loopWhile` (it stopped at its time budget and saved its progress). The items are a JSON
 * array in the work bucket (`$.run.workBucket`, key at `<slicing>.itemsKey`); the Map Run's results go there too
 * (`<slicing>.resultsPrefix`), so the state keeps only where they are. A child's failure fails the Map Run (no
 * tolerated failures), which Record failure reports with the child's own error. Each child's history is its own:
 * the run's history holds the Map Run, whatever the number of slices.
 */
export function fanOut(params: {
  comment: string;
  /** Where the slicing step put its result: `$.<slicing>` holds `itemsKey` and `resultsPrefix`. */
  slicing: string;
  /** What each child gets besides its slice (`slice`): paths of the Map state's input. */
  with: Record<string, string>;
  step: TaskStateName;
  stepComment: string;
  /** Constant Parameters of the step (its time budget). */
  constants: Record<string, Json>;
  loopChoice: string;
  loopChoiceComment: string;
  /** The member of the step's result whose presence means "call again". */
  loopWhile: string;
  done: string;
  doneComment: string;
  maxConcurrency: number;
  resultPath: string;
  next: string;
}): Record<string, Json> {
  const passOn = Object.fromEntries([
    ...Object.entries(params.with).map(([k, path]) => [`${k}.$`, path]),
    [`${params.slicing}.$`, `$.${params.slicing}`],
  ]);
  return {
    Type: "Map",
    Comment: params.comment,
    ItemReader: {
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "JSON" },
      Parameters: { "Bucket.$": "$.run.workBucket", "Key.$": `$.${params.slicing}.itemsKey` },
    },
    ItemSelector: { ...passOn, "slice.$": "$$.Map.Item.Value" },
    ItemProcessor: {
      ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
      StartAt: params.step,
      States: {
        [params.step]: task(params.step as TaskStateName, params.stepComment, {
          Parameters: {
            ...Object.fromEntries(Object.keys(params.with).map((k) => [`${k}.$`, `$.${k}`])),
            [`${params.slicing}.$`]: `$.${params.slicing}`,
            "slice.$": "$.slice",
            ...params.constants,
          },
          ResultPath: "$.result",
          Next: params.loopChoice,
          catchable: false,
        }),
        [params.loopChoice]: {
          Type: "Choice",
          Comment: params.loopChoiceComment,
          Choices: [{ Variable: `$.result.${params.loopWhile}`, IsPresent: true, Next: params.step }],
          Default: params.done,
        },
        [params.done]: { Type: "Succeed", Comment: params.doneComment, OutputPath: "$.result" },
      },
    },
    MaxConcurrency: params.maxConcurrency,
    ToleratedFailurePercentage: 0,
    ResultWriter: {
      Resource: "arn:aws:states:::s3:putObject",
      Parameters: { "Bucket.$": "$.run.workBucket", "Prefix.$": `$.${params.slicing}.resultsPrefix` },
    },
    ResultPath: params.resultPath,
    Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: StateNames.recordFailure }],
    Next: params.next,
  };
}
