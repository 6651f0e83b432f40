import {
  type AthenaClient,
  CreateWorkGroupCommand,
  DeleteWorkGroupCommand,
  GetQueryExecutionCommand,
  GetWorkGroupCommand,
  ListWorkGroupsCommand,
  StartQueryExecutionCommand,
  type WorkGroupConfiguration,
} from "@aws-sdk/client-athena";
import {
  CreateFunctionCommand,
  GetFunctionConfigurationCommand,
  type LambdaClient,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type UpdateFunctionConfigurationCommandInput,
} from "@aws-sdk/client-lambda";
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  CreateStateMachineCommand,
  ListStateMachinesCommand,
  type SFNClient,
  UpdateStateMachineCommand,
} from "@aws-sdk/client-sfn";
import { UnexpectedResponseError } from "../contract/errors.ts";
import { FLEET_MACHINE_SUFFIX, RUN_STATE_MACHINE_PLACEHOLDER } from "../contract/fleet.ts";
import { FunctionPlaceholders, type TaskStateName } from "../contract/states.ts";
import { athenaWorkGroupConfiguration, DEFAULT_BYTES_SCANNED_CUTOFF_PER_QUERY } from "../infra/athena.ts";
import type { SandboxIdentity } from "../sandbox/config.ts";
import { httpStatusOf } from "../steps/aws/s3-io.ts";
import { STEP_FUNCTIONS, stepEnvironment } from "../steps/runtime/functions.ts";
import type { AthenaConfig } from "../steps/runtime/step.ts";
import { rekeyDefinitionJson, substitute } from "../workflow/definition.ts";
import { fleetDefinitionJson } from "../workflow/fleet-definition.ts";
import { stepBundle } from "./step-bundle.ts";

export const STATE_MACHINE_NAME = "rekey";
/** The work bucket the deployment creates, as the CDK stack creates one per account and region. */
export const sandboxWorkBucket = (identity: SandboxIdentity) => `rekey-work-${identity.accountId}-${identity.region}`;
/** The role Batch Operations jobs run as; the sandbox does not evaluate IAM (sandbox/ASSUMPTIONS.md). */
export const sandboxBatchRoleArn = (identity: SandboxIdentity) =>
  `arn:aws:iam::${identity.accountId}:role/rekey-batch-operations`;
/**
 * The Athena workgroup and Glue database of the athena engine, one pair per deployment as the CDK stack creates
 * (infra/constructs/athena-workgroup.ts, which names them after the stack).
 */
export const SANDBOX_ATHENA: AthenaConfig = { workGroup: "rekey", database: "rekey" };
const stateMachineRoleArn = (identity: SandboxIdentity) =>
  `arn:aws:iam::${identity.accountId}:role/rekey-state-machine`;
const stepRoleArn = (identity: SandboxIdentity) => `arn:aws:iam::${identity.accountId}:role/rekey-steps`;

/** The ARN the sandbox's Lambda service gives each step function, by the placeholder the definition carries. */
export function sandboxFunctionArns(identity: SandboxIdentity): Record<string, string> {
  return Object.fromEntries(
    (Object.entries(STEP_FUNCTIONS) as [TaskStateName, { handler: string }][]).map(([state, spec]) => [
      FunctionPlaceholders[state],
      `arn:aws:lambda:${identity.region}:${identity.accountId}:function:${functionNameOf(spec.handler)}`,
    ]),
  );
}

/** What `deployToSandbox` made: what `cdk deploy` leaves in an account, for the sandbox. */
export interface SandboxDeployment {
  stateMachineArn: string;
  /** The fleet state machine (workflow/fleet-definition.ts), which starts runs of the one above. */
  fleetStateMachineArn: string;
  workBucket: string;
  batchRoleArn: string;
  /** The workgroup and database the athena engine queries in (SANDBOX_ATHENA). */
  athena: AthenaConfig;
  /** The Lambda function that runs each Task state. */
  functionNames: Record<TaskStateName, string>;
}

/** `validateInputHandler` → `rekey-ValidateInput`. */
export function functionNameOf(handler: string): string {
  const base = handler.replace(/Handler$/, "");
  return `rekey-${base.charAt(0).toUpperCase()}${base.slice(1)}`;
}

/**
 * Deploys rekey into a running sandbox through its AWS APIs, as CDK deploys it to AWS (infra/): the work bucket,
 * the athena engine's workgroup and database, one Lambda function per Task state with the handler, environment and bundled step code infra/ gives it, and the
 * state machine from workflow/ with the functions' ARNs substituted. Idempotent: a second call updates what the first created.
 */
