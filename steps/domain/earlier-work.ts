/**
 * What earlier runs on the bucket already did, as their Batch Operations completion reports tell it, so a run after a
 * stop, a failure or a partial job plans none of it again. An earlier job acts on the latest version of its key at
 * task time (rekey never pins a version), so a succeeded row makes compliant every version of the key written
 * before the job was created; a version written after that is a new write and is planned like any other.
 *
 * Memory: one entry per key an earlier job did, up to `limit` keys (the first ones read win). Past the limit the
 * index says so (`full`) and the surplus keys are planned again: their copies are refused by the copy guard
 * (UnModifiedSinceConstraint, steps/aws/batch-job-requests.ts), so they get no second version, only a task charge
 * each, and are counted as changed since planning.
 */

/** Whose work an excluded object was: the run (execution name) whose job did it, and that job. */
export interface EarlierDoer {
  runId: string;
  jobId: string;
}

/** What the plan does with an object it would otherwise copy or update. */
export type EarlierVerdict =
  | { kind: "done"; by: EarlierDoer }
  /** An earlier job may have done it but its report cannot say: HeadObject decides (compliant now: done). */
  | { kind: "check"; by?: EarlierDoer }
  | { kind: "plan" };

/** About 2.5 GB of Lambda memory at most at ~250 bytes per key; plenty for the runs that precede a resume. */
export const EARLIER_WORK_KEY_LIMIT = 5_000_000;

interface Done {
  doer: number;
  /** Creation time of the job, in ms: every version written before it was superseded or updated by the job. */
  before: number;
}

export class EarlierWork {
  private readonly done = new Map<string, Done>();
  private readonly doers: EarlierDoer[] = [];
  /** Earlier jobs that ran tasks but left no readable report: objects they may have done are checked. */
  private readonly unreported: EarlierDoer[] = [];
  private dropped = 0;

  constructor(private readonly limit = EARLIER_WORK_KEY_LIMIT) {}

  /** A succeeded task of `by`'s job, created at `jobCreatedAt`. A later job's success on the key wins. */
  addSucceeded(key: string, by: EarlierDoer, jobCreatedAt: Date): void {
    const before = jobCreatedAt.getTime();
    const existing = this.done.get(key);
    if (existing && existing.before >= before) return;
    if (!existing && this.done.size >= this.limit) {
      this.dropped += 1;
      return;
    }
    this.done.set(key, { doer: this.doerIndex(by), before });
  }

  /** A job that succeeded on some tasks but has no completion report to say which. */
  addUnreported(by: EarlierDoer): void {
    this.unreported.push(by);
  }

  /**
   * The verdict for the current version of `key` (last modified at `lastModified`, when the inventory says) that
   * the plan would copy or update.
   */
  verdict(key: string, lastModified: string | undefined): EarlierVerdict {
    const done = this.done.get(key);
    if (done) {
      const by = this.doers[done.doer] as EarlierDoer;
      const at = lastModified === undefined ? Number.NaN : Date.parse(lastModified);
      if (Number.isNaN(at)) return { kind: "check", by };
      if (at <= done.before) return { kind: "done", by };
    }
    const [only] = this.unreported;
    if (only) return this.unreported.length === 1 ? { kind: "check", by: only } : { kind: "check" };
    return { kind: "plan" };
  }

  /** Keys known done, and keys past the limit that will be planned again. */
  get size(): { keys: number; dropped: number; unreportedJobs: number } {
    return { keys: this.done.size, dropped: this.dropped, unreportedJobs: this.unreported.length };
  }

  private doerIndex(by: EarlierDoer): number {
    const i = this.doers.findIndex((d) => d.jobId === by.jobId);
    if (i >= 0) return i;
    this.doers.push(by);
    return this.doers.length - 1;
  }
}
