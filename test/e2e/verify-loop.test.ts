import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runReportSchema } from "../../contract/final-report.ts";
import type { Jobs, Plan } from "../../contract/plan.ts";
import { type RunContext, runKeys } from "../../contract/run-context.ts";
import { executionArnOf, StateNames } from "../../contract/states.ts";
import { VerificationFileSchema } from "../../contract/verification.ts";
import { sandboxBatchRoleArn } from "../../local/deploy.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import type { RekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { verifyInProcess } from "../../local/verify-in-process.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { VERIFY_CONCURRENCY } from "../../workflow/definition.ts";
import { failedTaskStates, mapRunOf } from "../support/histories.ts";
import { runOnScenario, sandboxWithScenario, setStateParameters } from "../support/run-scenario.ts";

/**
 * Verification fans out in the deployed state machine: here each result file is a slice of its own and each
 * invocation reads one run of rows (the slice size and time budget set through the Step Functions API), so "Verify
 * each slice" runs several child executions, some looping; two invocations crash (the Lambda runtime exits), one
 * after saving its progress, one before starting, and the child's Retry runs each again. The run ends with the
 * report, verification.json and failed.csv that verification of the same jobs in one slice gives, and its own
 * history holds the Map Run, none of the slices' events.
 */
/**
 * Report bytes a slice aims at: the result files here are some hundreds of bytes to a few KB (a row per object), so
 * more than one slice, one of them of more than one file, each file read in an invocation of its own.
 */
const SLICE_BYTES = 1_000;

describe("a run whose verification fans out over several slices", () => {
  let sandbox: Sandbox;
  let clients: RekeyClients;
  let scenario: MixedBucket;
  let result: ExecutionResult;
  let verifyInput: { run: RunContext; plan: Plan; jobs: Jobs; largeCopy?: { done: true; batchKey?: string } };

  beforeAll(async () => {
    let admin: Awaited<ReturnType<typeof sandboxWithScenario>>["admin"];
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "verify-loop-data",
      workBucket: "verify-loop-work",
      objects: 30,
    }));
    await setStateParameters(sandbox, [
      [StateNames.sliceReports, "sliceTargetBytes", SLICE_BYTES],
      [StateNames.readReports, "timeBudgetMs", 0],
    ]);
    const deployment = await rekeyDeployment(sandbox);
    const denied = scenario.keys.find((k) => k.expectation === "reencrypt")?.key ?? "";
    await admin.setBatchTaskFaults([{ key: denied, httpStatus: 403, errorCode: "AccessDenied", message: "Denied" }]);
    let invocations = 0;
    const readFunction = deployment.functionNames[StateNames.readReports];
    result = await runOnScenario({
      sandbox,
      scenario,
      name: "verify-loop-run",
      beforeStep: {
        [StateNames.readReports]: async () => {
          invocations += 1;
          if (invocations === 2) await admin.crashLambda(readFunction, "after");
          if (invocations === 4) await admin.crashLambda(readFunction, "before");
        },
      },
      onEvent: (e) => {
        if (e.type === "StateEntered" && e.state.name === StateNames.sliceReports) {
          const s = e.state.input as typeof verifyInput & Record<string, unknown>;
          verifyInput = { run: s.run, plan: s.plan, jobs: s.jobs, ...(s.largeCopy ? { largeCopy: s.largeCopy } : {}) };
        }
      },
    });
  }, 240_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  /** The run's history, and verification's Map Run (the later of the run's two) with its slices' histories. */
  async function verificationMapRun() {
    const executionArn = executionArnOf((await rekeyDeployment(sandbox)).stateMachineArn, "verify-loop-run");
    const run = await mapRunOf(clients.sfn, executionArn, 1);
    // Planning's and verification's, in the order they started.
    expect(run.mapRuns).toBe(2);
    return run;
  }

  it("reads the reports in slices, each its own execution, none of their events in the run's history", async () => {
    expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
    const { parent, mapRun, children, histories } = await verificationMapRun();
    expect(mapRun.itemCounts?.total).toBeGreaterThan(1);
    expect(mapRun.itemCounts?.succeeded).toBe(mapRun.itemCounts?.total);
    expect(mapRun.maxConcurrency).toBe(VERIFY_CONCURRENCY);
    expect(children).toHaveLength(mapRun.itemCounts?.total ?? -1);
    expect(children.every((c) => c.status === "SUCCEEDED")).toBe(true);
    const names = new Set(parent.map((e) => e.stateEnteredEventDetails?.name).filter(Boolean));
    for (const inChild of [StateNames.readReports, StateNames.isSliceVerified, StateNames.sliceVerified]) {
      expect(names.has(inChild), inChild).toBe(false);
    }
    expect(parent.filter((e) => e.type === "MapRunStarted")).toHaveLength(2);
    // Verification's part of the run's history is the same few events whatever the number of slices and rounds.
    const from = parent.findIndex((e) => e.stateEnteredEventDetails?.name === StateNames.sliceReports);
    const to = parent.findIndex((e) => e.stateExitedEventDetails?.name === StateNames.verifyResults);
    expect(from).toBeGreaterThan(0);
    expect(to - from).toBeLessThan(25);
    // Budget 0: a slice of several rows takes several rounds of its own loop.
    const rounds = histories.map(
      (h) => h.filter((e) => e.stateEnteredEventDetails?.name === StateNames.readReports).length,
    );
    expect(Math.max(...rounds)).toBeGreaterThan(1);
  });

  it("ran the two crashed invocations again, in the slices' own executions", async () => {
    const { parent, histories } = await verificationMapRun();
    expect(parent.some((e) => e.type === "LambdaFunctionFailed")).toBe(false);
    const failures = failedTaskStates(histories);
    // Both crashes, each run again by the child's Retry. (Once, with slices in parallel, a retry sent at once after
    // a crash "after" failed the same way too: it is retried as well, and every slice still succeeds.)
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(new Set(failures)).toEqual(new Set([StateNames.readReports]));
  });

  it("writes the report, verification.json and failed.csv that verification in one slice writes for the same jobs", async () => {
    const keys = runKeys(verifyInput.run);
    const report = runReportSchema.parse(JSON.parse(await getText(clients.s3, scenario.workBucket, keys.report)));
    const fannedOut = VerificationFileSchema.parse(
      JSON.parse(await getText(clients.s3, scenario.workBucket, keys.verification)),
    );
    const fannedOutFailed = await getText(clients.s3, scenario.workBucket, keys.failed);

    const run = { ...verifyInput.run, runPrefix: `${verifyInput.run.runPrefix}single/` };
    const deps = {
      clients,
      config: { batchRoleArn: sandboxBatchRoleArn(sandbox.identity) },
      log: silentLogger,
      now: () => new Date(),
    };
    const { verification, reportSlicing } = await verifyInProcess({ ...verifyInput, run }, deps);
    expect(reportSlicing.slices).toBe(1);
    const single = VerificationFileSchema.parse(
      JSON.parse(await getText(clients.s3, scenario.workBucket, verification.verificationKey)),
    );
    expect(fannedOut.tally).toEqual(single.tally);
    expect(fannedOut.jobs).toEqual(single.jobs);
    expect(fannedOut.spotCheck).toEqual(single.spotCheck);
    expect(fannedOutFailed).toBe(await getText(clients.s3, scenario.workBucket, runKeys(run).failed));
    expect(fannedOutFailed.trimEnd().split("\n")).toHaveLength(2);
    expect(report.totals).toEqual(RunTally.fromJSON(single.tally).reconcile({ final: true }).totals);
    expect(report.totals.failed).toBe(1);
  });
});
