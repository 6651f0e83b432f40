import { VerificationFailedError } from "../../contract/errors.ts";
import type { LargeCopyOutcomeKind } from "../../contract/large-objects.ts";
import type { TaskFailureCategory } from "../../contract/reasons.ts";
import { COPYABLE_STORAGE_CLASSES, type CopyStorageClass } from "../../contract/storage-classes.ts";
import {
  type CountAndBytes,
  type FailureSample,
  type JobOperation,
  type JobTally,
  noLargeCopies,
  type RouteTotals,
  type TallyState,
  tallyStateSchema,
  zero,
} from "../../contract/tally.ts";
import type { Classification } from "./classify.ts";
import { classifyTaskFailure, type ObjectNow, type ReportRow, rowCheck } from "./completion-report.ts";

/**
 * The run tally: every object counted once at classification, then moved by job reports and large-object outcomes
 * into where it ended; reconcile() proves nothing was lost. Its plain-JSON form is contract/tally.ts; the final
 * report built from it is steps/domain/run-report.ts.
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

/** Where one completion report row ended; a failure with its category and the message to list it with. */
export type RowOutcome =
  | { outcome: "succeeded" | "gone" | "changed" }
  | { outcome: "failed"; category: TaskFailureCategory; message: string };

function largeCopiesSettled(l: TallyState["largeCopy"]): number {
  return l.reencrypted + l.alreadyCompliant + l.changed + l.failed + l.gone + l.skipped;
}

function add(target: CountAndBytes, sizeBytes: number | undefined): void {
  target.count += 1;
  if (sizeBytes !== undefined) target.bytes += sizeBytes;
}

function sumDoneEarlier(s: TallyState): number {
  return sum(Object.values(s.doneEarlier).map((c) => c.count));
}

function sum(values: Iterable<number | undefined>): number {
  let total = 0;
  for (const v of values) total += v ?? 0;
  return total;
}

/**
 * Counts per outcome for one run. Every object is recorded once at classification; copy jobs and their
 * completion report rows then move planned copies into re-encrypted, gone, changed since planning or failed. `reconcile()` proves
 * that nothing was lost between inventory, manifests and reports.
 */
export class RunTally {
  private readonly state: TallyState;

  constructor(state?: TallyState, options: { sampleLimit?: number } = {}) {
    this.state = state
      ? structuredClone(state)
      : {
          sampleLimit: options.sampleLimit ?? 5,
          seen: { count: 0, bytes: 0 },
          copyPlanned: {},
          updatePlanned: zero(),
          largeCopyPlanned: zero(),
          largeCopy: noLargeCopies(),
          alreadyCompliant: { count: 0, bytes: 0 },
          skipped: {},
          skippedSamples: {},
          notCurrent: {},
          jobs: [],
          doneEarlier: {},
          failureSamples: {},
        };
  }

  /** Restores a tally from `toJSON()` output, validated. */
  static fromJSON(json: unknown): RunTally {
    return new RunTally(tallyStateSchema.parse(json));
  }

  toJSON(): TallyState {
    return structuredClone(this.state);
  }

  recordClassification(result: Classification, object: { key: string; size?: number | undefined }): void {
    const s = this.state;
    add(s.seen, object.size);
    switch (result.kind) {
      case "copy": {
        const slot = s.copyPlanned[result.storageClass] ?? { count: 0, bytes: 0 };
        s.copyPlanned[result.storageClass] = slot;
        add(slot, object.size);
        return;
      }
      case "update-encryption":
        add(s.updatePlanned, object.size);
        return;
      case "large-copy":
        add(s.largeCopyPlanned, object.size);
        return;
      case "compliant":
        add(s.alreadyCompliant, object.size);
        return;
      case "skipped": {
        const slot = s.skipped[result.reason] ?? { count: 0, bytes: 0 };
        s.skipped[result.reason] = slot;
        add(slot, object.size);
        const samples = s.skippedSamples[result.reason] ?? [];
        s.skippedSamples[result.reason] = samples;
        if (samples.length < s.sampleLimit) samples.push(object.key);
        return;
      }
      case "not-current": {
        const slot = s.notCurrent[result.reason] ?? { count: 0, bytes: 0 };
        s.notCurrent[result.reason] = slot;
        add(slot, object.size);
        return;
      }
    }
  }

