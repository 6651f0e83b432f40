import type { WaitingForJobSlots } from "../../contract/plan.ts";

/**
 * Whether a run may create `needed` copy jobs while `active` of rekey's jobs run in the account, under the run's
 * bound (`maxActiveJobs`): yes when they fit, and when none is active (a run needing more jobs than the bound would
 * otherwise wait forever); else how long to wait before asking again.
 */
export function jobSlotWait(
  counts: { active: number; needed: number },
  bound: number | undefined,
  waitSeconds: number,
): WaitingForJobSlots | undefined {
  const { active, needed } = counts;
  if (bound === undefined || needed === 0 || active === 0 || active + needed <= bound) return undefined;
  return { active, needed, bound, waitSeconds };
}
