import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { CreateStateMachineCommand, SFNClient } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { cliWorks } from "../support/sandbox.ts";
import { shimZip } from "./fixtures/lambda-code.ts";

const run = promisify(execFile);

const onPath = await cliWorks();
/** Debian's aws-cli v2 package, which a pip-installed v1 on PATH shadows. */
const debianV2 = existsSync("/usr/bin/aws") && (await cliWorks("/usr/bin/aws")) ? "/usr/bin/aws" : undefined;

interface Json {
  [k: string]: unknown;
}

describe.runIf(onPath)("aws stepfunctions against the sandbox (skipped: `aws` is not on PATH)", () => {
  let sandbox: Sandbox;
  let stateMachineArn: string;
  let executionArn: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
    // A function that throws the error its input names, and a state machine with one Task state invoking it.
    const config = { region: sandbox.identity.region, endpoint: sandbox.endpoint, credentials: SANDBOX_CREDENTIALS };
    const lambda = new LambdaClient(config);
    const sfn = new SFNClient(config);
    const role = `arn:aws:iam::${sandbox.identity.accountId}:role/cli-test`;
    const fn = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: "cli-fail",
        Runtime: "nodejs22.x",
        Role: role,
        Handler: "index.fail",
        Code: { ZipFile: shimZip() },
      }),
    );
    const created = await sfn.send(
      new CreateStateMachineCommand({
        name: "cli-machine",
        roleArn: role,
        definition: JSON.stringify({
          StartAt: "Validate input",
          States: { "Validate input": { Type: "Task", Resource: fn.FunctionArn, End: true } },
        }),
      }),
    );
    stateMachineArn = created.stateMachineArn ?? "";
    lambda.destroy();
    sfn.destroy();
  });
  afterAll(() => sandbox.close());

  async function aws(cli: string, ...args: string[]): Promise<Json> {
    const { stdout } = await run(
      cli,
      ["--endpoint-url", sandbox.endpoint, "--output", "json", "stepfunctions", ...args],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
          AWS_DEFAULT_REGION: sandbox.identity.region,
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_PAGER: "",
        },
      },
    );
    return stdout.trim() ? (JSON.parse(stdout) as Json) : {};
  }

  it("list-state-machines, start-execution, describe-execution, list-executions, get-execution-history", async () => {
    const machines = await aws("aws", "list-state-machines");
    expect(machines.stateMachines).toEqual([
      expect.objectContaining({ stateMachineArn, name: "cli-machine", type: "STANDARD" }),
    ]);

    // An input the function rejects: it fails within seconds, with the error the function threw.
    const started = await aws(
      "aws",
      "start-execution",
      "--state-machine-arn",
      stateMachineArn,
      "--name",
      "cli-run",
      "--input",
      JSON.stringify({ name: "InvalidInputError", message: "no bucket" }),
    );
    executionArn = String(started.executionArn);
    expect(executionArn).toBe(`${stateMachineArn.replace(":stateMachine:", ":execution:")}:cli-run`);

    let described: Json = {};
    for (let i = 0; i < 50; i++) {
      described = await aws("aws", "describe-execution", "--execution-arn", executionArn);
      if (described.status !== "RUNNING") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(described).toMatchObject({ status: "FAILED", error: "InvalidInputError", name: "cli-run" });

    const listed = await aws(
      "aws",
      "list-executions",
      "--state-machine-arn",
      stateMachineArn,
      "--status-filter",
      "FAILED",
    );
    expect((listed.executions as Json[]).map((e) => e.executionArn)).toEqual([executionArn]);

    // The CLI pages through nextToken itself (--max-items is its own paginator over maxResults pages).
    const history = await aws(
      "aws",
      "get-execution-history",
      "--execution-arn",
      executionArn,
      "--reverse-order",
      "--page-size",
      "2",
    );
    const events = history.events as Json[];
    expect(events[0]).toMatchObject({
      type: "ExecutionFailed",
      executionFailedEventDetails: { error: "InvalidInputError" },
    });
    expect(events.at(-1)).toMatchObject({ type: "ExecutionStarted", id: 1, previousEventId: 0 });
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => events.length - i));
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "TaskStateEntered",
        stateEnteredEventDetails: expect.objectContaining({ name: "Validate input" }),
      }),
    );
  });

  it("reports a missing execution as ExecutionDoesNotExist", async () => {
    const missing = `${stateMachineArn.replace(":stateMachine:", ":execution:")}:nope`;
    await expect(aws("aws", "describe-execution", "--execution-arn", missing)).rejects.toThrow(/ExecutionDoesNotExist/);
  });

  it.runIf(debianV2)("works from Debian's aws-cli v2 as well", async () => {
    const cli = debianV2 ?? "";
    const listed = await aws(cli, "list-executions", "--state-machine-arn", stateMachineArn);
    expect((listed.executions as Json[]).map((e) => e.name)).toContain("cli-run");
    const history = await aws(cli, "get-execution-history", "--execution-arn", executionArn, "--max-items", "3");
    expect((history.events as Json[]).map((e) => e.type)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "LambdaFunctionScheduled",
    ]);
  });
});
