import { HeadBucketCommand } from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FinalReportOutput } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import { sandboxStateMachineArn } from "../../local/run-workflow.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { createStepFunctions, sandboxWorkBucket } from "../../sandbox/stepfunctions/service.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { rekeyDefinition } from "../../workflow/definition.ts";
import { sandboxWithClients } from "../support/sandbox.ts";

const FAST = { inventoryPollSeconds: 1, jobPollMinSeconds: 1, jobPollMaxSeconds: 1 };

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

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const entered = (events: HistoryEvent[], state: string) =>
  events.some((e) => e.type?.endsWith("StateEntered") && e.stateEnteredEventDetails?.name === state);

async function closed(sfn: SFNClient, executionArn: string): Promise<DescribeExecutionCommandOutput> {
  return until(`${executionArn} to close`, async () => {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return d.status === "RUNNING" ? undefined : d;
  });
}

const runInput = (scenario: MixedBucket, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    bucket: scenario.bucket,
    kmsKeyArn: scenario.targetKeyArn,
    inventoryConfigurationId: scenario.inventoryConfigurationId,
    options: FAST,
    ...extra,
  });

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error("expected the call to fail");
}

describe("Step Functions in the sandbox", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let sfn: SFNClient;
  let admin: SandboxAdmin;
  let stateMachineArn: string;

  beforeAll(async () => {
    ({ sandbox, clients } = await sandboxWithClients());
    sfn = clients.sfn;
    admin = new SandboxAdmin(sandbox.endpoint);
    stateMachineArn = sandboxStateMachineArn(sandbox.identity.region, sandbox.identity.accountId);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("deploys rekey as a STANDARD state machine with its Lambda function ARNs, and its work bucket", async () => {
    const list = await sfn.send(new ListStateMachinesCommand({}));
    expect(list.stateMachines).toEqual([
      { stateMachineArn, name: "rekey", type: "STANDARD", creationDate: expect.any(Date) },
    ]);
    const d = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
    expect(d.status).toBe("ACTIVE");
    expect(d.type).toBe("STANDARD");
    const definition = JSON.parse(d.definition ?? "{}") as {
      StartAt: string;
      States: Record<string, { Resource?: string }>;
    };
    expect(definition.StartAt).toBe(rekeyDefinition().StartAt);
    expect(Object.keys(definition.States)).toEqual(Object.keys(rekeyDefinition().States as object));
    expect(definition.States[StateNames.validateInput]?.Resource).toBe(
      `arn:aws:lambda:${sandbox.identity.region}:${sandbox.identity.accountId}:function:rekey-ValidateInput`,
    );
    expect(d.definition).not.toContain("${");
    const workBucket = sandboxWorkBucket(sandbox.identity);
    expect(workBucket).toBe(`rekey-work-${sandbox.identity.accountId}-${sandbox.identity.region}`);
    await clients.s3.send(new HeadBucketCommand({ Bucket: workBucket }));
  });

  describe("a run on a seeded bucket, started through StartExecution", () => {
    let scenario: MixedBucket;
    let executionArn: string;
    let startDate: Date | undefined;
    let described: DescribeExecutionCommandOutput;
    let events: HistoryEvent[];
    const input = () => runInput(scenario);

    beforeAll(async () => {
      // The run names no work bucket: the deployment's, which also receives the inventory.
      scenario = await seedMixedBucket(clients, admin, {
        bucket: "sfn-data",
        workBucket: sandboxWorkBucket(sandbox.identity),
        objects: 40,
      });
      const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: "sfn-run-1", input: input() }));
      executionArn = started.executionArn ?? "";
      startDate = started.startDate;
      await until("the run to wait for the inventory", async () => {
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        if (d.status !== "RUNNING") throw new Error(`run closed early: ${d.status} ${d.error} ${d.cause}`);
        return entered(await history(sfn, executionArn), StateNames.waitForInventory) || undefined;
      });
      await admin.deliverInventory({ bucket: scenario.bucket, configurationId: scenario.inventoryConfigurationId });
      described = await closed(sfn, executionArn);
      events = await history(sfn, executionArn);
    }, 40_000);

    it("names the execution after the state machine and the name given", () => {
      expect(executionArn).toBe(`${stateMachineArn.replace(":stateMachine:", ":execution:")}:sfn-run-1`);
      expect(startDate).toBeInstanceOf(Date);
    });

    it("succeeds with the final report as output", () => {
      expect(described.status, `${described.error}: ${described.cause}`).toBe("SUCCEEDED");
      expect(described.input).toBe(input());
      expect(described.startDate?.getTime()).toBe(startDate?.getTime());
      expect(described.stopDate?.getTime()).toBeGreaterThanOrEqual(described.startDate?.getTime() ?? Infinity);
      const report = JSON.parse(described.output ?? "null") as FinalReportOutput;
      expect(report.outcome).toBe("succeeded");
      expect(described.error).toBeUndefined();
    });

    it("writes an AWS-shaped history: numbered events, Lambda task events, JSON-string payloads", () => {
      expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
      expect(events.map((e) => e.previousEventId)).toEqual(events.map((_, i) => i));
      for (let i = 1; i < events.length; i++) {
        expect(events[i]?.timestamp?.getTime()).toBeGreaterThanOrEqual(events[i - 1]?.timestamp?.getTime() ?? 0);
      }
      const first = events[0];
      expect(first?.type).toBe("ExecutionStarted");
      expect(first?.executionStartedEventDetails?.input).toBe(input());
      const last = events.at(-1);
      expect(last?.type).toBe("ExecutionSucceeded");
      expect(last?.executionSucceededEventDetails?.output).toBe(described.output);
      expect(events.at(-2)?.type).toBe("SucceedStateExited");
      expect(events.at(-3)).toMatchObject({
        type: "SucceedStateEntered",
        stateEnteredEventDetails: { name: StateNames.reencrypted },
      });

      // A Task state invoking a Lambda function ARN: entered, scheduled, started, succeeded, exited.
      const validate = events.findIndex((e) => e.stateEnteredEventDetails?.name === StateNames.validateInput);
      expect(events.slice(validate, validate + 5).map((e) => e.type)).toEqual([
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
      ]);
      const scheduled = events[validate + 1]?.lambdaFunctionScheduledEventDetails;
      expect(scheduled?.resource).toMatch(/^arn:aws:lambda:us-east-1:\d{12}:function:rekey-ValidateInput$/);
      expect(scheduled?.timeoutInSeconds).toBe(900);
      // The function got the state's Parameters, not the raw state input.
      expect(Object.keys(JSON.parse(scheduled?.input ?? "{}") as object).sort()).toEqual(["execution", "request"]);
      const validated = JSON.parse(events[validate + 3]?.lambdaFunctionSucceededEventDetails?.output ?? "{}");
      const exited = JSON.parse(events[validate + 4]?.stateExitedEventDetails?.output ?? "{}");
      expect(exited.run).toEqual(validated);

      // Choice and Wait states, and the polling loop the inventory wait made.
      const types = new Set(events.map((e) => e.type));
      for (const t of ["ChoiceStateEntered", "ChoiceStateExited", "WaitStateEntered", "WaitStateExited"]) {
        expect(types, t).toContain(t);
      }
      const finds = events.filter(
        (e) => e.type === "TaskStateEntered" && e.stateEnteredEventDetails?.name === StateNames.findInventory,
      );
      expect(finds.length).toBeGreaterThanOrEqual(2);

      // What the rekey CLI reads: the Batch job ids in "Create copy jobs"'s output.
      const createJobs = events.find(
        (e) => e.type === "TaskStateExited" && e.stateExitedEventDetails?.name === StateNames.createCopyJobs,
      );
      const jobs = (JSON.parse(createJobs?.stateExitedEventDetails?.output ?? "{}") as { jobs?: { jobs?: unknown[] } })
        .jobs;
      expect(JSON.stringify(jobs)).toMatch(/"jobId"/);
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
      expect(lean.events?.[1]?.stateEnteredEventDetails).toEqual({ name: StateNames.validateInput });
    });

    it("lists the execution, newest first, filtered by status", async () => {
      const all = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
      const item = all.executions?.find((e) => e.executionArn === executionArn);
      expect(item).toMatchObject({ name: "sfn-run-1", status: "SUCCEEDED", stateMachineArn });
      expect(item?.stopDate?.getTime()).toBe(described.stopDate?.getTime());
      const succeeded = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "SUCCEEDED" }));
      expect(succeeded.executions?.map((e) => e.executionArn)).toContain(executionArn);
      const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING" }));
      expect(running.executions?.map((e) => e.executionArn)).not.toContain(executionArn);
    });
  });

  it("fails a run whose input is invalid with InvalidInputError, through the Fail state", async () => {
    // Names may hold non-ASCII letters.
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: "ungültig-run_1", input: JSON.stringify({ bucket: "x" }) }),
    );
    const d = await closed(sfn, started.executionArn ?? "");
    expect(d.status).toBe("FAILED");
    expect(d.error).toBe("InvalidInputError");
    expect(d.cause).toBeTruthy();
    expect(d.output).toBeUndefined();
    const events = await history(sfn, started.executionArn ?? "");
    const last = events.at(-1);
    expect(last?.type).toBe("ExecutionFailed");
    expect(last?.executionFailedEventDetails).toEqual({ error: d.error, cause: d.cause });
    expect(events.at(-2)).toMatchObject({
      type: "FailStateEntered",
      stateEnteredEventDetails: { name: StateNames.runFailed },
    });
    const failedTask = events.findIndex((e) => e.type === "LambdaFunctionFailed");
    expect(events[failedTask]?.lambdaFunctionFailedEventDetails?.error).toBe("InvalidInputError");
    // Caught into "Record failure": the failed Task state still exits, with the error under $.failure.
    expect(events[failedTask + 1]?.type).toBe("TaskStateExited");
    expect(JSON.parse(events[failedTask + 1]?.stateExitedEventDetails?.output ?? "{}").failure.Error).toBe(
      "InvalidInputError",
    );
  });

  describe("a running execution", () => {
    let scenario: MixedBucket;
    let executionArn: string;
    let startDate: Date | undefined;
    const name = "sfn-stopped";

    beforeAll(async () => {
      scenario = await seedMixedBucket(clients, admin, { bucket: "sfn-stop", workBucket: "sfn-stop-work", objects: 4 });
      const started = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn,
          name,
          input: runInput(scenario, { workBucket: "sfn-stop-work" }),
        }),
      );
      executionArn = started.executionArn ?? "";
      startDate = started.startDate;
      // No inventory is ever delivered: the run polls until it is stopped.
      await until("the run to wait for the inventory", async () =>
        entered(await history(sfn, executionArn), StateNames.waitForInventory) ? true : undefined,
      );
    }, 30_000);

    it("is started again idempotently with the same name and input, and refuses other input", async () => {
      const again = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn,
          name,
          input: runInput(scenario, { workBucket: "sfn-stop-work" }),
        }),
      );
      expect(again.executionArn).toBe(executionArn);
      expect(again.startDate?.getTime()).toBe(startDate?.getTime());
      const other = await errorOf(
        sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: runInput(scenario, { options: {} }) })),
      );
      expect(other).toMatchObject({ name: "ExecutionAlreadyExists", status: 400 });
      const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING" }));
      expect(list.executions?.filter((e) => e.name === name)).toHaveLength(1);
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(d.status).toBe("RUNNING");
      expect(d.stopDate).toBeUndefined();
      // Where it is now: the last state entered.
      const latest = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 20 }),
      );
      const current = latest.events?.find((e) => e.type?.endsWith("StateEntered"))?.stateEnteredEventDetails?.name;
      expect([StateNames.findInventory, StateNames.isInventoryReady, StateNames.waitForInventory]).toContain(current);
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
      const same = await errorOf(
        sfn.send(
          new StartExecutionCommand({
            stateMachineArn,
            name,
            input: runInput(scenario, { workBucket: "sfn-stop-work" }),
          }),
        ),
      );
      expect(same).toMatchObject({ name: "ExecutionAlreadyExists", status: 400 });
    });
  });

  it("fails an execution whose history reaches the event limit, with the limit's closing event last", async () => {
    // A second Step Functions front end on the same sandbox, with a limit a waiting run reaches in seconds.
    const limited = createStepFunctions({
      identity: sandbox.identity,
      s3: sandbox.s3.store,
      endpoint: () => sandbox.endpoint,
      maxHistoryEvents: 30,
    });
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
      const scenario = await seedMixedBucket(clients, admin, {
        bucket: "sfn-limit",
        workBucket: "sfn-limit-work",
        objects: 2,
      });
      const { executionArn } = await call("StartExecution", {
        stateMachineArn,
        name: "too-long",
        input: runInput(scenario, { workBucket: "sfn-limit-work" }),
      });
      const d = await until("the limit to fail the run", async () => {
        const r = await call("DescribeExecution", { executionArn });
        return r.status === "RUNNING" ? undefined : r;
      });
      expect(d).toMatchObject({ status: "FAILED", error: "States.Runtime" });
      const { events } = (await call("GetExecutionHistory", { executionArn })) as { events: HistoryEvent[] };
      expect(events).toHaveLength(30);
      expect(events.at(-1)).toMatchObject({ id: 30, type: "ExecutionFailed" });
      await new Promise((r) => setTimeout(r, 1200));
      expect(((await call("GetExecutionHistory", { executionArn })) as { events: unknown[] }).events).toHaveLength(30);
    } finally {
      limited.close();
    }
  });

  it("answers unknown, malformed and invalid requests with the documented errors", async () => {
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
    const otherMachine = stateMachineArn.replace(/:rekey$/, ":other");
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
      ).toMatchObject({
        name: "InvalidName",
      });
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
