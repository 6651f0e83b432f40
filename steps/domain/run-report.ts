import type { PlanEngine } from "../../contract/engines.ts";
import { RUN_REPORT_VERSION, type RunReport, runReportSchema } from "../../contract/final-report.ts";
import { NOT_CURRENT_REASONS, SKIP_REASONS, TASK_FAILURE_CATEGORIES } from "../../contract/reasons.ts";
import { COPYABLE_STORAGE_CLASSES } from "../../contract/storage-classes.ts";
import { FAILURE_CATEGORIES, NOT_CURRENT_REASON_CODES, ROUTES, SKIP_REASON_CODES } from "../../contract/tally.ts";
import { formatBytes, formatCount } from "./format.ts";
import type { RunTally } from "./tally.ts";
import { renderVerification } from "./verification-report.ts";

export interface RunReportMeta {
  bucket: string;
  kmsKeyArn: string;
  executionArn?: string;
  startedAt: Date;
  finishedAt: Date;
  reportLocation?: string;
  inventory?: { manifestKey: string; creationTimestamp: Date; engine?: PlanEngine | undefined };
  warnings?: string[];
  /** The verification sections (steps/domain/verification-report.ts). */
  independentCheck?: RunReport["independentCheck"];
  copiedDirectly?: RunReport["copiedDirectly"];
}

/** The final JSON report, built from a tally; validated against runReportSchema. */
export function buildRunReport(tally: RunTally, meta: RunReportMeta): RunReport {
  const s = tally.snapshot;
  const reconciliation = tally.reconcile({ final: true });
  const failedBy = tally.failedByCategory();
  const report: RunReport = {
    reportVersion: RUN_REPORT_VERSION,
    bucket: meta.bucket,
    kmsKeyArn: meta.kmsKeyArn,
    ...(meta.executionArn === undefined ? {} : { executionArn: meta.executionArn }),
    startedAt: meta.startedAt.toISOString(),
    finishedAt: meta.finishedAt.toISOString(),
    ...(meta.reportLocation === undefined ? {} : { reportLocation: meta.reportLocation }),
    ...(meta.inventory === undefined
      ? {}
      : {
          inventory: {
            manifestKey: meta.inventory.manifestKey,
            creationTimestamp: meta.inventory.creationTimestamp.toISOString(),
            ...(meta.inventory.engine ? { engine: meta.inventory.engine } : {}),
          },
        }),
    totals: reconciliation.totals,
    copyPlanned: COPYABLE_STORAGE_CLASSES.flatMap((storageClass) => {
      const c = s.copyPlanned[storageClass];
      return c ? [{ storageClass, count: c.count, bytes: c.bytes }] : [];
    }),
    routes: tally.routes(),
    skipped: SKIP_REASON_CODES.flatMap((reason) => {
      // Skipped by the multipart copy step itself, after planning (its results file lists the keys).
      const c =
        reason === "changed-before-copy" && s.largeCopy.skipped > 0
          ? { count: s.largeCopy.skipped, bytes: 0 }
          : s.skipped[reason];
      return c
        ? [
            {
              reason,
              count: c.count,
              bytes: c.bytes,
              ...SKIP_REASONS[reason],
              sampleKeys: [...(s.skippedSamples[reason] ?? [])],
            },
          ]
        : [];
    }),
    failed: FAILURE_CATEGORIES.flatMap((category) => {
      const n = failedBy[category] ?? 0;
      if (n <= 0) return [];
      const { summary, whatToDo } = TASK_FAILURE_CATEGORIES[category];
      return [{ category, count: n, summary, whatToDo, samples: structuredClone(s.failureSamples[category] ?? []) }];
    }),
    notCurrent: NOT_CURRENT_REASON_CODES.flatMap((reason) => {
      const c = s.notCurrent[reason];
      return c ? [{ reason, count: c.count, bytes: c.bytes, whatToDo: NOT_CURRENT_REASONS[reason].whatToDo }] : [];
    }),
    jobs: structuredClone(s.jobs),
    earlierRuns: earlierRuns(tally),
    reconciliation: { ok: reconciliation.ok, problems: reconciliation.problems },
    warnings: [...(meta.warnings ?? [])],
    ...(meta.independentCheck ? { independentCheck: meta.independentCheck } : {}),
    ...(meta.copiedDirectly ? { copiedDirectly: meta.copiedDirectly } : {}),
  };
  return runReportSchema.parse(report);
}

/** Per earlier run: the objects its jobs made compliant that this run counts (and did not do), and its reused jobs. */
function earlierRuns(tally: RunTally): RunReport["earlierRuns"] {
  const s = tally.snapshot;
  const runs = new Map<string, RunReport["earlierRuns"][number]>();
  const of = (runId: string) => {
    let r = runs.get(runId);
    if (!r) {
      r = { runId, objects: 0, reusedJobs: [] };
      runs.set(runId, r);
    }
    return r;
  };
  for (const [runId, c] of Object.entries(s.doneEarlier)) of(runId).objects += c.count;
  for (const job of s.jobs) {
    if (job.createdBy === undefined) continue;
    const r = of(job.createdBy);
    r.objects += job.succeeded;
    r.reusedJobs.push({ jobId: job.jobId, ...(job.createdAt === undefined ? {} : { createdAt: job.createdAt }) });
  }
  return [...runs.values()];
}

