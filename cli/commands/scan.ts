import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import jmespath from "jmespath";
import { kmsKeyArnProblem } from "../../contract/run-request.ts";
import { type BucketFilter, bucketsToScan, type ScannedBucket, scanBucket } from "../../steps/aws/bucket-scan.ts";
import { bucketCompliance, type ConfigView, readConfigCompliance } from "../../steps/aws/config-compliance.ts";
import type { CountProgress } from "../../steps/aws/inventory-counts.ts";
import { ReaderImpactCache } from "../../steps/aws/reader-impact.ts";
import { storageMetrics } from "../../steps/aws/storage-metrics.ts";
import { formatDuration } from "../../steps/domain/estimate.ts";
import { formatBytes, formatCount, formatUsd } from "../../steps/domain/format.ts";
import type { ScanCountEngineChoice } from "../../steps/domain/inventory-counts.ts";
import type { VersioningStatus } from "../../steps/domain/preflight-facts.ts";
import {
  estimateForEmptyBucket,
  estimateFromCounts,
  estimateFromStorageMetrics,
  type ScanEstimate,
} from "../../steps/domain/scan-estimate.ts";
import { createAwsClients, createCloudWatchClient, createConfigServiceClient } from "../../steps/runtime/clients.ts";
import { type AwsOptions, clientSettingsFor, stateMachineArn } from "../aws.ts";
import { deploymentConfig } from "../deployment.ts";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { type OutputChoice, printResult } from "../output.ts";

export interface ScanOptions extends AwsOptions {
  kmsKey: string;
  filter: BucketFilter;
  output: OutputChoice;
  /** `--output csv`: one RFC 4180 row per bucket (the query, if any, picks the buckets). Default false. */
  csv?: boolean;
  /** How to count each bucket's latest inventory delivery. Default "auto". */
  engine?: ScanCountEngineChoice;
  /** HeadObject calls a bucket may take to tell SSE-KMS objects' keys (0: none). Default DEFAULT_KEY_CHECKS. */
  keyChecks?: number;
}

/** `--key-checks`' default: a thousand HeadObject calls, a few seconds and under a tenth of a cent a bucket. */
export const DEFAULT_KEY_CHECKS = 1000;

/** One bucket as scan prints it: what bucket-scan read, the estimate of a run, and AWS Config's view. */
export interface ScanRow extends ScannedBucket {
  /** A run's cost and duration; null when no run is needed or nothing tells (`estimateUnknown` says which). */
  estimate: ScanEstimate | null;
  estimateUnknown?: string;
  /**
   * AWS Config's rule S3_DEFAULT_ENCRYPTION_KMS on the bucket (steps/aws/config-compliance.ts); null when the region
   * has no such rule.
   */
  awsConfig: NonNullable<ReturnType<typeof bucketCompliance>> | null;
}

/** Progress lines of a count are written for deliveries at least this large, at most every PROGRESS_EVERY_MS. */
const PROGRESS_MIN_BYTES = 32 * 1024 ** 2;
const PROGRESS_EVERY_MS = 5000;

