import { z } from "zod";

/**
 * What "Find inventory" hands on: where the plan's candidate objects come from (an S3 Inventory delivery, or the
 * lists Batch Operations' manifest generator wrote), or how long to wait before looking again.
 */

/** An S3 Inventory delivered after default encryption was enforced. */
export const FoundInventorySchema = z.object({
  found: z.literal(true),
  bucket: z.string(),
  manifestKey: z.string(),
  creationTimestamp: z.string(),
});
export type FoundInventory = z.infer<typeof FoundInventorySchema>;

/** The generated manifests of one run, ready to plan from. */
export const FoundCandidatesSchema = z.object({
  found: z.literal(true),
  source: z.literal("generate"),
  lists: z.array(z.object({ name: z.string(), jobId: z.string(), bucket: z.string(), manifestKey: z.string().min(1) })),
});
export type FoundCandidates = z.infer<typeof FoundCandidatesSchema>;

/** The generated lists are still being written. */
export interface CandidatesNotReady {
  found: false;
  waitSeconds: number;
  /** Lists still being generated, by name. */
  pending: string[];
}

/** No inventory newer than default encryption yet. */
export interface InventoryNotYetDelivered {
  found: false;
  waitSeconds: number;
  checkedAt: string;
  deadline: string;
  latestSeen: string | null;
}

export type FindInventoryResult = FoundInventory | FoundCandidates | CandidatesNotReady | InventoryNotYetDelivered;
