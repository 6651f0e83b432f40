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
}
