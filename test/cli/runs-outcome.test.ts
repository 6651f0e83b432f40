import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { whyEnded } from "../../cli/commands/runs.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { rekey } from "../support/cli.ts";
import { until } from "../support/until.ts";

/**
 * `rekey runs` says why a run that did not succeed ended: the execution's error and cause (a failed run's named
 * error, a stopped run's reason), read with DescribeExecution.
 */
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox?.close();
});

describe("rekey runs: the outcome of runs that did not succeed", () => {
  it("shows a failed run's error and cause, and a stopped run's reason", async () => {
    const { sfn } = rekeyClients(sandbox);
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: "rekey-outcomes",
        roleArn: `arn:aws:iam::${sandbox.identity.accountId}:role/rekey-outcomes`,
        definition: JSON.stringify({
          StartAt: "Fail?",
          States: {
            "Fail?": {
              Type: "Choice",
              Choices: [{ Variable: "$.fail", BooleanEquals: true, Next: "Failed" }],
              Default: "Wait",
            },
            Failed: {
              Type: "Fail",
              Error: "InvalidInputError",
              Cause: "The bucket name Bad_Bucket is not valid. Fix: use the bucket's name as S3 lists it.\nMore.",
            },
            Wait: { Type: "Wait", Seconds: 600, End: true },
          },
        }),
      }),
    );
    const start = async (name: string, fail: boolean) =>
      (
        await sfn.send(
          new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify({ bucket: "outcomes", fail }) }),
        )
      ).executionArn ?? "";
    const failed = await start("outcomes-failed", true);
    const stopped = await start("outcomes-stopped", false);
    await sfn.send(new StopExecutionCommand({ executionArn: stopped, cause: "window closed" }));
    await until("the failed run ends", async () => {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: failed }));
      return d.status === "FAILED" ? true : undefined;
    });
    const listed = await rekey(sandbox, "runs", "--bucket", "outcomes", "--state-machine", stateMachineArn ?? "");
    expect(listed.err).toBe("");
    expect(listed.code).toBe(0);
    const line = (name: string) => listed.out.split("\n").find((l) => l.includes(name)) ?? "";
    expect(line("outcomes-failed")).toMatch(
      /FAILED .* InvalidInputError: The bucket name Bad_Bucket is not valid\. Fix: use the bucket's name as S3 lists it\.$/,
    );
    expect(line("outcomes-stopped")).toMatch(/ABORTED .* stopped: window closed$/);
    const json = await rekey(
      sandbox,
      "runs",
      "--bucket",
      "outcomes",
      "--state-machine",
      stateMachineArn ?? "",
      "--output",
      "json",
    );
    const rows = JSON.parse(json.out) as { name: string; error?: string; cause?: string }[];
    expect(rows.find((r) => r.name === "outcomes-stopped")?.cause).toBe("window closed");
    expect(rows.find((r) => r.name === "outcomes-failed")?.error).toBe("InvalidInputError");
  });

  it("keeps the line short and names what it knows", () => {
    expect(whyEnded("FAILED", "X", `${"a".repeat(150)}\nsecond line`)).toBe(`X: ${"a".repeat(99)}…`);
    expect(whyEnded("ABORTED", undefined, undefined)).toBe("stopped");
    expect(whyEnded("TIMED_OUT", "States.Timeout", undefined)).toBe("States.Timeout");
  });
});

describe("a run that does not exist", () => {
  it("is bad input whichever command names it: exit code 2 and how to find the runs", async () => {
    const arn = `arn:aws:states:${sandbox.identity.region}:${sandbox.identity.accountId}:execution:rekey-outcomes:no-such-run`;
    for (const argv of [
      ["status", "--execution", arn],
      ["approve", "--execution", arn],
      ["stop", "--execution", arn],
    ]) {
      const { code, err } = await rekey(sandbox, ...argv);
      expect({ command: argv[0], code }).toEqual({ command: argv[0], code: 2 });
      expect(err).toMatch(/^rekey: no such run: /);
      expect(err).toContain("rekey runs lists the runs");
    }
  });
});