/**
 * `rekey scan`: every bucket of the account and region (or those the filter names) judged against the target key,
 * by read-only calls: default encryption, versioning, Object Lock, replication, an inventory configuration a run can
 * use and its latest delivery's counts, preflight's findings, a verdict (compliant, needs default encryption, needs a
 * run, blocked), the estimated cost and duration of a run, and AWS Config's compliance results beside rekey's.
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
  const progress = progressPrinter(io);
  const scanned: ScannedBucket[] = [];
  const readers = new ReaderImpactCache();
  for (const bucket of buckets) {
    if (bucket === deployment.workBucket) continue;
    scanned.push(
      await scanBucket(clients, bucket, {
        kmsKeyArn: options.kmsKey,
        region: settings.region,
        accountId,
        batchRoleArn: deployment.batchRoleArn,
        athena: deployment.athena,
        countEngine: options.engine ?? "auto",
        keyChecks: options.keyChecks ?? DEFAULT_KEY_CHECKS,
        onProgress: progress,
        readers,
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
  const configClient = await createConfigServiceClient(settings);
  let config: ConfigView;
  try {
    config = await readConfigCompliance(configClient);
  } finally {
    configClient.destroy();
  }
  const rows: ScanRow[] = scanned.map((s) => ({
    ...s,
    ...estimateOf(s),
    awsConfig: bucketCompliance(config, s.bucket) ?? null,
  }));
  if (options.csv === true) {
    io.out.write(scanCsv(selectForCsv(rows, options.output.query)));
    return 0;
  }
  printResult(io, options.output, "Scan", rows, () => scanTable(rows, missing, settings.region, config));
  return 0;
}

/** The run's estimate: from the inventory's counts, else the storage metrics; none when no run is needed. */
function estimateOf(s: ScannedBucket): Pick<ScanRow, "estimate" | "estimateUnknown"> {
  if (s.verdict === "compliant") return { estimate: null, estimateUnknown: "no run needed" };
  const versioning: VersioningStatus =
    s.versioning === "Enabled" || s.versioning === "Suspended" || s.versioning === "Unversioned"
      ? s.versioning
      : // Cannot tell: priced as versioned, which keeps the old versions (the dearer case).
        "Enabled";
  const facts = {
    versioning,
    noncurrentExpirationDays: s.noncurrentExpirationDays,
    inventory: s.inventoryConfiguration !== null,
  };
  if (s.objects === 0) return { estimate: estimateForEmptyBucket() };
  if (s.inventoryCounts) return { estimate: estimateFromCounts(s.inventoryCounts, facts) };
  if (s.objects !== undefined && s.bytes !== undefined && s.storageAsOf !== undefined) {
    return {
      estimate: estimateFromStorageMetrics({ objects: s.objects, bytes: s.bytes, asOf: s.storageAsOf }, facts),
    };
  }
  return {
    estimate: null,
    estimateUnknown: "neither an inventory nor S3's storage metrics tell what the bucket holds",
  };
}

/**
 * A line on stderr while a large delivery is counted (stdout keeps the data): the stream engine's files and rows at
 * most every few seconds, or that Athena is counting.
 */
