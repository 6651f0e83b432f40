import { VerificationFailedError } from "../../contract/errors.ts";
import type { LargeCopyOutcomeKind } from "../../contract/large-objects.ts";
import type { NotCurrentReason, TaskFailureCategory } from "../../contract/reasons.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
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
import { encodeManifestKey } from "./batch-manifest.ts";
import type { Classification } from "./classify.ts";
import { classifyTaskFailure, type ObjectNow, type ReportRow, rowCheck } from "./completion-report.ts";
import {
  failedByCategory,
  type OutcomeTotals,
  outcomeTotals,
  type Reconciliation,
  reconcile,
  routeTotals,
} from "./tally-totals.ts";

/**
 * The run tally: every object counted once at classification, then moved by job reports and large-object outcomes
 * into where it ended; reconcile() proves nothing was lost. Its plain-JSON form is contract/tally.ts; the final
 * report built from it is steps/domain/run-report.ts.
 */

/** Where one completion report row ended; a failure with its category and the message to list it with. */
export type RowOutcome =
  | { outcome: "succeeded" | "gone" | "changed" }
  | { outcome: "failed"; category: TaskFailureCategory; message: string };

function addTo(target: CountAndBytes, more: CountAndBytes): void {
  target.count += more.count;
  target.bytes += more.bytes;
}

function addEach<K extends string>(
  target: Partial<Record<K, CountAndBytes>>,
  more: Partial<Record<K, CountAndBytes>>,
): void {
  // A parsed tally has no undefined entries (contract/tally.ts): every entry is a count.
  for (const [k, counted] of Object.entries(more) as [K, CountAndBytes][]) {
    const slot = target[k] ?? { count: 0, bytes: 0 };
    target[k] = slot;
    addTo(slot, counted);
  }
}

function appendSamples<K extends string, T>(
  target: Partial<Record<K, T[]>>,
  more: Partial<Record<K, T[]>>,
  limit: number,
): void {
  for (const [k, samples] of Object.entries(more) as [K, T[]][]) {
    const list = target[k] ?? [];
    target[k] = list;
    for (const sample of samples) if (list.length < limit) list.push(structuredClone(sample));
  }
}

/**
 * Adds `more` keys to a list of at most `limit` samples kept as the smallest keys in manifest-key order (ASCII, the
 * same in JavaScript and in SQL's min(x, n)): the same samples whichever engine reads the inventory, in whatever
 * order or slices.
 */
function keepSmallest(list: string[], more: readonly string[], limit: number): void {
  for (const key of more) {
    if (list.includes(key)) continue;
    const encoded = encodeManifestKey(key);
    const last = list.at(-1);
    if (list.length >= limit && last !== undefined && encoded >= encodeManifestKey(last)) continue;
    const at = list.findIndex((k) => encoded < encodeManifestKey(k));
    list.splice(at < 0 ? list.length : at, 0, key);
    if (list.length > limit) list.pop();
  }
}

function addCounts<K extends string>(target: Partial<Record<K, number>>, more: Partial<Record<K, number>>): void {
  for (const [k, n] of Object.entries(more) as [K, number | undefined][]) {
    if (n) target[k] = (target[k] ?? 0) + n;
  }
}

function add(target: CountAndBytes, sizeBytes: number | undefined): void {
  target.count += 1;
  if (sizeBytes !== undefined) target.bytes += sizeBytes;
}

/**
 * Counts per outcome for one run. Every object is recorded once at classification; copy jobs and their
 * completion report rows then move planned copies into re-encrypted, gone, changed since planning or failed. `reconcile()` proves
 * that nothing was lost between inventory, manifests and reports.
 */
/** Samples a tally keeps per skip reason and failure category, unless told otherwise. */
export const SAMPLE_LIMIT = 5;

export class RunTally {
  private readonly state: TallyState;

