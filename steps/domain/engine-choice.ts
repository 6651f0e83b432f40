import type { FilterEngine, FilterEngineChoice, PlanEngine } from "../../contract/engines.ts";
import { EngineUnavailableError } from "../../contract/errors.ts";
import { formatBytes, formatCount } from "./format.ts";

/**
 * Compressed CSV inventory bytes up to which `auto` reads the inventory in the step: about 35 million rows at the
 * ~61 bytes a row inventories compress to, a few 13-minute invocations at the rates README "Planning and verification
 * at scale" gives. Above it, where Athena is deployed, Athena drops the noncurrent versions and unused columns first.
 */
export const STREAM_AUTO_MAX_BYTES = 2 * 1024 ** 3;

/** S3 Inventory's output formats: the stream engine reads CSV and Parquet, the athena engine all three. */
export type InventoryFileFormat = "CSV" | "Parquet" | "ORC";

/** What the engine choice depends on: the delivery, and what this deployment and account offer. */
export interface EngineFacts {
  fileFormat: InventoryFileFormat;
  dataFiles: number;
  /** Compressed bytes of every data file the delivery lists. */
  dataBytes: number;
  /** Whether the deployment has an Athena workgroup and Glue database for rekey. */
  athenaDeployed: boolean;
}

/**
 * The engine a run uses and why. An engine asked for by name is used or refused (EngineUnavailableError naming the
 * others); `auto` streams an inventory of up to STREAM_AUTO_MAX_BYTES and queries a larger one with Athena first.
 * S3 Select is never chosen by `auto`: it is closed to accounts that have not used it (sandbox/ASSUMPTIONS.md).
 */
export function chooseEngine(requested: FilterEngineChoice, facts: EngineFacts): PlanEngine {
  const size = `${formatCount(facts.dataFiles)} data file(s), ${formatBytes(facts.dataBytes)} compressed`;
  if (requested === "athena" && !facts.athenaDeployed) {
    throw new EngineUnavailableError("The athena engine was asked for, but this deployment has no Athena workgroup.", {
      fix: `Deploy rekey with its Athena workgroup and Glue database (infra/), or start the run with engine ${others("athena")}.`,
    });
  }
  const problem = inventoryFormatProblem(facts.fileFormat, requested, facts.athenaDeployed);
  if (problem) {
    const readers =
      facts.fileFormat === "Parquet" ? 'engine "stream" or "athena" (or "auto")' : 'engine "athena" (or "auto")';
    throw new EngineUnavailableError(`The inventory is ${facts.fileFormat}: ${problem}.`, {
      fix:
        facts.athenaDeployed || facts.fileFormat === "Parquet"
          ? `Start the run with ${readers}.`
          : "Deploy rekey with its Athena workgroup (infra/), or change the inventory configuration's format to CSV or Parquet and wait for the next delivery.",
    });
  }
  if (requested === "auto" && facts.fileFormat === "ORC") {
    return { name: "athena", why: `auto: ${size} of ORC, which only the athena engine reads` };
  }
  if (requested !== "auto") return { name: requested, why: `asked for in the run request (${size})` };
  if (facts.dataBytes <= STREAM_AUTO_MAX_BYTES) {
    return {
      name: "stream",
      why: `auto: ${size}, up to the ${formatBytes(STREAM_AUTO_MAX_BYTES)} auto reads in the step`,
    };
  }
  if (facts.athenaDeployed) {
    return {
      name: "athena",
      why: `auto: ${size}, over the ${formatBytes(STREAM_AUTO_MAX_BYTES)} auto reads in the step, so Athena queries it first`,
    };
  }
  return {
    name: "stream",
    why: `auto: ${size}, over the ${formatBytes(STREAM_AUTO_MAX_BYTES)} auto reads in the step, but this deployment has no Athena workgroup`,
  };
}

/**
 * Why an inventory of `format` cannot be read by the run as asked, or undefined when it can: the stream engine reads
 * CSV and Parquet, the select engine CSV; ORC needs the athena engine, and so a deployment with an Athena workgroup.
 */
export function inventoryFormatProblem(
  format: string | undefined,
  requested: FilterEngineChoice,
  athenaDeployed: boolean,
): string | undefined {
  if (format === "CSV") return undefined;
  if (format !== "Parquet" && format !== "ORC")
    return `its format is ${format ?? "unset"}, and S3 Inventory writes CSV, Parquet or ORC`;
  if (requested === "select") {
    return `its format is ${format}, and the select engine reads CSV inventories (the ${format === "Parquet" ? "stream and athena engines read" : "athena engine reads"} ${format})`;
  }
  if (format === "Parquet") return undefined;
  if (requested === "stream") {
    return "its format is ORC, and the stream engine reads CSV and Parquet inventories (the athena engine reads ORC)";
  }
  if (!athenaDeployed)
    return "its format is ORC, which only the athena engine reads, and this deployment has no Athena workgroup";
  return undefined;
}

/** The engines other than `engine`, for a fix that names them. */
export function others(engine: FilterEngine): string {
  const all: FilterEngine[] = ["stream", "select", "athena"];
  return all
    .filter((e) => e !== engine)
    .map((e) => `"${e}"`)
    .join(" or ");
}
