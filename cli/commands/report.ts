import { getStream, getTextIfExists } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { type AwsOptions, clientsFor, executionArnFor } from "../aws.ts";
import { CommandFailedError, UsageError } from "../errors.ts";
import { evidenceOf } from "../evidence.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";
import { readRun } from "../runs.ts";
import { latestRunFor } from "./status.ts";

export interface ReportOptions extends AwsOptions {
  bucket?: string | undefined;
  execution?: string | undefined;
  /** Print that list (CSV) instead of the report. */
  list: "skipped" | "failed" | "both" | undefined;
  output: OutputChoice;
}

function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m?.[1] || !m[2])
    throw new CommandFailedError(`The run recorded an evidence location that is not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}

/**
 * `rekey report`: a run's final report and where its evidence is; --skipped and --failed stream those CSV lists from
 * the work bucket, so the operator sees which objects, not only how many.
 */
export async function reportCommand(options: ReportOptions, io: Io): Promise<number> {
  if (!options.bucket === !options.execution) throw new UsageError("Pass exactly one of --bucket or --execution.");
  if (options.list && (options.output.format !== undefined || options.output.query !== undefined)) {
    throw new UsageError("--skipped and --failed print CSV lists as they are stored; drop --output and --query.");
  }
  const clients = await clientsFor(options, io);
  const executionArn = options.execution
    ? await executionArnFor(clients, { ...options, execution: options.execution }, io)
    : await latestRunFor(clients, options, io);
  const run = await readRun(clients, executionArn);
  const evidence = evidenceOf(run);
  if (options.list) {
    const lists = options.list === "both" ? (["skipped", "failed"] as const) : ([options.list] as const);
    for (const list of lists) {
      const uri = list === "skipped" ? evidence?.skippedList : evidence?.failedList;
      if (!uri) {
        throw new CommandFailedError(
          `${run.name} has no ${list}.csv yet (it is ${run.status}${run.currentState ? `, in "${run.currentState}"` : ""}): ` +
            (list === "skipped" ? "the plan writes it." : "verification writes it, after the copy jobs."),
        );
      }
      await streamTo(clients, uri, io);
    }
    return 0;
  }
  const reportUri = evidence?.report;
  const report = reportUri ? await readJson(clients, reportUri) : undefined;
  const summary = evidence?.summary ? await readText(clients, evidence.summary) : undefined;
  const data = { executionArn, name: run.name, status: run.status, evidence, report };
  printResult(io, options.output, "Report", data, () => {
    const lines = [`${run.name}  ${run.status}`];
    if (summary) lines.push("", summary.trimEnd(), "");
    else
      lines.push(
        `No final report yet: the run is ${run.status}${run.currentState ? `, in "${run.currentState}"` : ""}. rekey status --execution ${executionArn} shows where it is.`,
      );
    if (evidence) {
      lines.push("Evidence:");
      if (evidence.report) lines.push(`  report.json  ${evidence.report}`);
      if (evidence.summary) lines.push(`  summary.txt  ${evidence.summary}`);
      if (evidence.skippedList)
        lines.push(`  skipped.csv  ${evidence.skippedList}   rekey report --execution … --skipped`);
      if (evidence.failedList)
        lines.push(`  failed.csv   ${evidence.failedList}   rekey report --execution … --failed`);
      for (const m of evidence.manifests) lines.push(`  manifest     ${m}`);
      if (evidence.failure) lines.push(`  failure.json ${evidence.failure}`);
    }
    return `${lines.join("\n")}\n`;
  });
  return 0;
}

async function readText(clients: AwsClients, uri: string): Promise<string | undefined> {
  const { bucket, key } = parseS3Uri(uri);
  return getTextIfExists(clients.s3, bucket, key);
}

async function readJson(clients: AwsClients, uri: string): Promise<unknown> {
  const text = await readText(clients, uri);
  return text === undefined ? undefined : JSON.parse(text);
}

async function streamTo(clients: AwsClients, uri: string, io: Io): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  const body = await getStream(clients.s3, bucket, key);
  // Streamed, so that a list of millions of keys never sits in memory; decoded across chunk ends, so that a key's
  // multi-byte character split between two chunks comes out whole.
  const decoder = new TextDecoder();
  for await (const chunk of body) io.out.write(decoder.decode(chunk as Uint8Array, { stream: true }));
  io.out.write(decoder.decode());
}
