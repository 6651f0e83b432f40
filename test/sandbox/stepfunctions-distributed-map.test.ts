import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListMapRunsCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateMapRunCommand,
} from "@aws-sdk/client-sfn";
import { beforeAll, describe, expect, it } from "vitest";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { cliWorks, useSandbox } from "../support/sandbox.ts";
import { until } from "../support/until.ts";
import { shimZip } from "./fixtures/lambda-code.ts";

// Distributed Map in the sandbox's Step Functions (sandbox/STEP-FUNCTIONS.md, "Distributed Map"), with small state
// machines of the test's own and the functions of test/sandbox/fixtures/handlers.ts.

const ROLE = "arn:aws:iam::123456789012:role/sandbox-state-machine";
const BUCKET = "dmap-data";
const ARN_PART = "arn:aws:states:us-east-1:123456789012";
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

const t = useSandbox();
const onPath = await cliWorks();

describe("Distributed Map in the sandbox's Step Functions", () => {
  let sfn: SFNClient;
  let s3: S3Client;
  const fnArn = (name: string) => `${ARN_PART.replace(":states:", ":lambda:")}:function:${name}`;
  const echoTask = (extra: object = {}) => ({ Type: "Task", Resource: fnArn("dmap-echo"), End: true, ...extra });
  const distributed = (states: object, startAt: string) => ({
    ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
    StartAt: startAt,
    States: states,
  });
  const machine = async (name: string, definition: object) =>
    (await sfn.send(new CreateStateMachineCommand({ name, definition: JSON.stringify(definition), roleArn: ROLE })))
      .stateMachineArn ?? "";
  const start = async (stateMachineArn: string, input: unknown) =>
    (await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }))).executionArn ?? "";
  const closed = (executionArn: string): Promise<DescribeExecutionCommandOutput> =>
    until(`${executionArn} to close`, async () => {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return d.status === "RUNNING" ? undefined : d;
    });
  const history = async (executionArn: string): Promise<HistoryEvent[]> =>
    (await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }))).events ?? [];
  const types = (events: HistoryEvent[]) => events.map((e) => e.type);
  const put = (Key: string, Body: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body }));
  const read = async (Key: string) =>
    JSON.parse((await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key }))).Body?.transformToString()) ?? "");
  const mapRunOf = async (executionArn: string) => {
    const runs = (await sfn.send(new ListMapRunsCommand({ executionArn }))).mapRuns ?? [];
    return runs.map((r) => r.mapRunArn ?? "");
  };
  const children = async (mapRunArn: string) =>
    (await sfn.send(new ListExecutionsCommand({ mapRunArn }))).executions ?? [];

  beforeAll(async () => {
    sfn = t.sfn;
    s3 = t.s3;
    const config = {
      region: t.sandbox.identity.region,
      endpoint: t.sandbox.endpoint,
      credentials: SANDBOX_CREDENTIALS,
      maxAttempts: 1,
    };
    const lambda = new LambdaClient(config);
    for (const [name, handler] of [
      ["dmap-echo", "echo"],
      ["dmap-fail", "fail"],
      ["dmap-slow", "slow"],
      ["dmap-large", "large"],
    ]) {
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: "nodejs22.x",
          Role: ROLE,
          Handler: `index.${handler}`,
          Code: { ZipFile: shimZip() },
          Timeout: 30,
        }),
      );
    }
    lambda.destroy();
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  it("reads a JSON array from S3, selects each item, runs a child execution per item with its own history", async () => {
    await put("items/list.json", JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]));
    const arn = await machine("dmap-json", {
      StartAt: "Fan out",
      States: {
        "Fan out": {
          Type: "Map",
          Label: "slices",
          ItemReader: {
            Resource: "arn:aws:states:::s3:getObject",
            ReaderConfig: { InputType: "JSON", MaxItems: 3 },
            Parameters: { "Bucket.$": "$.bucket", "Key.$": "$.key" },
          },
          ItemSelector: {
            "value.$": "$$.Map.Item.Value",
            "index.$": "$$.Map.Item.Index",
            "tag.$": "$.tag",
            "parent.$": "$$.Execution.Id",
          },
          ItemProcessor: distributed({ Echo: echoTask({ OutputPath: "$.event" }) }, "Echo"),
          ResultPath: "$.results",
          End: true,
        },
      },
    });
    const executionArn = await start(arn, { bucket: BUCKET, key: "items/list.json", tag: "t1" });
    const done = await closed(executionArn);
    expect(done).toMatchObject({ status: "SUCCEEDED" });
    const output = JSON.parse(done.output ?? "");
    // MaxItems 3 of 4, in item order, each through ItemSelector ($ is the Map state's input, $$ the parent's context).
    expect(output.results).toEqual(
      [0, 1, 2].map((i) => ({ value: { n: i + 1 }, index: i, tag: "t1", parent: executionArn })),
    );

    // The parent's history shows the Map state and its Map Run, never the children's events.
    const events = await history(executionArn);
    expect(types(events)).toEqual([
      "ExecutionStarted",
      "MapStateEntered",
      "MapStateStarted",
      "MapRunStarted",
      "MapRunSucceeded",
      "MapStateSucceeded",
      "MapStateExited",
      "ExecutionSucceeded",
    ]);
    const [mapRunArn] = await mapRunOf(executionArn);
    expect(mapRunArn).toMatch(new RegExp(`^${ARN_PART}:mapRun:dmap-json/slices:${UUID}$`));
    expect(events.find((e) => e.type === "MapRunStarted")?.mapRunStartedEventDetails?.mapRunArn).toBe(mapRunArn);

    const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
    expect(run).toMatchObject({
      mapRunArn,
      executionArn,
      status: "SUCCEEDED",
      maxConcurrency: 0,
      toleratedFailurePercentage: 0,
      toleratedFailureCount: 0,
      itemCounts: {
        pending: 0,
        running: 0,
        succeeded: 3,
        failed: 0,
        timedOut: 0,
        aborted: 0,
        total: 3,
        resultsWritten: 3,
      },
      executionCounts: { succeeded: 3, total: 3, resultsWritten: 3 },
    });
    expect(run.stopDate?.getTime()).toBeGreaterThanOrEqual(run.startDate?.getTime() ?? Number.NaN);

    // Children: listed by the Map Run (not by the parent's machine), describable, with histories of their own.
    const kids = await children(mapRunArn ?? "");
    expect(kids).toHaveLength(3);
    const listedByMachine = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
    expect(listedByMachine.map((e) => e.executionArn)).toEqual([executionArn]);
    for (const kid of kids) {
      expect(kid.executionArn).toMatch(new RegExp(`^${ARN_PART}:execution:dmap-json/slices:${UUID}$`));
      expect(kid).toMatchObject({
        status: "SUCCEEDED",
        mapRunArn,
        stateMachineArn: `${ARN_PART}:stateMachine:dmap-json/slices`,
      });
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: kid.executionArn }));
      expect(described.mapRunArn).toBe(mapRunArn);
      expect(types(await history(kid.executionArn ?? ""))).toEqual([
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
      ]);
    }
  });

  it("takes items from ItemsPath and batches them: {BatchInput, Items}, by count and by bytes", async () => {
    const arn = await machine("dmap-batch", {
      StartAt: "Batches",
      States: {
        Batches: {
          Type: "Map",
          ItemsPath: "$.things",
          ItemBatcher: { MaxItemsPerBatch: 2, BatchInput: { "run.$": "$.run" } },
          ItemProcessor: distributed({ "Echo count": echoTask({ OutputPath: "$.event" }) }, "Echo count"),
          Next: "By bytes",
          ResultPath: "$.byCount",
        },
        "By bytes": {
          Type: "Map",
          ItemsPath: "$.things",
          // {"Items":[]} is 12 bytes; each "xxxxxxxxx" item adds 11, and a comma after the first: two fit in 35, not three.
          ItemBatcher: { MaxInputBytesPerBatch: 35 },
          ItemProcessor: distributed({ Echo: echoTask({ OutputPath: "$.event" }) }, "Echo"),
          ResultPath: "$.byBytes",
          End: true,
        },
      },
    });
    const things = ["xxxxxxxxx", "yyyyyyyyy", "zzzzzzzzz", "wwwwwwwww", "vvvvvvvvv"];
    const executionArn = await start(arn, { run: "r1", things });
    const done = await closed(executionArn);
    expect(done).toMatchObject({ status: "SUCCEEDED" });
    const output = JSON.parse(done.output ?? "");
    expect(output.byCount).toEqual([
      { BatchInput: { run: "r1" }, Items: things.slice(0, 2) },
      { BatchInput: { run: "r1" }, Items: things.slice(2, 4) },
      { BatchInput: { run: "r1" }, Items: things.slice(4) },
    ]);
    expect(output.byBytes).toEqual([
      { Items: things.slice(0, 2) },
      { Items: things.slice(2, 4) },
      { Items: things.slice(4) },
    ]);
    const [first] = await mapRunOf(executionArn);
    const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn: first }));
    expect(run.itemCounts).toMatchObject({ total: 5, succeeded: 5 });
    expect(run.executionCounts).toMatchObject({ total: 3, succeeded: 3 });
  });

  it("reads CSV (first-row or given headers) and JSON Lines", async () => {
    await put("items/rows.csv", 'a,b\n1,"x, y"\n2,"say ""hi"""\n');
    await put("items/rows-noheader.csv", "1,one\n2,two\n");
    await put("items/rows.jsonl", '{"k":1}\n{"k":2}\n');
    // State names are unique in the whole definition, child workflows included (the ASL validator checks it).
    const reader = (Key: string, ReaderConfig: object) => ({
      Type: "Map",
      ItemReader: { Resource: "arn:aws:states:::s3:getObject", ReaderConfig, Parameters: { Bucket: BUCKET, Key } },
      ItemProcessor: distributed({ [`Echo ${Key}`]: echoTask({ OutputPath: "$.event" }) }, `Echo ${Key}`),
    });
    const arn = await machine("dmap-formats", {
      StartAt: "CSV",
      States: {
        CSV: {
          ...reader("items/rows.csv", { InputType: "CSV", CSVHeaderLocation: "FIRST_ROW" }),
          ResultPath: "$.csv",
          Next: "Given",
        },
        Given: {
          ...reader("items/rows-noheader.csv", {
            InputType: "CSV",
            CSVHeaderLocation: "GIVEN",
            CSVHeaders: ["id", "name"],
          }),
          ResultPath: "$.given",
          Next: "Lines",
        },
        Lines: { ...reader("items/rows.jsonl", { InputType: "JSONL" }), ResultPath: "$.lines", End: true },
      },
    });
    const done = await closed(await start(arn, {}));
    expect(done).toMatchObject({ status: "SUCCEEDED" });
    expect(JSON.parse(done.output ?? "")).toEqual({
      csv: [
        { a: "1", b: "x, y" },
        { a: "2", b: 'say "hi"' },
      ],
      given: [
        { id: "1", name: "one" },
        { id: "2", name: "two" },
      ],
      lines: [{ k: 1 }, { k: 2 }],
    });
  });

  it("runs at most MaxConcurrency children at once", async () => {
    const arn = await machine("dmap-concurrency", {
      StartAt: "Slow",
      States: {
        Slow: {
          Type: "Map",
          MaxConcurrency: 2,
          ItemSelector: { ms: 300 },
          ItemProcessor: distributed({ Sleep: { Type: "Task", Resource: fnArn("dmap-slow"), End: true } }, "Sleep"),
          End: true,
        },
      },
    });
    const executionArn = await start(arn, [1, 2, 3, 4, 5, 6]);
    expect(await closed(executionArn)).toMatchObject({ status: "SUCCEEDED" });
    const [mapRunArn] = await mapRunOf(executionArn);
    expect((await sfn.send(new DescribeMapRunCommand({ mapRunArn }))).maxConcurrency).toBe(2);
    const spans = (await children(mapRunArn ?? "")).map((e) => ({
      start: e.startDate?.getTime() ?? 0,
      stop: e.stopDate?.getTime() ?? 0,
    }));
    expect(spans).toHaveLength(6);
    // The most children running at any one instant (a child's start): never more than 2, and both slots were used.
    const overlap = Math.max(
      ...spans.map(({ start }) => spans.filter((s) => s.start <= start && start < s.stop).length),
    );
    expect(overlap).toBe(2);
  });

  it("UpdateMapRun raises a running Map Run's concurrency for the children not started yet", async () => {
    const arn = await machine("dmap-update", {
      StartAt: "Slow",
      States: {
        Slow: {
          Type: "Map",
          MaxConcurrency: 1,
          ItemSelector: { ms: 1500 },
          ItemProcessor: distributed({ Nap: { Type: "Task", Resource: fnArn("dmap-slow"), End: true } }, "Nap"),
          End: true,
        },
      },
    });
    const executionArn = await start(arn, [1, 2, 3, 4]);
    const mapRunArn = await until("the first child to run", async () => (await mapRunOf(executionArn))[0]);
    await sfn.send(new UpdateMapRunCommand({ mapRunArn, maxConcurrency: 3, toleratedFailureCount: 2 }));
    expect(await closed(executionArn)).toMatchObject({ status: "SUCCEEDED" });
    const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
    expect(run).toMatchObject({ maxConcurrency: 3, toleratedFailureCount: 2, toleratedFailurePercentage: 0 });
    // The first child ran alone; the other three, started once it was updated, ran together.
    const kids = await children(mapRunArn);
    const starts = kids.map((k) => k.startDate?.getTime() ?? 0).sort((a, b) => a - b);
    const runningAtLastStart = kids.filter(
      (k) => (k.startDate?.getTime() ?? 0) <= (starts[3] ?? 0) && (starts[3] ?? 0) < (k.stopDate?.getTime() ?? 0),
    );
    expect(runningAtLastStart.length).toBe(3);
    await expect(sfn.send(new UpdateMapRunCommand({ mapRunArn, maxConcurrency: 1 }))).rejects.toMatchObject({
      name: "ValidationException",
    });
  });

  it("retries a child's failing Task with the child's own Retry (a crashed Lambda)", async () => {
    const arn = await machine("dmap-retry", {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemProcessor: distributed(
            {
              Echo: echoTask({
                Retry: [{ ErrorEquals: ["Lambda.Unknown"], IntervalSeconds: 1, MaxAttempts: 2 }],
                OutputPath: "$.event",
              }),
            },
            "Echo",
          ),
          End: true,
        },
      },
    });
    t.sandbox.lambda.crash({ functionName: "dmap-echo", when: "before", count: 1 });
    const executionArn = await start(arn, [{ only: 1 }]);
    const done = await closed(executionArn);
    expect(done).toMatchObject({ status: "SUCCEEDED" });
    expect(JSON.parse(done.output ?? "")).toEqual([{ only: 1 }]);
    const [kid] = await children((await mapRunOf(executionArn))[0] ?? "");
    expect(types(await history(kid?.executionArn ?? ""))).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "LambdaFunctionScheduled",
      "LambdaFunctionStarted",
      "LambdaFunctionFailed",
      "LambdaFunctionScheduled",
      "LambdaFunctionStarted",
      "LambdaFunctionSucceeded",
      "TaskStateExited",
      "ExecutionSucceeded",
    ]);
  });

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
      const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn: (await mapRunOf(executionArn))[0] }));
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
      const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
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
    const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
    expect(run.executionCounts).toMatchObject({ total: 3, succeeded: 2, failed: 1, resultsWritten: 3 });
  });

  it("without ResultWriter, an output over 256 KiB fails the execution with States.DataLimitExceeded", async () => {
    const arn = await machine("dmap-too-large", {
      StartAt: "Large",
      States: {
        Large: {
          Type: "Map",
          ItemSelector: { bytes: 100_000 },
          ItemProcessor: distributed({ Blob: { Type: "Task", Resource: fnArn("dmap-large"), End: true } }, "Blob"),
          End: true,
        },
      },
    });
    const executionArn = await start(arn, [1, 2, 3]);
    // Each child's output (100 kB) is within the limit; the three together are not.
    expect(await closed(executionArn)).toMatchObject({ status: "FAILED", error: "States.DataLimitExceeded" });
    const kids = await children((await mapRunOf(executionArn))[0] ?? "");
    expect(kids.map((k) => k.status)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
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
      const d = await sfn.send(new DescribeMapRunCommand({ mapRunArn: run }));
      return d.executionCounts?.running === 2 ? run : undefined;
    });
    await sfn.send(new StopExecutionCommand({ executionArn, error: "Stopped", cause: "by the test" }));
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({ status: "ABORTED" });
    expect(types(await history(executionArn)).slice(-2)).toEqual(["MapRunAborted", "ExecutionAborted"]);
    const run = await until("the children to close", async () => {
      const d = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
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
      sfn.send(new CreateStateMachineCommand({ name: "dmap-express", roleArn: ROLE, definition: definition(express) })),
    ).rejects.toMatchObject({ name: "InvalidDefinition", message: expect.stringContaining("STANDARD only") });
    const standard = distributed({ P: { Type: "Pass", End: true } }, "P");
    await expect(
      sfn.send(
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

  describe.runIf(onPath)("with the aws CLI", () => {
    it("describe-map-run and list-map-runs", async () => {
      const arn = await machine("dmap-cli", {
        StartAt: "M",
        States: {
          M: {
            Type: "Map",
            Label: "cli",
            ItemProcessor: distributed({ P: { Type: "Pass", End: true } }, "P"),
            End: true,
          },
        },
      });
      const executionArn = await start(arn, [1, 2]);
      expect(await closed(executionArn)).toMatchObject({ status: "SUCCEEDED" });
      const aws = async (...args: string[]) => {
        const { stdout } = await promisify(execFile)(
          "aws",
          ["--endpoint-url", t.sandbox.endpoint, "--output", "json", "stepfunctions", ...args],
          {
            env: {
              ...process.env,
              AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
              AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
              AWS_DEFAULT_REGION: t.sandbox.identity.region,
              AWS_EC2_METADATA_DISABLED: "true",
              AWS_PAGER: "",
            },
          },
        );
        return JSON.parse(stdout) as Record<string, unknown>;
      };
      const listed = await aws("list-map-runs", "--execution-arn", executionArn);
      const runs = listed.mapRuns as { mapRunArn: string; stateMachineArn: string }[];
      expect(runs).toHaveLength(1);
      expect(runs[0]?.stateMachineArn).toBe(`${ARN_PART}:stateMachine:dmap-cli/cli`);
      const described = await aws("describe-map-run", "--map-run-arn", runs[0]?.mapRunArn ?? "");
      expect(described).toMatchObject({ status: "SUCCEEDED", itemCounts: { total: 2, succeeded: 2 } });
    });
  });
});
