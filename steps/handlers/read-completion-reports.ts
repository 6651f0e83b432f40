import { HeadObjectCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { z } from "zod";
import { InvariantViolatedError } from "../../contract/errors.ts";
import { PlanSliceSchema } from "../../contract/plan.ts";
import { type RunContext, RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import { ReportSlicingSchema, type SliceVerification } from "../../contract/verification.ts";
import { readResultFile } from "../aws/completion-reports.ts";
import { LineUpload } from "../aws/manifest-upload.ts";
import { httpStatusOf } from "../aws/s3-io.ts";
import { describeObject, type SpotCheckItem } from "../aws/spot-check.ts";
import {
  loadForSlice,
  loadReportFiles,
  type ReportFileEntry,
  type ReportFiles,
  SliceProgressSchema,
  SliceResultSchema,
  saveSliceState,
  sliceDigest,
} from "../aws/verify-slices.ts";
import { type ObjectNow, type ReportRow, rowCheck } from "../domain/completion-report.ts";
import { failedLine } from "../domain/failed-list.ts";
import { isCompliant, Reservoir } from "../domain/spot-check.ts";
import { type RowOutcome, RunTally } from "../domain/tally.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

/** HeadObject calls in flight during the checks of report rows. */
const HEAD_CONCURRENCY = 16;
/** Report rows held for HeadObject at a time, so memory stays bounded whatever the number of such rows. */
const CHECK_BATCH = 1_000;

/**
 * Reads one slice of the run's completion reports ("Verify each slice" runs it once per slice, in parallel): each
 * result file checked against the MD5 its report manifest gives, every row counted in the slice's tally of report
 * rows, failed rows written to the slice's part of failed.csv, re-encrypted rows offered to the slice's spot-check
 * sample. Rows that say the object is missing (404) or was modified since default encryption was enforced (412)
 * are counted by what HeadObject finds at the key now (domain/completion-report.ts, rowCheck): gone only when the
 * object is absent; changed since planning only when it is compliant; otherwise a failure. They are checked in
 * batches, and at the end of each file, so failed.csv lists them in the same order however the files are sliced.
 *
 * Once `timeBudgetMs` has passed (and after at least one run of rows, so every invocation moves on) the invocation
 * stops between two rows, writes its part of failed.csv, saves the tally, the position, the rows waiting for
 * HeadObject and the sample in one object (reportSliceKeys().progress), and returns `verifying`; the slice's
 * execution calls it again. The saved object is the only hand-over and is replaced whole, so a retried invocation
 * starts from the last saved position with the tally counted to it: no row is counted twice or lost. The slice's
 * result is written last; a slice verified already (its execution retried by the Map Run) returns at once.
 */
export const readReports = defineStep({
  state: StateNames.readReports,
  input: z.object({
    run: RunContextSchema,
    reportSlicing: ReportSlicingSchema,
    slice: PlanSliceSchema,
    /** Milliseconds after which the invocation saves its progress and stops (workflow/); absent: no limit. */
    timeBudgetMs: z.number().int().nonnegative().optional(),
    /** Bytes of a report parsed between looks at the clock (steps/aws/completion-reports.ts SEGMENT_BYTES). */
    segmentBytes: z.number().int().positive().optional(),
  }),
  async run({ run, reportSlicing, slice, timeBudgetMs, segmentBytes }, deps): Promise<SliceVerification> {
    const { clients, log } = deps;
    const keys = runKeys(run).reportSlice(slice.index);
    const deadline = timeBudgetMs === undefined ? undefined : deps.now().getTime() + timeBudgetMs;
    const listed = await loadReportFiles(run, reportSlicing.filesKey, deps);
    const files = listed.files.slice(slice.from, slice.to);
    const digest = sliceDigest(files);
    const done = await loadForSlice(run, keys.result, SliceResultSchema, digest, deps);
    if (done) return { slice: slice.index, rows: done.rows };
    const saved = await loadForSlice(run, keys.progress, SliceProgressSchema, digest, deps);
    const invocation = (saved?.invocations ?? 0) + 1;
    const tally = saved ? RunTally.fromJSON(saved.tally) : sliceTally(listed, files);
    const sample = new Reservoir<SpotCheckItem>(run.options.verifySampleSize, saved?.sample);
    const toCheck: ReportRow[] = saved?.pendingChecks ?? [];
    let cursor = saved?.cursor ?? { file: 0, offset: 0 };
    let rows = saved?.rows ?? 0;
    // Jobs whose transient failures a redrive job ran again: those rows are listed by the redrive's report.
    const redriven = new Set(listed.jobs.flatMap((j) => (j.redriveOf ? [j.redriveOf] : [])));
    const failedPart = new LineUpload(clients.s3, run.workBucket, keys.failedPart(invocation), "text/csv");
    let progressed = false;
    const pause = (): boolean => {
      if (progressed && deadline !== undefined && deps.now().getTime() >= deadline) return true;
      progressed = true;
      return false;
    };
    try {
      for (; cursor.file < files.length; cursor = { file: cursor.file + 1, offset: 0 }) {
        const file = files[cursor.file] as ReportFileEntry;
        const job = listed.jobs[file.job];
        if (!job) {
          throw new InvariantViolatedError(`The result file ${file.key} names job ${file.job}, which is not listed.`, {
            fix: "Start a new run: Slice the completion reports lists the files again. If it recurs, report it with the execution's history.",
          });
        }
        const onOutcome = (row: ReportRow, settled: RowOutcome): Promise<void> | undefined => {
          if (settled.outcome === "succeeded") {
            sample.offer({ key: row.key, copied: job.operation === "copy", storageClass: job.storageClass });
          }
          if (settled.outcome !== "failed") return undefined;
          if (settled.category === "throttled-or-transient" && redriven.has(job.jobId)) return undefined;
          return failedPart.write(
            failedLine(row.bucket, row.key, settled.category, settled.message, row.httpStatus, row.errorCode),
          );
        };
        const settleChecked = async (): Promise<void> => {
          const pending = toCheck.splice(0);
          const limit = pLimit(HEAD_CONCURRENCY);
          const found = await Promise.all(pending.map((row) => limit(() => objectNow(run, row.key, deps))));
          for (const [i, row] of pending.entries()) {
            await onOutcome(row, tally.recordReportRow(job.jobId, row, found[i]));
          }
        };
        const onRow = (row: ReportRow): Promise<void> | undefined => {
          if (rowCheck(job.operation, row) !== undefined) {
            toCheck.push(row);
            return toCheck.length >= CHECK_BATCH ? settleChecked() : undefined;
          }
          return onOutcome(row, tally.recordReportRow(job.jobId, row));
        };
        const read = await readResultFile(file, cursor, deps, onRow, { pause, segmentBytes });
        rows += read.rows;
        if (read.paused) {
          cursor = { file: cursor.file, ...read.paused };
          await failedPart.finish();
          await saveSliceState(
            run,
            keys.progress,
            {
              version: 1,
              digest,
              invocations: invocation,
              rows,
              tally: tally.toJSON(),
              cursor,
              pendingChecks: toCheck,
              sample: sample.save(),
            },
            deps,
          );
          log.info("slice paused at its time budget", { bucket: run.bucket, slice: slice.index, invocation, rows });
          return { verifying: { filesRead: cursor.file, files: files.length, rows } };
        }
        await settleChecked();
      }
      await failedPart.finish();
    } catch (err) {
      await failedPart.abort();
      throw err;
    }
    await saveSliceState(
      run,
      keys.result,
      { version: 1, digest, invocations: invocation, rows, tally: tally.toJSON(), sample: sample.save() },
      deps,
    );
    log.info("slice of the completion reports read", {
      bucket: run.bucket,
      slice: slice.index,
      files: files.length,
      rows,
      invocations: invocation,
    });
    return { slice: slice.index, rows };
  },
});

/** A tally for the slice's rows: the jobs its files belong to registered, nothing counted yet. */
function sliceTally(listed: ReportFiles, files: readonly ReportFileEntry[]): RunTally {
  const tally = new RunTally();
  for (const index of new Set(files.map((f) => f.job))) {
    const job = listed.jobs[index];
    if (!job) continue;
    tally.recordJob({
      operation: job.operation,
      jobId: job.jobId,
      storageClass: job.storageClass as CopyStorageClass | undefined,
      manifestRows: job.objects,
      ...(job.redriveOf ? { redriveOf: job.redriveOf, attempt: job.attempt ?? 2 } : {}),
      createdBy: job.createdBy,
      createdAt: job.createdAt,
    });
  }
  return tally;
}

/** The object at `key` now (HeadObject with the real key, not the report's text), or that there is none. */
async function objectNow(run: RunContext, key: string, { clients }: StepDeps): Promise<ObjectNow> {
  try {
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: key }));
    return { exists: true, compliant: isCompliant(run.kmsKeyArn, head), found: describeObject(head) };
  } catch (err) {
    if (httpStatusOf(err) === 404) return { exists: false };
    throw err;
  }
}
