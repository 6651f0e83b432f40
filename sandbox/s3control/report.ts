import { createHash } from "node:crypto";
import type { ReportSpec, TaskResult } from "./model.ts";

export const REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage";

export interface ReportFile {
  key: string;
  body: string;
}

/** RFC-4180 quoting, only where needed. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * One result row. Column order follows the real reports, not ReportSchema: HTTP status (column 5) comes
 * before the error code (column 6). The key is written as it appeared in the manifest.
 */
export function reportRow(r: TaskResult): string {
  return [r.task.bucket, r.task.rawKey, r.task.versionId ?? "", r.status, String(r.httpStatus), r.errorCode, r.message]
    .map(csvField)
    .join(",");
}

/** `<prefix>/job-<id>/` without doubling a slash the prefix already ends with. */
export function reportBase(prefix: string | undefined, jobId: string): string {
  if (!prefix) return `job-${jobId}/`;
  return `${prefix.replace(/\/+$/, "")}/job-${jobId}/`;
}

/**
 * The completion report: `results/<sha1>.csv` per task status and a top-level `manifest.json` listing them.
 * Returns nothing when no task ran ("as long as at least one task has been invoked").
 */
export function buildReport(jobId: string, spec: ReportSpec, results: readonly TaskResult[], now: Date): ReportFile[] {
  if (!spec.enabled || !spec.bucket || results.length === 0) return [];
  const base = reportBase(spec.prefix, jobId);
  const groups: ("succeeded" | "failed")[] = spec.scope === "FailedTasksOnly" ? ["failed"] : ["succeeded", "failed"];
  const files: ReportFile[] = [];
  const entries: { TaskExecutionStatus: string; Bucket: string; MD5Checksum: string; Key: string }[] = [];
  for (const status of groups) {
    const rows = results.filter((r) => r.status === status);
    if (rows.length === 0) continue;
    const body = rows.map((r) => `${reportRow(r)}\r\n`).join("");
    const name = createHash("sha1").update(`${jobId}/${status}/${now.toISOString()}`).digest("hex");
    const key = `${base}results/${name}.csv`;
    files.push({ key, body });
    entries.push({
      TaskExecutionStatus: status,
      Bucket: spec.bucket,
      MD5Checksum: createHash("md5").update(body).digest("hex"),
      Key: key,
    });
  }
  const manifest = {
    Format: "Report_CSV_20180820",
    ReportCreationDate: now.toISOString(),
    Results: entries,
    ReportSchema: REPORT_SCHEMA,
  };
  files.push({ key: `${base}manifest.json`, body: JSON.stringify(manifest, null, 4) });
  return files;
}
