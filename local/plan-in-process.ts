import { GetObjectCommand } from "@aws-sdk/client-s3";
import type { FoundCandidates, FoundInventory } from "../contract/candidates.ts";
import type { Plan, PlanningProgress, PlanSlice, SlicePlanned, SlicesToPlan, SlicingDone } from "../contract/plan.ts";
import type { RunContext } from "../contract/run-context.ts";
import { combinePlan } from "../steps/handlers/combine-the-plan.ts";
import { writeManifests } from "../steps/handlers/filter-inventory-and-write-manifests.ts";
import { sliceInventory } from "../steps/handlers/slice-the-inventory.ts";
import type { StepDeps } from "../steps/runtime/step.ts";
import { PLANNING_SLICE_BYTES } from "../workflow/definition.ts";

/**
 * Planning as the state machine runs it, in this process: "Slice the inventory", every slice's "Filter inventory and
 * write manifests" called again while it returns `planning` (one slice after the other, as a Distributed Map with
 * MaxConcurrency 1 would), then "Combine the plan". `onInvocation` sees each slice invocation's result.
 */
export async function planInProcess(
  input: {
    run: RunContext;
    inventory: FoundInventory | FoundCandidates;
    preflight?: { facts: { versioning: string; noncurrentExpirationDays?: number } };
  },
  deps: StepDeps,
  options: {
    sliceTargetBytes?: number;
    timeBudgetMs?: number;
    /** Slice the inventory's wait for Athena per invocation (none: it waits for its queries to end). */
    slicingBudgetMs?: number;
    onInvocation?: (slice: PlanSlice, result: SlicePlanned | PlanningProgress) => void;
    /** Slice the inventory returned with Athena's queries still running; it is asked again, as "Wait for Athena" does. */
    onQuerying?: (querying: { queryId: string; state: string }) => Promise<void> | void;
  } = {},
): Promise<{ plan: Plan; slicing: SlicingDone; invocations: number }> {
  const { run, inventory } = input;
  const sliceTargetBytes = options.sliceTargetBytes ?? PLANNING_SLICE_BYTES;
  const budget = options.slicingBudgetMs === undefined ? {} : { timeBudgetMs: options.slicingBudgetMs };
  let slicing = await sliceInventory.run({ run, inventory, sliceTargetBytes, ...budget }, deps);
  while ("querying" in slicing) {
    await options.onQuerying?.(slicing.querying);
    slicing = await sliceInventory.run({ run, inventory, sliceTargetBytes, ...budget }, deps);
  }
  if (slicing.stored) return { plan: slicing.plan, slicing, invocations: 0 };
  let invocations = 0;
  for (const slice of await sliceItems(slicing, run, deps)) {
    let result: SlicePlanned | PlanningProgress;
    do {
      result = await planSlice(input, slicing, slice, deps, options.timeBudgetMs);
      invocations += 1;
      options.onInvocation?.(slice, result);
    } while ("planning" in result);
  }
  const plan = await combinePlan.run({ ...input, slicing }, deps);
  return { plan, slicing, invocations };
}

/** The slices "Slice the inventory" wrote, as the Distributed Map's ItemReader reads them. */
export async function sliceItems(slicing: SlicesToPlan, run: RunContext, deps: StepDeps): Promise<PlanSlice[]> {
  const out = await deps.clients.s3.send(new GetObjectCommand({ Bucket: run.workBucket, Key: slicing.itemsKey }));
  return JSON.parse((await out.Body?.transformToString()) ?? "[]") as PlanSlice[];
}

/** One invocation of "Filter inventory and write manifests" for one slice. */
export function planSlice(
  input: { run: RunContext; inventory: FoundInventory | FoundCandidates },
  slicing: SlicesToPlan,
  slice: PlanSlice,
  deps: StepDeps,
  timeBudgetMs?: number,
): Promise<SlicePlanned | PlanningProgress> {
  return writeManifests.run(
    {
      run: input.run,
      inventory: input.inventory,
      slicing,
      slice,
      ...(timeBudgetMs === undefined ? {} : { timeBudgetMs }),
    },
    deps,
  );
}
