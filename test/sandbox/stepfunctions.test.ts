import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateStateMachineCommand,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { createStepFunctions } from "../../sandbox/stepfunctions/service.ts";
import { until } from "../support/until.ts";
import { shimZip } from "./fixtures/lambda-code.ts";

const ROLE = "arn:aws:iam::123456789012:role/sandbox-state-machine";

/** Every page of an execution's history, through the SDK. */
async function history(sfn: SFNClient, executionArn: string, reverseOrder = false): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, reverseOrder, nextToken, maxResults: 1000 }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

async function closed(sfn: SFNClient, executionArn: string): Promise<DescribeExecutionCommandOutput> {
  return until(`${executionArn} to close`, async () => {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return d.status === "RUNNING" ? undefined : d;
  });
}

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error("expected the call to fail");
}

const types = (events: HistoryEvent[]) => events.map((e) => e.type);

describe("Step Functions in the sandbox", () => {
  let sandbox: Sandbox;
  let sfn: SFNClient;
  let lambda: LambdaClient;
  const fnArn = (name: string) =>
    `arn:aws:lambda:${sandbox.identity.region}:${sandbox.identity.accountId}:function:${name}`;

  /** A function whose handler is one export of test/sandbox/fixtures/handlers.ts. */
  const deploy = (name: string, handler: string) =>
    lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: "nodejs20.x",
        Role: ROLE,
        Handler: `index.${handler}`,
        Code: { ZipFile: shimZip() },
        Timeout: 30,
      }),
    );
  const machine = async (name: string, definition: object) =>
    (await sfn.send(new CreateStateMachineCommand({ name, definition: JSON.stringify(definition), roleArn: ROLE })))
      .stateMachineArn ?? "";
  const run = async (stateMachineArn: string, input: unknown, name?: string) => {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    return started.executionArn ?? "";
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
    const config = {
      region: sandbox.identity.region,
      endpoint: sandbox.endpoint,
      credentials: SANDBOX_CREDENTIALS,
      maxAttempts: 1,
    };
    sfn = new SFNClient(config);
    lambda = new LambdaClient(config);
    for (const [name, handler] of [
      ["sfn-echo", "echo"],
      ["sfn-flaky", "flaky"],
      ["sfn-fail", "fail"],
      ["sfn-large", "large"],
      ["sfn-date", "date"],
      ["sfn-bigint", "bigint"],
    ] as const) {
      await deploy(name, handler);
    }
  });
  afterAll(async () => {
    sfn?.destroy();
    lambda?.destroy();
    await sandbox?.close();
  });

  it("starts with no state machine, and creates, describes, lists, updates and deletes them", async () => {
    expect((await sfn.send(new ListStateMachinesCommand({}))).stateMachines).toEqual([]);
    const definition = { StartAt: "Done", States: { Done: { Type: "Succeed" } } };
    const created = await sfn.send(
      new CreateStateMachineCommand({ name: "crud", definition: JSON.stringify(definition), roleArn: ROLE }),
    );
    const arn = `arn:aws:states:${sandbox.identity.region}:${sandbox.identity.accountId}:stateMachine:crud`;
    expect(created.stateMachineArn).toBe(arn);
    expect(created.creationDate).toBeInstanceOf(Date);

    // Idempotent: same name and definition (another role is ignored); another definition is refused.
    const again = await sfn.send(
      new CreateStateMachineCommand({
        name: "crud",
        definition: JSON.stringify(definition),
        roleArn: `${ROLE}-other`,
      }),
    );
    expect(again.creationDate?.getTime()).toBe(created.creationDate?.getTime());
    const other = { StartAt: "P", States: { P: { Type: "Pass", End: true } } };
    expect(
      await errorOf(
        sfn.send(new CreateStateMachineCommand({ name: "crud", definition: JSON.stringify(other), roleArn: ROLE })),
      ),
    ).toMatchObject({ name: "StateMachineAlreadyExists", status: 400 });

    const listed = await sfn.send(new ListStateMachinesCommand({}));
    expect(listed.stateMachines).toEqual([
      { stateMachineArn: arn, name: "crud", type: "STANDARD", creationDate: expect.any(Date) },
    ]);
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(described).toMatchObject({
      status: "ACTIVE",
      type: "STANDARD",
      name: "crud",
      roleArn: ROLE,
      definition: JSON.stringify(definition),
      loggingConfiguration: { level: "OFF", includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    });

    const updated = await sfn.send(
      new UpdateStateMachineCommand({ stateMachineArn: arn, definition: JSON.stringify(other) }),
    );
    expect(updated.updateDate).toBeInstanceOf(Date);
    expect((await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }))).definition).toBe(
      JSON.stringify(other),
    );

    await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn }));
    expect(await errorOf(sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn })))).toMatchObject({
      name: "StateMachineDoesNotExist",
    });
    expect((await sfn.send(new ListStateMachinesCommand({}))).stateMachines).toEqual([]);
  });

  it("refuses definitions that are not valid JSON or ASL, and bad names and roles", async () => {
    const create = (name: string, definition: string, roleArn = ROLE) =>
      errorOf(sfn.send(new CreateStateMachineCommand({ name, definition, roleArn })));
    expect(await create("bad-json", "{not json")).toMatchObject({
      name: "InvalidDefinition",
      message: expect.stringMatching(/^Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION/),
    });
    expect(await create("bad-asl", JSON.stringify({ StartAt: "Nowhere", States: {} }))).toMatchObject({
      name: "InvalidDefinition",
      message: expect.stringMatching(/^Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED/),
    });
    const ok = JSON.stringify({ StartAt: "Done", States: { Done: { Type: "Succeed" } } });
    expect(await create("has space", ok)).toMatchObject({ name: "InvalidName" });
    expect(await create("bad-role", ok, "not-a-role")).toMatchObject({ name: "InvalidArn" });
  });

  describe("a definition with a Lambda Task, a Choice, a Wait and a Retry", () => {
    let stateMachineArn: string;
    let executionArn: string;
    let described: DescribeExecutionCommandOutput;
    let events: HistoryEvent[];
    const input = JSON.stringify({ order: 7, kind: "big" });

    beforeAll(async () => {
      stateMachineArn = await machine("demo", {
        StartAt: "Look up",
        States: {
          "Look up": {
            Type: "Task",
            Resource: fnArn("sfn-echo"),
            Parameters: { "order.$": "$.order" },
            ResultSelector: { "order.$": "$.event.order" },
            ResultPath: "$.lookup",
            TimeoutSeconds: 60,
            Next: "Big?",
          },
          "Big?": {
            Type: "Choice",
            Choices: [{ Variable: "$.kind", StringEquals: "big", Next: "Pause" }],
            Default: "Done",
          },
          Pause: { Type: "Wait", Seconds: 1, Next: "Process" },
          Process: {
            Type: "Task",
            Resource: fnArn("sfn-flaky"),
            Retry: [{ ErrorEquals: ["ThrottledError"], IntervalSeconds: 1, MaxAttempts: 2 }],
            End: true,
          },
          Done: { Type: "Succeed" },
        },
      });
      executionArn = await run(stateMachineArn, JSON.parse(input), "demo-run-1");
      described = await closed(sfn, executionArn);
      events = await history(sfn, executionArn);
    }, 60_000);

    it("names the execution after the state machine and the name given", () => {
      expect(executionArn).toBe(`${stateMachineArn.replace(":stateMachine:", ":execution:")}:demo-run-1`);
    });

    it("succeeds with the last state's output", () => {
      expect(described.status, `${described.error}: ${described.cause}`).toBe("SUCCEEDED");
      expect(described.input).toBe(input);
      expect(described.stopDate?.getTime()).toBeGreaterThanOrEqual(described.startDate?.getTime() ?? Infinity);
      expect(JSON.parse(described.output ?? "null")).toEqual({
        order: 7,
        kind: "big",
        lookup: { order: 7 },
        attempts: 2,
      });
      expect(described.error).toBeUndefined();
    });

    it("writes an AWS-shaped history: numbered events, Lambda events per attempt, JSON-string payloads", () => {
      expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
      expect(events.map((e) => e.previousEventId)).toEqual(events.map((_, i) => i));
      for (let i = 1; i < events.length; i++) {
        expect(events[i]?.timestamp?.getTime()).toBeGreaterThanOrEqual(events[i - 1]?.timestamp?.getTime() ?? 0);
      }
      expect(types(events)).toEqual([
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "WaitStateEntered",
        "WaitStateExited",
        "TaskStateEntered",
        // The first attempt fails with ThrottledError, the retry succeeds, inside one entered…exited.
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionFailed",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
      ]);
      expect(events[0]?.executionStartedEventDetails).toMatchObject({ input, roleArn: ROLE });
      const scheduled = events[2]?.lambdaFunctionScheduledEventDetails;
      expect(scheduled?.resource).toBe(fnArn("sfn-echo"));
      expect(scheduled?.timeoutInSeconds).toBe(60);
      // The function got the state's Parameters, not the raw state input.
      expect(JSON.parse(scheduled?.input ?? "{}")).toEqual({ order: 7 });
      // Succeeded carries the function's result; the state's output applies ResultSelector and ResultPath.
      expect(JSON.parse(events[4]?.lambdaFunctionSucceededEventDetails?.output ?? "{}").event).toEqual({ order: 7 });
      expect(JSON.parse(events[5]?.stateExitedEventDetails?.output ?? "{}")).toEqual({
        order: 7,
        kind: "big",
        lookup: { order: 7 },
      });
      expect(events[13]?.lambdaFunctionFailedEventDetails?.error).toBe("ThrottledError");
      expect(JSON.parse(events[13]?.lambdaFunctionFailedEventDetails?.cause ?? "{}")).toMatchObject({
        errorType: "ThrottledError",
        errorMessage: "try again",
      });
      expect(events.at(-1)?.executionSucceededEventDetails?.output).toBe(described.output);
    });

    it("pages the history forwards and backwards, with and without execution data", async () => {
      const reversed = await history(sfn, executionArn, true);
      expect(reversed.map((e) => e.id)).toEqual([...events].reverse().map((e) => e.id));
      expect(reversed[0]?.type).toBe("ExecutionSucceeded");

      const paged: HistoryEvent[] = [];
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 7, nextToken }));
        expect(page.events?.length).toBeLessThanOrEqual(7);
        paged.push(...(page.events ?? []));
        nextToken = page.nextToken;
        pages++;
      } while (nextToken);
      expect(pages).toBe(Math.ceil(events.length / 7));
      expect(paged).toEqual(events);

      const backwards = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn, maxResults: 3, reverseOrder: true }),
      );
      expect(backwards.events?.map((e) => e.id)).toEqual([events.length, events.length - 1, events.length - 2]);
      const more = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          maxResults: 3,
          reverseOrder: true,
          nextToken: backwards.nextToken,
        }),
      );
      expect(more.events?.map((e) => e.id)).toEqual([events.length - 3, events.length - 4, events.length - 5]);

      const lean = await sfn.send(new GetExecutionHistoryCommand({ executionArn, includeExecutionData: false }));
      expect(lean.events?.[0]?.executionStartedEventDetails?.input).toBeUndefined();
      expect(lean.events?.[1]?.stateEnteredEventDetails).toEqual({ name: "Look up" });
    });

    it("lists the execution, filtered by status, and shows it on the admin endpoint", async () => {
      const all = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
      const item = all.executions?.find((e) => e.executionArn === executionArn);
      expect(item).toMatchObject({ name: "demo-run-1", status: "SUCCEEDED", stateMachineArn });
      expect(item?.stopDate?.getTime()).toBe(described.stopDate?.getTime());
      const succeeded = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "SUCCEEDED" }));
      expect(succeeded.executions?.map((e) => e.executionArn)).toContain(executionArn);
      const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING" }));
      expect(running.executions?.map((e) => e.executionArn)).not.toContain(executionArn);
      const { executions } = await new SandboxAdmin(sandbox.endpoint).request<{ executions: unknown[] }>(
        "GET",
        "/_sandbox/stepfunctions/executions",
      );
      expect(executions).toContainEqual({
        executionArn,
        stateMachineArn,
        name: "demo-run-1",
        status: "SUCCEEDED",
        currentState: "Process",
        historyEvents: events.length,
      });
    });
  });

  it("fails a Task with the function's errorType and error document, caught into a Fail state", async () => {
    const arn = await machine("catching", {
      StartAt: "Work",
      States: {
        Work: {
          Type: "Task",
          Resource: fnArn("sfn-fail"),
          Catch: [{ ErrorEquals: ["BucketGone"], ResultPath: "$.failure", Next: "Failed" }],
          End: true,
        },
        Failed: { Type: "Fail", Error: "RunFailed", CausePath: "$.failure.Cause" },
      },
    });
    // Names may hold non-ASCII letters.
    const executionArn = await run(arn, { name: "BucketGone", message: "no bucket" }, "ungültig-run_1");
    const d = await closed(sfn, executionArn);
    expect(d.status).toBe("FAILED");
    expect(d.error).toBe("RunFailed");
    expect(JSON.parse(d.cause ?? "{}")).toMatchObject({ errorType: "BucketGone", errorMessage: "no bucket" });
    expect(d.output).toBeUndefined();
    const events = await history(sfn, executionArn);
    expect(events.at(-1)?.type).toBe("ExecutionFailed");
    expect(events.at(-1)?.executionFailedEventDetails).toEqual({ error: d.error, cause: d.cause });
    expect(events.at(-2)).toMatchObject({ type: "FailStateEntered", stateEnteredEventDetails: { name: "Failed" } });
    const failedTask = events.findIndex((e) => e.type === "LambdaFunctionFailed");
    expect(events[failedTask]?.lambdaFunctionFailedEventDetails?.error).toBe("BucketGone");
    // Caught: the failed Task state still exits, with the error under the catcher's ResultPath.
    expect(events[failedTask + 1]?.type).toBe("TaskStateExited");
    expect(JSON.parse(events[failedTask + 1]?.stateExitedEventDetails?.output ?? "{}").failure.Error).toBe(
      "BucketGone",
    );
  });

  it("fails the Task whose beforeInvoke hook throws, with the hook's error name", async () => {
    const arn = await machine("hooked", {
      StartAt: "Work",
      States: { Work: { Type: "Task", Resource: fnArn("sfn-echo"), End: true } },
    });
    const unregister = sandbox.lambda.beforeInvoke("sfn-echo", () => {
      throw Object.assign(new Error("the world changed"), { name: "ObjectDeleted" });
    });
    try {
      const d = await closed(sfn, await run(arn, {}));
      expect(d).toMatchObject({ status: "FAILED", error: "ObjectDeleted" });
      expect(JSON.parse(d.cause ?? "{}")).toMatchObject({ errorMessage: "the world changed" });
    } finally {
      unregister();
    }
  });

  describe("payloads", () => {
    it("fails the execution with States.DataLimitExceeded when a function returns more than 256 KiB", async () => {
      const arn = await machine("too-large", {
        StartAt: "Big",
        States: {
          // States.ALL does not catch States.DataLimitExceeded.
          Big: {
            Type: "Task",
            Resource: fnArn("sfn-large"),
            Catch: [{ ErrorEquals: ["States.ALL"], Next: "Caught" }],
            End: true,
          },
          Caught: { Type: "Succeed" },
        },
      });
      const executionArn = await run(arn, { bytes: 300 * 1024 });
      const d = await closed(sfn, executionArn);
      expect(d).toMatchObject({
        status: "FAILED",
        error: "States.DataLimitExceeded",
        cause:
          "The state/task 'Big' returned a result with a size exceeding the maximum number of bytes service limit.",
      });
      const events = await history(sfn, executionArn);
      expect(types(events)).not.toContain("SucceedStateEntered");
      expect(events.at(-1)?.type).toBe("ExecutionFailed");
    });

    it("passes a returned Date to the next state as a string (a JSON round trip)", async () => {
      const arn = await machine("dates", {
        StartAt: "When",
        States: {
          When: { Type: "Task", Resource: fnArn("sfn-date"), Next: "Is it a string?" },
          "Is it a string?": {
            Type: "Choice",
            Choices: [{ Variable: "$.at", IsString: true, Next: "Yes" }],
            Default: "No",
          },
          Yes: { Type: "Pass", Result: "string", End: true },
          No: { Type: "Fail", Error: "NotAString" },
        },
      });
      const executionArn = await run(arn, {});
      const d = await closed(sfn, executionArn);
      expect(d.status, `${d.error}: ${d.cause}`).toBe("SUCCEEDED");
      const events = await history(sfn, executionArn);
      const choice = events.find((e) => e.type === "ChoiceStateEntered");
      // `missing: undefined` is gone, as JSON.stringify drops it.
      expect(JSON.parse(choice?.stateEnteredEventDetails?.input ?? "{}")).toEqual({ at: "2024-01-02T03:04:05.000Z" });
    });

    it("fails a Task whose function returns what JSON cannot serialize with Runtime.JSONStringifyError", async () => {
      const arn = await machine("bigints", {
        StartAt: "Big",
        States: { Big: { Type: "Task", Resource: fnArn("sfn-bigint"), End: true } },
      });
      const d = await closed(sfn, await run(arn, {}));
      expect(d).toMatchObject({ status: "FAILED", error: "Runtime.JSONStringifyError" });
      expect(JSON.parse(d.cause ?? "{}").errorMessage).toBe("Unable to stringify response body");
    });

    it("refuses an execution input over 256 KiB", async () => {
      const arn = await machine("input-limit", { StartAt: "Done", States: { Done: { Type: "Succeed" } } });
      const input = JSON.stringify({ blob: "x".repeat(262_144) });
      expect(
        await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: "too-big", input }))),
      ).toMatchObject({ name: "ValidationException", status: 400 });
      expect((await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions).toEqual([]);
    });
  });

  it("invokes through arn:aws:states:::lambda:invoke, with the Payload wrapped as AWS returns it", async () => {
    const arn = await machine("integration", {
      StartAt: "Invoke",
      States: {
        Invoke: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke",
          Parameters: { FunctionName: "sfn-echo", "Payload.$": "$" },
          End: true,
        },
      },
    });
    const executionArn = await run(arn, { x: 1 });
    const d = await closed(sfn, executionArn);
    expect(d.status, `${d.error}: ${d.cause}`).toBe("SUCCEEDED");
    const output = JSON.parse(d.output ?? "{}");
    expect(output).toMatchObject({
      ExecutedVersion: "$LATEST",
      StatusCode: 200,
      Payload: { event: { x: 1 }, functionName: "sfn-echo" },
    });
    expect(output.SdkHttpMetadata.HttpStatusCode).toBe(200);
    const events = await history(sfn, executionArn);
    expect(types(events)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSucceeded",
      "TaskStateExited",
      "ExecutionSucceeded",
    ]);
    expect(events[2]?.taskScheduledEventDetails).toMatchObject({ resourceType: "lambda", resource: "invoke" });
  });

  it("fails a Task whose function does not exist with Lambda.ResourceNotFoundException", async () => {
    const arn = await machine("no-function", {
      StartAt: "Work",
      States: { Work: { Type: "Task", Resource: fnArn("nobody-home"), End: true } },
    });
    const d = await closed(sfn, await run(arn, {}));
    expect(d).toMatchObject({ status: "FAILED", error: "Lambda.ResourceNotFoundException" });
    expect(d.cause).toMatch(/^Function not found: /);
  });

  describe("a running execution", () => {
    let stateMachineArn: string;
    let executionArn: string;
    let startDate: Date | undefined;
    const name = "sfn-stopped";
    const input = JSON.stringify({ wait: true });

    beforeAll(async () => {
      stateMachineArn = await machine("long-wait", {
        StartAt: "Sleep",
        States: { Sleep: { Type: "Wait", Seconds: 3600, End: true } },
      });
      const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
      executionArn = started.executionArn ?? "";
      startDate = started.startDate;
    });

    it("is started again idempotently with the same name and input, and refuses other input", async () => {
      const again = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
      expect(again.executionArn).toBe(executionArn);
      expect(again.startDate?.getTime()).toBe(startDate?.getTime());
      const other = await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: "{}" })));
      expect(other).toMatchObject({ name: "ExecutionAlreadyExists", status: 400 });
      const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING" }));
      expect(list.executions?.filter((e) => e.name === name)).toHaveLength(1);
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(d.status).toBe("RUNNING");
      expect(d.stopDate).toBeUndefined();
    });

    it("is aborted by StopExecution with the error and cause given", async () => {
      const stop = await sfn.send(
        new StopExecutionCommand({ executionArn, error: "OperatorStopped", cause: "change window closed" }),
      );
      expect(stop.stopDate).toBeInstanceOf(Date);
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(d).toMatchObject({ status: "ABORTED", error: "OperatorStopped", cause: "change window closed" });
      expect(d.stopDate?.getTime()).toBe(stop.stopDate?.getTime());
      const events = await history(sfn, executionArn);
      expect(events.at(-1)).toMatchObject({
        type: "ExecutionAborted",
        id: events.length,
        executionAbortedEventDetails: { error: "OperatorStopped", cause: "change window closed" },
      });
      expect(events.filter((e) => e.type?.startsWith("Execution") && e.type !== "ExecutionStarted")).toHaveLength(1);

      // It stays aborted: nothing is appended once closed, and stopping again changes nothing.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await history(sfn, executionArn)).toEqual(events);
      const again = await sfn.send(new StopExecutionCommand({ executionArn, error: "Other" }));
      expect(again.stopDate?.getTime()).toBe(stop.stopDate?.getTime());
      expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).error).toBe("OperatorStopped");
      const aborted = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "ABORTED" }));
      expect(aborted.executions?.map((e) => e.name)).toEqual([name]);
    });

    it("cannot reuse the name of a closed execution, whatever the input", async () => {
      const same = await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn, name, input })));
      expect(same).toMatchObject({ name: "ExecutionAlreadyExists", status: 400 });
    });
  });

  it("fails the running executions of a deleted state machine at their next transition, then forgets it", async () => {
    const arn = await machine("doomed", {
      StartAt: "Pause",
      States: { Pause: { Type: "Wait", Seconds: 1, Next: "Done" }, Done: { Type: "Succeed" } },
    });
    const executionArn = await run(arn, {});
    await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn }));
    expect((await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }))).status).toBe("DELETING");
    expect(await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn: arn })))).toMatchObject({
      name: "StateMachineDeleting",
    });
    const d = await closed(sfn, executionArn);
    expect(d).toMatchObject({
      status: "FAILED",
      error: "States.Runtime",
      cause: "State machine doomed has been deleted.",
    });
    expect(await errorOf(sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn })))).toMatchObject({
      name: "StateMachineDoesNotExist",
    });
  });

  it("fails an execution whose history reaches the event limit, with the limit's closing event last", async () => {
    // A second Step Functions front end on the same sandbox, with a limit a looping run reaches at once.
    const limited = createStepFunctions({ identity: sandbox.identity, lambda: sandbox.lambda, maxHistoryEvents: 30 });
    const call = async (operation: string, body: unknown) => {
      const res = await limited.handler({
        method: "POST",
        rawPath: "/",
        rawQuery: "",
        query: new URLSearchParams(),
        headers: { "x-amz-target": `AWSStepFunctions.${operation}` },
        body: Buffer.from(JSON.stringify(body)),
        requestId: "test",
      });
      return JSON.parse(String(res?.body)) as Record<string, unknown>;
    };
    try {
      const { stateMachineArn } = await call("CreateStateMachine", {
        name: "loop",
        roleArn: ROLE,
        definition: JSON.stringify({
          StartAt: "Again",
          States: {
            Again: { Type: "Pass", Next: "Stop?" },
            "Stop?": {
              Type: "Choice",
              Choices: [{ Variable: "$.stop", IsPresent: true, Next: "Done" }],
              Default: "Again",
            },
            Done: { Type: "Succeed" },
          },
        }),
      });
      const { executionArn } = await call("StartExecution", { stateMachineArn, name: "too-long" });
      const d = await until("the limit to fail the run", async () => {
        const r = await call("DescribeExecution", { executionArn });
        return r.status === "RUNNING" ? undefined : r;
      });
      expect(d).toMatchObject({ status: "FAILED", error: "States.Runtime" });
      const { events } = (await call("GetExecutionHistory", { executionArn })) as { events: HistoryEvent[] };
      expect(events).toHaveLength(30);
      expect(events.at(-1)).toMatchObject({ id: 30, type: "ExecutionFailed" });
      await new Promise((r) => setTimeout(r, 500));
      expect(((await call("GetExecutionHistory", { executionArn })) as { events: unknown[] }).events).toHaveLength(30);
    } finally {
      limited.close();
    }
  });

  it("answers unknown, malformed and invalid requests with the documented errors", async () => {
    const stateMachineArn = await machine("errors", { StartAt: "Done", States: { Done: { Type: "Succeed" } } });
    const executionArn = `${stateMachineArn.replace(":stateMachine:", ":execution:")}:no-such-run`;
    for (const call of [
      sfn.send(new DescribeExecutionCommand({ executionArn })),
      sfn.send(new GetExecutionHistoryCommand({ executionArn })),
      sfn.send(new StopExecutionCommand({ executionArn })),
    ]) {
      expect(await errorOf(call)).toMatchObject({ name: "ExecutionDoesNotExist", status: 400 });
    }
    expect(await errorOf(sfn.send(new DescribeExecutionCommand({ executionArn: "not-an-arn" })))).toMatchObject({
      name: "InvalidArn",
    });
    expect(await errorOf(sfn.send(new DescribeExecutionCommand({ executionArn: stateMachineArn })))).toMatchObject({
      name: "InvalidArn",
    });
    const otherMachine = stateMachineArn.replace(/:errors$/, ":other");
    expect(await errorOf(sfn.send(new DescribeStateMachineCommand({ stateMachineArn: otherMachine })))).toMatchObject({
      name: "StateMachineDoesNotExist",
    });
    expect(
      await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn: otherMachine, input: "{}" }))),
    ).toMatchObject({ name: "StateMachineDoesNotExist" });
    expect(await errorOf(sfn.send(new ListExecutionsCommand({ stateMachineArn: otherMachine })))).toMatchObject({
      name: "StateMachineDoesNotExist",
    });
    for (const name of ["has space", "a/b", "x".repeat(81), "colon:name", ""]) {
      expect(
        await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: "{}" }))),
        name,
      ).toMatchObject({ name: "InvalidName" });
    }
    expect(
      await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn, name: "bad-json", input: "{not json" }))),
    ).toMatchObject({ name: "InvalidExecutionInput" });
    expect(
      await errorOf(sfn.send(new ListExecutionsCommand({ stateMachineArn, nextToken: "forged-token" }))),
    ).toMatchObject({ name: "InvalidToken" });
    expect(await errorOf(sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1001 })))).toMatchObject({
      name: "ValidationException",
    });
    // Nothing was started by the refused calls.
    const names = (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions?.map((e) => e.name);
    expect(names).not.toContain("bad-json");
  });
});
