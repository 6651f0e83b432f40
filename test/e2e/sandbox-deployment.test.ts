import { createHash } from "node:crypto";
import {
  CreateWorkGroupCommand,
  DeleteWorkGroupCommand,
  GetWorkGroupCommand,
  ListWorkGroupsCommand,
} from "@aws-sdk/client-athena";
import { GetFunctionConfigurationCommand, ListFunctionsCommand } from "@aws-sdk/client-lambda";
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import {
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListStateMachinesCommand,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FinalReportOutput } from "../../contract/final-report.ts";
import { RUN_STATE_MACHINE_PLACEHOLDER } from "../../contract/fleet.ts";
import { StateNames } from "../../contract/states.ts";
import {
  deployToSandbox,
  SANDBOX_ATHENA,
  type SandboxDeployment,
  sandboxFunctionArns,
  sandboxWorkBucket,
} from "../../local/deploy.ts";
import { type RekeyClients, rekeyClients } from "../../local/sandbox-clients.ts";
import { startSandboxExecution } from "../../local/sandbox-run.ts";
import { seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { stepBundle } from "../../local/step-bundle.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { STEP_FUNCTIONS, stepEnvironment } from "../../steps/runtime/functions.ts";
import { rekeyDefinitionJson, substitute } from "../../workflow/definition.ts";
import { fleetDefinitionJson } from "../../workflow/fleet-definition.ts";
import { runQuery } from "../support/athena.ts";

/** rekey deployed into the sandbox through its Lambda and Step Functions APIs, as CDK deploys it to AWS. */
describe("rekey deployed into the sandbox", () => {
  let sandbox: Sandbox;
  let clients: RekeyClients;
  let deployment: SandboxDeployment;

  beforeAll(async () => {
    sandbox = await startSandbox();
    clients = rekeyClients(sandbox);
    deployment = await deployToSandbox(clients, sandbox.identity);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("creates one STANDARD state machine named rekey with workflow/'s definition and the functions' ARNs, and its fleet machine rekey-fleet", async () => {
    const list = await clients.sfn.send(new ListStateMachinesCommand({}));
    expect(list.stateMachines).toEqual([
      { stateMachineArn: deployment.stateMachineArn, name: "rekey", type: "STANDARD", creationDate: expect.any(Date) },
      {
        stateMachineArn: deployment.fleetStateMachineArn,
        name: "rekey-fleet",
        type: "STANDARD",
        creationDate: expect.any(Date),
      },
    ]);
    const fleet = await clients.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: deployment.fleetStateMachineArn }),
    );
    expect(fleet.definition).toBe(
      substitute(fleetDefinitionJson(), { [RUN_STATE_MACHINE_PLACEHOLDER]: deployment.stateMachineArn }),
    );
    const d = await clients.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: deployment.stateMachineArn }));
    expect(d.status).toBe("ACTIVE");
    expect(d.definition).toBe(substitute(rekeyDefinitionJson(), sandboxFunctionArns(sandbox.identity)));
    expect(d.definition).not.toContain("${");
    const definition = JSON.parse(d.definition ?? "{}") as { States: Record<string, { Resource?: string }> };
    expect(definition.States[StateNames.validateInput]?.Resource).toBe(
      `arn:aws:lambda:${sandbox.identity.region}:${sandbox.identity.accountId}:function:rekey-ValidateInput`,
    );
  });

  it("creates one function per Task state with the handler, limits, environment and bundled code infra/ gives it", async () => {
    // The package is the step code of this working tree bundled as for AWS (test/e2e/step-bundle.test.ts).
    const { zip } = await stepBundle();
    const codeSha256 = createHash("sha256").update(zip).digest("base64");
    const environment = stepEnvironment({
      batchRoleArn: deployment.batchRoleArn,
      workBucket: deployment.workBucket,
      athena: deployment.athena,
    });
    for (const [state, spec] of Object.entries(STEP_FUNCTIONS)) {
      const name = deployment.functionNames[state as keyof typeof STEP_FUNCTIONS];
      const f = await clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      expect(f, state).toMatchObject({
        Handler: `index.${spec.handler}`,
        Timeout: spec.timeoutSeconds,
        MemorySize: spec.memoryMiB,
        Environment: { Variables: environment },
        CodeSha256: codeSha256,
        CodeSize: zip.length,
      });
    }
    expect(deployment.workBucket).toBe(sandboxWorkBucket(sandbox.identity));
    await clients.s3.send(new HeadBucketCommand({ Bucket: deployment.workBucket }));
  });

  it("creates the athena engine's workgroup, enforcing encrypted results under the work bucket and a 1 TiB cutoff", async () => {
    expect(deployment.athena).toEqual({ workGroup: "rekey", database: "rekey" });
    const got = await clients.athena.send(new GetWorkGroupCommand({ WorkGroup: deployment.athena.workGroup }));
    expect(got.WorkGroup).toMatchObject({
      Name: "rekey",
      State: "ENABLED",
      Configuration: {
        ResultConfiguration: {
          OutputLocation: `s3://${deployment.workBucket}/athena-results/`,
          EncryptionConfiguration: { EncryptionOption: "SSE_S3" },
        },
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: 1024 ** 4,
        EngineVersion: { EffectiveEngineVersion: "Athena engine version 3" },
      },
    });
  });

  it("creates the database, and a query in the workgroup writes where the workgroup says, whatever it asks", async () => {
    const again = await runQuery(clients.athena, {
      QueryString: `CREATE DATABASE ${deployment.athena.database}`,
      WorkGroup: deployment.athena.workGroup,
      ResultConfiguration: { OutputLocation: "s3://somewhere-else/results/" },
    });
    expect(again.Status?.State).toBe("FAILED");
    expect(again.Status?.StateChangeReason).toMatch(/already exists/i);
    const select = await runQuery(clients.athena, {
      QueryString: "SELECT 1 AS one",
      WorkGroup: deployment.athena.workGroup,
      QueryExecutionContext: { Database: deployment.athena.database },
    });
    expect(select.Status?.State).toBe("SUCCEEDED");
    expect(select.ResultConfiguration?.OutputLocation).toBe(
      `s3://${deployment.workBucket}/athena-results/${select.QueryExecutionId}.csv`,
    );
  });

  it("names the workgroup and database in the manifest step's environment", async () => {
    const f = await clients.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: deployment.functionNames[StateNames.writeManifests] }),
    );
    expect(f.Environment?.Variables).toMatchObject({
      REKEY_ATHENA_WORKGROUP: SANDBOX_ATHENA.workGroup,
      REKEY_ATHENA_DATABASE: SANDBOX_ATHENA.database,
    });
  });

  it("brings a workgroup with other settings (an older deploy's) back to rekey's", async () => {
    const { workGroup } = deployment.athena;
    await clients.athena.send(new DeleteWorkGroupCommand({ WorkGroup: workGroup }));
    await clients.athena.send(
      new CreateWorkGroupCommand({ Name: workGroup, Configuration: { BytesScannedCutoffPerQuery: 10_000_000 } }),
    );
    await deployToSandbox(clients, sandbox.identity);
    const got = await clients.athena.send(new GetWorkGroupCommand({ WorkGroup: workGroup }));
    expect(got.WorkGroup?.Configuration).toMatchObject({
      ResultConfiguration: { OutputLocation: `s3://${deployment.workBucket}/athena-results/` },
      BytesScannedCutoffPerQuery: 1024 ** 4,
    });
  });

  it("is idempotent: deploying again updates in place and creates nothing new", async () => {
    const again = await deployToSandbox(clients, sandbox.identity);
    expect(again).toEqual(deployment);
    expect((await clients.sfn.send(new ListStateMachinesCommand({}))).stateMachines).toHaveLength(2);
    expect((await clients.lambda.send(new ListFunctionsCommand({}))).Functions).toHaveLength(
      Object.keys(STEP_FUNCTIONS).length,
    );
    const groups = (await clients.athena.send(new ListWorkGroupsCommand({}))).WorkGroups ?? [];
    expect(groups.map((g) => g.Name).sort()).toEqual(["primary", "rekey"]);
  });

  it("keeps the workgroup as it is when it is already right", async () => {
    const before = await clients.athena.send(new GetWorkGroupCommand({ WorkGroup: deployment.athena.workGroup }));
    await deployToSandbox(clients, sandbox.identity);
    const after = await clients.athena.send(new GetWorkGroupCommand({ WorkGroup: deployment.athena.workGroup }));
    expect(after.WorkGroup?.CreationTime).toEqual(before.WorkGroup?.CreationTime);
  });

  describe("a run that names no work bucket", () => {
    let events: HistoryEvent[];
    let output: FinalReportOutput | undefined;

    beforeAll(async () => {
      const admin = new SandboxAdmin(sandbox.endpoint);
      const scenario = await seedMixedBucket(clients, admin, {
        bucket: "deployed-data",
        workBucket: deployment.workBucket,
        objects: 40,
      });
      let delivery: Promise<unknown> | undefined;
      const execution = startSandboxExecution({
        sandbox,
        name: "deployed-run",
        input: {
          bucket: scenario.bucket,
          kmsKeyArn: scenario.targetKeyArn,
          inventoryConfigurationId: scenario.inventoryConfigurationId,
          options: { inventoryPollSeconds: 1, jobPollMinSeconds: 1, jobPollMaxSeconds: 1 },
        },
        onEvent: (e) => {
          if (e.type === "StateEntered" && e.state.name === StateNames.waitForInventory) {
            delivery ??= admin.deliverInventory({
              bucket: scenario.bucket,
              configurationId: scenario.inventoryConfigurationId,
            });
          }
        },
      });
      const result = await execution.result;
      await delivery;
      if (result.status !== "SUCCEEDED") throw new Error(`run ended ${JSON.stringify(result)}`);
      output = result.output as FinalReportOutput;
      events = [];
      let nextToken: string | undefined;
      do {
        const page = await clients.sfn.send(
          new GetExecutionHistoryCommand({ executionArn: execution.executionArn, nextToken }),
        );
        events.push(...(page.events ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
    }, 60_000);

    it("uses the deployment's work bucket and ends Re-encrypted with the final report as output", () => {
      expect(output?.outcome).toBe("succeeded");
      expect(output?.summaryLocation).toContain(`s3://${deployment.workBucket}/`);
      expect(events.at(-3)).toMatchObject({
        type: "SucceedStateEntered",
        stateEnteredEventDetails: { name: StateNames.reencrypted },
      });
    });

    it("invokes each step's function with the state's Parameters, through JSON", () => {
      const validate = events.findIndex((e) => e.stateEnteredEventDetails?.name === StateNames.validateInput);
      expect(events.slice(validate, validate + 5).map((e) => e.type)).toEqual([
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
      ]);
      const scheduled = events[validate + 1]?.lambdaFunctionScheduledEventDetails;
      expect(scheduled?.resource).toBe(sandboxFunctionArns(sandbox.identity).ValidateInputFunctionArn);
      expect(scheduled?.timeoutInSeconds).toBe(900);
      expect(Object.keys(JSON.parse(scheduled?.input ?? "{}") as object).sort()).toEqual(["execution", "request"]);
      const validated = JSON.parse(events[validate + 3]?.lambdaFunctionSucceededEventDetails?.output ?? "{}");
      const exited = JSON.parse(events[validate + 4]?.stateExitedEventDetails?.output ?? "{}");
      expect(exited.run).toEqual(validated);
    });

    it("polls for the inventory in a loop and hands the CLI the job ids in Create copy jobs' output", () => {
      const finds = events.filter(
        (e) => e.type === "TaskStateEntered" && e.stateEnteredEventDetails?.name === StateNames.findInventory,
      );
      expect(finds.length).toBeGreaterThanOrEqual(2);
      const createJobs = events.find(
        (e) => e.type === "TaskStateExited" && e.stateExitedEventDetails?.name === StateNames.createCopyJobs,
      );
      expect(createJobs?.stateExitedEventDetails?.output).toMatch(/"jobId"/);
    });
  });
});
