import type { z } from "zod";
import type { TaskStateName } from "../../contract/states.ts";
import type { AwsClients } from "./clients.ts";
import type { Logger } from "./log.ts";

/** Deployment settings every step may read; parsed once from the Lambda environment or given by the local runner. */
export interface StepConfig {
  /** The role S3 Batch Operations assumes to copy objects. */
  batchRoleArn: string;
  /** The deployment's work bucket, used when a run request names none. */
  workBucket?: string;
  /** The Athena workgroup and Glue database the athena engine queries in; absent when the deployment has none. */
  athena?: AthenaConfig;
}

export interface AthenaConfig {
  workGroup: string;
  database: string;
}

export interface StepDeps {
  clients: Pick<AwsClients, "s3" | "s3control" | "sts" | "kms" | "sfn" | "athena" | "iam">;
  config: StepConfig;
  log: Logger;
  now: () => Date;
}

/** One state of the workflow: the schema its input must satisfy, and the function that does the work. */
export interface Step<I, O> {
  state: TaskStateName;
  input: z.ZodType<I>;
  run(input: I, deps: StepDeps): Promise<O>;
}

export function defineStep<I, O>(step: Step<I, O>): Step<I, O> {
  return step;
}

/** A step with its input type erased, ready to be called with raw state input: what the runners hold. */
export interface RunnableStep {
  state: TaskStateName;
  invoke(rawInput: unknown, deps: StepDeps): Promise<unknown>;
}
