import { z } from "zod";
import { VerificationFailedError } from "../../contract/errors.ts";
import { LargeCopyBatchSchema } from "../../contract/large-objects.ts";
import { PlanFileSchema, PlanSchema } from "../../contract/plan.ts";
import { RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import {
  ReportSlicingSchema,
  type Verification,
  type VerificationFile,
  VerificationFileSchema,
} from "../../contract/verification.ts";
import { describeJob, jobProgressOf } from "../aws/batch-jobs.ts";
import { type JoinSource, joinObjects } from "../aws/join-objects.ts";
import { readLargeObjectList } from "../aws/large-object-list.ts";
import { deleteKeys, getText, getTextIfExists, listSizes, putJson, putText } from "../aws/s3-io.ts";
import { type SpotCheckItem, spotCheck } from "../aws/spot-check.ts";
import { loadReportFiles, loadSliceResults } from "../aws/verify-slices.ts";
import { FAILED_HEADER, failedLine } from "../domain/failed-list.ts";
import { mergeSamples, Reservoir } from "../domain/spot-check.ts";
import { RunTally } from "../domain/tally.ts";
import { defineStep } from "../runtime/step.ts";

/** Slice results read at once (GetObject in parallel). */
const RESULTS_AT_ONCE = 16;

/**
 * Accounts for every object, from what "Verify each slice" read of the completion reports: the plan's tally with
 * every job recorded (in the run's job order) and each slice's counts of report rows merged into it by job, every
 * job with a report marked reported; failed.csv joined from the header, the slices' parts in slice order (copied by
 * S3 where it can, steps/aws/join-objects.ts) and the large-object copies' failures; the slices' spot-check samples
 * merged into one uniform sample of all re-encrypted rows (domain/spot-check.ts mergeSamples), the objects copied
 * directly offered to it, and each sampled object checked independently with HeadObject. verification.json is
 * written, then the slices' files are deleted; a retry after that hands on what verification.json says.
 */
export const verifyResults = defineStep({
  state: StateNames.verifyResults,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema,
    /** What "Copy objects directly" returned, or the marker that there was nothing to copy directly. */
    largeCopy: z.object({ done: z.literal(true), batchKey: z.string().optional() }).optional(),
    reportSlicing: ReportSlicingSchema,
  }),
  async run({ run, plan, largeCopy, reportSlicing }, deps): Promise<Verification> {
    const { clients, log } = deps;
    const keys = runKeys(run);
    const verificationKey = keys.verification;
    const written = await getTextIfExists(clients.s3, run.workBucket, verificationKey);
    if (written !== undefined) {
      const file = VerificationFileSchema.parse(JSON.parse(written));
      const { checked, mismatches } = file.spotCheck;
      return { done: true, verificationKey, spotChecked: checked, mismatches: mismatches.length };
    }
    const listed = await loadReportFiles(run, reportSlicing.filesKey, deps);
    const tally = RunTally.fromJSON(
      PlanFileSchema.parse(JSON.parse(await getText(clients.s3, run.workBucket, plan.planKey))).tally,
    );
    const jobStates: VerificationFile["jobs"] = [];
    for (const job of listed.jobs) {
      const { status, failureReasons } = jobProgressOf(await describeJob(clients.s3control, run.accountId, job.jobId));
      jobStates.push({ jobId: job.jobId, status, failureReasons });
      tally.recordJob({
        operation: job.operation,
        jobId: job.jobId,
        storageClass: job.storageClass as Parameters<RunTally["recordJob"]>[0]["storageClass"],
        manifestRows: job.objects,
        ...(job.redriveOf ? { redriveOf: job.redriveOf, attempt: job.attempt ?? 2 } : {}),
        createdBy: job.createdBy,
        createdAt: job.createdAt,
      });
    }
    // The slices' results are read in order, a batch at a time, each batch's samples merged into one right away, so
    // memory holds one sample of verifySampleSize items and the slices' small tallies, whatever their number.
    const sampleSize = run.options.verifySampleSize;
    const slices = Array.from({ length: reportSlicing.slices }, (_, i) => keys.reportSlice(i));
    const invocations: number[] = [];
    let rows = 0;
    let merged: ReturnType<typeof mergeSamples<SpotCheckItem>> = { items: [], seen: 0 };
    for (let i = 0; i < slices.length; i += RESULTS_AT_ONCE) {
      const batch = slices.slice(i, i + RESULTS_AT_ONCE).map((s) => s.result);
      const results = await loadSliceResults(run, batch, deps);
      tally.mergeReportRows(results.map((r) => r.tally));
      for (const r of results) {
        invocations.push(r.invocations);
        rows += r.rows;
      }
      merged = mergeSamples([merged, ...results.map((r) => r.sample)], sampleSize);
    }
    for (const [i, job] of listed.jobs.entries()) {
      if (job.reported) {
        tally.markJobReported(job.jobId);
        continue;
      }
      // A job that failed before running a task (a manifest it could not read, say) writes no report. The other
      // jobs' reports are still read and the run's report written: this job's objects stay pending there, the
      // job's failure reasons are its warning, and the next run plans them again (steps/aws/earlier-work.ts).
      log.warn("copy job without completion report", {
        bucket: run.bucket,
        jobId: job.jobId,
        status: jobStates[i]?.status,
      });
    }
    const sample = new Reservoir<SpotCheckItem>(sampleSize, merged);

    let directCopies: VerificationFile["directCopies"];
    let largeFailed = "";
    if (plan.largeObjects) {
      if (!largeCopy?.batchKey) {
        throw new VerificationFailedError(
          `The plan lists ${plan.largeObjects.objects} object(s) for rekey to copy itself but no result of "${StateNames.copyLargeObjects}" reached verification.`,
          { fix: "Start a new run for the same inventory: it reuses the plan and continues the multipart copies." },
        );
      }
      const batch = LargeCopyBatchSchema.parse(
        JSON.parse(await getText(clients.s3, run.workBucket, largeCopy.batchKey)),
      );
      tally.recordLargeCopies(batch.counts);
      directCopies = { reencryptedBy: batch.reencryptedBy, copiedWithCopyObject: batch.copiedWithCopyObject };
      const problems = new Set(batch.problems.map((p) => p.key));
      // Skipped ones are counted as skipped (reason changed-before-copy), not as failures.
      for (const p of batch.problems) {
        if (p.outcome !== "skipped")
          largeFailed += failedLine(run.bucket, p.key, `multipart-copy-${p.outcome}`, p.reason ?? "");
      }
      for (const object of await readLargeObjectList(clients.s3, run.workBucket, plan.largeObjects.key)) {
        if (!problems.has(object.key))
          sample.offer({ key: object.key, copied: true, storageClass: object.storageClass });
      }
      log.info("large-object results read", { bucket: run.bucket, batchKey: largeCopy.batchKey, ...batch.counts });
    }

    const sizes = await listSizes(clients.s3, run.workBucket, keys.verifyPrefix);
    if (largeFailed !== "") {
      await putText(clients.s3, run.workBucket, keys.largeCopyFailed, largeFailed, "text/csv");
      sizes.set(keys.largeCopyFailed, Buffer.byteLength(largeFailed));
    }
    const parts = [
      ...slices.flatMap((s, i) => Array.from({ length: invocations[i] ?? 0 }, (_, n) => s.failedPart(n + 1))),
      keys.largeCopyFailed,
    ];
    const sources: JoinSource[] = parts.flatMap((key) => {
      const size = sizes.get(key);
      return size ? [{ key, size }] : [];
    });
    await joinObjects(
      clients.s3,
      { bucket: run.workBucket, key: keys.failed, contentType: "text/csv" },
      FAILED_HEADER,
      sources,
    );

    const mismatches = await spotCheck(run, sample.items, deps);
    const file: VerificationFile = {
      tally: tally.toJSON(),
      spotCheck: { checked: sample.items.length, mismatches },
      jobs: jobStates,
      ...(directCopies ? { directCopies } : {}),
    };
    await putJson(clients.s3, run.workBucket, verificationKey, file);
    log.info("verification written", {
      bucket: run.bucket,
      slices: reportSlicing.slices,
      files: reportSlicing.files,
      rows,
      spotChecked: sample.items.length,
    });
    await deleteKeys(clients.s3, run.workBucket, [...sizes.keys()]);
    return { done: true, verificationKey, spotChecked: sample.items.length, mismatches: mismatches.length };
  },
});
