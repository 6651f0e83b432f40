import { z } from "zod";

/**
 * The ways "Filter inventory and write manifests" can read an inventory. Whatever the engine, the same inventory gives
 * the same routes, manifests, skipped list and counts (test/e2e/engines.test.ts); engines differ in where the rows
 * are read and filtered:
 * - `stream`: every data file (CSV or Parquet) is read and parsed in the step;
 * - `select`: S3 Select filters each CSV data file where it is stored (one SelectObjectContent per file); the step
 *   reads only current versions, and only the columns the plan uses;
 * - `athena`: Athena queries the inventory as a table (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-athena-query.html);
 *   Athena decides every route it can in SQL and writes the manifests' and skipped.csv's lines itself
 *   (steps/domain/inventory-routes.ts); the step appends those files and classifies the rest.
 */
export const FILTER_ENGINES = ["stream", "select", "athena"] as const;
export type FilterEngine = (typeof FILTER_ENGINES)[number];

/** What a run request may ask for: an engine, or `auto` (rekey chooses, and the plan says why). */
export const FILTER_ENGINE_CHOICES = ["auto", ...FILTER_ENGINES] as const;
export type FilterEngineChoice = (typeof FILTER_ENGINE_CHOICES)[number];

/** The engine a plan was made with, and why that one: shown in the plan, the estimate and the report. */
export const PlanEngineSchema = z.object({
  name: z.enum(FILTER_ENGINES),
  why: z.string(),
});
export type PlanEngine = z.infer<typeof PlanEngineSchema>;
