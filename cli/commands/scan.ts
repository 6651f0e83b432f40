import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { kmsKeyArnProblem } from "../../contract/run-request.ts";
import { type BucketFilter, bucketsToScan, type ScannedBucket, scanBucket } from "../../steps/aws/bucket-scan.ts";
import { storageMetrics } from "../../steps/aws/storage-metrics.ts";
import { formatBytes, formatCount } from "../../steps/domain/format.ts";
import { createAwsClients, createCloudWatchClient } from "../../steps/runtime/clients.ts";
import { type AwsOptions, clientSettingsFor, stateMachineArn } from "../aws.ts";
import { deploymentConfig } from "../deployment.ts";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";

export interface ScanOptions extends AwsOptions {
  kmsKey: string;
  filter: BucketFilter;
  output: OutputChoice;
}

/**
 * `rekey scan`: every bucket of the account and region (or those the filter names) judged against the target key,
 * by read-only calls: default encryption, versioning, Object Lock, replication, an inventory configuration a run can
 * use, preflight's findings, and a verdict (compliant, needs default encryption, needs a run, blocked).
 */
export async function scanCommand(options: ScanOptions, io: Io): Promise<number> {
  const keyProblem = kmsKeyArnProblem(options.kmsKey);
  if (keyProblem) throw new UsageError(`--kms-key: ${keyProblem}`);
  const settings = await clientSettingsFor(options, io);
  const clients = createAwsClients(settings);
  const machine = await stateMachineArn(clients, options, io);
  const deployment = await deploymentConfig(clients, settings, machine);
  const { Account: accountId = "" } = await clients.sts.send(new GetCallerIdentityCommand({}));
  const buckets = await bucketsToScan(clients, settings.region, options.filter);
  const missing = (options.filter.names ?? []).filter((n) => !buckets.includes(n));
  const scanned: ScannedBucket[] = [];
  for (const bucket of buckets) {
    if (bucket === deployment.workBucket) continue;
    scanned.push(
      await scanBucket(clients, bucket, {
        kmsKeyArn: options.kmsKey,
        region: settings.region,
        accountId,
        batchRoleArn: deployment.batchRoleArn,
        athenaDeployed: deployment.athena !== undefined,
      }),
    );
  }
  // How much each non-empty bucket holds: S3's daily storage metrics, which never change a verdict (they lag a day).
  const cloudwatch = await createCloudWatchClient(settings);
  try {
    const metrics = await storageMetrics(
      cloudwatch,
      scanned.filter((s) => s.objects !== 0).map((s) => s.bucket),
      io.now(),
    );
    for (const s of scanned) {
      const m = metrics.get(s.bucket);
      if (s.objects === 0 || !m) continue;
      Object.assign(s, { objects: m.objects, bytes: m.bytes, storageAsOf: m.asOf });
    }
  } finally {
    cloudwatch.destroy();
  }
  printResult(io, options.output, "Scan", scanned, () => scanTable(scanned, missing, settings.region));
  return 0;
}

function scanTable(rows: ScannedBucket[], missing: string[], region: string): string {
  const lines: string[] = [];
  if (!rows.length) lines.push(`No bucket to scan in ${region}.`);
  else {
    const table = rows.map((r) => [
      r.bucket,
      r.verdict,
      r.defaultEncryption,
      r.versioning,
      r.inventoryConfiguration ?? "none",
      r.objects === undefined
        ? "unknown"
        : `${formatCount(r.objects)}${r.bytes === undefined ? "" : ` (${formatBytes(r.bytes)})`}${r.storageAsOf ? ` on ${r.storageAsOf}` : ""}`,
      r.why,
    ]);
    const header = ["BUCKET", "VERDICT", "DEFAULT ENCRYPTION", "VERSIONING", "INVENTORY", "VERSIONS", "WHY"];
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] ?? "").length)));
    const fmt = (row: string[]) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd();
    lines.push(fmt(header), ...table.map(fmt));
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.verdict, (counts.get(r.verdict) ?? 0) + 1);
    lines.push("", `${rows.length} bucket(s): ${[...counts].map(([v, n]) => `${n} ${v}`).join(", ")}`);
  }
  if (missing.length) lines.push(`Not found in ${region}: ${missing.join(", ")}`);
  return `${lines.join("\n")}\n`;
}
