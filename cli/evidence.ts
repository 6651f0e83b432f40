import { planKeys, runKeys } from "../contract/run-context.ts";
import type { RunView } from "./runs.ts";

/** Where a run's evidence is in the work bucket, as s3:// URIs; each present once the run has written it. */
export interface Evidence {
  /** The run's folder: report, summary, failed list, failure record. */
  runFolder: string;
  report?: string;
  summary?: string;
  /** failed.csv: every object whose copy failed, with the reason (written by verification, header only if none). */
  failedList?: string;
  /** skipped.csv: every object the plan left alone, with the reason. */
  skippedList?: string;
  manifests: string[];
  /** Why the run failed, with what to do (failure.json), when it did. */
  failure?: string;
}

export function evidenceOf(run: RunView): Evidence | undefined {
  const context = run.context;
  if (!context) return undefined;
  const s3 = (key: string) => `s3://${context.workBucket}/${key}`;
  const keys = runKeys(context);
  const report = (run.output as { reportLocation?: unknown } | undefined)?.reportLocation;
  const summary = (run.output as { summaryLocation?: unknown } | undefined)?.summaryLocation;
  return {
    runFolder: s3(context.runPrefix),
    ...(typeof report === "string" ? { report } : {}),
    ...(typeof summary === "string" ? { summary } : {}),
    ...(typeof report === "string" ? { failedList: s3(keys.failed) } : {}),
    ...(run.plan ? { skippedList: s3(planKeys(run.plan.planPrefix).skipped) } : {}),
    manifests: (run.plan?.manifests ?? []).map((m) => s3(m.key)),
    // "Record failure" writes it when a step fails; a stopped or timed-out execution runs no more states.
    ...(run.status === "FAILED" ? { failure: s3(keys.failure) } : {}),
  };
}
