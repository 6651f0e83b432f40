import { z } from "zod";
import { checkCopyJobs } from "../handlers/check-copy-jobs.ts";
import { combinePlan } from "../handlers/combine-the-plan.ts";
import { copyLargeObjectsStep } from "../handlers/copy-large-objects.ts";
import { createCopyJobs } from "../handlers/create-copy-jobs.ts";
import { enforceDefaultEncryption } from "../handlers/enforce-default-encryption.ts";
import { writeManifests } from "../handlers/filter-inventory-and-write-manifests.ts";
import { findInventory } from "../handlers/find-inventory.ts";
import { lookForNonCompliantObjects } from "../handlers/look-for-non-compliant-objects.ts";
import { preflight } from "../handlers/preflight-checks.ts";
import { readReports } from "../handlers/read-completion-reports.ts";
import { recordFailure } from "../handlers/record-failure.ts";
import { sliceReports } from "../handlers/slice-the-completion-reports.ts";
import { sliceInventory } from "../handlers/slice-the-inventory.ts";
import { validateInput } from "../handlers/validate-input.ts";
import { verifyResults } from "../handlers/verify-results.ts";
import { writeFinalReport } from "../handlers/write-final-report.ts";
import { createAwsClients } from "./clients.ts";
import { invokeStep } from "./invoke.ts";
import { jsonLogger } from "./log.ts";
import type { Step, StepDeps } from "./step.ts";
import { stepConfigOf } from "./step-config.ts";

/** What Lambda sets in the environment; parsed once per container, never read inside step logic. */
const EnvironmentSchema = z.object({
  AWS_REGION: z.string().min(1),
  /** Unset on AWS; the sandbox's Lambda service sets it so the functions call the sandbox (sandbox/LAMBDA.md). */
  AWS_ENDPOINT_URL: z.url().optional(),
});

let deps: StepDeps | undefined;

function lambdaDeps(): StepDeps {
  if (!deps) {
    const env = EnvironmentSchema.parse(process.env);
    // Clients live for the container, so warm invocations reuse their connections.
    deps = {
      clients: createAwsClients({
        region: env.AWS_REGION,
        ...(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {}),
      }),
      config: stepConfigOf(process.env),
      log: jsonLogger(),
      now: () => new Date(),
    };
  }
  return deps;
}

/** The handler Lambda calls; it carries the state it serves, so a test can tell each export runs the right step. */
function lambdaHandler<I, O>(step: Step<I, O>): ((event: unknown) => Promise<O>) & { state: string } {
  return Object.assign((event: unknown) => invokeStep(step, event, lambdaDeps()), { state: step.state });
}

export const validateInputHandler = lambdaHandler(validateInput);
export const preflightHandler = lambdaHandler(preflight);
export const enforceDefaultEncryptionHandler = lambdaHandler(enforceDefaultEncryption);
export const findInventoryHandler = lambdaHandler(findInventory);
export const sliceInventoryHandler = lambdaHandler(sliceInventory);
export const writeManifestsHandler = lambdaHandler(writeManifests);
export const combinePlanHandler = lambdaHandler(combinePlan);
export const createCopyJobsHandler = lambdaHandler(createCopyJobs);
export const checkCopyJobsHandler = lambdaHandler(checkCopyJobs);
export const copyLargeObjectsHandler = lambdaHandler(copyLargeObjectsStep);
export const sliceReportsHandler = lambdaHandler(sliceReports);
export const readReportsHandler = lambdaHandler(readReports);
export const verifyResultsHandler = lambdaHandler(verifyResults);
export const lookForNonCompliantObjectsHandler = lambdaHandler(lookForNonCompliantObjects);
export const writeFinalReportHandler = lambdaHandler(writeFinalReport);
export const recordFailureHandler = lambdaHandler(recordFailure);