export async function deployToSandbox(
  clients: { s3: S3Client; lambda: LambdaClient; sfn: SFNClient; athena: AthenaClient },
  identity: SandboxIdentity,
): Promise<SandboxDeployment> {
  const workBucket = sandboxWorkBucket(identity);
  const batchRoleArn = sandboxBatchRoleArn(identity);
  await ensureBucket(clients.s3, workBucket);
  const athena = await ensureAthena(clients.athena, workBucket);

  // Lambda's Node.js runtime imports `index.mjs` and calls the export the Handler names. The package is the step
  // code of this working tree bundled as infra/ bundles it for AWS (local/step-bundle.ts), so a cold start loads one
  // file, not the steps and the SDK module by module.
  const { zip: code } = await stepBundle();
  const environment = stepEnvironment({ batchRoleArn, workBucket, athena });
  const functionNames = {} as Record<TaskStateName, string>;
  for (const [state, spec] of Object.entries(STEP_FUNCTIONS) as [
    TaskStateName,
    (typeof STEP_FUNCTIONS)[TaskStateName],
  ][]) {
    const name = functionNameOf(spec.handler);
    const configuration = {
      FunctionName: name,
      Role: stepRoleArn(identity),
      Handler: `index.${spec.handler}`,
      Runtime: "nodejs22.x" as const,
      Timeout: spec.timeoutSeconds,
      MemorySize: spec.memoryMiB,
      Description: spec.description,
      Environment: { Variables: environment },
    };
    const arn = await putFunction(clients.lambda, configuration, code);
    functionNames[state] = name;
    const expected = sandboxFunctionArns(identity)[FunctionPlaceholders[state]];
    if (arn !== expected) {
      throw new UnexpectedResponseError(`The sandbox gave function ${name} the ARN ${arn}, not ${expected}.`, {
        fix: "The sandbox's Lambda service names functions arn:aws:lambda:<region>:<account>:function:<name>; fix it there.",
      });
    }
  }

  const definition = substitute(rekeyDefinitionJson(), sandboxFunctionArns(identity));
  const roleArn = stateMachineRoleArn(identity);
  const stateMachineArn = await putStateMachine(clients.sfn, { name: STATE_MACHINE_NAME, definition, roleArn });
  const fleetStateMachineArn = await putStateMachine(clients.sfn, {
    name: `${STATE_MACHINE_NAME}${FLEET_MACHINE_SUFFIX}`,
    definition: substitute(fleetDefinitionJson(), { [RUN_STATE_MACHINE_PLACEHOLDER]: stateMachineArn }),
    roleArn,
  });
  return { stateMachineArn, fleetStateMachineArn, workBucket, batchRoleArn, athena, functionNames };
}

/** Creates the function, or brings an existing one up to this code and configuration; answers its ARN. */
async function putFunction(
  lambda: LambdaClient,
  configuration: UpdateFunctionConfigurationCommandInput & { FunctionName: string; Role: string },
  code: Uint8Array,
): Promise<string | undefined> {
  try {
    await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: configuration.FunctionName }));
  } catch (err) {
    if ((err as { name?: string }).name !== "ResourceNotFoundException") throw err;
    return (await lambda.send(new CreateFunctionCommand({ ...configuration, Code: { ZipFile: code } }))).FunctionArn;
  }
  await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: configuration.FunctionName, ZipFile: code }));
  return (await lambda.send(new UpdateFunctionConfigurationCommand(configuration))).FunctionArn;
}

/** Creates the state machine, or updates the one of that name; answers its ARN. */
async function putStateMachine(
  sfn: SFNClient,
  machine: { name: string; definition: string; roleArn: string },
): Promise<string> {
  const found = await findStateMachine(sfn, machine.name);
  if (found) {
    await sfn.send(
      new UpdateStateMachineCommand({
        stateMachineArn: found,
        definition: machine.definition,
        roleArn: machine.roleArn,
      }),
    );
    return found;
  }
  const created = await sfn.send(new CreateStateMachineCommand({ ...machine, type: "STANDARD" }));
  if (!created.stateMachineArn) {
    throw new UnexpectedResponseError(`CreateStateMachine answered without a stateMachineArn for ${machine.name}.`, {
      fix: "Check the Step Functions endpoint: a CreateStateMachine answer always carries the ARN.",
    });
  }
  return created.stateMachineArn;
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (httpStatusOf(err) !== 404) throw err;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

async function findStateMachine(sfn: SFNClient, name: string): Promise<string | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ nextToken }));
    const match = page.stateMachines?.find((m) => m.name === name);
    if (match?.stateMachineArn) return match.stateMachineArn;
    nextToken = page.nextToken;
  } while (nextToken);
  return undefined;
}

