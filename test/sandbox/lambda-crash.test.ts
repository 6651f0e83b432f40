import { CreateFunctionCommand, InvokeCommand, type InvokeCommandOutput, LambdaClient } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { useSandbox } from "../support/sandbox.ts";
import { shimZip } from "./fixtures/lambda-code.ts";

const BUCKET = "crash-marks";
const EXIT_ERROR = /^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 1$/;
const payloadOf = (out: InvokeCommandOutput) => JSON.parse(Buffer.from(out.Payload ?? []).toString("utf8"));

describe("Lambda crash faults: the container dies before or after the handler", () => {
  const env = useSandbox();
  let lambda: LambdaClient;

  beforeAll(async () => {
    lambda = new LambdaClient({
      region: env.sandbox.identity.region,
      endpoint: env.sandbox.endpoint,
      credentials: SANDBOX_CREDENTIALS,
      maxAttempts: 1,
    });
    await env.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (const [name, handler] of [
      ["marker", "index.putMarker"],
      ["counter", "index.counter"],
    ]) {
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: "nodejs22.x",
          Role: `arn:aws:iam::${env.sandbox.identity.accountId}:role/crash`,
          Handler: handler,
          Timeout: 30,
          Code: { ZipFile: shimZip() },
        }),
      );
    }
  });
  afterAll(() => lambda?.destroy());

  const invoke = (name: string, event: unknown = {}) =>
    lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
  const marked = (key: string) =>
    env.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
      () => true,
      (e: { $metadata?: { httpStatusCode?: number } }) => {
        if (e.$metadata?.httpStatusCode === 404) return false;
        throw e;
      },
    );

  it("`before`: the invocation fails with Runtime.ExitError and the handler's side effect never happens", async () => {
    await env.admin.crashLambda("marker", "before");
    const out = await invoke("marker", { bucket: BUCKET, key: "before", body: "x" });
    expect(out.FunctionError).toBe("Unhandled");
    expect(payloadOf(out)).toEqual({ errorType: "Runtime.ExitError", errorMessage: expect.stringMatching(EXIT_ERROR) });
    expect(await marked("before")).toBe(false);
    // The crash was for one invocation: the next runs in a new container and does its work.
    expect(payloadOf(await invoke("marker", { bucket: BUCKET, key: "before", body: "x" }))).toEqual({
      wrote: "before",
    });
    expect(await marked("before")).toBe(true);
  });

  it("`after`: the handler's side effect happens, its result is lost, the invocation fails the same way", async () => {
    env.sandbox.lambda.crash({ functionName: "marker", when: "after" });
    const out = await invoke("marker", { bucket: BUCKET, key: "after", body: "x" });
    expect(out.FunctionError).toBe("Unhandled");
    expect(payloadOf(out)).toEqual({ errorType: "Runtime.ExitError", errorMessage: expect.stringMatching(EXIT_ERROR) });
    expect(await marked("after")).toBe(true);
    expect(env.sandbox.lambda.logs("marker")).toMatch(/Runtime exited with error: exit status 1\nRuntime\.ExitError\n/);
  });

  it("a crash ends the warm container; `count` crashes that many invocations, then expires", async () => {
    await invoke("counter");
    expect(payloadOf(await invoke("counter"))).toEqual({ invocations: 2 });
    await env.admin.crashLambda("counter", "after", 2);
    expect(await env.admin.lambdaCrashes()).toEqual([{ functionName: "counter", when: "after", remaining: 2 }]);
    expect((await invoke("counter")).FunctionError).toBe("Unhandled");
    expect((await invoke("counter")).FunctionError).toBe("Unhandled");
    expect(await env.admin.lambdaCrashes()).toEqual([]);
    expect(payloadOf(await invoke("counter"))).toEqual({ invocations: 1 });
  });

  it("crashes can be listed and cleared, by function or all", async () => {
    await env.admin.crashLambda("counter", "before");
    env.sandbox.lambda.crash({ functionName: "marker", when: "before", count: 3 });
    expect(env.sandbox.lambda.crashes()).toHaveLength(2);
    await env.admin.clearLambdaCrashes("counter");
    expect(env.sandbox.lambda.crashes()).toEqual([{ functionName: "marker", when: "before", remaining: 3 }]);
    env.sandbox.lambda.clearCrashes();
    expect(await env.admin.lambdaCrashes()).toEqual([]);
    expect((await invoke("counter")).FunctionError).toBeUndefined();
  });

  describe.each([
    ["Lambda.Unknown", "Lambda.Unknown", "Lambda.Unknown"],
    ["ErrorType", "Runtime.ExitError", "Sandbox.Timedout"],
  ] as const)("Step Functions under runtimeFailureError %s", (runtimeFailureError, crashError, timeoutError) => {
    const role = () => `arn:aws:iam::${env.sandbox.identity.accountId}:role/crash`;
    const arnOf = (name: string) =>
      `arn:aws:lambda:${env.sandbox.identity.region}:${env.sandbox.identity.accountId}:function:${name}`;
    let machines = 0;

    beforeAll(async () => {
      env.sandbox.setBehaviours({ runtimeFailureError });
      // A function whose invocations outlive its Timeout (1 s): Lambda destroys the environment, a runtime failure.
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: `sleepy-${runtimeFailureError.replace(".", "-")}`,
          Runtime: "nodejs22.x",
          Role: role(),
          Handler: "index.slow",
          Timeout: 1,
          Code: { ZipFile: shimZip() },
        }),
      );
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: `thrower-${runtimeFailureError.replace(".", "-")}`,
          Runtime: "nodejs22.x",
          Role: role(),
          Handler: "index.fail",
          Timeout: 30,
          Code: { ZipFile: shimZip() },
        }),
      );
    });
    afterAll(() => env.sandbox.setBehaviours({ runtimeFailureError: "Lambda.Unknown" }));

    /** Runs a one-Task machine to its end: its status, its error, and the Error of every failed attempt. */
    async function runTask(resource: string, input: unknown, retryOn?: string) {
      const definition = {
        StartAt: "Run",
        States: {
          Run: {
            Type: "Task",
            Resource: resource,
            ...(retryOn ? { Retry: [{ ErrorEquals: [retryOn], MaxAttempts: 1, IntervalSeconds: 1 }] } : {}),
            End: true,
          },
        },
      };
      const { stateMachineArn } = await env.sfn.send(
        new CreateStateMachineCommand({
          name: `crash-${runtimeFailureError.replace(".", "-")}-${++machines}`,
          definition: JSON.stringify(definition),
          roleArn: role(),
        }),
      );
      const { executionArn } = await env.sfn.send(
        new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }),
      );
      let described = await env.sfn.send(new DescribeExecutionCommand({ executionArn }));
      while (described.status === "RUNNING") {
        await new Promise((r) => setTimeout(r, 50));
        described = await env.sfn.send(new DescribeExecutionCommand({ executionArn }));
      }
      const events = (await env.sfn.send(new GetExecutionHistoryCommand({ executionArn }))).events ?? [];
      const failed = events
        .filter((e) => e.type === "LambdaFunctionFailed")
        .map((e) => e.lambdaFunctionFailedEventDetails?.error);
      return { status: described.status, error: described.error, failed };
    }

    it(`a crash is the state error ${crashError}, which a Retry on that name matches`, async () => {
      env.sandbox.lambda.crash({ functionName: "marker", when: "after" });
      const key = `sfn-${runtimeFailureError}`;
      const run = await runTask(arnOf("marker"), { bucket: BUCKET, key, body: "x" }, crashError);
      expect(run).toEqual({ status: "SUCCEEDED", error: undefined, failed: [crashError] });
      expect(await marked(key)).toBe(true);
    });

    it(`a function timeout is the state error ${timeoutError}`, async () => {
      const run = await runTask(arnOf(`sleepy-${runtimeFailureError.replace(".", "-")}`), { ms: 3_000 });
      expect(run).toEqual({ status: "FAILED", error: timeoutError, failed: [timeoutError] });
    });

    it("a handler's error keeps its errorType", async () => {
      const run = await runTask(arnOf(`thrower-${runtimeFailureError.replace(".", "-")}`), {
        name: "TransientAwsError",
        message: "throttled",
      });
      expect(run).toEqual({ status: "FAILED", error: "TransientAwsError", failed: ["TransientAwsError"] });
    });
  });
});
