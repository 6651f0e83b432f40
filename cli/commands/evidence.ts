import { resolve } from "node:path";
import packageJson from "../../package.json" with { type: "json" };
import { type AwsOptions, clientsFor, executionArnFor } from "../aws.ts";
import { CommandFailedError, UsageError } from "../errors.ts";
import { OUTCOME_WORDS } from "../evidence-page.ts";
import { PAGE_NAME, type WrittenBundle, writeFleetPage, writeRunBundle } from "../evidence-write.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";
import { fleetRuns } from "./fleet.ts";

export interface EvidenceOptions extends AwsOptions {
  /** Runs by name or ARN, once each. */
  executions: string[];
  /** A fleet execution (name or ARN): every run it started joins the executions. */
  fleet?: string | undefined;
  fleetStateMachine?: string | undefined;
  /** The local folder for the bundles (default ./rekey-evidence). */
  out: string;
  output: OutputChoice;
}

export const DEFAULT_EVIDENCE_FOLDER = "rekey-evidence";

/**
 * `rekey evidence`: per run, a bundle for auditors, in the run's folder of the work bucket and locally: the before
 * and after counts by encryption, the checksums of the manifests and reports, the verification, the skipped objects
 * with their reasons, the run's input and approval, and a one-page HTML summary; with several runs, a fleet page
 * (index.html) linking to each. A run that failed or still runs gets its bundle too, saying so.
 */
export async function evidenceCommand(options: EvidenceOptions, io: Io): Promise<number> {
  if (options.executions.length === 0 && options.fleet === undefined) {
    throw new UsageError("Pass --execution NAME or ARN, once per run, or --fleet NAME.");
  }
  const clients = await clientsFor(options, io);
  const executions = [...options.executions];
  if (options.fleet !== undefined)
    executions.push(...(await fleetRuns(clients, { ...options, fleet: options.fleet }, io)));
  if (executions.length === 0) throw new CommandFailedError(`Fleet ${options.fleet} has started no run yet.`);
  const arns: string[] = [];
  for (const execution of executions) {
    const arn = await executionArnFor(clients, { ...options, execution }, io);
    if (!arns.includes(arn)) arns.push(arn);
  }
  const settings = {
    out: resolve(options.out),
    generatedAt: io.now(),
    generator: `rekey ${packageJson.version}`,
  };
  const bundles: WrittenBundle[] = [];
  for (const arn of arns) bundles.push(await writeRunBundle(clients, arn, settings));
  const fleet = bundles.length > 1 ? await writeFleetPage(bundles, settings) : undefined;
  const data = {
    runs: bundles.map((b) => ({
      executionArn: b.evidence.run.executionArn,
      name: b.evidence.run.name,
      bucket: b.evidence.bucket,
      status: b.evidence.run.status,
      outcome: b.evidence.outcome,
      page: `${b.folder}/${PAGE_NAME}`,
      folder: b.folder,
      ...(b.s3Folder ? { s3Folder: b.s3Folder } : {}),
      files: b.files.length,
    })),
    ...(fleet ? { fleetPage: fleet.page } : {}),
  };
  printResult(io, options.output, "Evidence", data, () => {
    const lines: string[] = [];
    for (const b of bundles) {
      lines.push(
        `${b.evidence.run.name}  ${b.evidence.bucket}  ${OUTCOME_WORDS[b.evidence.outcome]}`,
        `  page:     ${b.folder}/${PAGE_NAME}`,
        `  bundle:   ${b.folder}/ (${b.files.length} files, manifest.json, SHA256SUMS)`,
        b.s3Folder ? `  in S3:    ${b.s3Folder}` : "  in S3:    none (the run has no folder in a work bucket)",
      );
      if (b.evidence.outcome !== "succeeded") {
        const missing = b.evidence.absent.map((a) => a.what).join("; ");
        lines.push(
          `  note:     the run is ${b.evidence.run.status}${missing ? `; not in the evidence: ${missing}` : ""}`,
        );
      }
    }
    if (fleet) lines.push(`Fleet page: ${fleet.page}`);
    lines.push("Open a page in a browser; hand the folder (or its S3 copy) to the reviewer.");
    return `${lines.join("\n")}\n`;
  });
  return 0;
}
