import type { Jobs } from "./plan.ts";

/** What "Check copy jobs" hands on, and what `rekey status` shows of each Batch Operations job. */

/** One job's state as DescribeJob reports it. */
export interface JobStatusCounts {
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  elapsedActiveSeconds: number;
  /** The job's failure reasons as "Code: reason" lines. */
  failureReasons: string[];
}

export interface JobProgress extends JobStatusCounts {
  jobId: string;
  /** How operators name the job's work (workLabel): its storage class, or "encryption update". */
  storageClass: string;
  /** Which attempt at its objects the job is (2 and up: a redrive of transiently failed tasks). */
  attempt: number;
}

export interface CopyJobsProgress {
  done: boolean;
  /** Some job waits for the operator's confirmation (created with ConfirmationRequired). */
  awaitingApproval: boolean;
  waitSeconds: number;
  checkedAt: string;
  total: number;
  succeeded: number;
  failed: number;
  jobs: JobProgress[];
  /**
   * Present when this check created redrive jobs: every job of the run, the new ones included. The workflow puts
   * it in place of $.jobs ("Keep redrive jobs"), so later checks and "Verify results" see the redrive jobs.
   */
  redriven?: Jobs;
}