  /** A current object the plan leaves out: `runId`'s job already made it compliant (steps/domain/earlier-work.ts). */
  recordDoneEarlier(runId: string, object: { size?: number | undefined }): void {
    const s = this.state;
    add(s.seen, object.size);
    const slot = s.doneEarlier[runId] ?? { count: 0, bytes: 0 };
    s.doneEarlier[runId] = slot;
    add(slot, object.size);
  }

  /**
   * A job was created with `manifestRows` lines (by another execution, `createdBy`, when this run reused it).
   * Idempotent per job id, as steps may be re-run.
   */
  recordJob(job: {
    jobId: string;
    operation: JobOperation;
    storageClass?: CopyStorageClass | undefined;
    manifestRows: number;
    redrive?: boolean;
    /** For a redrive job: the job whose transient failures it runs again, and its attempt number (2, 3, ...). */
    redriveOf?: string | undefined;
    attempt?: number | undefined;
    createdBy?: string | undefined;
    createdAt?: string | undefined;
  }): void {
    const existing = this.state.jobs.find((j) => j.jobId === job.jobId);
    if (existing) {
      if (
        existing.manifestRows !== job.manifestRows ||
        existing.storageClass !== job.storageClass ||
        existing.operation !== job.operation
      ) {
        throw new VerificationFailedError(
          `Job ${job.jobId} was recorded twice with different contents (${existing.manifestRows} vs ${job.manifestRows} rows).`,
          { fix: "This is a bug in the step that creates jobs; report it with the execution's history." },
        );
      }
      return;
    }
    this.state.jobs.push({
      jobId: job.jobId,
      operation: job.operation,
      ...(job.storageClass ? { storageClass: job.storageClass } : {}),
      redrive: job.redrive ?? job.redriveOf !== undefined,
      attempt: job.attempt ?? (job.redriveOf === undefined ? 1 : 2),
      ...(job.redriveOf === undefined ? {} : { redriveOf: job.redriveOf }),
      manifestRows: job.manifestRows,
      reported: false,
      succeeded: 0,
      gone: 0,
      failed: {},
      changed: 0,
      ...(job.createdBy === undefined ? {} : { createdBy: job.createdBy }),
      ...(job.createdAt === undefined ? {} : { createdAt: job.createdAt }),
    });
  }

  /**
   * Adds one completion report row of `jobId`. A row rowCheck() names is counted by what HeadObject found at its
   * key after the job (`now`): a 404 is gone only when the object is absent, a refused copy is changed since
   * planning when the object is compliant now; otherwise both are failures in their own category.
   */
  recordReportRow(jobId: string, row: ReportRow, now?: ObjectNow): RowOutcome {
    const job = this.job(jobId);
    job.reported = true;
    if (row.taskStatus === "succeeded") {
      job.succeeded += 1;
      return { outcome: "succeeded" };
    }
    const check = rowCheck(job.operation, row);
    if (check !== undefined && now === undefined) {
      throw new VerificationFailedError(
        `The ${row.httpStatus ?? ""} ${row.errorCode ?? ""} row of ${JSON.stringify(row.key)} in job ${jobId} was counted without looking at the object.`,
        { fix: "This is a bug in the step that verifies results; report it with the execution's history." },
      );
    }
    if (check === "confirm-gone" && now?.exists === true) {
      return this.recordFailure(
        job,
        row,
        "missing-but-present",
        `${row.resultMessage} (HeadObject of the decoded key finds the object: ${now.found})`,
      );
    }
    if (check !== undefined && now?.exists === false) {
      job.gone += 1;
      return { outcome: "gone" };
    }
    if (check === "changed-since-planning" && now?.exists === true) {
      if (now.compliant) {
        job.changed += 1;
        return { outcome: "changed" };
      }
      return this.recordFailure(
        job,
        row,
        "changed-not-compliant",
        `Written after default encryption was enforced, so not copied; it is now ${now.found}`,
      );
    }
    const category = classifyTaskFailure(row);
    if (category === "gone") {
      // Only an update-encryption row reaches here without a check: rowCheck confirms every 404.
      job.gone += 1;
      return { outcome: "gone" };
    }
    return this.recordFailure(job, row, category, row.resultMessage);
  }

