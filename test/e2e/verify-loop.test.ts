import {
  GetExecutionHistoryCommand,
  type GetExecutionHistoryCommandOutput,
  type HistoryEvent,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runReportSchema } from "../../contract/final-report.ts";
import { type RunContext, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { VerificationFileSchema } from "../../contract/verification.ts";
import { sandboxBatchRoleArn } from "../../local/deploy.ts";
import { type ExecutionResult, executionArnOf } from "../../local/executions.ts";
import type { RekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { verifyResults } from "../../steps/handlers/verify-results.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { runOnScenario, sandboxWithScenario, setStateParameters } from "../support/run-scenario.ts";

/**
 * "Verify results" loops through "Are the results verified?" in the deployed state machine: here its time budget is
 * 0 ms (the definition updated through the Step Functions API), so every invocation reads one run of report rows, or
 * starts one job, and saves its progress; two invocations crash (the Lambda runtime exits) and are retried. The run
 * ends with one report, the one a single invocation's verification of the same jobs gives.
 */
describe("a run whose verification takes several invocations", () => {
  let sandbox: Sandbox;
  let clients: RekeyClients;
  let scenario: MixedBucket;
  let result: ExecutionResult;
  let verifyInput: ({ run: RunContext } & Record<string, unknown>) | undefined;
  const entered: string[] = [];

  beforeAll(async () => {
    let admin: Awaited<ReturnType<typeof sandboxWithScenario>>["admin"];
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "verify-loop-data",
      workBucket: "verify-loop-work",
      objects: 30,
    }));
    await setStateParameters(sandbox, [[StateNames.verifyResults, "timeBudgetMs", 0]]);
    const deployment = await rekeyDeployment(sandbox);
    const denied = scenario.keys.find((k) => k.expectation === "reencrypt")?.key ?? "";
    await admin.setBatchTaskFaults([{ key: denied, httpStatus: 403, errorCode: "AccessDenied", message: "Denied" }]);
    // The third invocation crashes after it saved its progress (its answer lost), the fifth before it starts: the
    // state's Retry runs each again, and the retry takes up the progress saved last.
    let invocations = 0;
    const verifyFunction = deployment.functionNames[StateNames.verifyResults];
    result = await runOnScenario({
      sandbox,
      scenario,
      name: "verify-loop-run",
      beforeStep: {
        [StateNames.verifyResults]: async () => {
          invocations += 1;
          if (invocations === 3) await admin.crashLambda(verifyFunction, "after");
          if (invocations === 6) await admin.crashLambda(verifyFunction, "before");
        },
      },
      onEvent: (e) => {
        if (e.type !== "StateEntered") return;
        entered.push(e.state.name);
        if (e.state.name === StateNames.verifyResults && verifyInput === undefined) {
          const s = e.state.input as { run: RunContext } & Record<string, unknown>;
          verifyInput = { run: s.run, plan: s.plan, jobs: s.jobs, largeCopy: s.largeCopy };
        }
      },
    });
  }, 180_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  it("runs Verify results again after each crash, with the progress it saved", async () => {
    const events: HistoryEvent[] = [];
    let page: GetExecutionHistoryCommandOutput | undefined;
    do {
      page = await clients.sfn.send(
        new GetExecutionHistoryCommand({
          executionArn: executionArnOf((await rekeyDeployment(sandbox)).stateMachineArn, "verify-loop-run"),
          ...(page?.nextToken ? { nextToken: page.nextToken } : {}),
        }),
      );
      events.push(...(page.events ?? []));
    } while (page.nextToken);
    let state = "";
    const failures: string[] = [];
    for (const e of events) {
      if (e.type === "TaskStateEntered") state = e.stateEnteredEventDetails?.name ?? "";
      if (e.type === "LambdaFunctionFailed") failures.push(state);
    }
    expect(failures).toEqual([StateNames.verifyResults, StateNames.verifyResults]);
  });

  it("loops through Verify results, one round per job started and per run of rows", () => {
    const rounds = entered.filter((n) => n === StateNames.verifyResults).length;
    expect(rounds).toBeGreaterThan(2);
    expect(entered.filter((n) => n === StateNames.areResultsVerified)).toHaveLength(rounds);
    expect(entered.indexOf(StateNames.lookForNonCompliantObjects)).toBeGreaterThan(
      entered.lastIndexOf(StateNames.verifyResults),
    );
    expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
  });

  it("writes the report, verification.json and failed.csv that one invocation writes for the same jobs", async () => {
    if (!verifyInput) throw new Error("Verify results was not entered");
    const keys = runKeys(verifyInput.run);
    const report = runReportSchema.parse(JSON.parse(await getText(clients.s3, scenario.workBucket, keys.report)));
    const looped = VerificationFileSchema.parse(
      JSON.parse(await getText(clients.s3, scenario.workBucket, keys.verification)),
    );
    const loopedFailed = await getText(clients.s3, scenario.workBucket, keys.failed);

    const run = { ...verifyInput.run, runPrefix: `${verifyInput.run.runPrefix}single/` };
    const deps = {
      clients,
      config: { batchRoleArn: sandboxBatchRoleArn(sandbox.identity) },
      log: silentLogger,
      now: () => new Date(),
    };
    const out = await invokeStep(verifyResults, { ...verifyInput, run }, deps);
    if (!out.done) throw new Error("Verify results without a budget stopped before the end");
    const single = VerificationFileSchema.parse(
      JSON.parse(await getText(clients.s3, scenario.workBucket, out.verificationKey)),
    );
    expect(looped.tally).toEqual(single.tally);
    expect(looped.jobs).toEqual(single.jobs);
    expect(looped.spotCheck.checked).toBe(single.spotCheck.checked);
    expect(loopedFailed).toBe(await getText(clients.s3, scenario.workBucket, runKeys(run).failed));
    expect(loopedFailed.trimEnd().split("\n")).toHaveLength(2);
    expect(report.totals).toEqual(RunTally.fromJSON(single.tally).reconcile({ final: true }).totals);
    expect(report.totals.failed).toBe(1);
  });
});
