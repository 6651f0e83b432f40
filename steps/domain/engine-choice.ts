import type { FilterEngine, FilterEngineChoice, PlanEngine } from "../../contract/engines.ts";
import { EngineUnavailableError } from "../../contract/errors.ts";
import { formatBytes, formatCount } from "./format.ts";

/**
 * Compressed inventory bytes the stream engine is trusted to read within one invocation of "Filter inventory and
 * write manifests" (900 s): about 40 million rows at the ~50 bytes a row real inventories compress to. README
 * "Known limits" gives the measured rates this is set well below.
 */
export const STREAM_AUTO_MAX_BYTES = 2 * 1024 ** 3;

/** What the engine choice depends on: the delivery, and what this deployment and account offer. */
export interface EngineFacts {
  dataFiles: number;
  /** Compressed bytes of every data file the delivery lists. */
  dataBytes: number;
  /** Whether the deployment has an Athena workgroup and Glue database for rekey. */
  athenaDeployed: boolean;
}

/**
 * The engine a run uses and why. An engine asked for by name is used or refused (EngineUnavailableError naming the
 * others); `auto` streams an inventory one invocation reads comfortably and queries a larger one with Athena.
 * S3 Select is never chosen by `auto`: it is closed to accounts that have not used it (sandbox/ASSUMPTIONS.md).
 */
export function chooseEngine(requested: FilterEngineChoice, facts: EngineFacts): PlanEngine {
  const size = `${formatCount(facts.dataFiles)} data file(s), ${formatBytes(facts.dataBytes)} compressed`;
  if (requested === "athena" && !facts.athenaDeployed) {
    throw new EngineUnavailableError("The athena engine was asked for, but this deployment has no Athena workgroup.", {
      fix: `Deploy rekey with its Athena workgroup and Glue database (infra/), or start the run with engine ${others("athena")}.`,
    });
  }
  if (requested !== "auto") return { name: requested, why: `asked for in the run request (${size})` };
  if (facts.dataBytes <= STREAM_AUTO_MAX_BYTES) {
    return {
      name: "stream",
      why: `auto: ${size}, within the ${formatBytes(STREAM_AUTO_MAX_BYTES)} one invocation reads`,
    };
  }
  if (facts.athenaDeployed) {
    return {
      name: "athena",
      why: `auto: ${size}, over the ${formatBytes(STREAM_AUTO_MAX_BYTES)} one invocation reads, so Athena queries it`,
    };
  }
  return {
    name: "stream",
    why: `auto: ${size}, over the ${formatBytes(STREAM_AUTO_MAX_BYTES)} one invocation reads, but this deployment has no Athena workgroup`,
  };
}

/** The engines other than `engine`, for a fix that names them. */
export function others(engine: FilterEngine): string {
  const all: FilterEngine[] = ["stream", "select", "athena"];
  return all
    .filter((e) => e !== engine)
    .map((e) => `"${e}"`)
    .join(" or ");
}
