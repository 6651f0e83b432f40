import { z } from "zod";
import { PlanEngineSchema } from "./engines.ts";
import { tallyStateSchema } from "./tally.ts";

/** What one Batch Operations job of a plan does. */
export const WorkOperationSchema = z.enum(["copy", "update-encryption"]);
export type WorkOperation = z.infer<typeof WorkOperationSchema>;

/**
 * One Batch Operations manifest written by "Filter inventory and write manifests": the work of one job. Copies
 * come one manifest per storage class (the job sets that class); encryption updates keep each object's class, so
 * they come in one manifest.
 */
export const WorkManifestSchema = z.object({
  operation: WorkOperationSchema.default("copy"),
  /** The class a copy job sets; absent for encryption updates. */
  storageClass: z.string().optional(),
  key: z.string(),
  etag: z.string(),
  objects: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
});
export type WorkManifest = z.infer<typeof WorkManifestSchema>;

/**
 * How a unit of a plan's work is named: for operators and logs (`"operator"`, the default: its storage class for
 * copies, "encryption update" otherwise), or in Batch Operations job tokens and descriptions (`"job"`: the storage
 * class, or "update-encryption"; later runs find their jobs by it, so it never changes).
 */
export function workLabel(
  unit: { operation: WorkOperation; storageClass?: string | undefined },
  use: "operator" | "job" = "operator",
): string {
  if (unit.operation === "copy") return unit.storageClass ?? (use === "job" ? "STANDARD" : "?");
  return use === "job" ? "update-encryption" : "encryption update";
}

/** The plan's estimate, small enough for the state; the text is what operators read before approving. */
export const PlanEstimateSchema = z.object({
  oneTimeUsd: z.number(),
  durationLowSeconds: z.number(),
  durationHighSeconds: z.number(),
  text: z.string(),
});
export type PlanEstimate = z.infer<typeof PlanEstimateSchema>;

/**
 * Objects Batch Operations cannot take (unencrypted objects over 5 GiB, keys a manifest cannot carry): a JSON Lines
 * file in the work bucket (one LargeObject per line), copied by rekey itself ("Copy objects directly") rather than
 * by a Batch Operations job.
 */
export const LargeObjectListSchema = z.object({
  key: z.string(),
  objects: z.number().int().positive(),
  bytes: z.number().nonnegative(),
});
export type LargeObjectList = z.infer<typeof LargeObjectListSchema>;

/** What the plan step hands on. Per-object details stay in the work bucket; the state carries counts and keys. */
export const PlanSchema = z.object({
  inventoryManifestKey: z.string(),
  inventoryCreatedAt: z.string(),
  manifests: z.array(WorkManifestSchema),
  planKey: z.string(),
  /** Manifests and completion reports of this inventory's work (see planPrefix). */
  planPrefix: z.string().endsWith("/"),
  largeObjects: LargeObjectListSchema.optional(),
  estimate: PlanEstimateSchema.optional(),
  /** How the inventory was filtered; absent for generated lists (there is one way to read them). */
  engine: PlanEngineSchema.optional(),
});
export type Plan = z.infer<typeof PlanSchema>;

/**
 * A contiguous run of the delivery's files, planned by one child execution of "Plan each slice": data files
 * `from` to `to` (exclusive) of the inventory manifest, or of the files Athena unloaded. A generated candidate list
 * is one slice (from 0 to 0: its lists are read whole).
 */
export const PlanSliceSchema = z.object({
  index: z.number().int().nonnegative(),
  from: z.number().int().nonnegative(),
  to: z.number().int().nonnegative(),
});
export type PlanSlice = z.infer<typeof PlanSliceSchema>;

/**
 * What "Slice the inventory" hands on: the plan already stored for this delivery (a later execution reuses it), or
 * the slices to plan, written to `itemsKey` in the work bucket for the Distributed Map to read.
 */
