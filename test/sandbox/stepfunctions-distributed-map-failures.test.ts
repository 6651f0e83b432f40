import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { until } from "../support/until.ts";
import {
  ARN_PART,
  BUCKET,
  distributed,
  distributedMapSandbox,
  echoTask,
  fnArn,
  ROLE,
  types,
} from "./fixtures/distributed-map.ts";

// Distributed Map failures in the sandbox's Step Functions (sandbox/STEP-FUNCTIONS.md, "Distributed Map"): the
// tolerated failure threshold, ResultWriter files, ItemReader failures, StopExecution of the parent, refused
// definitions. Items, batching and the Map Run API: stepfunctions-distributed-map.test.ts.

const { t, machine, start, closed, history, read, mapRunOf, children } = distributedMapSandbox();

describe("Distributed Map failures in the sandbox's Step Functions", () => {
  describe("tolerated failures", () => {
    // Items with `fail: true` go to a function that throws ItemError; the others are echoed.
    const processor = distributed(
      {
        Which: {
          Type: "Choice",
          Choices: [{ Variable: "$.fail", BooleanEquals: true, Next: "Fail" }],
          Default: "Echo",
        },
        Fail: {
          Type: "Task",
          Resource: fnArn("dmap-fail"),
          Parameters: { name: "ItemError", "message.$": "States.Format('item {}', $.id)" },
          End: true,
        },
        Echo: echoTask({ OutputPath: "$.event" }),
      },
      "Which",
    );
    const items = [1, 2, 3, 4].map((id) => ({ id, fail: id === 3 }));

    it("under the threshold: the Map state succeeds, the failed child's record in its output", async () => {
      const arn = await machine("dmap-tolerated", {
        StartAt: "Each",
        States: { Each: { Type: "Map", ToleratedFailureCount: 1, ItemProcessor: processor, End: true } },
      });
      const executionArn = await start(arn, items);
      const done = await closed(executionArn);
      expect(done).toMatchObject({ status: "SUCCEEDED" });
      const output = JSON.parse(done.output ?? "");
      expect(output).toHaveLength(4);
      expect(output[0]).toEqual(items[0]);
      expect(output[2]).toMatchObject({ Status: "FAILED", Error: "ItemError", Input: JSON.stringify(items[2]) });
      expect(JSON.parse(output[2].Cause)).toMatchObject({ errorType: "ItemError", errorMessage: "item 3" });
      const run = await t.sfn.send(new DescribeMapRunCommand({ mapRunArn: (await mapRunOf(executionArn))[0] }));
      expect(run).toMatchObject({ status: "SUCCEEDED", toleratedFailureCount: 1 });
      expect(run.itemCounts).toMatchObject({ succeeded: 3, failed: 1, total: 4 });
    });

    it("over the threshold: States.ExceedToleratedFailureThreshold, which Catch handles", async () => {
      // 1 of 4 items is 25% > 20%. One child at a time: the failure stops the Map Run before the fourth starts.
      const arn2 = await machine("dmap-exceeded-items", {
        StartAt: "Each",
        States: {
          Each: {
            Type: "Map",
            ItemsPath: "$.items",
            ToleratedFailurePercentage: 20,
            MaxConcurrency: 1,
            ItemProcessor: processor,
            Catch: [{ ErrorEquals: ["States.ExceedToleratedFailureThreshold"], ResultPath: "$.error", Next: "Caught" }],
            ResultPath: "$.results",
            End: true,
          },
          Caught: { Type: "Pass", OutputPath: "$.error", End: true },
        },
      });
      const caughtArn = await start(arn2, { items });
      const caught = await closed(caughtArn);
      expect(caught).toMatchObject({ status: "SUCCEEDED" });
      expect(JSON.parse(caught.output ?? "")).toEqual({
        Error: "States.ExceedToleratedFailureThreshold",
        Cause: "The specified tolerated failure threshold was exceeded",
      });
      const events = await history(caughtArn);
      expect(types(events)).toEqual([
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunFailed",
        "MapStateFailed",
        "MapStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
      ]);
      expect(events.find((e) => e.type === "MapRunFailed")?.mapRunFailedEventDetails).toEqual({
        error: "States.ExceedToleratedFailureThreshold",
        cause: "The specified tolerated failure threshold was exceeded",
      });
      const [mapRunArn] = await mapRunOf(caughtArn);
      const run = await t.sfn.send(new DescribeMapRunCommand({ mapRunArn }));
      expect(run).toMatchObject({ status: "FAILED", toleratedFailurePercentage: 20 });
      expect(run.itemCounts).toMatchObject({ succeeded: 2, failed: 1, pending: 1, total: 4 });
    });
  });

  it("writes the results to S3 with ResultWriter and outputs where they are", async () => {
    const arn = await machine("dmap-writer", {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ToleratedFailureCount: 5,
          ItemProcessor: distributed(
            {
              Which: {
                Type: "Choice",
                Choices: [{ Variable: "$.fail", BooleanEquals: true, Next: "Fail" }],
                Default: "Echo",
              },
              Fail: { Type: "Task", Resource: fnArn("dmap-fail"), End: true },
              Echo: echoTask({ OutputPath: "$.event" }),
            },
            "Which",
          ),
          ResultWriter: {
            Resource: "arn:aws:states:::s3:putObject",
            Parameters: { Bucket: BUCKET, "Prefix.$": "$.prefix" },
          },
          ResultSelector: {
            "manifest.$": "$.ResultWriterDetails.Key",
            "arn.$": "$.MapRunArn",
            "bucket.$": "$.ResultWriterDetails.Bucket",
          },
          ResultPath: "$.written",
          OutputPath: "$.written",
          End: true,
        },
      },
    });
    const executionArn = await start(arn, { prefix: "out/run1", items: [] });
    // The Map state's effective input is the object; ItemsPath defaults to $, which is not an array.
    expect((await closed(executionArn)).error).toBe("States.Runtime");

    const arn2 = await machine("dmap-writer-array", {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemsPath: "$.items",
          ToleratedFailureCount: 5,
          ItemProcessor: distributed(
            {
              Which: {
                Type: "Choice",
                Choices: [{ Variable: "$.fail", BooleanEquals: true, Next: "Fail" }],
                Default: "Echo",
              },
              Fail: { Type: "Task", Resource: fnArn("dmap-fail"), End: true },
              Echo: echoTask({ OutputPath: "$.event" }),
            },
            "Which",
          ),
          ResultWriter: {
            Resource: "arn:aws:states:::s3:putObject",
            Parameters: { Bucket: BUCKET, "Prefix.$": "$.prefix" },
          },
          ResultSelector: {
            "manifest.$": "$.ResultWriterDetails.Key",
            "arn.$": "$.MapRunArn",
            "bucket.$": "$.ResultWriterDetails.Bucket",
          },
          End: true,
        },
      },
    });
    const items = [
      { v: 1, fail: false },
      { v: 2, fail: true },
      { v: 3, fail: false },
    ];
    const run2 = await start(arn2, { prefix: "out/run1", items });
    const done = await closed(run2);
    expect(done).toMatchObject({ status: "SUCCEEDED" });
    const [mapRunArn] = await mapRunOf(run2);
    const runId = (mapRunArn ?? "").split(":").at(-1);
    expect(JSON.parse(done.output ?? "")).toEqual({
      manifest: `out/run1/${runId}/manifest.json`,
      arn: mapRunArn,
      bucket: BUCKET,
    });

    const manifest = await read(`out/run1/${runId}/manifest.json`);
    expect(manifest).toEqual({
      DestinationBucket: BUCKET,
      MapRunArn: mapRunArn,
      ResultFiles: {
        FAILED: [{ Key: `out/run1/${runId}/FAILED_0.json`, Size: expect.any(Number) }],
        PENDING: [],
        SUCCEEDED: [{ Key: `out/run1/${runId}/SUCCEEDED_0.json`, Size: expect.any(Number) }],
      },
    });
    const succeeded = await read(`out/run1/${runId}/SUCCEEDED_0.json`);
    expect(succeeded).toHaveLength(2);
    expect(succeeded[0]).toMatchObject({
      Status: "SUCCEEDED",
      Input: JSON.stringify(items[0]),
      InputDetails: { Included: true },
      Output: JSON.stringify(items[0]),
      StateMachineArn: `${ARN_PART}:stateMachine:dmap-writer-array/${mapRunArn?.split("/")[1]?.split(":")[0]}`,
    });
    expect(succeeded[0].ExecutionArn).toMatch(/:execution:dmap-writer-array\//);
    const failed = await read(`out/run1/${runId}/FAILED_0.json`);
    expect(failed).toEqual([
      expect.objectContaining({ Status: "FAILED", Error: "FixtureError", Input: JSON.stringify(items[1]) }),
    ]);
    const run = await t.sfn.send(new DescribeMapRunCommand({ mapRunArn }));
    expect(run.executionCounts).toMatchObject({ total: 3, succeeded: 2, failed: 1, resultsWritten: 3 });
  });

  it("fails with States.ItemReaderFailed when the object cannot be read; a Retry runs a new Map Run", async () => {
    const arn = await machine("dmap-reader-fails", {
      StartAt: "Read",
      States: {
        Read: {
          Type: "Map",
          ItemReader: {
            Resource: "arn:aws:states:::s3:getObject",
            Parameters: { Bucket: BUCKET, Key: "no/such.json" },
          },
          ItemProcessor: distributed({ Echo: echoTask() }, "Echo"),
          Retry: [{ ErrorEquals: ["States.ItemReaderFailed"], IntervalSeconds: 1, MaxAttempts: 1 }],
          End: true,
        },
      },
    });
    const executionArn = await start(arn, {});
    const done = await closed(executionArn);
    expect(done).toMatchObject({ status: "FAILED", error: "States.ItemReaderFailed" });
    expect(done.cause).toContain("NoSuchKey");
    expect(types(await history(executionArn))).toEqual([
      "ExecutionStarted",
      "MapStateEntered",
      "MapStateStarted",
      "MapRunStarted",
      "MapRunFailed",
      "MapStateFailed",
      "MapStateStarted",
      "MapRunStarted",
      "MapRunFailed",
      "MapStateFailed",
      "ExecutionFailed",
    ]);
    const runs = await mapRunOf(executionArn);
    expect(runs).toHaveLength(2);
    expect(new Set(runs).size).toBe(2);
  });

  it("StopExecution of the parent aborts its running children and the Map Run", async () => {
    const arn = await machine("dmap-stop", {
      StartAt: "Slow",
      States: {
        Slow: {
          Type: "Map",
          MaxConcurrency: 2,
          ItemSelector: { ms: 20_000 },
          ItemProcessor: distributed({ Sleep: { Type: "Task", Resource: fnArn("dmap-slow"), End: true } }, "Sleep"),
          End: true,
        },
      },
    });
    const executionArn = await start(arn, [1, 2, 3]);
    const mapRunArn = await until("the Map Run's children to run", async () => {
      const [run] = await mapRunOf(executionArn);
      if (!run) return undefined;
      const d = await t.sfn.send(new DescribeMapRunCommand({ mapRunArn: run }));
      return d.executionCounts?.running === 2 ? run : undefined;
    });
    await t.sfn.send(new StopExecutionCommand({ executionArn, error: "Stopped", cause: "by the test" }));
    expect(await t.sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({ status: "ABORTED" });
    expect(types(await history(executionArn)).slice(-2)).toEqual(["MapRunAborted", "ExecutionAborted"]);
    const run = await until("the children to close", async () => {
      const d = await t.sfn.send(new DescribeMapRunCommand({ mapRunArn }));
      return d.executionCounts?.running === 0 ? d : undefined;
    });
    expect(run).toMatchObject({ status: "ABORTED" });
    expect(run.executionCounts).toMatchObject({ aborted: 2, pending: 1, total: 3 });
    const kids = await children(mapRunArn);
    expect(kids.map((k) => k.status)).toEqual(["ABORTED", "ABORTED"]);
  });

  it("CreateStateMachine refuses EXPRESS child workflows and invalid labels", async () => {
    const definition = (processor: object, extra: object = {}) =>
      JSON.stringify({ StartAt: "M", States: { M: { Type: "Map", ItemProcessor: processor, End: true, ...extra } } });
    const express = {
      ...distributed({ P: { Type: "Pass", End: true } }, "P"),
      ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "EXPRESS" },
    };
    await expect(
      t.sfn.send(
        new CreateStateMachineCommand({ name: "dmap-express", roleArn: ROLE, definition: definition(express) }),
      ),
    ).rejects.toMatchObject({ name: "InvalidDefinition", message: expect.stringContaining("STANDARD only") });
    const standard = distributed({ P: { Type: "Pass", End: true } }, "P");
    await expect(
      t.sfn.send(
        new CreateStateMachineCommand({
          name: "dmap-label",
          roleArn: ROLE,
          definition: definition(standard, { Label: "a b" }),
        }),
      ),
    ).rejects.toMatchObject({
      name: "InvalidDefinition",
      message: expect.stringContaining("Label contains invalid character: ' '"),
    });
  });
});
