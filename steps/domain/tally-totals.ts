import type { TaskFailureCategory } from "../../contract/reasons.ts";
import { COPYABLE_STORAGE_CLASSES } from "../../contract/storage-classes.ts";
import type { JobOperation, RouteTotals, TallyState } from "../../contract/tally.ts";

/**
 * What a run tally's state comes to: where every object ended (outcomeTotals), per route (routeTotals), failures by
 * category (failedByCategory), and the proof that nothing was lost between inventory, manifests and reports
 * (reconcile). Pure reads of the state that steps/domain/tally.ts records.
 */

export interface Reconciliation {
  ok: boolean;
  problems: string[];
  totals: OutcomeTotals;
}

/** Where every object the run saw ended. `pending` is planned copies whose job has not reported yet. */
export interface OutcomeTotals {
  seen: number;
  reencrypted: number;
  alreadyCompliant: number;
  skipped: number;
  failed: number;
  gone: number;
  notCurrent: number;
  pending: number;
  /** Written again since planning, compliant through the bucket default encryption, and so not copied. */
  changed: number;
  /** Made compliant by earlier runs: left out of the plan, or re-encrypted by a job reused from another execution. */
  doneEarlier: number;
}

function largeCopiesSettled(l: TallyState["largeCopy"]): number {
  return l.reencrypted + l.alreadyCompliant + l.changed + l.failed + l.gone + l.skipped;
}
function sumDoneEarlier(s: TallyState): number {
  return sum(Object.values(s.doneEarlier).map((c) => c.count));
}

export function sum(values: Iterable<number | undefined>): number {
  let total = 0;
  for (const v of values) total += v ?? 0;
  return total;
}

export function outcomeTotals(s: TallyState): OutcomeTotals {
  const jobs = s.jobs;
  const redriven = sum(jobs.filter((j) => j.redrive).map((j) => j.manifestRows));
  const failedAll = sum(jobs.map((j) => sum(Object.values(j.failed))));
  const planned = sum(Object.values(s.copyPlanned).map((c) => c.count)) + s.updatePlanned.count;
  const manifested = sum(jobs.filter((j) => !j.redrive).map((j) => j.manifestRows));
  const inUnreportedJobs = sum(jobs.filter((j) => !j.reported).map((j) => j.manifestRows));
  const large = s.largeCopy;
  const largeDone = largeCopiesSettled(large);
  // Planned work not yet in any manifest or large-copy outcome is pending; a redrive job's rows were failures.
  const pending =
    Math.max(0, planned - manifested) + inUnreportedJobs + Math.max(0, s.largeCopyPlanned.count - largeDone);
  const reusedSucceeded = sum(jobs.filter((j) => j.createdBy !== undefined).map((j) => j.succeeded));
  return {
    seen: s.seen.count,
    reencrypted: sum(jobs.map((j) => j.succeeded)) - reusedSucceeded + large.reencrypted,
    alreadyCompliant: s.alreadyCompliant.count + large.alreadyCompliant,
    skipped: sum(Object.values(s.skipped).map((c) => c.count)) + large.skipped,
    failed: failedAll - redriven + large.changed + large.failed,
    gone: sum(jobs.map((j) => j.gone)) + large.gone,
    notCurrent: sum(Object.values(s.notCurrent).map((c) => c.count)),
    pending,
    changed: sum(jobs.map((j) => j.changed)),
    doneEarlier: sumDoneEarlier(s) + reusedSucceeded,
  };
}

/** Planned and settled counts per route: Batch copies, Batch encryption updates, multipart copies. */
export function routeTotals(s: TallyState): RouteTotals[] {
  const byOperation = (operation: JobOperation): Omit<RouteTotals, "route" | "planned" | "bytes"> => {
    // A redrive job's rows were transient failures of the route's earlier jobs: they move, they are not added.
    const jobs = s.jobs.filter((j) => j.operation === operation);
    const redriven = sum(jobs.filter((j) => j.redrive).map((j) => j.manifestRows));
    const reused = jobs.filter((j) => j.createdBy !== undefined);
    return {
      reencrypted: sum(jobs.map((j) => j.succeeded)) - sum(reused.map((j) => j.succeeded)),
      doneEarlier: sum(reused.map((j) => j.succeeded)),
      alreadyCompliant: 0,
      failed: sum(jobs.map((j) => sum(Object.values(j.failed)))) - redriven,
      gone: sum(jobs.map((j) => j.gone)),
      skipped: 0,
      changed: sum(jobs.map((j) => j.changed)),
    };
  };
  const copies = Object.values(s.copyPlanned);
  const l = s.largeCopy;
  return [
    {
      route: "copy",
      planned: sum(copies.map((c) => c.count)),
      bytes: sum(copies.map((c) => c.bytes)),
      ...byOperation("copy"),
    },
    {
      route: "update-encryption",
      planned: s.updatePlanned.count,
      bytes: s.updatePlanned.bytes,
      ...byOperation("update-encryption"),
    },
    {
      route: "multipart-copy",
      planned: s.largeCopyPlanned.count,
      bytes: s.largeCopyPlanned.bytes,
      reencrypted: l.reencrypted,
      alreadyCompliant: l.alreadyCompliant,
      failed: l.changed + l.failed,
      gone: l.gone,
      skipped: l.skipped,
      // The multipart copy's "changed during copy" is a failure (its copy was abandoned), counted above.
      changed: 0,
      doneEarlier: 0,
    },
  ];
}