/**
 * The workgroup with the configuration infra/ gives it (infra/athena.ts), and the database. The sandbox has no
 * UpdateWorkGroup (sandbox/ATHENA.md), so a workgroup whose configuration differs (an earlier deploy's, kept in a
 * data directory) is deleted and created again; nor a Glue API, so the database is made by Athena DDL, as anyone
 * would in the console. Both are kept as they are when already right: deploying twice changes nothing.
 */
async function ensureAthena(athena: AthenaClient, workBucket: string): Promise<AthenaConfig> {
  const { workGroup, database } = SANDBOX_ATHENA;
  const wanted = athenaWorkGroupConfiguration({
    workBucket,
    bytesScannedCutoffPerQuery: DEFAULT_BYTES_SCANNED_CUTOFF_PER_QUERY,
  });
  const existing = await findWorkGroup(athena, workGroup);
  if (!existing || !sameWorkGroupConfiguration(existing, wanted)) {
    if (existing) {
      await athena.send(new DeleteWorkGroupCommand({ WorkGroup: workGroup, RecursiveDeleteOption: true }));
    }
    await athena.send(
      new CreateWorkGroupCommand({
        Name: workGroup,
        Description: "rekey: queries of the athena filter engine over S3 Inventory",
        Configuration: wanted,
      }),
    );
  }
  await runStatement(athena, workGroup, `CREATE DATABASE IF NOT EXISTS ${database}`);
  return { workGroup, database };
}

/** The configuration of the workgroup of that name, or undefined when there is none. */
async function findWorkGroup(athena: AthenaClient, name: string): Promise<WorkGroupConfiguration | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await athena.send(new ListWorkGroupsCommand({ NextToken: nextToken }));
    if (page.WorkGroups?.some((g) => g.Name === name)) {
      const got = await athena.send(new GetWorkGroupCommand({ WorkGroup: name }));
      return got.WorkGroup?.Configuration ?? {};
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return undefined;
}

/** Whether a workgroup has every setting rekey gives it (the engine by the version in effect). */
function sameWorkGroupConfiguration(
  actual: WorkGroupConfiguration,
  wanted: ReturnType<typeof athenaWorkGroupConfiguration>,
): boolean {
  const result = actual.ResultConfiguration;
  return (
    result?.OutputLocation === wanted.ResultConfiguration.OutputLocation &&
    result.EncryptionConfiguration?.EncryptionOption ===
      wanted.ResultConfiguration.EncryptionConfiguration.EncryptionOption &&
    actual.EnforceWorkGroupConfiguration === wanted.EnforceWorkGroupConfiguration &&
    actual.PublishCloudWatchMetricsEnabled === wanted.PublishCloudWatchMetricsEnabled &&
    actual.BytesScannedCutoffPerQuery === wanted.BytesScannedCutoffPerQuery &&
    actual.EngineVersion?.EffectiveEngineVersion === wanted.EngineVersion.SelectedEngineVersion
  );
}

/** A DDL statement run in the workgroup to its end; one that fails or never ends fails the deploy. */
async function runStatement(athena: AthenaClient, workGroup: string, statement: string): Promise<void> {
  const { QueryExecutionId } = await athena.send(
    new StartQueryExecutionCommand({ QueryString: statement, WorkGroup: workGroup }),
  );
  // DDL touches only the catalog: the sandbox ends it at once. The bound is for a sandbox whose queue an admin
  // call has paused (sandbox/ATHENA.md), so that a deploy says so instead of hanging.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }));
    const status = got.QueryExecution?.Status;
    if (status?.State === "SUCCEEDED") return;
    if (status?.State !== "QUEUED" && status?.State !== "RUNNING") {
      throw new UnexpectedResponseError(
        `Athena ended "${statement}" ${status?.State ?? "without a state"}: ${status?.StateChangeReason ?? "no reason given"}.`,
        { fix: `Look at query ${QueryExecutionId} in workgroup ${workGroup} (GetQueryExecution).` },
      );
    }
    if (Date.now() > deadline) {
      throw new UnexpectedResponseError(`Athena did not end "${statement}" within a minute (${status.State}).`, {
        fix: "Check whether the sandbox's Athena queue is paused (GET /_sandbox/athena/queue).",
      });
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
