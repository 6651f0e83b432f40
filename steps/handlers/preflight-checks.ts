import { PreflightBlockedError } from "../../contract/errors.ts";
import type { AcknowledgeableCode } from "../../contract/findings.ts";
import { type PreflightInput, PreflightInputSchema, type PreflightResult } from "../../contract/preflight.ts";
import { StateNames } from "../../contract/states.ts";
import { gatherPreflightFacts, type PreflightRun } from "../aws/preflight-reads.ts";
import { describeBlockers, evaluatePreflight, type PreflightOptions } from "../domain/preflight.ts";
import { summarizeFacts } from "../domain/preflight-facts.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

export type PreflightDeps = Pick<StepDeps, "clients" | "config" | "log">;

/**
 * Reads the facts (read-only calls only), judges them, and throws PreflightBlockedError listing every blocker with
 * its fix when any remains; otherwise returns the warnings.
 */
export async function runPreflight(
  run: PreflightRun,
  deps: PreflightDeps,
  options: PreflightOptions = {},
): Promise<PreflightResult> {
  const facts = await gatherPreflightFacts(run, deps.clients, deps.config.batchRoleArn);
  const outcome = evaluatePreflight(facts, options);
  const log = deps.log.child({ bucket: run.bucket });
  for (const w of outcome.warnings)
    log.warn("preflight warning", { code: w.code, acknowledged: w.acknowledged ?? false });
  if (outcome.blockers.length) {
    log.error("preflight blocked the run", { codes: outcome.blockers.map((b) => b.code) });
    throw new PreflightBlockedError(describeBlockers(run.bucket, outcome.blockers), {
      fix: "Resolve each blocker as its fix says (or accept those that allow it with rekey start --acknowledge CODE), then start a new run.",
      blockers: outcome.blockers,
    });
  }
  return {
    warnings: outcome.warnings,
    facts: summarizeFacts(facts),
    acknowledged: outcome.warnings.filter((w) => w.acknowledged).map((w) => w.code as AcknowledgeableCode),
  };
}

/** The step's whole job on parsed input. */
export function runPreflightStep(input: PreflightInput, deps: PreflightDeps): Promise<PreflightResult> {
  return runPreflight(input.run, deps, { acknowledge: input.acknowledge });
}

export const preflight = defineStep({
  state: StateNames.preflight,
  input: PreflightInputSchema,
  run: runPreflightStep,
});
