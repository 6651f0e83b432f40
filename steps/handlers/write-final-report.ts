import { z } from "zod";
import type { FinalReportOutput } from "../../contract/final-report.ts";
import { PlanSchema } from "../../contract/plan.ts";
import { RunContextSchema, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { BucketCheckFileSchema, NOT_FOUND, VerificationFileSchema } from "../../contract/verification.ts";
import { releaseBucketLock } from "../aws/bucket-lock.ts";
import { getText, putJson, putText } from "../aws/s3-io.ts";
import { buildRunReport, renderSummary } from "../domain/run-report.ts";
import { notFoundProblem } from "../domain/spot-check.ts";
import { RunTally } from "../domain/tally.ts";
import { copiedDirectlySection, independentCheckSection } from "../domain/verification-report.ts";
import { defineStep } from "../runtime/step.ts";

export const writeFinalReport = defineStep({
  state: StateNames.writeFinalReport,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema,
    verification: z.object({ verificationKey: z.string() }),
    /** The independent check after the jobs; absent in executions started before it existed. */
    bucketCheck: z.object({ checkKey: z.string() }).optional(),
    preflight: z
      .object({ warnings: z.array(z.object({ code: z.string(), message: z.string(), fix: z.string() })) })
      .optional(),
  }),
  async run({ run, plan, verification, bucketCheck, preflight }, { clients, now, log }): Promise<FinalReportOutput> {
    const keys = runKeys(run);
    const file = VerificationFileSchema.parse(
      JSON.parse(await getText(clients.s3, run.workBucket, verification.verificationKey)),
    );
    const tally = RunTally.fromJSON(file.tally);
    const notFound = file.spotCheck.mismatches.filter((m) => m.found === NOT_FOUND);
    const wrong = file.spotCheck.mismatches.filter((m) => m.found !== NOT_FOUND);
    const notFoundIsAProblem = notFoundProblem(file.spotCheck.checked, notFound.length);
    const warnings = [
      ...(preflight?.warnings ?? []).map((w) => `Preflight ${w.code}: ${w.message} ${w.fix}`),
      ...mismatchWarnings(wrong, keys.verification),
    ];
    if (notFound.length > 0) {
      warnings.push(
        `${notFound.length} of ${file.spotCheck.checked} sampled re-encrypted objects no longer exist (deleted since their copy${notFoundIsAProblem ? "; so many that the check cannot be trusted: compare the completion reports' keys with the bucket" : ""}).`,
      );
    }
    for (const job of file.jobs) {
      if (job.status !== "Complete")
        warnings.push(
          `Copy job ${job.jobId} ended ${job.status}: ${job.failureReasons.join("; ") || "no reason given"}`,
        );
    }
    const independentCheck = bucketCheck
      ? independentCheckSection(
          BucketCheckFileSchema.parse(JSON.parse(await getText(clients.s3, run.workBucket, bucketCheck.checkKey))),
        )
      : undefined;
    const copiedDirectly = copiedDirectlySection(file.directCopies);
    const reportLocation = `s3://${run.workBucket}/${keys.report}`;
    const report = buildRunReport(tally, {
      bucket: run.bucket,
      kmsKeyArn: run.kmsKeyArn,
      executionArn: run.executionId,
      startedAt: new Date(run.startedAt),
      finishedAt: now(),
      reportLocation,
      inventory: {
        manifestKey: plan.inventoryManifestKey,
        creationTimestamp: new Date(plan.inventoryCreatedAt),
        engine: plan.engine,
      },
      warnings,
      ...(independentCheck ? { independentCheck } : {}),
      ...(copiedDirectly ? { copiedDirectly } : {}),
    });
    const summary = renderSummary(report);
    await putJson(clients.s3, run.workBucket, keys.report, { ...report, spotCheck: file.spotCheck });
    await putText(clients.s3, run.workBucket, keys.summary, summary);
    // The run's work is done and reported: the next run on this bucket may start (steps/aws/bucket-lock.ts).
    await releaseBucketLock(clients.s3, run.workBucket, run.bucket, run.executionId);
    const outcome =
      report.reconciliation.ok &&
      report.totals.failed === 0 &&
      wrong.length === 0 &&
      !notFoundIsAProblem &&
      (independentCheck?.failing ?? 0) === 0
        ? "succeeded"
        : "failed";
    log.info("final report written", { bucket: run.bucket, outcome, reportLocation, ...report.totals });
    return {
      outcome,
      bucket: run.bucket,
      reportLocation,
      summaryLocation: `s3://${run.workBucket}/${keys.summary}`,
      summary,
      totals: report.totals,
    };
  },
});

/** Enough examples to act on; the state output and a Fail state's Cause are size-limited, the full list is in S3. */
const MISMATCH_EXAMPLES = 5;

export function mismatchWarnings(mismatches: { key: string; found: string }[], listedIn: string): string[] {
  if (mismatches.length === 0) return [];
  const examples = mismatches.slice(0, MISMATCH_EXAMPLES).map((m) => `  ${JSON.stringify(m.key)}: ${m.found}`);
  return [
    `${mismatches.length} sampled object(s) reported re-encrypted are not SSE-KMS under the target key with Bucket Key in their storage class (all listed in ${listedIn}), e.g.:\n${examples.join("\n")}`,
  ];
}
