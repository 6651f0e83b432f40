import { z } from "zod";
import { uniformOf } from "../faults/random.ts";
import { ServiceError } from "../http.ts";
import type { ManifestTask, TaskOutcome } from "./model.ts";

/**
 * A forced task outcome (`POST /_sandbox/batch/faults`, sandbox/FAULTS.md): tasks it matches fail with its S3 error
 * instead of calling S3, the way a task S3 throttled or refused shows in the completion report.
 * Which tasks: every task on `key` (and `bucket`), or the first `attempts` tasks on a key (a later job on the same
 * key then succeeds), or a `share` of the tasks (of `key` or `bucket` if given), decided per task from
 * `seed`, bucket, key and how many tasks on that key the fault has seen, so runs repeat whatever the task order.
 */
export const taskFaultSchema = z
  .object({
    bucket: z.string().min(1).optional(),
    /** The decoded object key. */
    key: z.string().min(1).optional(),
    share: z.number().min(0).max(1).optional(),
    attempts: z.number().int().positive().optional(),
    seed: z.number().int().default(1),
    httpStatus: z.number().int().min(400).max(599).default(503),
    errorCode: z.string().min(1).default("SlowDown"),
    message: z.string().default("Please reduce your request rate."),
  })
  .refine((f) => f.key !== undefined || f.share !== undefined, { message: "Every fault needs a key or a share." })
  .refine((f) => f.share === undefined || f.attempts === undefined, { message: "Give share or attempts, not both." });

export type TaskFault = z.output<typeof taskFaultSchema>;

export class TaskFaults {
  private faults: TaskFault[] = [];
  /** Per fault: how many tasks on each bucket/key it has decided on. */
  private seen = new WeakMap<TaskFault, Map<string, number>>();

  list(): TaskFault[] {
    return [...this.faults];
  }

  /** Replaces the faults with `raw` (the admin API's `failKeys`); a bad entry refuses the whole list. */
  replace(raw: unknown[]): TaskFault[] {
    const parsed = raw.map((r) => {
      const result = taskFaultSchema.safeParse(r);
      if (!result.success) throw new ServiceError("InvalidRequest", 400, z.prettifyError(result.error));
      return result.data;
    });
    this.faults = parsed;
    return this.list();
  }

  /** The outcome a fault forces on this task, or undefined to run it. */
  outcomeFor(task: ManifestTask): TaskOutcome | undefined {
    for (const f of this.faults) {
      if (f.bucket !== undefined && f.bucket !== task.bucket) continue;
      if (f.key !== undefined && f.key !== task.key) continue;
      const seen = this.seen.get(f) ?? new Map<string, number>();
      this.seen.set(f, seen);
      const id = `${task.bucket}\0${task.key}`;
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      const fires =
        f.attempts !== undefined
          ? n < f.attempts
          : f.share !== undefined
            ? uniformOf(f.seed, task.bucket, task.key, String(n)) < f.share
            : true;
      if (fires) return { status: "failed", httpStatus: f.httpStatus, errorCode: f.errorCode, message: f.message };
    }
    return undefined;
  }
}
