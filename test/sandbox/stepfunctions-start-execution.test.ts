import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type ExecutionListItem,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListMapRunsCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { DEFAULT_BEHAVIOURS } from "../../sandbox/behaviours.ts";
import { abortCause } from "../../sandbox/stepfunctions/nested-executions.ts";
import { useSandbox } from "../support/sandbox.ts";
import { until } from "../support/until.ts";

// Task states that start executions of other state machines (sandbox/STEP-FUNCTIONS.md, "Nested executions"):
// `arn:aws:states:::states:startExecution`, `.sync` and `.sync:2`, top-level and inside a Distributed Map's child
// executions, through the real SDK. The child state machines are Pass, Wait and Fail states only.

const t = useSandbox();
const ROLE = "arn:aws:iam::123456789012:role/sandbox-state-machine";
const ARN_PART = "arn:aws:states:us-east-1:123456789012";
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const STATES = "arn:aws:states:::states:";

const machine = async (name: string, definition: object) =>
  (await t.sfn.send(new CreateStateMachineCommand({ name, definition: JSON.stringify(definition), roleArn: ROLE })))
    .stateMachineArn ?? "";
const start = async (stateMachineArn: string, input: unknown = {}, name?: string) =>
  (await t.sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input), name }))).executionArn ??
  "";
const describeExecution = (executionArn: string) => t.sfn.send(new DescribeExecutionCommand({ executionArn }));
const closed = (executionArn: string): Promise<DescribeExecutionCommandOutput> =>
  until(`${executionArn} to close`, async () => {
    const d = await describeExecution(executionArn);
    return d.status === "RUNNING" ? undefined : d;
  });
const history = async (executionArn: string): Promise<HistoryEvent[]> =>
  (await t.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }))).events ?? [];
const listed = async (stateMachineArn: string, statusFilter?: ExecutionStatus): Promise<ExecutionListItem[]> =>
  (await t.sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter, maxResults: 1000 }))).executions ?? [];
const runningChild = (stateMachineArn: string, name: string) =>
  until(`${name} to run`, async () => (await listed(stateMachineArn, "RUNNING")).find((e) => e.name === name));
const types = (events: HistoryEvent[]) => events.map((e) => e.type);
const outputOf = (d: DescribeExecutionCommandOutput) => JSON.parse(d.output ?? "null");

/** A parent whose one Task state starts `parameters` on `resource`, with the state's extra fields. */
const parentOf = (resource: string, parameters: object, extra: object = {}) => ({
  StartAt: "Run child",
  States: {
    "Run child": { Type: "Task", Resource: `${STATES}${resource}`, Parameters: parameters, End: true, ...extra },
  },
});

// Children: one echoes its input; one waits `$.seconds`, then answers its input; one fails.
const echoChild = () => machine(`echo-${Math.random().toString(36).slice(2, 8)}`, echoDefinition);
const echoDefinition = {
  StartAt: "Echo",
  States: { Echo: { Type: "Pass", Parameters: { "echo.$": "$" }, End: true } },
};
const waitDefinition = {
  StartAt: "Wait",
  States: {
    Wait: { Type: "Wait", SecondsPath: "$.seconds", Next: "Answer" },
    Answer: { Type: "Pass", Parameters: { "input.$": "$" }, End: true },
  },
};
const failDefinition = {
  StartAt: "Boom",
  States: { Boom: { Type: "Fail", Error: "Boom", Cause: "went wrong" } },
};

