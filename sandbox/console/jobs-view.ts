import type { BatchEngine } from "../s3control/engine.ts";
import { definedOnly } from "../stepfunctions/history.ts";

/** What the console shows of the account's Batch Operations jobs: DescribeJob's progress, newest job first. */

const LIST_LIMIT = 50;

export interface JobView {
  jobId: string;
  status: string;
  operation: string;
  description?: string;
  priority: number;
  /** Epoch milliseconds. */
  creationTime: number;
  terminationDate?: number;
  /** Known once the job has read its manifest (ProgressSummary.TotalNumberOfTasks). */
  totalTasks?: number;
  succeeded: number;
  failed: number;
  elapsedActiveSeconds: number;
  failureReasons: { code: string; reason: string }[];
  statusUpdateReason?: string;
}

export function listJobs(engine: BatchEngine): JobView[] {
  return [...engine.jobs.values()]
    .sort((a, b) => b.creationTime.getTime() - a.creationTime.getTime() || a.id.localeCompare(b.id))
    .slice(0, LIST_LIMIT)
    .map((job) =>
      definedOnly({
        jobId: job.id,
        status: job.status,
        operation: job.request.operationName,
        description: job.request.description,
        priority: job.request.priority,
        creationTime: job.creationTime.getTime(),
        terminationDate: job.terminationDate?.getTime(),
        totalTasks: job.totalTasks,
        succeeded: job.succeeded,
        failed: job.failed,
        elapsedActiveSeconds: engine.elapsedActiveSeconds(job),
        failureReasons: job.failureReasons,
        statusUpdateReason: job.statusUpdateReason,
      }),
    );
}