export function progressPrinter(io: Io): (bucket: string, p: CountProgress) => void {
  let last = 0;
  return (bucket, p) => {
    const now = io.now().getTime();
    if (p.engine === "athena") {
      io.err.write(`rekey scan: ${bucket}: Athena is counting the inventory ${p.delivery}\n`);
      return;
    }
    if (p.dataBytes < PROGRESS_MIN_BYTES) return;
    if (p.filesRead !== 0 && p.filesRead !== p.files && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    io.err.write(
      `rekey scan: ${bucket}: reading the inventory ${p.delivery} (${formatBytes(p.dataBytes)}): ${formatCount(p.filesRead)} of ${formatCount(p.files)} file(s) read, ${formatCount(p.rows)} rows\n`,
    );
  };
}

const dash = "-";

function countCell(r: ScanRow): { notEncrypted: string; nonCompliant: string } {
  if (r.objects === 0) return { notEncrypted: "0", nonCompliant: "0" };
  const c = r.inventoryCounts;
  if (!c || r.nonCompliantObjects === undefined) return { notEncrypted: "unknown", nonCompliant: "unknown" };
  const floor = c.encryption.sseKmsKeyUnknown.objects > 0 ? "≥" : "";
  return {
    notEncrypted: formatCount(c.encryption.notEncrypted.objects),
    nonCompliant: `${floor}${formatCount(r.nonCompliantObjects)} of ${formatCount(c.current.objects)} on ${c.delivery.createdAt.slice(0, 10)}`,
  };
}

const BASIS: Record<ScanEstimate["basis"], string> = {
  inventory: "inventory",
  "storage-metrics": "storage metrics",
  empty: "empty",
};

function estimateCell(r: ScanRow): string {
  if (!r.estimate) return r.estimateUnknown === "no run needed" ? dash : "unknown";
  const e = r.estimate;
  const duration =
    e.durationHighSeconds === 0
      ? "0 min"
      : `${formatDuration(e.durationLowSeconds)}–${formatDuration(e.durationHighSeconds)}`;
  return `${formatUsd(e.oneTimeUsd)}, ${duration} (${BASIS[e.basis]})`;
}

function scanTable(rows: ScanRow[], missing: string[], region: string, config: ConfigView): string {
  const lines: string[] = [];
  const withConfig = config.status !== "no-rule";
  if (!rows.length) lines.push(`No bucket to scan in ${region}.`);
  else {
    const table = rows.map((r) => {
      const counts = countCell(r);
      return [
        r.bucket,
        r.verdict,
        r.defaultEncryption,
        r.versioning,
        r.inventoryConfiguration ?? "none",
        r.objects === undefined
          ? "unknown"
          : `${formatCount(r.objects)}${r.bytes === undefined ? "" : ` (${formatBytes(r.bytes)})`}${r.storageAsOf ? ` on ${r.storageAsOf}` : ""}`,
        counts.notEncrypted,
        counts.nonCompliant,
        estimateCell(r),
        ...(withConfig ? [r.awsConfig?.compliance ?? dash] : []),
        r.why,
      ];
    });
    const header = [
      "BUCKET",
      "VERDICT",
      "DEFAULT ENCRYPTION",
      "VERSIONING",
      "INVENTORY",
      "VERSIONS",
      "NOT ENCRYPTED",
      "NON-COMPLIANT",
      "RUN ESTIMATE",
      ...(withConfig ? ["AWS CONFIG"] : []),
      "WHY",
    ];
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
    lines.push(totalLine(rows));
  }
  if (config.status === "unknown") lines.push(`AWS Config: unknown (${config.reason})`);
  if (config.status === "read") {
    lines.push(
      `AWS Config: ${config.rules.map((r) => r.name).join(", ")} (S3_DEFAULT_ENCRYPTION_KMS): default encryption only, as of each rule's last evaluation`,
    );
  }
  if (missing.length) lines.push(`Not found in ${region}: ${missing.join(", ")}`);
  return `${lines.join("\n")}\n`;
}

/** The estimates summed: cost, and the duration of the runs one after another; how many rest on what. */
function totalLine(rows: ScanRow[]): string {
  const known = rows.flatMap((r) => (r.estimate ? [r.estimate] : []));
  const unknown = rows.filter((r) => r.estimate === null && r.estimateUnknown !== "no run needed").length;
  const sum = (f: (e: ScanEstimate) => number) => known.reduce((n, e) => n + f(e), 0);
  const parts = [
    `${known.filter((e) => e.basis === "inventory").length} from the inventory`,
    `${known.filter((e) => e.basis === "storage-metrics").length} from storage metrics`,
    ...(known.some((e) => e.basis === "empty") ? [`${known.filter((e) => e.basis === "empty").length} empty`] : []),
    ...(unknown ? [`${unknown} unknown`] : []),
  ];
  const high = sum((e) => e.durationHighSeconds);
  const duration = high === 0 ? "0 min" : `${formatDuration(sum((e) => e.durationLowSeconds))}–${formatDuration(high)}`;
  return `Runs estimated: ${formatUsd(sum((e) => e.oneTimeUsd))}, ${duration} one after another (${parts.join(", ")})`;
}

/**
 * With --query, CSV prints the buckets the query selects: it must answer a list of scanned buckets (a filter such as
 * `[?verdict=='needs-run']`), as rows of other shapes have no columns to print.
 */
function selectForCsv(rows: ScanRow[], query: string | undefined): ScanRow[] {
  if (query === undefined) return rows;
  let selected: unknown;
  try {
    selected = jmespath.search(JSON.parse(JSON.stringify(rows)), query);
  } catch (err) {
    throw new UsageError(`--query "${query}" is not a valid JMESPath expression: ${(err as Error).message}`);
  }
  const names = Array.isArray(selected)
    ? selected.map((s) => (typeof s === "object" && s !== null ? (s as { bucket?: unknown }).bucket : undefined))
    : undefined;
  if (!names || names.some((n) => typeof n !== "string")) {
    throw new UsageError(
      `With --output csv, --query must select buckets (a list of them, e.g. "[?verdict=='needs-run']"); "${query}" does not.`,
    );
  }
  return rows.filter((r) => names.includes(r.bucket));
}

/** The CSV columns, one row per bucket. Unknown counts read "unknown"; no AWS Config rule reads "-". */
const CSV_COLUMNS: [string, (r: ScanRow) => string | number | boolean | undefined | null][] = [
  ["bucket", (r) => r.bucket],
  ["verdict", (r) => r.verdict],
  ["why", (r) => r.why],
  ["default_encryption", (r) => r.defaultEncryption],
  ["versioning", (r) => r.versioning],
  ["object_lock", (r) => r.objectLock],
  ["replication", (r) => r.replication],
  ["inventory_configuration", (r) => r.inventoryConfiguration ?? ""],
  ["versions", (r) => r.objects ?? "unknown"],
  ["bytes", (r) => r.bytes ?? "unknown"],
  ["storage_metrics_date", (r) => r.storageAsOf ?? ""],
  ["inventory_date", (r) => r.inventoryCounts?.delivery.createdAt ?? ""],
  ["current_objects", (r) => (r.objects === 0 ? 0 : (r.inventoryCounts?.current.objects ?? "unknown"))],
  ["not_encrypted", (r) => r.unencryptedObjects ?? "unknown"],
  ["sse_s3", (r) => encrypted(r, "sseS3")],
  ["sse_kms_without_bucket_key", (r) => encrypted(r, "sseKmsWithoutBucketKey")],
  ["sse_kms_other_key", (r) => encrypted(r, "sseKmsOtherKey")],
  ["sse_kms_key_unknown", (r) => encrypted(r, "sseKmsKeyUnknown")],
  ["other_encryption", (r) => encrypted(r, "other")],
  ["compliant", (r) => encrypted(r, "compliant")],
  ["non_compliant", (r) => r.nonCompliantObjects ?? "unknown"],
  [
    "non_compliant_is_at_least",
    (r) => (r.inventoryCounts ? r.inventoryCounts.encryption.sseKmsKeyUnknown.objects > 0 : ""),
  ],
  ["estimate_basis", (r) => r.estimate?.basis ?? (r.estimateUnknown === "no run needed" ? dash : "unknown")],
  ["estimate_usd", (r) => r.estimate?.oneTimeUsd.toFixed(2) ?? ""],
  ["estimate_hours_low", (r) => (r.estimate ? (r.estimate.durationLowSeconds / 3600).toFixed(2) : "")],
  ["estimate_hours_high", (r) => (r.estimate ? (r.estimate.durationHighSeconds / 3600).toFixed(2) : "")],
  ["aws_config", (r) => r.awsConfig?.compliance ?? dash],
  ["blockers", (r) => r.blockers.map((b) => b.code).join(" ")],
  ["warnings", (r) => r.warnings.map((w) => w.code).join(" ")],
];

function encrypted(r: ScanRow, category: keyof NonNullable<ScanRow["inventoryCounts"]>["encryption"]): number | string {
  if (r.objects === 0) return 0;
  return r.inventoryCounts?.encryption[category].objects ?? "unknown";
}

/** RFC 4180 (https://www.rfc-editor.org/rfc/rfc4180): CRLF line ends, a field quoted when it holds `,`, `"` or a line end. */
function csvField(value: string | number | boolean | undefined | null): string {
  const text = value === undefined || value === null ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function scanCsv(rows: readonly ScanRow[]): string {
  const lines = [
    CSV_COLUMNS.map(([name]) => csvField(name)).join(","),
    ...rows.map((r) => CSV_COLUMNS.map(([, value]) => csvField(value(r))).join(",")),
  ];
  return `${lines.join("\r\n")}\r\n`;
}
