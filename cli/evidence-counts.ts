import type { RunReport } from "../contract/final-report.ts";
import type { PlanFile } from "../contract/plan.ts";
import { NOT_CURRENT_REASONS, SKIP_REASONS } from "../contract/reasons.ts";
import { NOT_CURRENT_REASON_CODES, type Route, SKIP_REASON_CODES } from "../contract/tally.ts";
import { routeTotals, sum } from "../steps/domain/tally-totals.ts";
import type { AfterCounts, BeforeCounts, EncryptionRow, EncryptionStatus, RunEvidence } from "./evidence-model.ts";

/**
 * The before and after counts of a run's evidence, by encryption, from what rekey read of the bucket and never from
 * what it meant to do: "before" is the plan's tally of the inventory (each object as the inventory listed it,
 * classified by steps/domain/classify.ts), "after" the independent check's HeadObject answers (bucket-check.json,
 * steps/domain/bucket-check.ts), as the final report's section has them (steps/domain/verification-report.ts).
 */

/** What each route's objects were in the inventory (steps/domain/classify.ts sends them there by encryption). */
const BEFORE_BY_ROUTE: Record<Route, string> = {
  copy: "Unencrypted (no server-side encryption)",
  "update-encryption": "SSE-S3, or SSE-KMS under another key or without S3 Bucket Key",
  "multipart-copy": "Unencrypted and over 5 GiB, or with a key too long for a Batch Operations manifest",
};

/** The bucket's current objects by encryption as the plan read them, and the versions that are not current. */
export function beforeCounts(plan: PlanFile, source: BeforeCounts["source"]): BeforeCounts {
  const s = plan.tally;
  const rows: EncryptionRow[] = [
    {
      status: "compliant",
      label: "SSE-KMS under the target key, with S3 Bucket Key",
      count: s.alreadyCompliant.count,
      bytes: s.alreadyCompliant.bytes,
    },
    ...routeTotals(s).map((r) => ({
      status: "not-compliant" as const,
      label: BEFORE_BY_ROUTE[r.route],
      count: r.planned,
      bytes: r.bytes,
    })),
    {
      status: "not-compliant",
      label: "Not compliant in the inventory, made compliant since by an earlier run's jobs",
      count: sum(Object.values(s.doneEarlier).map((c) => c.count)),
      bytes: sum(Object.values(s.doneEarlier).map((c) => c.bytes)),
    },
    ...SKIP_REASON_CODES.flatMap((reason) => {
      const c = s.skipped[reason];
      return c ? [{ status: "left-as-is" as const, label: SKIP_REASONS[reason].summary, ...c }] : [];
    }),
  ];
  const kept = rows.filter((r) => r.count > 0);
  return {
    source,
    manifestKey: plan.inventoryManifestKey,
    asOf: plan.inventoryCreatedAt,
    rows: kept,
    currentObjects: sum(kept.map((r) => r.count)),
    currentBytes: sum(kept.map((r) => r.bytes)),
    notCurrent: NOT_CURRENT_REASON_CODES.flatMap((reason) => {
      const c = s.notCurrent[reason];
      return c ? [{ label: NOT_CURRENT_REASONS[reason].summary, ...c }] : [];
    }),
  };
}

/** What the independent check found, by what HeadObject showed of each object it examined. */
export function afterCounts(check: NonNullable<RunReport["independentCheck"]>): AfterCounts {
  const c = check.counts;
  const found = c["left-non-compliant"] + c["written-after-planning"] + c["not-fixable"];
  const rows: EncryptionRow[] = [
    // HeadObject of a deleted object answers 404, which the check counts as examined and not a finding.
    {
      status: "compliant",
      label: "SSE-KMS under the target key, with S3 Bucket Key (or deleted)",
      count: check.examined - found,
    },
    {
      status: "not-compliant",
      label: "Not compliant, from before default encryption: rekey should have fixed it",
      count: c["left-non-compliant"],
    },
    {
      status: "not-compliant",
      label: "Not compliant, written after default encryption by a writer that asked for another encryption",
      count: c["written-after-planning"],
    },
    {
      status: "left-as-is",
      label: "Not compliant and left as is: SSE-C, DSSE-KMS, archived or under Object Lock",
      count: c["not-fixable"],
    },
    { status: "not-examined", label: "Listed as not compliant but not examined", count: check.unexamined },
  ];
  return {
    method: check.method,
    description: check.description,
    startedAt: check.startedAt,
    finishedAt: check.finishedAt,
    examined: check.examined,
    rows: rows.filter((r) => r.count > 0 || r.status === "compliant"),
    failing: check.failing,
    counts: { ...c },
    unexamined: check.unexamined,
    findings: check.findings.map((f) => ({ ...f })),
    findingsOmitted: check.findingsOmitted,
  };
}

/** The objects the plan left as they were, by reason, for a run that has no final report yet. */
export function skippedOf(plan: PlanFile): RunEvidence["skipped"] {
  const s = plan.tally;
  return SKIP_REASON_CODES.flatMap((reason) => {
    const c = s.skipped[reason];
    return c ? [{ reason, ...SKIP_REASONS[reason], ...c, sampleKeys: [...(s.skippedSamples[reason] ?? [])] }] : [];
  });
}

/** Counts per status, in the order the chart stacks them. */
export const STATUS_ORDER: readonly EncryptionStatus[] = ["compliant", "not-compliant", "left-as-is", "not-examined"];

export function countsByStatus(rows: readonly EncryptionRow[]): Record<EncryptionStatus, number> {
  const out: Record<EncryptionStatus, number> = {
    compliant: 0,
    "not-compliant": 0,
    "left-as-is": 0,
    "not-examined": 0,
  };
  for (const r of rows) out[r.status] += r.count;
  return out;
}