describe("Task states starting executions in the sandbox's Step Functions", () => {
  it("startExecution answers StartExecution's response and goes on while the child runs, linked to its parent", async () => {
    const child = await machine("rr-child", waitDefinition);
    const parent = await machine(
      "rr-parent",
      parentOf("startExecution", {
        StateMachineArn: child,
        Input: { seconds: 3, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id" },
      }),
    );
    const parentArn = await start(parent);
    const done = await closed(parentArn);
    expect(done.status).toBe("SUCCEEDED");
    const output = outputOf(done);
    expect(Object.keys(output)).toEqual(["ExecutionArn", "SdkHttpMetadata", "SdkResponseMetadata", "StartDate"]);
    expect(output.ExecutionArn).toMatch(new RegExp(`^${ARN_PART}:execution:rr-child:${UUID}$`));
    const requestId = output.SdkResponseMetadata.RequestId;
    expect(requestId).toMatch(new RegExp(`^${UUID}$`));
    expect(output.SdkHttpMetadata).toMatchObject({
      HttpStatusCode: 200,
      HttpHeaders: { "Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": requestId },
      AllHttpHeaders: { "Content-Type": ["application/x-amz-json-1.0"], "x-amzn-RequestId": [requestId] },
    });

    // Request-response does not wait: the child still runs. It is an execution of its own machine like any other.
    const described = await describeExecution(output.ExecutionArn);
    expect(described).toMatchObject({ status: "RUNNING", stateMachineArn: child });
    expect(output.StartDate).toBe(described.startDate?.getTime());
    expect((await listed(child)).map((e) => e.executionArn)).toEqual([output.ExecutionArn]);
    const input = { seconds: 3, AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: parentArn };
    expect(JSON.parse(described.input ?? "")).toEqual(input);
    const childEvents = await history(output.ExecutionArn);
    expect(JSON.parse(childEvents[0]?.executionStartedEventDetails?.input ?? "")).toEqual(input);

    const events = await history(parentArn);
    expect(types(events)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSucceeded",
      "TaskStateExited",
      "ExecutionSucceeded",
    ]);
    const scheduled = events[2]?.taskScheduledEventDetails;
    expect(scheduled).toMatchObject({ resourceType: "states", resource: "startExecution", region: "us-east-1" });
    expect(JSON.parse(scheduled?.parameters ?? "")).toEqual({ StateMachineArn: child, Input: input });
    expect(events[3]?.taskStartedEventDetails).toEqual({ resourceType: "states", resource: "startExecution" });
    expect(JSON.parse(events[4]?.taskSucceededEventDetails?.output ?? "")).toEqual(output);

    // The console links the task to the child, and the child to the execution its input names.
    const consoleApi = async <T>(path: string): Promise<T> =>
      (await fetch(`${t.sandbox.endpoint}/_sandbox/console/api/${path}`)).json() as Promise<T>;
    const view = await consoleApi<{ events: { type: string; execution?: string }[] }>(
      `execution?arn=${encodeURIComponent(parentArn)}`,
    );
    expect(view.events.filter((e) => e.execution).map((e) => [e.type, e.execution])).toEqual([
      ["TaskSucceeded", output.ExecutionArn],
    ]);
    const list = await consoleApi<{ executions: { executionArn: string; startedBy?: string }[] }>("executions");
    expect(list.executions.find((e) => e.executionArn === output.ExecutionArn)?.startedBy).toBe(parentArn);
    expect(list.executions.find((e) => e.executionArn === parentArn)?.startedBy).toBeUndefined();

    expect(await closed(output.ExecutionArn)).toMatchObject({ status: "SUCCEEDED" });
  });

  it.each([
    ["startExecution.sync", false],
    ["startExecution.sync:2", true],
  ])("%s waits for the child and answers its description", async (resource, parsed) => {
    const suffix = parsed ? "sync2" : "sync";
    const child = await machine(`${suffix}-child`, echoDefinition);
    const parent = await machine(
      `${suffix}-parent`,
      // A string Input is StartExecution's input as it is: here the JSON text of $.payload.
      parentOf(resource, { StateMachineArn: child, "Name.$": "$.name", "Input.$": "States.JsonToString($.payload)" }),
    );
    const parentArn = await start(parent, { name: `${suffix}-run`, payload: { n: 7 } });
    const done = await closed(parentArn);
    expect(done.status).toBe("SUCCEEDED");
    const childArn = `${ARN_PART}:execution:${suffix}-child:${suffix}-run`;
    const described = await describeExecution(childArn);
    expect(described).toMatchObject({ status: "SUCCEEDED", input: '{"n":7}', output: '{"echo":{"n":7}}' });

    // DescribeExecution in PascalCase and alphabetical order, dates in epoch milliseconds; Input and Output JSON
    // strings for .sync, their JSON for .sync:2.
    const output = outputOf(done);
    expect(output).toEqual({
      ExecutionArn: childArn,
      Input: parsed ? { n: 7 } : '{"n":7}',
      InputDetails: { Included: true },
      Name: `${suffix}-run`,
      Output: parsed ? { echo: { n: 7 } } : '{"echo":{"n":7}}',
      OutputDetails: { Included: true },
      RedriveCount: 0,
      RedriveStatus: "NOT_REDRIVABLE",
      RedriveStatusReason: "Execution is SUCCEEDED and cannot be redriven",
      StartDate: described.startDate?.getTime(),
      StateMachineArn: child,
      Status: "SUCCEEDED",
      StopDate: described.stopDate?.getTime(),
    });
    expect(Object.keys(output)).toEqual(Object.keys(output).sort());

    const events = await history(parentArn);
    expect(types(events)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "TaskSucceeded",
      "TaskStateExited",
      "ExecutionSucceeded",
    ]);
    for (const event of events.slice(2, 6)) {
      const details =
        event.taskScheduledEventDetails ??
        event.taskStartedEventDetails ??
        event.taskSubmittedEventDetails ??
        event.taskSucceededEventDetails;
      expect(details).toMatchObject({ resourceType: "states", resource });
    }
    const submitted = JSON.parse(events[4]?.taskSubmittedEventDetails?.output ?? "");
    expect(submitted).toMatchObject({ ExecutionArn: childArn, StartDate: described.startDate?.getTime() });
    expect(JSON.parse(events[5]?.taskSucceededEventDetails?.output ?? "")).toEqual(output);
  });

  it("a failing child fails the .sync task with States.TaskFailed and its description as the cause", async () => {
    const child = await machine("fail-child", failDefinition);
    const task = { StateMachineArn: child, Input: { a: 1 } };
    const uncaught = await machine("fail-parent", parentOf("startExecution.sync:2", task));
    const caught = await machine("fail-parent-caught", {
      StartAt: "Run child",
      States: {
        "Run child": {
          Type: "Task",
          Resource: `${STATES}startExecution.sync:2`,
          Parameters: task,
          Catch: [{ ErrorEquals: ["States.TaskFailed"], ResultPath: "$.error", Next: "Handled" }],
          End: true,
        },
        Handled: { Type: "Pass", End: true },
      },
    });

    const failedArn = await start(uncaught);
    const failed = await closed(failedArn);
    expect(failed).toMatchObject({ status: "FAILED", error: "States.TaskFailed" });
    const cause = JSON.parse(failed.cause ?? "");
    const childArn = cause.ExecutionArn;
    const described = await describeExecution(childArn);
    expect(cause).toEqual({
      Cause: "went wrong",
      Error: "Boom",
      ExecutionArn: expect.stringMatching(new RegExp(`^${ARN_PART}:execution:fail-child:${UUID}$`)),
      Input: { a: 1 },
      InputDetails: { Included: true },
      Name: described.name,
      RedriveCount: 0,
      RedriveStatus: "NOT_REDRIVABLE",
      RedriveStatusReason: "The sandbox does not redrive executions",
      StartDate: described.startDate?.getTime(),
      StateMachineArn: child,
      Status: "FAILED",
      StopDate: described.stopDate?.getTime(),
    });
    const events = await history(failedArn);
    expect(types(events).slice(-3)).toEqual(["TaskSubmitted", "TaskFailed", "ExecutionFailed"]);
    expect(events.at(-2)?.taskFailedEventDetails).toMatchObject({
      resourceType: "states",
      resource: "startExecution.sync:2",
      error: "States.TaskFailed",
      cause: failed.cause,
    });

    // A Catch on the error name takes it.
    const handled = await closed(await start(caught));
    expect(handled.status).toBe("SUCCEEDED");
    const { error } = outputOf(handled);
    expect(error.Error).toBe("States.TaskFailed");
    expect(JSON.parse(error.Cause)).toMatchObject({ Error: "Boom", Status: "FAILED", StateMachineArn: child });
  });

  it("a name already used: the running execution of the same input is waited for, anything else is refused", async () => {
    const child = await machine("named-child", waitDefinition);
    const refusal = (name: string) =>
      new RegExp(
        `^Execution Already Exists: '${ARN_PART}:execution:named-child:${name}' \\(Service: AWSStepFunctions; ` +
          `Status Code: 400; Error Code: ExecutionAlreadyExists; Request ID: ${UUID}; Proxy: null\\)$`,
      );
    const parent = await machine(
      "named-parent",
      parentOf("startExecution.sync:2", { StateMachineArn: child, "Name.$": "$.name", "Input.$": "$.input" }),
    );

    // Same name and input as a running execution: StartExecution is idempotent, the task waits for that one.
    const sharedArn = await start(child, { seconds: 1 }, "shared");
    const joined = await closed(await start(parent, { name: "shared", input: { seconds: 1 } }));
    expect(joined.status).toBe("SUCCEEDED");
    expect(outputOf(joined)).toMatchObject({ ExecutionArn: sharedArn, Output: { input: { seconds: 1 } } });
    expect((await listed(child)).filter((e) => e.name === "shared")).toHaveLength(1);

    // Same name, the execution closed since: ExecutionAlreadyExists, which the task fails with.
    const again = await closed(await start(parent, { name: "shared", input: { seconds: 1 } }));
    expect(again).toMatchObject({ status: "FAILED", error: "StepFunctions.ExecutionAlreadyExistsException" });
    expect(again.cause).toMatch(refusal("shared"));

    // Same name as a running execution with another input: refused too.
    await start(child, { seconds: 2 }, "busy");
    const other = await closed(await start(parent, { name: "busy", input: { seconds: 3 } }));
    expect(other).toMatchObject({ status: "FAILED", error: "StepFunctions.ExecutionAlreadyExistsException" });
    expect(other.cause).toMatch(refusal("busy"));

    // A Catch on the error name takes it; a machine that does not exist is refused the same way.
    const catching = await machine("named-parent-catch", {
      StartAt: "Run child",
      States: {
        "Run child": {
          Type: "Task",
          Resource: `${STATES}startExecution`,
          Parameters: { "StateMachineArn.$": "$.machine", Name: "shared" },
          Catch: [
            { ErrorEquals: ["StepFunctions.ExecutionAlreadyExistsException"], ResultPath: "$.exists", Next: "Done" },
          ],
          End: true,
        },
        Done: { Type: "Pass", End: true },
      },
    });
    const handled = await closed(await start(catching, { machine: child }));
    expect(handled.status).toBe("SUCCEEDED");
    expect(outputOf(handled).exists.Error).toBe("StepFunctions.ExecutionAlreadyExistsException");
    const missing = await closed(await start(catching, { machine: `${ARN_PART}:stateMachine:no-such-machine` }));
    expect(missing).toMatchObject({ status: "FAILED", error: "StepFunctions.StateMachineDoesNotExistException" });
    expect(missing.cause).toMatch(
      /^State Machine Does Not Exist: '.*:stateMachine:no-such-machine' \(Service: AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist;/,
    );
  });

  it("a string Input that is not JSON is refused by StartExecution (InvalidExecutionInput)", async () => {
    const child = await echoChild();
    const parent = await machine(
      "bad-input-parent",
      parentOf("startExecution.sync", { StateMachineArn: child, Input: "not json" }),
    );
    const done = await closed(await start(parent));
    expect(done).toMatchObject({ status: "FAILED", error: "StepFunctions.InvalidExecutionInputException" });
    expect(await listed(child)).toEqual([]);
  });

  it("stopping the parent stops the child it waits for, and so does the task's TimeoutSeconds", async () => {
    const child = await machine("stop-child", waitDefinition);
    const parent = await machine(
      "stop-parent",
      parentOf("startExecution.sync:2", { StateMachineArn: child, "Name.$": "$.name", Input: { seconds: 30 } }),
    );
    const parentArn = await start(parent, { name: "stop-me" });
    const running = await runningChild(child, "stop-me");
    await t.sfn.send(new StopExecutionCommand({ executionArn: parentArn }));
    expect(await describeExecution(parentArn)).toMatchObject({ status: "ABORTED" });
    const stopped = await closed(running.executionArn ?? "");
    expect(stopped).toMatchObject({ status: "ABORTED", cause: abortCause(parentArn) });
    expect(stopped.error).toBeUndefined();
    expect(types(await history(parentArn)).slice(-2)).toEqual(["TaskSubmitted", "ExecutionAborted"]);

    const timed = await machine("timeout-parent", {
      StartAt: "Run child",
      States: {
        "Run child": {
          Type: "Task",
          Resource: `${STATES}startExecution.sync:2`,
          Parameters: { StateMachineArn: child, Name: "too-slow", Input: { seconds: 30 } },
          TimeoutSeconds: 1,
          Catch: [{ ErrorEquals: ["States.Timeout"], ResultPath: "$.timeout", Next: "Late" }],
          End: true,
        },
        Late: { Type: "Pass", End: true },
      },
    });
    const timedArn = await start(timed);
    const late = await closed(timedArn);
    expect(late.status).toBe("SUCCEEDED");
    expect(outputOf(late).timeout.Error).toBe("States.Timeout");
    const events = await history(timedArn);
    expect(events.find((e) => e.type === "TaskTimedOut")?.taskTimedOutEventDetails).toMatchObject({
      resourceType: "states",
      resource: "startExecution.sync:2",
      error: "States.Timeout",
    });
    expect(await closed(`${ARN_PART}:execution:stop-child:too-slow`)).toMatchObject({
      status: "ABORTED",
      cause: abortCause(timedArn),
    });
  });

  it("with nestedExecutionOnAbort LeftRunning, the child of a stopped parent runs on", async () => {
    const child = await machine("left-child", waitDefinition);
    const parent = await machine(
      "left-parent",
      parentOf("startExecution.sync", { StateMachineArn: child, Name: "orphan", Input: { seconds: 30 } }),
    );
    t.sandbox.setBehaviours({ nestedExecutionOnAbort: "LeftRunning" });
    try {
      const parentArn = await start(parent);
      const running = await runningChild(child, "orphan");
      await t.sfn.send(new StopExecutionCommand({ executionArn: parentArn }));
      expect(await describeExecution(parentArn)).toMatchObject({ status: "ABORTED" });
      await new Promise((r) => setTimeout(r, 300));
      expect(await describeExecution(running.executionArn ?? "")).toMatchObject({ status: "RUNNING" });
      await t.sfn.send(new StopExecutionCommand({ executionArn: running.executionArn }));
    } finally {
      t.sandbox.setBehaviours({ nestedExecutionOnAbort: DEFAULT_BEHAVIOURS.nestedExecutionOnAbort });
    }
  });

  it("a Distributed Map with MaxConcurrency 2 never has more than 2 of its 5 nested children running", async () => {
    const child = await machine("fleet-child", waitDefinition);
    const fleet = await machine("fleet", {
      StartAt: "Each item",
      States: {
        "Each item": {
          Type: "Map",
          Label: "items",
          MaxConcurrency: 2,
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
            StartAt: "Run item",
            States: {
              "Run item": {
                Type: "Task",
                Resource: `${STATES}startExecution.sync:2`,
                Parameters: {
                  StateMachineArn: child,
                  "Name.$": "States.Format('item-{}', $.id)",
                  Input: {
                    seconds: 1,
                    "id.$": "$.id",
                    "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                  },
                },
                ResultSelector: { "id.$": "$.Output.input.id", "status.$": "$.Status" },
                End: true,
              },
            },
          },
          End: true,
        },
      },
    });
    const fleetArn = await start(
      fleet,
      [1, 2, 3, 4, 5].map((id) => ({ id })),
    );
    let most = 0;
    let samples = 0;
    for (;;) {
      const status = (await describeExecution(fleetArn)).status;
      const running = (await listed(child, "RUNNING")).filter((e) => e.name?.startsWith("item-"));
      most = Math.max(most, running.length);
      samples += 1;
      if (status !== "RUNNING") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const done = await closed(fleetArn);
    expect(done.status).toBe("SUCCEEDED");
    expect(outputOf(done)).toEqual([1, 2, 3, 4, 5].map((id) => ({ id, status: "SUCCEEDED" })));
    expect(samples).toBeGreaterThan(10);
    expect(most).toBeGreaterThanOrEqual(1);
    expect(most).toBeLessThanOrEqual(2);

    // From the children's own start and stop dates: at most 2 ever overlapped, and 2 did.
    const kids = (await listed(child)).filter((e) => e.name?.startsWith("item-"));
    expect(kids.map((k) => k.name).sort()).toEqual(["item-1", "item-2", "item-3", "item-4", "item-5"]);
    const moments = kids.flatMap((k) => [
      { at: k.startDate?.getTime() ?? 0, step: 1 },
      { at: k.stopDate?.getTime() ?? 0, step: -1 },
    ]);
    moments.sort((a, b) => a.at - b.at || a.step - b.step);
    let overlap = 0;
    let widest = 0;
    for (const m of moments) {
      overlap += m.step;
      widest = Math.max(widest, overlap);
    }
    expect(widest).toBe(2);

    // Each nested child names the Map Run child execution that started it.
    const [mapRun] = (await t.sfn.send(new ListMapRunsCommand({ executionArn: fleetArn }))).mapRuns ?? [];
    const holders = (await t.sfn.send(new ListExecutionsCommand({ mapRunArn: mapRun?.mapRunArn }))).executions ?? [];
    const kid = await describeExecution(kids[0]?.executionArn ?? "");
    const startedBy = JSON.parse(kid.input ?? "").AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID;
    expect(holders.map((h) => h.executionArn)).toContain(startedBy);
  });

  it("stopping a fleet stops its Map Run's children and the executions their tasks wait for", async () => {
    const child = await machine("stopped-fleet-child", waitDefinition);
    const fleet = await machine("stopped-fleet", {
      StartAt: "Each item",
      States: {
        "Each item": {
          Type: "Map",
          MaxConcurrency: 2,
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
            StartAt: "Run item",
            States: {
              "Run item": {
                Type: "Task",
                Resource: `${STATES}startExecution.sync:2`,
                Parameters: { StateMachineArn: child, "Name.$": "$.name", Input: { seconds: 30 } },
                End: true,
              },
            },
          },
          End: true,
        },
      },
    });
    const fleetArn = await start(fleet, [{ name: "slow-1" }, { name: "slow-2" }, { name: "slow-3" }]);
    const first = await runningChild(child, "slow-1");
    const second = await runningChild(child, "slow-2");
    const [mapRun] = (await t.sfn.send(new ListMapRunsCommand({ executionArn: fleetArn }))).mapRuns ?? [];
    const holders = (await t.sfn.send(new ListExecutionsCommand({ mapRunArn: mapRun?.mapRunArn }))).executions ?? [];
    expect(holders).toHaveLength(2);

    await t.sfn.send(new StopExecutionCommand({ executionArn: fleetArn }));
    for (const nested of [first, second]) {
      const stopped = await closed(nested.executionArn ?? "");
      expect(stopped.status).toBe("ABORTED");
      // Stopped by the task that managed it, in the Map Run child execution that ran the task.
      const holder = holders.find((h) => stopped.cause === abortCause(h.executionArn ?? ""));
      expect(holder).toBeDefined();
      expect(await describeExecution(holder?.executionArn ?? "")).toMatchObject({ status: "ABORTED" });
    }
    expect((await listed(child)).map((e) => e.name)).not.toContain("slow-3");
  });
});
