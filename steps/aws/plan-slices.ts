import pLimit from "p-limit";
import { z } from "zod";
import { PlanEngineSchema } from "../../contract/engines.ts";
import { InvariantViolatedError } from "../../contract/errors.ts";
import type { RunContext, SliceKeys } from "../../contract/run-context.ts";
import { COPYABLE_STORAGE_CLASSES } from "../../contract/storage-classes.ts";
import { countAndBytesSchema, NOT_CURRENT_REASON_CODES, tallyStateSchema } from "../../contract/tally.ts";
import type { StepDeps } from "../runtime/step.ts";
import { getText, getTextIfExists, putJson } from "./s3-io.ts";

/**
 * What the three planning steps leave each other in the work bucket: how "Slice the inventory" read the delivery
 * (the plan's source), each slice's summary, and the slices' parts as listed.
 */

const objectsAndBytes = z.object({ objects: z.number().nonnegative(), bytes: z.number().nonnegative() });

/** How the delivery is read, the same for every slice: written once by "Slice the inventory" (planKeys().delivery). */
export const PlanSourceSchema = z.object({
  /** The inventory manifest, or the run's candidates/ prefix for generated lists. */
  key: z.string(),
  createdAt: z.string(),
  engine: PlanEngineSchema.optional(),
  /**
   * What the athena engine's queries did: the files its UNLOADs wrote (the slices' files: a plan part's lines, or rows
   * for the step), and the counts; with routes, what Athena routed itself (steps/domain/inventory-routes.ts).
   */
  athena: z
    .object({
      files: z.array(
        z.object({
          bucket: z.string(),
          key: z.string(),
          part: z
            .union([
              z.enum(["update-encryption", "skipped"]),
              z.templateLiteral(["copy.", z.enum(COPYABLE_STORAGE_CLASSES)]),
            ])
            .optional(),
        }),
      ),
      scannedBytes: z.array(z.number().nonnegative()),
      notCurrent: z.partialRecord(z.enum(NOT_CURRENT_REASON_CODES), countAndBytesSchema),
      routed: z
        .object({
          tally: tallyStateSchema,
          updatesFrom: z.object({ sseS3: objectsAndBytes, sseKms: objectsAndBytes }),
          keyChecksSkipped: z.number().int().nonnegative(),
          stepRows: z.number().int().nonnegative(),
        })
        .optional(),
    })
    .optional(),
});
export type PlanSource = z.infer<typeof PlanSourceSchema>;

/** A slice planned (sliceKeys().plan): its tally and what the estimate needs. Written last, after its parts. */
export const SliceSummarySchema = z.object({
  slice: z.number().int().nonnegative(),
  tally: tallyStateSchema,
  updatesFrom: z.object({ sseS3: objectsAndBytes, sseKms: objectsAndBytes }),
  largeByClass: z.record(z.string(), objectsAndBytes),
  headsSent: z.number().int().nonnegative(),
  keyChecksSkipped: z.number().int().nonnegative(),
  /** Lines of Athena's routed files appended, by part (PlanWriter.appendRouted). */
  routedLines: z.record(z.string(), z.number().int().nonnegative()).default({}),
});
export type SliceSummary = z.infer<typeof SliceSummarySchema>;

export async function loadPlanSource(
  run: RunContext,
  key: string,
  { clients }: StepDeps,
): Promise<PlanSource | undefined> {
  const text = await getTextIfExists(clients.s3, run.workBucket, key);
  return text === undefined ? undefined : PlanSourceSchema.parse(JSON.parse(text));
}

export async function requirePlanSource(run: RunContext, key: string, deps: StepDeps): Promise<PlanSource> {
  const source = await loadPlanSource(run, key, deps);
  if (!source) {
    throw new InvariantViolatedError(`The plan's source s3://${run.workBucket}/${key} is missing.`, {
      fix: "Start a new run: Slice the inventory writes it again. If it recurs, report it with the execution's history.",
    });
  }
  return source;
}

export async function savePlanSource(
  run: RunContext,
  key: string,
  source: PlanSource,
  { clients }: StepDeps,
): Promise<void> {
  await putJson(clients.s3, run.workBucket, key, source);
}

export async function loadSliceSummary(
  run: RunContext,
  keys: SliceKeys,
  { clients }: StepDeps,
): Promise<SliceSummary | undefined> {
  const text = await getTextIfExists(clients.s3, run.workBucket, keys.plan);
  return text === undefined ? undefined : SliceSummarySchema.parse(JSON.parse(text));
}

/** Every slice's summary, in slice order; a missing one is a bug (the Distributed Map succeeded without it). */
export async function loadSliceSummaries(
  run: RunContext,
  slices: readonly SliceKeys[],
  { clients }: StepDeps,
): Promise<SliceSummary[]> {
  const limit = pLimit(16);
  return Promise.all(
    slices.map((keys) =>
      limit(async () => SliceSummarySchema.parse(JSON.parse(await getText(clients.s3, run.workBucket, keys.plan)))),
    ),
  );
}
