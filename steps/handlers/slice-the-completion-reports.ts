import { z } from "zod";
import { JobsSchema, PlanSchema } from "../../contract/plan.ts";
import { RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { ReportSlicing } from "../../contract/verification.ts";
import { planReportManifestKey, reportResultFiles } from "../aws/completion-reports.ts";
import { putJson } from "../aws/s3-io.ts";
import type { ReportFiles } from "../aws/verify-slices.ts";
import { sliceFiles } from "../domain/slices.ts";
import { defineStep } from "../runtime/step.ts";

/**
 * Lists what verification reads and cuts it into slices that "Verify each slice" reads in parallel: every job's
 * result files (from its report manifest, with the MD5 it gives, and their sizes from one listing of the job's
 * report folder), in job order, in runs of about `sliceTargetBytes` (steps/domain/slices.ts). The list and the
 * slices go to the work bucket; the state gets their keys and counts only, so it stays small at any bucket size. A
 * job without a report (it failed before running a task) is listed with none. Run again, it writes the same.
 */
export const sliceReports = defineStep({
  state: StateNames.sliceReports,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema,
    jobs: JobsSchema.optional(),
    /** Bytes of result files a slice aims at (workflow/definition.ts VERIFY_SLICE_BYTES). */
    sliceTargetBytes: z.number().int().positive(),
  }),
  async run({ run, plan, jobs, sliceTargetBytes }, deps): Promise<ReportSlicing> {
    const { clients, log } = deps;
    const keys = runKeys(run);
    const listed: ReportFiles = { version: 1, jobs: [], files: [] };
    for (const [index, job] of (jobs?.jobs ?? []).entries()) {
      const files = await reportResultFiles(run.workBucket, planReportManifestKey(plan.planPrefix, job.jobId), deps);
      listed.jobs.push({
        jobId: job.jobId,
        operation: job.operation,
        ...(job.storageClass === undefined ? {} : { storageClass: job.storageClass }),
        objects: job.objects,
        ...(job.redriveOf === undefined ? {} : { redriveOf: job.redriveOf, attempt: job.attempt ?? 2 }),
        ...(job.createdBy === undefined ? {} : { createdBy: job.createdBy }),
        ...(job.createdAt === undefined ? {} : { createdAt: job.createdAt }),
        reported: files !== undefined,
      });
      for (const f of files ?? [])
        listed.files.push({ job: index, bucket: f.bucket, key: f.key, md5: f.md5, size: f.size });
    }
    const slices = sliceFiles(
      listed.files.map((f) => f.size),
      { targetBytes: sliceTargetBytes },
    );
    await putJson(clients.s3, run.workBucket, keys.reportFiles, listed);
    await putJson(clients.s3, run.workBucket, keys.reportSliceItems, slices);
    log.info("completion reports sliced", {
      bucket: run.bucket,
      jobs: listed.jobs.length,
      files: listed.files.length,
      bytes: listed.files.reduce((n, f) => n + f.size, 0),
      slices: slices.length,
    });
    return {
      filesKey: keys.reportFiles,
      itemsKey: keys.reportSliceItems,
      resultsPrefix: keys.reportSliceResults,
      slices: slices.length,
      files: listed.files.length,
    };
  },
});
