import type { FinalReportOutput } from "../../contract/final-report.ts";
import { formatCount } from "../../steps/domain/format.ts";
import { type AwsOptions, clientsFor, stateMachineArn } from "../aws.ts";
import type { Io } from "../io.ts";
import { formatDuration } from "../progress.ts";
import { listRuns, readRun } from "../runs.ts";

export interface RunsOptions extends AwsOptions {
  bucket?: string | undefined;
  limit: number;
  json: boolean;
}

/** `rekey runs`: recent runs, newest first, with their outcome. */
export async function runsCommand(options: RunsOptions, io: Io): Promise<number> {
  const clients = await clientsFor(options, io);
  const machine = await stateMachineArn(clients, options, io);
  const runs = await listRuns(clients, machine, { bucket: options.bucket, limit: options.limit });
  const rows = [];
  for (const r of runs) {
    const view = r.status === "SUCCEEDED" ? await readRun(clients, r.executionArn) : undefined;
    const totals = (view?.output as Partial<FinalReportOutput> | undefined)?.totals;
    rows.push({ ...r, totals });
  }
  if (options.json) {
    io.out.write(`${JSON.stringify(rows)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.out.write(`No runs${options.bucket ? ` for ${options.bucket}` : ""}.\n`);
    return 0;
  }
  const table = rows.map((r) => [
    r.bucket ?? "?",
    r.name,
    r.status,
    r.startDate?.toISOString().slice(0, 16).replace("T", " ") ?? "",
    r.startDate ? formatDuration(((r.stopDate ?? new Date()).getTime() - r.startDate.getTime()) / 1000) : "",
    r.totals
      ? `${formatCount(r.totals.reencrypted)} re-encrypted, ${formatCount(r.totals.skipped)} skipped, ${formatCount(r.totals.failed)} failed`
      : "",
  ]);
  const header = ["BUCKET", "RUN", "STATUS", "STARTED (UTC)", "TOOK", "OUTCOME"];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] ?? "").length)));
  const fmt = (row: string[]) =>
    row
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  io.out.write(`${[fmt(header), ...table.map(fmt)].join("\n")}\n`);
  return 0;
}
