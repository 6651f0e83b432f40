import type { InventoryConfiguration } from "@aws-sdk/client-s3";
import type { FilterEngineChoice } from "../../contract/engines.ts";
import { inventoryFormatProblem } from "./engine-choice.ts";
import { REQUIRED_INVENTORY_FIELDS } from "./inventory-manifest.ts";

/**
 * Why an S3 Inventory configuration cannot feed a run's plan, one phrase per problem (none: it can): "Validate
 * input" refuses a run that names such a configuration, and `rekey scan` looks for one without them.
 */
export function inventoryConfigurationProblems(
  config: InventoryConfiguration | undefined,
  engine: { engine: FilterEngineChoice; athenaDeployed: boolean },
): string[] {
  const problems: string[] = [];
  if (!config?.IsEnabled) problems.push("it is disabled");
  const format = config?.Destination?.S3BucketDestination?.Format;
  const formatProblem = inventoryFormatProblem(format, engine.engine, engine.athenaDeployed);
  if (formatProblem) problems.push(formatProblem);
  const prefix = config?.Filter?.Prefix;
  if (prefix) {
    problems.push(
      `it lists only keys under "${prefix}", so objects outside that prefix would never be seen and the report would call the bucket done`,
    );
  }
  const fields = new Set(config?.OptionalFields ?? []);
  const missing = REQUIRED_INVENTORY_FIELDS.filter((f) => !fields.has(f));
  if (missing.length) problems.push(`it lacks the fields ${missing.join(", ")}`);
  return problems;
}
