import { GetBucketEncryptionCommand, type ServerSideEncryptionRule } from "@aws-sdk/client-s3";
import { type JobListDescriptor, ListJobsCommand, type ListJobsCommandOutput } from "@aws-sdk/client-s3-control";
import { ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Jobs, WorkManifest } from "../../contract/plan.ts";
import { defaultEncryptionRecordKey } from "../../contract/run-context.ts";
import { executionArnOf, StateNames, type TaskStateName } from "../../contract/states.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import type { RekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { RUNTIME_FAILURE_ERRORS as SWITCH_VALUES } from "../../sandbox/behaviours.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { currentBucketLock } from "../../steps/aws/bucket-lock.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { type BucketSnapshot, differences, type Expected, snapshotBucket } from "../support/bucket-snapshot.ts";
import { executionHistory } from "../support/histories.ts";
import { finalReport, runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * A step whose Lambda runtime dies (the process exits) is run again by the state machine's Retry, whichever name
 * Step Functions gives the crash (the sandbox switch runtimeFailureError), and because every step is idempotent the
 * run ends as if nothing had happened: nothing copied twice, no second job, the rollback record still naming the
 * bucket's original default encryption.
 */

/** The crashes one run goes through: after a side effect (bucket changed, jobs created), and before one. */
const CRASHES: [TaskStateName, "before" | "after"][] = [
  [StateNames.enforceDefaultEncryption, "after"],
  [StateNames.writeManifests, "before"],
  [StateNames.createCopyJobs, "after"],
];

/** What the run should have done to each key, from the scenario's expectation. */
function expectedOf(scenario: MixedBucket): (key: string) => Expected {
  const byKey = new Map(scenario.keys.map((k) => [k.key, k.expectation]));
  return (key) => {
    const e = byKey.get(key);
    if (e === "reencrypt" || e === "large-copy") return "copied";
    if (e === "update-from-sse-s3" || e === "update-from-sse-kms") return "updated";
    return "untouched";
  };
}

/** The Lambda failures of a run, in order, those of a Map Run's child executions (the slices) where it started. */
async function lambdaFailures(clients: RekeyClients, executionArn: string): Promise<[string, string | undefined][]> {
  const events = await executionHistory(clients.sfn, executionArn);
  const failures: [string, string | undefined][] = [];
  let state = "";
  for (const e of events) {
    if (e.type === "TaskStateEntered") state = e.stateEnteredEventDetails?.name ?? "";
    if (e.type === "LambdaFunctionFailed") failures.push([state, e.lambdaFunctionFailedEventDetails?.error]);
    const mapRunArn = e.mapRunStartedEventDetails?.mapRunArn;
    if (mapRunArn) {
      const children = (await clients.sfn.send(new ListExecutionsCommand({ mapRunArn }))).executions ?? [];
      for (const child of children) failures.push(...(await lambdaFailures(clients, child.executionArn ?? "")));
    }
  }
  return failures;
}

async function jobsOfBucket(clients: RekeyClients, accountId: string, bucket: string): Promise<JobListDescriptor[]> {
  const jobs: JobListDescriptor[] = [];
  let page: ListJobsCommandOutput | undefined;
  do {
    page = await clients.s3control.send(
      new ListJobsCommand({ AccountId: accountId, ...(page?.NextToken ? { NextToken: page.NextToken } : {}) }),
    );
    jobs.push(...(page.Jobs ?? []));
  } while (page.NextToken);
  return jobs.filter((j) => j.Description?.startsWith(`rekey ${bucket} `));
}

describe.each(SWITCH_VALUES)("steps that crash are retried (runtimeFailureError %s)", (runtimeFailureError) => {
  const crashError = runtimeFailureError === "Lambda.Unknown" ? "Lambda.Unknown" : "Runtime.ExitError";
  let sandbox: Sandbox;
  let clients: RekeyClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let before: BucketSnapshot;
  let originalRules: ServerSideEncryptionRule[] | undefined;
  let result: ExecutionResult;
  let executionArn: string;
  let manifests: WorkManifest[] = [];
  let jobs: Jobs | undefined;

  beforeAll(async () => {
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "crash-data",
      workBucket: "crash-work",
      objects: 12,
    }));
    sandbox.setBehaviours({ runtimeFailureError });
    const deployment = await rekeyDeployment(sandbox);
    for (const [state, when] of CRASHES) await admin.crashLambda(deployment.functionNames[state], when);
    originalRules = (await clients.s3.send(new GetBucketEncryptionCommand({ Bucket: scenario.bucket })))
      .ServerSideEncryptionConfiguration?.Rules;
    before = await snapshotBucket(clients.s3, scenario.bucket);
    const name = "crash-run";
    executionArn = executionArnOf(deployment.stateMachineArn, name);
    result = await runOnScenario({
      sandbox,
      scenario,
      name,
      onEvent: (event) => {
        if (event.type !== "StateExited") return;
        const output = event.state.output as { plan?: { manifests: WorkManifest[] }; jobs?: Jobs };
        if (event.state.name === StateNames.combinePlan) manifests = output.plan?.manifests ?? [];
        if (event.state.name === StateNames.createCopyJobs) jobs = output.jobs;
      },
    });
  }, 180_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  it("succeeds, every object accounted for", () => {
    expect(result.status === "FAILED" ? result.cause : result.status).toBe("SUCCEEDED");
    const report = finalReport(result);
    expect(report.outcome).toBe("succeeded");
    expect(report.totals.failed).toBe(0);
  });

  it(`crashed each step once, seen as ${crashError}, and ran it again`, async () => {
    expect(await admin.lambdaCrashes()).toEqual([]);
    expect(await lambdaFailures(clients, executionArn)).toEqual(CRASHES.map(([state]) => [state, crashError]));
  });

  it("copied every object once, updated the encrypted ones in place, and left everything else untouched", async () => {
    const after = await snapshotBucket(clients.s3, scenario.bucket);
    expect(differences(before, after, scenario.targetKeyArn, expectedOf(scenario))).toEqual([]);
    // The comparison means something only if the run copied and updated objects.
    const expected = expectedOf(scenario);
    expect([...before.keys()].filter((k) => expected(k) === "copied").length).toBeGreaterThan(5);
    expect([...before.keys()].filter((k) => expected(k) === "updated").length).toBeGreaterThan(0);
  });

  it("created one job per manifest, though the step that created them crashed after doing so", async () => {
    expect(manifests.length).toBeGreaterThan(1);
    expect(jobs?.jobs.map((j) => j.manifestKey).sort()).toEqual(manifests.map((m) => m.key).sort());
    const listed = await jobsOfBucket(clients, sandbox.identity.accountId, scenario.bucket);
    expect(listed.map((j) => j.JobId).sort()).toEqual((jobs?.jobs ?? []).map((j) => j.jobId).sort());
    const units = listed.map((j) => j.Description?.split(" (")[0]);
    expect(new Set(units).size).toBe(units.length);
  });

  it("keeps the bucket's original default encryption in the rollback record, not rekey's own rule", async () => {
    expect(originalRules?.length).toBeGreaterThan(0);
    const record = JSON.parse(
      await getText(clients.s3, scenario.workBucket, defaultEncryptionRecordKey(scenario.bucket)),
    ) as { state?: string; previous?: unknown };
    expect(record.state).toBe("enforced");
    expect(record.previous).toEqual(originalRules);
    const now = await clients.s3.send(new GetBucketEncryptionCommand({ Bucket: scenario.bucket }));
    expect(now.ServerSideEncryptionConfiguration?.Rules).toEqual([
      {
        ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: scenario.targetKeyArn },
        BucketKeyEnabled: true,
      },
    ]);
  });
});

describe("a step that crashes every time", () => {
  let sandbox: Sandbox;
  let clients: RekeyClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let result: ExecutionResult;
  let executionArn: string;

  beforeAll(async () => {
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "crash-always",
      workBucket: "crash-always-work",
      objects: 4,
    }));
    const deployment = await rekeyDeployment(sandbox);
    // One attempt and the two retries, then one crash left over that must never be reached.
    await admin.crashLambda(deployment.functionNames[StateNames.preflight], "before", 4);
    executionArn = executionArnOf(deployment.stateMachineArn, "crash-always");
    result = await runOnScenario({ sandbox, scenario, name: "crash-always" });
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  it("is tried three times, then caught into Record failure, which ends the run and releases the lock", async () => {
    expect(result).toMatchObject({ status: "FAILED", error: "Lambda.Unknown" });
    expect(await admin.lambdaCrashes()).toEqual([expect.objectContaining({ remaining: 1 })]);
    expect(await lambdaFailures(clients, executionArn)).toEqual(
      Array.from({ length: 3 }, () => [StateNames.preflight, "Lambda.Unknown"]),
    );
    expect(await currentBucketLock(clients.s3, scenario.workBucket, scenario.bucket)).toBeUndefined();
  });
});
