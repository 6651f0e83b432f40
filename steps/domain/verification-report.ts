import type { RunReport } from "../../contract/final-report.ts";
import { BUCKET_CHECK_METHODS, type BucketCheckFile, type VerificationFile } from "../../contract/verification.ts";
import { failingFindings } from "./bucket-check.ts";
import { formatCount } from "./format.ts";

/**
 * The verification parts of the final report: the independent check after the jobs (which method, when, what it
 * found) and what rekey copied itself. steps/domain/run-report.ts builds the rest.
 */

/** Findings listed by key in report.json; bucket-check.json keeps more. */
const FINDINGS_IN_REPORT = 100;

export function independentCheckSection(file: BucketCheckFile): NonNullable<RunReport["independentCheck"]> {
  return {
    ...file,
    description: BUCKET_CHECK_METHODS[file.method],
    failing: failingFindings(file.counts, file.unexamined),
    findings: file.findings.slice(0, FINDINGS_IN_REPORT),
    findingsOmitted: Math.max(0, Object.values(file.counts).reduce((a, b) => a + b, 0) - FINDINGS_IN_REPORT),
  };
}

export function copiedDirectlySection(
  direct: VerificationFile["directCopies"],
): RunReport["copiedDirectly"] | undefined {
  if (!direct) return undefined;
  return {
    copyObject: direct.reencryptedBy["copy-object"],
    multipart: direct.reencryptedBy.multipart,
    copyObjectKeys: [...direct.copiedWithCopyObject],
  };
}

/** The summary's lines for both sections (none when the report has neither). */
export function renderVerification(report: RunReport): string[] {
  const n = formatCount;
  const lines: string[] = [];
  const direct = report.copiedDirectly;
  if (direct && direct.copyObject + direct.multipart > 0) {
    lines.push(
      "",
      `Copied directly by rekey: ${n(direct.copyObject)} with one CopyObject (keys a Batch manifest cannot carry), ${n(direct.multipart)} part by part (over 5 GiB)`,
    );
    for (const key of direct.copyObjectKeys.slice(0, 5)) lines.push(`  ${JSON.stringify(key)}`);
  }
  const check = report.independentCheck;
  if (check) {
    const c = check.counts;
    lines.push(
      "",
      `Independent check (${check.method}: ${check.description}), ${check.startedAt} to ${check.finishedAt}:`,
      `  ${n(check.examined)} examined; non-compliant: ${n(c["left-non-compliant"])} rekey could have fixed, ${n(c["written-after-planning"])} written after planning by another writer, ${n(c["not-fixable"])} rekey cannot fix (skipped)${check.unexamined > 0 ? `; ${n(check.unexamined)} listed but not examined` : ""}`,
    );
    for (const f of check.findings.filter((x) => x.verdict !== "not-fixable").slice(0, 5)) {
      lines.push(`  ${JSON.stringify(f.key)} ${f.verdict}: ${f.found}. ${f.reason}`);
    }
  }
  return lines;
}