  constructor(state?: TallyState, options: { sampleLimit?: number } = {}) {
    this.state = state
      ? structuredClone(state)
      : {
          sampleLimit: options.sampleLimit ?? SAMPLE_LIMIT,
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
    this.recordClassified(result, { count: 1, bytes: object.size ?? 0 }, [object.key]);
  }

  /**
   * Objects of one classification counted together (the athena engine's routes, steps/domain/inventory-routes.ts):
   * what recordClassification gives them one by one. `samples`: some of their keys (skipped ones are kept as samples).
   */
  recordClassified(result: Classification, counted: CountAndBytes, samples: readonly string[] = []): void {
    if (counted.count === 0) return;
    const s = this.state;
    addTo(s.seen, counted);
    switch (result.kind) {
      case "copy": {
        const slot = s.copyPlanned[result.storageClass] ?? { count: 0, bytes: 0 };
        s.copyPlanned[result.storageClass] = slot;
        addTo(slot, counted);
        return;
      }
      case "update-encryption":
        addTo(s.updatePlanned, counted);
        return;
      case "large-copy":
        addTo(s.largeCopyPlanned, counted);
        return;
      case "compliant":
        addTo(s.alreadyCompliant, counted);
        return;
      case "skipped": {
        const slot = s.skipped[result.reason] ?? { count: 0, bytes: 0 };
        s.skipped[result.reason] = slot;
        addTo(slot, counted);
        const list = s.skippedSamples[result.reason] ?? [];
        s.skippedSamples[result.reason] = list;
        keepSmallest(list, samples, s.sampleLimit);
        return;
      }
      case "not-current": {
        const slot = s.notCurrent[result.reason] ?? { count: 0, bytes: 0 };
        s.notCurrent[result.reason] = slot;
        addTo(slot, counted);
        return;
      }
    }
  }

  /**
   * Versions that are not current, counted where they are stored (the select and athena engines): the same totals
   * recordClassification gives them one by one.
   */
  recordNotCurrent(reason: NotCurrentReason, counted: CountAndBytes): void {
    if (counted.count === 0) return;
    const s = this.state;
    s.seen.count += counted.count;
    s.seen.bytes += counted.bytes;
    const slot = s.notCurrent[reason] ?? { count: 0, bytes: 0 };
    s.notCurrent[reason] = slot;
    slot.count += counted.count;
    slot.bytes += counted.bytes;
  }

  /**
   * Adds the counts of tallies made from other parts of the same plan (its slices, in their order): counts and
   * bytes summed, skipped samples kept as the smallest keys (keepSmallest), failure samples taken in order up to
   * the sample limit, jobs appended.
   */
  merge(parts: readonly TallyState[]): void {
    const s = this.state;
    for (const part of parts) {
      addTo(s.seen, part.seen);
      addTo(s.updatePlanned, part.updatePlanned);
      addTo(s.largeCopyPlanned, part.largeCopyPlanned);
      addTo(s.alreadyCompliant, part.alreadyCompliant);
      addEach(s.copyPlanned, part.copyPlanned);
      addEach(s.skipped, part.skipped);
      addEach(s.notCurrent, part.notCurrent);
      addEach(s.doneEarlier, part.doneEarlier);
      for (const k of Object.keys(s.largeCopy) as (keyof TallyState["largeCopy"])[])
        s.largeCopy[k] += part.largeCopy[k];
      s.jobs.push(...structuredClone(part.jobs));
      for (const [reason, samples] of Object.entries(part.skippedSamples)) {
        const list = s.skippedSamples[reason as keyof TallyState["skippedSamples"]] ?? [];
        s.skippedSamples[reason as keyof TallyState["skippedSamples"]] = list;
        keepSmallest(list, samples ?? [], s.sampleLimit);
      }
      appendSamples(s.failureSamples, part.failureSamples, s.sampleLimit);
    }
  }

  /**
   * Adds tallies of completion report rows only (the slices of the reports, in their order): each part's jobs are
   * registered here if they are not (recordJob, which refuses a job recorded with other contents) and their row
   * counts summed into the job of the same id; failure samples taken in order up to the sample limit. The parts'
   * other counts are not read: a report slice records rows, never classifications.
   */
  mergeReportRows(parts: readonly TallyState[]): void {
    for (const part of parts) {
      for (const j of part.jobs) {
        this.recordJob({ ...j, storageClass: j.storageClass, manifestRows: j.manifestRows });
        const job = this.job(j.jobId);
        job.reported ||= j.reported;
        job.succeeded += j.succeeded;
        job.gone += j.gone;
        job.changed += j.changed;
        addCounts(job.failed, j.failed);
      }
      appendSamples(this.state.failureSamples, part.failureSamples, this.state.sampleLimit);
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
    // A gone row always has a check (rowCheck confirms every 404), so it was counted above.
    return this.recordFailure(job, row, classifyTaskFailure(row), row.resultMessage);
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
    return outcomeTotals(this.state);
  }

  /** Planned and settled counts per route: Batch copies, Batch encryption updates, multipart copies. */
  routes(): RouteTotals[] {
    return routeTotals(this.state);
  }

  /** Failed counts by category after redrives took their transient failures back. */
  failedByCategory(): Partial<Record<TaskFailureCategory, number>> {
    return failedByCategory(this.state);
  }

  /**
   * Checks that every object seen is in exactly one outcome and that each reported job's report accounts for
   * each manifest row. `final` also requires that nothing is still pending.
   */
  reconcile(options: { final?: boolean } = {}): Reconciliation {
    return reconcile(this.state, options);
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
