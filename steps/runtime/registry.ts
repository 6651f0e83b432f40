import type { StepRegistry } from "../../workflow/local-runner.ts";
import { checkCopyJobs } from "../handlers/check-copy-jobs.ts";
import { copyLargeObjectsStep } from "../handlers/copy-large-objects.ts";
import { createCopyJobs } from "../handlers/create-copy-jobs.ts";
import { enforceDefaultEncryption } from "../handlers/enforce-default-encryption.ts";
import { writeManifests } from "../handlers/filter-inventory-and-write-manifests.ts";
import { findInventory } from "../handlers/find-inventory.ts";
import { preflight } from "../handlers/preflight-checks.ts";
import { recordFailure } from "../handlers/record-failure.ts";
import { validateInput } from "../handlers/validate-input.ts";
import { verifyResults } from "../handlers/verify-results.ts";
import { writeFinalReport } from "../handlers/write-final-report.ts";
import { runnable } from "./invoke.ts";
import type { RunnableStep } from "./step.ts";

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
