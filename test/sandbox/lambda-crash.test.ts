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

  it("a Step Functions Task sees the crash as the state error Runtime.ExitError, which a Retry can match", async () => {
    const role = `arn:aws:iam::${env.sandbox.identity.accountId}:role/crash`;
    const fn = `arn:aws:lambda:${env.sandbox.identity.region}:${env.sandbox.identity.accountId}:function:marker`;
    const definition = {
      StartAt: "Mark",
      States: {
        Mark: {
          Type: "Task",
          Resource: fn,
          Retry: [{ ErrorEquals: ["Runtime.ExitError"], MaxAttempts: 1, IntervalSeconds: 1 }],
          End: true,
        },
      },
    };
    const { stateMachineArn } = await env.sfn.send(
      new CreateStateMachineCommand({ name: "crash-retry", definition: JSON.stringify(definition), roleArn: role }),
    );
    env.sandbox.lambda.crash({ functionName: "marker", when: "after" });
    const { executionArn } = await env.sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        input: JSON.stringify({ bucket: BUCKET, key: "sfn", body: "x" }),
      }),
    );
    let status = "RUNNING";
    for (let i = 0; status === "RUNNING"; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      status = (await env.sfn.send(new DescribeExecutionCommand({ executionArn }))).status ?? "";
    }
    expect(status).toBe("SUCCEEDED");
    const events = (await env.sfn.send(new GetExecutionHistoryCommand({ executionArn }))).events ?? [];
    const failed = events.filter((e) => e.type === "LambdaFunctionFailed");
    expect(failed.map((e) => e.lambdaFunctionFailedEventDetails?.error)).toEqual(["Runtime.ExitError"]);
    expect(await marked("sfn")).toBe(true);
  });
});
