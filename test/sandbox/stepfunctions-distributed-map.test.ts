import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ListExecutionsCommand,
  UpdateMapRunCommand,
} from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { cliWorks } from "../support/sandbox.ts";
import { until } from "../support/until.ts";
import {
  ARN_PART,
  BUCKET,
  distributed,
  distributedMapSandbox,
  echoTask,
  fnArn,
  types,
  UUID,
} from "./fixtures/distributed-map.ts";

// Distributed Map in the sandbox's Step Functions (sandbox/STEP-FUNCTIONS.md, "Distributed Map"): items, selection,
// batching, concurrency, child executions and the Map Run API, with small state machines of the test's own.
// Failures, ResultWriter and StopExecution: stepfunctions-distributed-map-failures.test.ts.

const { t, machine, start, closed, history, put, mapRunOf, children } = distributedMapSandbox();
const onPath = await cliWorks();

/** How many child executions a Map Run had, and the most of them running at one instant (some child's start). */
async function mostRunningAtOnce(mapRunArn: string): Promise<{ children: number; most: number }> {
  const spans = (await children(mapRunArn)).map((e) => ({
    start: e.startDate?.getTime() ?? 0,
    stop: e.stopDate?.getTime() ?? 0,
  }));
  const most = Math.max(...spans.map(({ start }) => spans.filter((s) => s.start <= start && start < s.stop).length));
  return { children: spans.length, most };
}

describe("Distributed Map in the sandbox's Step Functions", () => {
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

    const run = await t.sfn.send(new DescribeMapRunCommand({ mapRunArn }));
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
    const listedByMachine = (await t.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
    expect(listedByMachine.map((e) => e.executionArn)).toEqual([executionArn]);
    for (const kid of kids) {
      expect(kid.executionArn).toMatch(new RegExp(`^${ARN_PART}:execution:dmap-json/slices:${UUID}$`));
      expect(kid).toMatchObject({
        status: "SUCCEEDED",
        mapRunArn,
        stateMachineArn: `${ARN_PART}:stateMachine:dmap-json/slices`,
      });
      const described = await t.sfn.send(new DescribeExecutionCommand({ executionArn: kid.executionArn }));
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
    const run = await t.sfn.send(new DescribeMapRunCommand({ mapRunArn: first }));
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
    expect((await t.sfn.send(new DescribeMapRunCommand({ mapRunArn }))).maxConcurrency).toBe(2);
    // Never more than 2 at once, and both slots were used.
    expect(await mostRunningAtOnce(mapRunArn ?? "")).toEqual({ children: 6, most: 2 });
  });

  it("UpdateMapRun raises a running Map Run's concurrency for the children not started yet", async () => {
    const arn = await machine("dmap-update", {
      StartAt: "Slow",
      States: {
        Slow: {
          Type: "Map",
          MaxConcurrency: 1,
          // Long enough that the update lands while the first child still runs, on a loaded machine too.
          ItemSelector: { ms: 3000 },
          ItemProcessor: distributed({ Nap: { Type: "Task", Resource: fnArn("dmap-slow"), End: true } }, "Nap"),
          End: true,
        },
      },
    });
    const executionArn = await start(arn, [1, 2, 3, 4]);
    const mapRunArn = await until("the Map Run", async () => (await mapRunOf(executionArn))[0]);
    // The Map Run exists before its first child starts; an update before then would start three children at once.
    await until("the first child to run", async () => (await children(mapRunArn)).length > 0 || undefined);
    await t.sfn.send(new UpdateMapRunCommand({ mapRunArn, maxConcurrency: 3, toleratedFailureCount: 2 }));
    expect(await closed(executionArn)).toMatchObject({ status: "SUCCEEDED" });
    const run = await t.sfn.send(new DescribeMapRunCommand({ mapRunArn }));
    expect(run).toMatchObject({ maxConcurrency: 3, toleratedFailureCount: 2, toleratedFailurePercentage: 0 });
    // Under MaxConcurrency 1 no two children overlap; once updated, three ran at once, never more. Counted at every
    // child's start, so how late the last child starts does not matter.
    expect(await mostRunningAtOnce(mapRunArn)).toEqual({ children: 4, most: 3 });
    await expect(t.sfn.send(new UpdateMapRunCommand({ mapRunArn, maxConcurrency: 1 }))).rejects.toMatchObject({
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
