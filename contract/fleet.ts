import { z } from "zod";
import { RunRequestSchema } from "./run-request.ts";

/**
 * A fleet: many buckets' runs as one Step Functions execution of the fleet state machine
 * (workflow/fleet-definition.ts), a Distributed Map whose child executions each start one bucket's run of the rekey
 * state machine and wait for it. Each bucket is still one execution of its own, with its own history and report.
 */
export const FleetStateNames = {
  runEachBucket: "Run each bucket",
  runBucket: "Run the bucket",
  fleetDone: "Fleet done",
} as const;

/** The fleet definition's `${Placeholder}` for the rekey state machine it starts runs of. */
export const RUN_STATE_MACHINE_PLACEHOLDER = "RunStateMachineArn";

/** The fleet state machine's name beside the rekey state machine's (the sandbox's, and the CLI's lookup). */
export const FLEET_MACHINE_SUFFIX = "-fleet";

/** One bucket of a fleet: the run's execution name, decided by `rekey fleet start`, and its request. */
export const FleetItemSchema = z.object({
  bucket: z.string().min(3),
  name: z.string().min(1).max(80),
  input: RunRequestSchema,
});
export type FleetItem = z.infer<typeof FleetItemSchema>;

/** A fleet execution's input: where its items are, where the Map Run writes its results, and the bound. */
export const FleetInputSchema = z.object({
  workBucket: z.string().min(3),
  itemsKey: z.string().min(1),
  resultsPrefix: z.string().min(1),
  /** At most this many bucket runs at once (the Distributed Map's MaxConcurrency). */
  maxConcurrentRuns: z.number().int().min(1).max(1000),
});
export type FleetInput = z.infer<typeof FleetInputSchema>;

/** Where a fleet's files live in the work bucket. */
export function fleetKeys(fleetName: string): { itemsKey: string; resultsPrefix: string } {
  return { itemsKey: `fleets/${fleetName}/buckets.json`, resultsPrefix: `fleets/${fleetName}/results` };
}
