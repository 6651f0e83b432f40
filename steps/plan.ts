import { z } from "zod";

/** One Batch Operations manifest written by "Filter inventory and write manifests": the work of one copy job. */
export const CopyManifestSchema = z.object({
  storageClass: z.string(),
  key: z.string(),
  etag: z.string(),
  objects: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
});
export type CopyManifest = z.infer<typeof CopyManifestSchema>;

/** What the plan step hands on. Per-object details stay in the work bucket; the state carries counts and keys. */
export const PlanSchema = z.object({
  inventoryManifestKey: z.string(),
  inventoryCreatedAt: z.string(),
  manifests: z.array(CopyManifestSchema),
  planKey: z.string(),
  /** Manifests and completion reports of this inventory's work (see planPrefix). */
  planPrefix: z.string().endsWith("/"),
});
export type Plan = z.infer<typeof PlanSchema>;

export const CopyJobSchema = z.object({
  jobId: z.string(),
  storageClass: z.string(),
  manifestKey: z.string(),
  objects: z.number().int().nonnegative(),
  /** True when an earlier execution had already created this job for the same plan. */
  reused: z.boolean().optional(),
});
export type CopyJob = z.infer<typeof CopyJobSchema>;

export const JobsSchema = z.object({ createdAt: z.string().optional(), jobs: z.array(CopyJobSchema) });
export type Jobs = z.infer<typeof JobsSchema>;
