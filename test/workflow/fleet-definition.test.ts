import { describe, expect, it } from "vitest";
import { FleetStateNames, RUN_STATE_MACHINE_PLACEHOLDER } from "../../contract/fleet.ts";
import { substitute } from "../../workflow/definition.ts";
import { fleetDefinition, fleetDefinitionJson } from "../../workflow/fleet-definition.ts";

type Json = Record<string, unknown>;

describe("the fleet definition", () => {
  const map = (fleetDefinition().States as Json)[FleetStateNames.runEachBucket] as Json;
  const processor = map.ItemProcessor as { ProcessorConfig: Json; States: Record<string, Json> };
  const runBucket = processor.States[FleetStateNames.runBucket] as Json;

  it("bounds the runs at once by the fleet's input, and lets one bucket fail without stopping the others", () => {
    expect(map).toMatchObject({
      Type: "Map",
      MaxConcurrencyPath: "$.maxConcurrentRuns",
      ToleratedFailurePercentage: 100,
    });
    expect(map.MaxConcurrency).toBeUndefined();
    expect(processor.ProcessorConfig).toEqual({ Mode: "DISTRIBUTED", ExecutionType: "STANDARD" });
  });

  it("starts each bucket's run of the rekey state machine under the name fleet start chose, and waits for it", () => {
    expect(runBucket).toMatchObject({
      Type: "Task",
      Resource: "arn:aws:states:::states:startExecution.sync:2",
      Parameters: { StateMachineArn: `\${${RUN_STATE_MACHINE_PLACEHOLDER}}`, "Name.$": "$.name", "Input.$": "$.input" },
    });
    // A retry would start a second execution under the same name and meet the first.
    expect(runBucket.Retry).toBeUndefined();
  });

  it("reads the buckets from the work bucket and writes the Map Run's results there", () => {
    expect(map.ItemReader).toMatchObject({ Parameters: { "Bucket.$": "$.workBucket", "Key.$": "$.itemsKey" } });
    expect(map.ResultWriter).toMatchObject({
      Parameters: { "Bucket.$": "$.workBucket", "Prefix.$": "$.resultsPrefix" },
    });
  });

  it("takes the rekey state machine's ARN as its one substitution", () => {
    const arn = "arn:aws:states:us-east-1:111122223333:stateMachine:rekey";
    expect(substitute(fleetDefinitionJson(), { [RUN_STATE_MACHINE_PLACEHOLDER]: arn })).toContain(
      `"StateMachineArn": "${arn}"`,
    );
    expect(() => substitute(fleetDefinitionJson(), {})).toThrow(/RunStateMachineArn/);
  });

  it("matches the reviewed definition (update with vitest -u after reviewing the change)", async () => {
    await expect(fleetDefinitionJson()).toMatchFileSnapshot("../../workflow/__snapshots__/fleet.asl.json");
  });
});