export const SlicingSchema = z.union([
  z.object({ stored: z.literal(true), plan: PlanSchema }),
  z.object({
    stored: z.literal(false),
    planPrefix: z.string().endsWith("/"),
    itemsKey: z.string(),
    resultsPrefix: z.string(),
    slices: z.number().int().positive(),
    /** Data files (or files Athena unloaded) in all. */
    files: z.number().int().nonnegative(),
    engine: PlanEngineSchema.optional(),
  }),
  /**
   * The athena engine's queries still ran at the step's time budget: the run waits ("Wait for Athena") and asks
   * again, and the step finds the same queries by their tokens.
   */
  z.object({
    stored: z.literal(false),
    querying: z.object({ queryId: z.string(), state: z.string() }),
  }),
]);
export type Slicing = z.infer<typeof SlicingSchema>;
/** Slice the inventory's answer once Athena's queries, if any, are done: a stored plan, or slices to plan. */
export type SlicingDone = Exclude<Slicing, { querying: unknown }>;
export const SlicesToPlanSchema = SlicingSchema.options[1];
export type SlicesToPlan = z.infer<typeof SlicesToPlanSchema>;

/**
 * What "Filter inventory and write manifests" returns when it stopped at its time budget with files of its slice
 * left: it saved its progress in the work bucket, and the slice's execution calls it again (the Choice after it
 * looks for `planning`). A slice taking N invocations adds about 7N events to its own history, none to the run's.
 */
export const PlanningProgressSchema = z.object({
  planning: z.object({ filesRead: z.number().int().nonnegative(), files: z.number().int().nonnegative() }),
});
export type PlanningProgress = z.infer<typeof PlanningProgressSchema>;

/** A slice planned: its summary is in the work bucket (sliceKeys().plan); the counts are for the console. */
export const SlicePlannedSchema = z.object({
  slice: z.number().int().nonnegative(),
  seen: z.number().int().nonnegative(),
});
export type SlicePlanned = z.infer<typeof SlicePlannedSchema>;

export const WorkJobSchema = z.object({
  jobId: z.string(),
  operation: WorkOperationSchema.default("copy"),
  storageClass: z.string().optional(),
  manifestKey: z.string(),
  objects: z.number().int().nonnegative(),
  /** True when an earlier execution had already created this job for the same plan. */
  reused: z.boolean().optional(),
  /** For a reused job made by another execution: that run's id. */
  createdBy: z.string().optional(),
  /** When the job was created, where the run knows it (reused jobs, redrive jobs): S3 Control may lag behind. */
  createdAt: z.string().optional(),
  /** A redrive job: the job whose transiently failed tasks it runs again ("Check copy jobs" creates it). */
  redriveOf: z.string().optional(),
  /** Which attempt at its objects the job is: 1 (absent) for a unit's own job, 2 for its first redrive, ... */
  attempt: z.number().int().min(1).optional(),
  /** A reused job's status when this run found it: awaiting confirmation, this run's approval confirms it. */
  reusedStatus: z.string().optional(),
});
export type WorkJob = z.infer<typeof WorkJobSchema>;

/**
 * The account already runs as many of rekey's copy jobs as the run's `maxActiveJobs` allows: "Create copy jobs"
 * created none, and the run waits `waitSeconds` before asking again ("Wait for a copy job slot").
 */
export const WaitingForJobSlotsSchema = z.object({
  active: z.number().int().min(0),
  needed: z.number().int().min(1),
  bound: z.number().int().min(1),
  waitSeconds: z.number().int().min(1),
});
export type WaitingForJobSlots = z.infer<typeof WaitingForJobSlotsSchema>;

export const JobsSchema = z.object({
  createdAt: z.string().optional(),
  jobs: z.array(WorkJobSchema),
  waitingForSlots: WaitingForJobSlotsSchema.optional(),
});
export type Jobs = z.infer<typeof JobsSchema>;

/** plan.json in the plan prefix: what write-manifests decided, and the tally of that decision. */
export const PlanFileSchema = z.object({
  inventoryManifestKey: z.string(),
  inventoryCreatedAt: z.string(),
  manifests: z.array(WorkManifestSchema),
  largeObjects: LargeObjectListSchema.optional(),
  tally: tallyStateSchema,
  estimate: PlanEstimateSchema.optional(),
  engine: PlanEngineSchema.optional(),
});
export type PlanFile = z.infer<typeof PlanFileSchema>;

/** What the plan steps hand on from a plan.json (its tally stays in the work bucket) at `planPrefix`. */
export function planOf(file: Omit<PlanFile, "tally">, planKey: string, planPrefix: string): Plan {
  const { tally: _, ...plan } = file as PlanFile;
  return { ...plan, planKey, planPrefix };
}
