import { FILTER_ENGINE_CHOICES, type FilterEngineChoice } from "../contract/engines.ts";
import { UsageError } from "./errors.ts";

/** `--engine`, checked against the engines a run request takes (contract/engines.ts). */
export function engineFlag(value: string | undefined): FilterEngineChoice | undefined {
  if (value === undefined) return undefined;
  const choice = FILTER_ENGINE_CHOICES.find((e) => e === value);
  if (!choice) throw new UsageError(`--engine must be one of ${FILTER_ENGINE_CHOICES.join(", ")}, not "${value}".`);
  return choice;
}
