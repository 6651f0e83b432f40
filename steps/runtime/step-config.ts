import { z } from "zod";
import type { StepConfig } from "./step.ts";

/**
 * The deployment's settings, as infra/ (and local/ for the sandbox) put them in every step function's environment
 * (steps/runtime/functions.ts). Read by the Lambda runtime once per container, and by `rekey start` from the
 * deployed function's configuration, so that its checks before a start judge what the run's steps will.
 */
const DeploymentEnvironmentSchema = z.object({
  REKEY_BATCH_ROLE_ARN: z.string().startsWith("arn:"),
  REKEY_WORK_BUCKET: z.string().min(3),
  REKEY_ATHENA_WORKGROUP: z.string().min(1).optional(),
  REKEY_ATHENA_DATABASE: z.string().min(1).optional(),
});

export function stepConfigOf(environment: Record<string, string | undefined>): StepConfig {
  const env = DeploymentEnvironmentSchema.parse(environment);
  return {
    batchRoleArn: env.REKEY_BATCH_ROLE_ARN,
    workBucket: env.REKEY_WORK_BUCKET,
    ...(env.REKEY_ATHENA_WORKGROUP && env.REKEY_ATHENA_DATABASE
      ? { athena: { workGroup: env.REKEY_ATHENA_WORKGROUP, database: env.REKEY_ATHENA_DATABASE } }
      : {}),
  };
}
