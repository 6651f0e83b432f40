import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import type { FinalReportOutput } from "../../contract/final-report.ts";
import { formatCount } from "../../steps/domain/format.ts";
import { type AwsOptions, clientsFor, stateMachineArn } from "../aws.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";
import { formatDuration } from "../progress.ts";
import { listRuns, type RunSummary, readRun } from "../runs.ts";

export interface RunsOptions extends AwsOptions {
  bucket?: string | undefined;
  limit: number;
  output: OutputChoice;
}

/** `rekey runs`: recent runs, newest first, with their outcome. */
export async function runsCommand(options: RunsOptions, io: Io): Promise<number> {
  const clients = await clientsFor(options, io);
  const machine = await stateMachineArn(clients, options, io);
  const runs = await listRuns(clients, machine, { bucket: options.bucket, limit: options.limit });
  const rows: (RunSummary & { totals?: FinalReportOutput["totals"] | undefined; error?: string; cause?: string })[] =
    [];
  for (const r of runs) {
    if (r.status === "SUCCEEDED") {
      const view = await readRun(clients, r.executionArn);
      rows.push({ ...r, totals: (view.output as Partial<FinalReportOutput> | undefined)?.totals });
    } else if (r.status === "RUNNING") rows.push(r);
    else {
      // Failed, stopped or timed out: the execution's own error and cause say why (no history to read).
      const d = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: r.executionArn }));
      rows.push({ ...r, ...(d.error ? { error: d.error } : {}), ...(d.cause ? { cause: d.cause } : {}) });
    }
  }
  printResult(io, options.output, "Runs", rows, () =>
    rows.length === 0 ? `No runs${options.bucket ? ` for ${options.bucket}` : ""}.\n` : runsTable(rows),
  );
  return 0;
}

function runsTable(
  rows: (RunSummary & { totals?: FinalReportOutput["totals"] | undefined; error?: string; cause?: string })[],
): string {
  const table = rows.map((r) => [
    r.bucket ?? "?",
    r.name,
    r.status,
    r.startDate?.toISOString().slice(0, 16).replace("T", " ") ?? "",
    r.startDate ? formatDuration(((r.stopDate ?? new Date()).getTime() - r.startDate.getTime()) / 1000) : "",
    r.totals
      ? `${formatCount(r.totals.reencrypted)} re-encrypted, ${formatCount(r.totals.skipped)} skipped, ${formatCount(r.totals.failed)} failed`
      : r.error !== undefined || r.cause !== undefined
        ? whyEnded(r.status, r.error, r.cause)
        : "",
  ]);
  const header = ["BUCKET", "RUN", "STATUS", "STARTED (UTC)", "TOOK", "OUTCOME"];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] ?? "").length)));
  const fmt = (row: string[]) =>
    row
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[fmt(header), ...table.map(fmt)].join("\n")}\n`;
}

/** Why a run ended other than succeeded, in one short line: the error and the cause's first sentence. */
export function whyEnded(status: string, error: string | undefined, cause: string | undefined): string {
  const first = (cause ?? "").split("\n")[0]?.trim() ?? "";
  const short = first.length > 100 ? `${first.slice(0, 99)}…` : first;
  if (status === "ABORTED") return `stopped${short ? `: ${short}` : ""}`;
  return [error, short].filter((x) => x).join(": ");
}