/** The first line says whether the bucket is done, so nobody reads a run that skipped objects as complete. */
function headline(report: RunReport): string {
  const t = report.totals;
  if (!report.reconciliation.ok || t.failed > 0 || t.pending > 0 || (report.independentCheck?.failing ?? 0) > 0)
    return `rekey finished with problems: s3://${report.bucket}`;
  if (t.skipped > 0) {
    return `rekey finished: s3://${report.bucket}; ${formatCount(t.skipped)} current object(s) skipped still need attention (see Skipped)`;
  }
  return `rekey finished: s3://${report.bucket}; every current object it saw is re-encrypted or was already compliant`;
}

/**
 * One line per Batch Operations job, by attempt: the objects it was given and how their tasks ended, failures split
 * into transient (redriven while attempts remained), systemic (access or key) and the rest.
 */
function attemptLines(report: RunReport): string[] {
  const n = formatCount;
  return [...report.jobs]
    .sort((a, b) => a.attempt - b.attempt)
    .map((j) => {
      const failed = Object.values(j.failed).reduce((acc, v) => acc + (v ?? 0), 0);
      const transient = j.failed["throttled-or-transient"] ?? 0;
      const systemic = j.failed["access-or-kms"] ?? 0;
      const unit = j.operation === "copy" ? (j.storageClass ?? "STANDARD") : "encryption update";
      const of = j.redriveOf ? `, redrive of ${j.redriveOf}` : "";
      return `  attempt ${j.attempt}: job ${j.jobId} (${unit}${of}): ${n(j.manifestRows)} object(s), ${n(j.succeeded)} succeeded, ${n(failed)} failed (${n(transient)} transient, ${n(systemic)} systemic)`;
    });
}

/** A short plain-text summary for the CLI, the console output and notifications. */
export function renderSummary(report: RunReport): string {
  const t = report.totals;
  const n = formatCount;
  const rows: [string, number][] = [
    ["Objects seen", t.seen],
    ["Re-encrypted", t.reencrypted],
    ["Already compliant", t.alreadyCompliant],
    ["Skipped", t.skipped],
    ["Failed", t.failed],
    ["Gone since planning", t.gone],
    ["Changed since planning, compliant through default encryption", t.changed],
    ["Done by earlier runs (not by this one)", t.doneEarlier],
    ["Not current (versions, delete markers)", t.notCurrent],
  ];
  if (t.pending > 0) rows.push(["Still pending", t.pending]);
  const width = Math.max(...rows.map(([label]) => label.length));
  const numWidth = Math.max(...rows.map(([, v]) => n(v).length));
  const lines = [
    headline(report),
    `Target key: ${report.kmsKeyArn}`,
    ...(report.inventory?.engine
      ? [
          `Planned from: ${report.inventory.manifestKey}, by the ${report.inventory.engine.name} engine (${report.inventory.engine.why})`,
        ]
      : []),
    "",
    ...rows.map(([label, v]) => `  ${label.padEnd(width)}  ${n(v).padStart(numWidth)}`),
  ];
  lines.push("", "By route:");
  for (const r of report.routes) {
    const settled = [
      `${n(r.reencrypted)} re-encrypted`,
      ...(r.alreadyCompliant > 0 ? [`${n(r.alreadyCompliant)} already compliant`] : []),
      ...(r.failed > 0 ? [`${n(r.failed)} failed`] : []),
      ...(r.gone > 0 ? [`${n(r.gone)} gone`] : []),
      ...(r.changed > 0 ? [`${n(r.changed)} changed since planning (compliant, not copied)`] : []),
      ...(r.skipped > 0 ? [`${n(r.skipped)} skipped`] : []),
    ];
    // Bytes are unknown for plans from generated lists (they name keys only): no size rather than a wrong one.
    const size = r.bytes > 0 ? ` (${formatBytes(r.bytes)})` : "";
    lines.push(`  ${ROUTES[r.route]}: ${n(r.planned)} planned${size}; ${settled.join(", ")}`);
  }
  if (report.earlierRuns.length > 0) {
    lines.push("", "Done by earlier runs (counted apart from this run's own work):");
    for (const r of report.earlierRuns) {
      const reused = r.reusedJobs.map((j) => `job ${j.jobId}${j.createdAt ? ` created ${j.createdAt}` : ""}`);
      lines.push(
        `  earlier run ${r.runId}: ${n(r.objects)} object(s) made compliant${reused.length > 0 ? `; this run reused its ${reused.join(", ")}` : ""}`,
      );
    }
  }
  if (report.jobs.some((j) => j.redrive))
    lines.push("", "Attempts (tasks that failed transiently ran again):", ...attemptLines(report));
  if (report.skipped.length > 0) {
    lines.push("", "Skipped (not touched):");
    for (const s of report.skipped) {
      lines.push(`  ${n(s.count)} ${s.reason}${s.bytes > 0 ? ` (${formatBytes(s.bytes)})` : ""}: ${s.whatToDo}`);
    }
  }
  if (report.failed.length > 0) {
    lines.push("", "Failed:");
    for (const f of report.failed) lines.push(`  ${n(f.count)} ${f.category}: ${f.whatToDo}`);
  }
  if (!report.reconciliation.ok) {
    lines.push("", "Counts do not reconcile:");
    for (const p of report.reconciliation.problems) lines.push(`  ${p}`);
  }
  lines.push(...renderVerification(report));
  if (report.warnings.length > 0) {
    lines.push("", "Warnings:");
    for (const w of report.warnings) lines.push(`  ${w}`);
  }
  if (report.reportLocation) lines.push("", `Full report: ${report.reportLocation}`);
  return `${lines.join("\n")}\n`;
}
