import { fileURLToPath, pathToFileURL } from "node:url";
import {
  CreateFunctionCommand,
  GetFunctionConfigurationCommand,
  type LambdaClient,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from "@aws-sdk/client-lambda";
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  CreateStateMachineCommand,
  ListStateMachinesCommand,
  type SFNClient,
  UpdateStateMachineCommand,
} from "@aws-sdk/client-sfn";
import { strToU8, zipSync } from "fflate";
import { FunctionPlaceholders, type TaskStateName } from "../contract/states.ts";
import type { SandboxIdentity } from "../sandbox/config.ts";
import { httpStatusOf } from "../steps/aws/s3-io.ts";
import { STEP_FUNCTIONS, stepEnvironment } from "../steps/runtime/functions.ts";
import { rekeyDefinitionJson, substitute } from "../workflow/definition.ts";

/** The entry every step function runs, as infra/ bundles it for AWS. */
const LAMBDA_HANDLERS = fileURLToPath(new URL("../steps/runtime/lambda-handlers.ts", import.meta.url));

export const STATE_MACHINE_NAME = "rekey";
/** The work bucket the deployment creates, as the CDK stack creates one per account and region. */
export const sandboxWorkBucket = (identity: SandboxIdentity) => `rekey-work-${identity.accountId}-${identity.region}`;
/** The role Batch Operations jobs run as; the sandbox does not evaluate IAM (sandbox/ASSUMPTIONS.md). */
export const sandboxBatchRoleArn = (identity: SandboxIdentity) =>
  `arn:aws:iam::${identity.accountId}:role/rekey-batch-operations`;
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
  workBucket: string;
  batchRoleArn: string;
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
 * one Lambda function per Task state with the handler and environment infra/ gives it, and the state machine from
 * workflow/ with the functions' ARNs substituted. Idempotent: a second call updates what the first created.
 */
export async function deployToSandbox(
  clients: { s3: S3Client; lambda: LambdaClient; sfn: SFNClient },
  identity: SandboxIdentity,
): Promise<SandboxDeployment> {
  const workBucket = sandboxWorkBucket(identity);
  const batchRoleArn = sandboxBatchRoleArn(identity);
  await ensureBucket(clients.s3, workBucket);

  // Lambda's Node.js runtime imports `index.mjs` and calls the export the Handler names; the module re-exports the
  // same entry infra/ bundles, so the sandbox runs the step code from this working tree.
  const code = zipSync({
    "index.mjs": strToU8(`export * from ${JSON.stringify(pathToFileURL(LAMBDA_HANDLERS).href)};\n`),
  });
  const environment = stepEnvironment({ batchRoleArn, workBucket });
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
    const existing = await clients.lambda
      .send(new GetFunctionConfigurationCommand({ FunctionName: name }))
      .catch((err: unknown) => {
        if ((err as { name?: string }).name === "ResourceNotFoundException") return undefined;
        throw err;
      });
    const arn = existing
      ? (await clients.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: code })),
        (await clients.lambda.send(new UpdateFunctionConfigurationCommand(configuration))).FunctionArn)
      : (await clients.lambda.send(new CreateFunctionCommand({ ...configuration, Code: { ZipFile: code } })))
          .FunctionArn;
    functionNames[state] = name;
    const expected = sandboxFunctionArns(identity)[FunctionPlaceholders[state]];
    if (arn !== expected) throw new Error(`The sandbox gave function ${name} the ARN ${arn}, not ${expected}`);
  }

  const definition = substitute(rekeyDefinitionJson(), sandboxFunctionArns(identity));
  const roleArn = stateMachineRoleArn(identity);
  const found = await findStateMachine(clients.sfn, STATE_MACHINE_NAME);
  const stateMachineArn = found
    ? (await clients.sfn.send(new UpdateStateMachineCommand({ stateMachineArn: found, definition, roleArn })), found)
    : (
        await clients.sfn.send(
          new CreateStateMachineCommand({ name: STATE_MACHINE_NAME, definition, roleArn, type: "STANDARD" }),
        )
      ).stateMachineArn;
  if (!stateMachineArn) throw new Error("CreateStateMachine answered without a stateMachineArn");
  return { stateMachineArn, workBucket, batchRoleArn, functionNames };
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
