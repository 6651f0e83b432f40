import { ListJobsCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StateNames } from "../../contract/states.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment, startSandboxExecution } from "../../local/sandbox-run.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { jobInStatus } from "../support/batch-jobs.ts";
import { type CliResult, rekey } from "../support/cli.ts";
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
    const admin = new SandboxAdmin(sandbox.endpoint);
    const { functionNames } = await rekeyDeployment(sandbox);
    const createJobsFn = functionNames[StateNames.createCopyJobs];
    const name = "stopped-while-creating";
    let stopped: CliResult | undefined;
    const run = startSandboxExecution({
      sandbox,
      name,
      input: {
        bucket: scenario.bucket,
        kmsKeyArn: scenario.targetKeyArn,
        inventoryConfigurationId: scenario.inventoryConfigurationId,
        workBucket: scenario.workBucket,
        options: { inventoryPollSeconds: 1 },
      },
      onEvent: (event) => {
        if (event.type === "StateEntered" && event.state.name === StateNames.waitForInventory) {
          void admin.deliverInventory({ bucket: scenario.bucket, configurationId: scenario.inventoryConfigurationId });
        }
      },
      beforeStep: {
        // The invocation has begun when this runs; the stop finishes before the step's code does anything.
        [StateNames.createCopyJobs]: async () => {
          stopped = await rekey(sandbox, "stop", "--execution", run.executionArn, "--reason", "window closed");
        },
      },
    });
    expect((await run.result).status).toBe("ABORTED");
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
