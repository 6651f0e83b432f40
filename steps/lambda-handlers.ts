import { z } from "zod";
import { checkCopyJobs } from "./check-copy-jobs.ts";
import { createAwsClients } from "./clients.ts";
import { createCopyJobs } from "./create-copy-jobs.ts";
import { enforceDefaultEncryption } from "./enforce-default-encryption.ts";
import { findInventory } from "./find-inventory.ts";
import { invokeStep } from "./invoke.ts";
import { copyLargeObjectsStep } from "./large-object-copy.ts";
import { jsonLogger } from "./log.ts";
import { preflight } from "./preflight.ts";
import { recordFailure } from "./record-failure.ts";
import type { Step, StepDeps } from "./step.ts";
import { validateInput } from "./validate-input.ts";
import { verifyResults } from "./verify-results.ts";
import { writeFinalReport } from "./write-final-report.ts";
import { writeManifests } from "./write-manifests.ts";

/** The Lambda environment infra/ sets; parsed once per container, never read inside step logic. */
const EnvironmentSchema = z.object({
  AWS_REGION: z.string().min(1),
  REKEY_BATCH_ROLE_ARN: z.string().startsWith("arn:"),
  REKEY_WORK_BUCKET: z.string().min(3),
});

let deps: StepDeps | undefined;

function lambdaDeps(): StepDeps {
  if (!deps) {
    const env = EnvironmentSchema.parse(process.env);
    // Clients live for the container, so warm invocations reuse their connections.
    deps = {
      clients: createAwsClients({ region: env.AWS_REGION }),
      config: { batchRoleArn: env.REKEY_BATCH_ROLE_ARN, workBucket: env.REKEY_WORK_BUCKET },
      log: jsonLogger(),
      now: () => new Date(),
    };
  }
  return deps;
}

function lambdaHandler<I, O>(step: Step<I, O>): (event: unknown) => Promise<O> {
  return (event) => invokeStep(step, event, lambdaDeps());
}

export const validateInputHandler = lambdaHandler(validateInput);
export const preflightHandler = lambdaHandler(preflight);
export const enforceDefaultEncryptionHandler = lambdaHandler(enforceDefaultEncryption);
export const findInventoryHandler = lambdaHandler(findInventory);
export const writeManifestsHandler = lambdaHandler(writeManifests);
export const createCopyJobsHandler = lambdaHandler(createCopyJobs);
export const checkCopyJobsHandler = lambdaHandler(checkCopyJobs);
export const copyLargeObjectsHandler = lambdaHandler(copyLargeObjectsStep);
export const verifyResultsHandler = lambdaHandler(verifyResults);
export const writeFinalReportHandler = lambdaHandler(writeFinalReport);
export const recordFailureHandler = lambdaHandler(recordFailure);
