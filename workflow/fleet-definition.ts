import { FleetStateNames as F, RUN_STATE_MACHINE_PLACEHOLDER } from "../contract/fleet.ts";
import type { Json } from "./task-state.ts";

/**
 * The fleet state machine: one Distributed Map over the fleet's buckets (a JSON array in the work bucket), each item
 * a child execution that starts the bucket's run of the rekey state machine and waits for it
 * (`startExecution.sync:2`, https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html).
 * MaxConcurrency bounds the runs at once; every failure is tolerated, so one bucket's failed run stops no other (its
 * child execution fails, and the console shows which). No retry: a second StartExecution under the run's name would
 * meet the first.
 */
export function fleetDefinition(): Record<string, Json> {
  return {
    Comment:
      "rekey fleet: run the rekey state machine for each bucket of the fleet, at most maxConcurrentRuns at once; each bucket's run keeps its own execution and report.",
    StartAt: F.runEachBucket,
    States: {
      [F.runEachBucket]: {
        Type: "Map",
        Comment: "One child execution per bucket, each starting and following that bucket's run.",
        ItemReader: {
          Resource: "arn:aws:states:::s3:getObject",
          ReaderConfig: { InputType: "JSON" },
          Parameters: { "Bucket.$": "$.workBucket", "Key.$": "$.itemsKey" },
        },
        ItemProcessor: {
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
          StartAt: F.runBucket,
          States: {
            [F.runBucket]: {
              Type: "Task",
              Comment:
                "Start the bucket's run under the name rekey fleet start chose, and wait for it to end; a run that fails fails this item.",
              Resource: "arn:aws:states:::states:startExecution.sync:2",
              Parameters: {
                StateMachineArn: `\${${RUN_STATE_MACHINE_PLACEHOLDER}}`,
                "Name.$": "$.name",
                "Input.$": "$.input",
              },
              ResultSelector: { "executionArn.$": "$.ExecutionArn", "status.$": "$.Status" },
              End: true,
            },
          },
        },
        MaxConcurrencyPath: "$.maxConcurrentRuns",
        ToleratedFailurePercentage: 100,
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { "Bucket.$": "$.workBucket", "Prefix.$": "$.resultsPrefix" },
        },
        ResultPath: "$.results",
        Next: F.fleetDone,
      },
      [F.fleetDone]: {
        Type: "Succeed",
        Comment: "Every bucket's run has ended; rekey fleet status says how each ended.",
      },
    },
  };
}

export function fleetDefinitionJson(): string {
  return JSON.stringify(fleetDefinition(), null, 2);
}