  private recordFailure(job: JobTally, row: ReportRow, category: TaskFailureCategory, message: string): RowOutcome {
    job.failed[category] = (job.failed[category] ?? 0) + 1;
    const samples = this.state.failureSamples[category] ?? [];
    this.state.failureSamples[category] = samples;
    if (samples.length < this.state.sampleLimit) {
      const sample: FailureSample = { key: row.key, message };
      if (row.httpStatus !== undefined) sample.httpStatus = row.httpStatus;
      if (row.errorCode !== undefined) sample.errorCode = row.errorCode;
      samples.push(sample);
    }
    return { outcome: "failed", category, message };
  }

  /** Outcomes of the multipart copy step (its batch counts), which has no completion report. */
  recordLargeCopies(counts: Record<LargeCopyOutcomeKind, number>): void {
    const l = this.state.largeCopy;
    l.reencrypted += counts.reencrypted;
    l.alreadyCompliant += counts["already-compliant"];
    l.changed += counts["changed-during-copy"];
    l.failed += counts.failed;
    l.gone += counts.gone;
    l.skipped += counts.skipped;
  }

  /** Marks a job's report as fully read, also when it had no rows (a job can fail before any task). */
  markJobReported(jobId: string): void {
    this.job(jobId).reported = true;
  }

  private job(jobId: string): JobTally {
    const job = this.state.jobs.find((j) => j.jobId === jobId);
    if (!job) {
      throw new VerificationFailedError(`A completion report row names job ${jobId}, which this run did not create.`, {
        fix: "Check that the report prefix holds only this execution's jobs.",
      });
    }
    return job;
  }

  totals(): OutcomeTotals {
    const s = this.state;
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
  routes(): RouteTotals[] {
    const s = this.state;
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
  failedByCategory(): Partial<Record<TaskFailureCategory, number>> {
    const out: Partial<Record<TaskFailureCategory, number>> = {};
    for (const job of this.state.jobs) {
      for (const [category, n] of Object.entries(job.failed) as [TaskFailureCategory, number][]) {
        out[category] = (out[category] ?? 0) + n;
      }
    }
    const redriven = sum(this.state.jobs.filter((j) => j.redrive).map((j) => j.manifestRows));
    if (redriven > 0) out["throttled-or-transient"] = (out["throttled-or-transient"] ?? 0) - redriven;
    const large = this.state.largeCopy;
    if (large.changed > 0) out.precondition = (out.precondition ?? 0) + large.changed;
    if (large.failed > 0) out.other = (out.other ?? 0) + large.failed;
    return out;
  }

  /**
   * Checks that every object seen is in exactly one outcome and that each reported job's report accounts for
   * each manifest row. `final` also requires that nothing is still pending.
   */
  reconcile(options: { final?: boolean } = {}): Reconciliation {
    const s = this.state;
    const problems: string[] = [];
    const totals = this.totals();

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

  /** Throws VerificationFailedError listing every problem when the final counts do not reconcile. */
  assertReconciled(): Reconciliation {
    const result = this.reconcile({ final: true });
    if (!result.ok) {
      throw new VerificationFailedError(`The run's counts do not reconcile: ${result.problems.join(" ")}`, {
        fix: "Do not treat the bucket as done. Compare the named job's manifest with its completion report; run rekey again to pick up any object that was missed.",
      });
    }
    return result;
  }

  get snapshot(): Readonly<TallyState> {
    return this.state;
  }
}
