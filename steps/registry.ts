import type { StepRegistry } from "../workflow/local-runner.ts";
import { checkCopyJobs } from "./check-copy-jobs.ts";
import { createCopyJobs } from "./create-copy-jobs.ts";
import { enforceDefaultEncryption } from "./enforce-default-encryption.ts";
import { findInventory } from "./find-inventory.ts";
import { runnable } from "./invoke.ts";
import { copyLargeObjectsStep } from "./large-object-copy.ts";
import { preflight } from "./preflight.ts";
import { recordFailure } from "./record-failure.ts";
import type { RunnableStep } from "./step.ts";
import { validateInput } from "./validate-input.ts";
import { verifyResults } from "./verify-results.ts";
import { writeFinalReport } from "./write-final-report.ts";
import { writeManifests } from "./write-manifests.ts";

const all: RunnableStep[] = [
  runnable(validateInput),
  runnable(preflight),
  runnable(enforceDefaultEncryption),
  runnable(findInventory),
  runnable(writeManifests),
  runnable(createCopyJobs),
  runnable(checkCopyJobs),
  runnable(copyLargeObjectsStep),
  runnable(verifyResults),
  runnable(writeFinalReport),
  runnable(recordFailure),
];

/** Every Task state's step, by state name: what the local runner calls and what infra/ deploys one Lambda each for. */
export const steps = Object.fromEntries(all.map((s) => [s.state, s])) as unknown as StepRegistry;
