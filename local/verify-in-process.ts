import { GetObjectCommand } from "@aws-sdk/client-s3";
import type { Jobs, Plan, PlanSlice } from "../contract/plan.ts";
import type { RunContext } from "../contract/run-context.ts";
import type { ReportSlicing, SliceVerification, Verification } from "../contract/verification.ts";
import { readReports } from "../steps/handlers/read-completion-reports.ts";
import { sliceReports } from "../steps/handlers/slice-the-completion-reports.ts";
import { verifyResults } from "../steps/handlers/verify-results.ts";
import type { StepDeps } from "../steps/runtime/step.ts";
import { VERIFY_SLICE_BYTES } from "../workflow/definition.ts";

/**
 * Verification as the state machine runs it, in this process: "Slice the completion reports", every slice's "Read
 * completion reports" called again while it returns `verifying` (one slice after the other, as a Distributed Map with
 * MaxConcurrency 1 would), then "Verify results". `onInvocation` sees each slice invocation's result.
 */
export async function verifyInProcess(
  input: { run: RunContext; plan: Plan; jobs?: Jobs; largeCopy?: { done: true; batchKey?: string } },
  deps: StepDeps,
  options: {
    sliceTargetBytes?: number;
    timeBudgetMs?: number;
    segmentBytes?: number;
    onInvocation?: (slice: PlanSlice, result: SliceVerification) => void;
  } = {},
): Promise<{ verification: Verification; reportSlicing: ReportSlicing; invocations: number }> {
  const { run } = input;
  const reportSlicing = await sliceReports.run(
    {
      run,
      plan: input.plan,
      ...(input.jobs ? { jobs: input.jobs } : {}),
      sliceTargetBytes: options.sliceTargetBytes ?? VERIFY_SLICE_BYTES,
    },
    deps,
  );
  let invocations = 0;
  for (const slice of await reportSliceItems(reportSlicing, run, deps)) {
    let result: SliceVerification;
    do {
      result = await readReports.run(
        {
          run,
          reportSlicing,
          slice,
          ...(options.timeBudgetMs === undefined ? {} : { timeBudgetMs: options.timeBudgetMs }),
          ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
        },
        deps,
      );
      invocations += 1;
      options.onInvocation?.(slice, result);
    } while ("verifying" in result);
  }
  const verification = await verifyResults.run(
    { run, plan: input.plan, ...(input.largeCopy ? { largeCopy: input.largeCopy } : {}), reportSlicing },
    deps,
  );
  return { verification, reportSlicing, invocations };
}

/** The slices "Slice the completion reports" wrote, as the Distributed Map's ItemReader reads them. */
export async function reportSliceItems(slicing: ReportSlicing, run: RunContext, deps: StepDeps): Promise<PlanSlice[]> {
  const out = await deps.clients.s3.send(new GetObjectCommand({ Bucket: run.workBucket, Key: slicing.itemsKey }));
  return JSON.parse((await out.Body?.transformToString()) ?? "[]") as PlanSlice[];
}
