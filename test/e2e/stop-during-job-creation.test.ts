import { ListJobsCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executionArnOf, StateNames } from "../../contract/states.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { jobInStatus } from "../support/batch-jobs.ts";
import { type CliResult, rekey } from "../support/cli.ts";
import { runOnScenario } from "../support/run-scenario.ts";
import { until } from "../support/until.ts";

/**
 * `rekey stop` while "Create copy jobs" runs: Lambda does not stop an invocation under way, so the step goes on after
 * the stop has looked for the run's jobs and found none. The step looks at its execution after each CreateJob and
 * cancels what it made (steps/aws/run-execution.ts); no job of a stopped run copies anything on its own.
 */
describe("a stop that lands while the copy jobs are being created", () => {
  let sandbox: Sandbox;
  let scenario: MixedBucket;

  beforeAll(async () => {
    sandbox = await startSandbox({ batchTasksPerSecond: 2 });
    await rekeyDeployment(sandbox);
    scenario = await seedMixedBucket(rekeyClients(sandbox), new SandboxAdmin(sandbox.endpoint), {
      bucket: "stop-mid-create-data",
      workBucket: "stop-mid-create-work",
      objects: 20,
    });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("cancels the job the step made after the stop, and makes no other", async () => {
    const { functionNames, stateMachineArn } = await rekeyDeployment(sandbox);
    const createJobsFn = functionNames[StateNames.createCopyJobs];
    const name = "stopped-while-creating";
    let stopped: CliResult | undefined;
    const result = await runOnScenario({
      sandbox,
      scenario,
      name,
      beforeStep: {
        // The invocation has begun when this runs; the stop finishes before the step's code does anything.
        [StateNames.createCopyJobs]: async () => {
          const execution = executionArnOf(stateMachineArn, name);
          stopped = await rekey(sandbox, "stop", "--execution", execution, "--reason", "window closed");
        },
      },
    });
    expect(result.status).toBe("ABORTED");
    expect(stopped?.code).toBe(0);
    expect(stopped?.out).toContain("No copy job had been created");

    // The step's invocation runs to its end after the execution stopped.
    await until(
      "Create copy jobs to end",
      async () => /REPORT RequestId/.test(sandbox.lambda.logs(createJobsFn)) || undefined,
    );
    const s3control = rekeyClients(sandbox).s3control;
    const accountId = sandbox.identity.accountId;
    const jobs = ((await s3control.send(new ListJobsCommand({ AccountId: accountId }))).Jobs ?? []).filter((j) =>
      j.Description?.endsWith(`(${name})`),
    );
    // The plan has several jobs (copies per storage class, an update); the step stopped making them after the first.
    expect(jobs).toHaveLength(1);
    const job = await jobInStatus(s3control, accountId, jobs[0]?.JobId ?? "", ["Cancelled", "Complete", "Failed"]);
    expect(job.Status).toBe("Cancelled");
    expect(job.StatusUpdateReason).toContain("was stopped while its jobs were being created");
    expect(sandbox.lambda.logs(createJobsFn)).toContain("job created after the run stopped");
  }, 120_000);
});