/** Failed counts by category after redrives took their transient failures back. */
export function failedByCategory(s: TallyState): Partial<Record<TaskFailureCategory, number>> {
  const out: Partial<Record<TaskFailureCategory, number>> = {};
  for (const job of s.jobs) {
    for (const [category, n] of Object.entries(job.failed) as [TaskFailureCategory, number][]) {
      out[category] = (out[category] ?? 0) + n;
    }
  }
  const redriven = sum(s.jobs.filter((j) => j.redrive).map((j) => j.manifestRows));
  if (redriven > 0) out["throttled-or-transient"] = (out["throttled-or-transient"] ?? 0) - redriven;
  const large = s.largeCopy;
  if (large.changed > 0) out.precondition = (out.precondition ?? 0) + large.changed;
  if (large.failed > 0) out.other = (out.other ?? 0) + large.failed;
  return out;
}

/**
 * Checks that every object seen is in exactly one outcome and that each reported job's report accounts for
 * each manifest row. `final` also requires that nothing is still pending.
 */
export function reconcile(s: TallyState, options: { final?: boolean } = {}): Reconciliation {
  const problems: string[] = [];
  const totals = outcomeTotals(s);

  const planned =
    sum(Object.values(s.copyPlanned).map((c) => c.count)) + s.updatePlanned.count + s.largeCopyPlanned.count;
  const skippedAtPlanning = sum(Object.values(s.skipped).map((c) => c.count));
  const classified = planned + s.alreadyCompliant.count + skippedAtPlanning + totals.notCurrent + sumDoneEarlier(s);
  if (classified !== totals.seen) {
    problems.push(`${totals.seen} objects seen but ${classified} classified.`);
  }
  for (const storageClass of COPYABLE_STORAGE_CLASSES) {
    const plannedHere = s.copyPlanned[storageClass]?.count ?? 0;
    const jobsHere = s.jobs.filter((j) => !j.redrive && j.operation === "copy" && j.storageClass === storageClass);
    const manifested = sum(jobsHere.map((j) => j.manifestRows));
    if (jobsHere.length > 0 && manifested !== plannedHere) {
      problems.push(
        `${plannedHere} ${storageClass} copies planned but the ${storageClass} job manifests hold ${manifested} rows.`,
      );
    } else if (options.final && plannedHere > 0 && jobsHere.length === 0) {
      problems.push(`${plannedHere} ${storageClass} copies planned but no ${storageClass} job was created.`);
    }
  }
  const updateJobs = s.jobs.filter((j) => !j.redrive && j.operation === "update-encryption");
  const updateRows = sum(updateJobs.map((j) => j.manifestRows));
  if (updateJobs.length > 0 && updateRows !== s.updatePlanned.count) {
    problems.push(
      `${s.updatePlanned.count} encryption updates planned but the update job manifests hold ${updateRows} rows.`,
    );
  } else if (options.final && s.updatePlanned.count > 0 && updateJobs.length === 0) {
    problems.push(`${s.updatePlanned.count} encryption updates planned but no update job was created.`);
  }
  const largeDone = largeCopiesSettled(s.largeCopy);
  if (largeDone > s.largeCopyPlanned.count) {
    problems.push(`${largeDone} large-object outcomes recorded for ${s.largeCopyPlanned.count} planned.`);
  }
  for (const job of s.jobs) {
    if (!job.reported) {
      if (options.final) problems.push(`Job ${job.jobId}: no completion report was read.`);
      continue;
    }
    const failed = sum(Object.values(job.failed));
    const accounted = job.succeeded + failed + job.gone + job.changed;
    if (accounted !== job.manifestRows) {
      const diff = job.manifestRows - accounted;
      problems.push(
        `Job ${job.jobId}: manifest has ${job.manifestRows} rows but the report accounts for ${accounted} (${job.succeeded} succeeded, ${failed} failed, ${job.gone} gone, ${job.changed} changed since planning); ${diff > 0 ? `${diff} missing` : `${-diff} extra`}.`,
      );
    }
  }
  const transient = sum(s.jobs.map((j) => j.failed["throttled-or-transient"]));
  const redriven = sum(s.jobs.filter((j) => j.redrive).map((j) => j.manifestRows));
  if (redriven > transient) {
    problems.push(`Redrive jobs hold ${redriven} rows but only ${transient} tasks failed transiently.`);
  }
  const outcomes =
    totals.reencrypted +
    totals.alreadyCompliant +
    totals.skipped +
    totals.failed +
    totals.gone +
    totals.changed +
    totals.doneEarlier +
    totals.notCurrent +
    totals.pending;
  if (problems.length === 0 && outcomes !== totals.seen) {
    problems.push(`${totals.seen} objects seen but outcomes add up to ${outcomes}.`);
  }
  if (options.final && totals.pending > 0) {
    problems.push(`${totals.pending} planned copies have no outcome yet.`);
  }
  return { ok: problems.length === 0, problems, totals };
}
