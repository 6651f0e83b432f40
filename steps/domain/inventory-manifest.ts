import { z } from "zod";
import { InventoryConfigurationError, InventoryFormatError } from "../../contract/errors.ts";
import type { InventoryFileFormat } from "./engine-choice.ts";
import { type InventoryColumn, KNOWN_INVENTORY_COLUMNS } from "./inventory.ts";
import { athenaColumnName } from "./inventory-queries.ts";

/**
 * An S3 Inventory delivery's `manifest.json`: where its data files are and which columns they have
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html); and the optional fields
 * rekey needs in them.
 */

/** Optional fields rekey cannot route without. */
export const REQUIRED_INVENTORY_FIELDS = ["Size", "StorageClass", "EncryptionStatus"] as const;
/** Optional fields that sharpen the report (Bucket Key state, Intelligent-Tiering archive tiers). */
export const RECOMMENDED_INVENTORY_FIELDS = ["BucketKeyStatus", "IntelligentTieringAccessTier"] as const;

export interface InventoryDataFile {
  /** Key of the `.csv.gz` file in the destination bucket. */
  key: string;
  size: number;
  md5: string;
}

export interface InventoryManifest {
  sourceBucket: string;
  destinationBucketArn: string;
  destinationBucket: string;
  version: string;
  /** Start of the scan the inventory reflects. */
  creationTimestamp: Date;
  /** CSV data files are gzipped text; Parquet and ORC ones are read by the athena engine only. */
  fileFormat: InventoryFileFormat;
  /** In fileSchema order, by their CSV names (Bucket, Key, IsLatest, ...) whatever the format. */
  columns: InventoryColumn[];
  files: InventoryDataFile[];
}

const manifestSchema = z.object({
  sourceBucket: z.string().min(1),
  destinationBucket: z.string().min(1),
  version: z.string().min(1),
  // AWS writes epoch milliseconds as a string ("1514944800000"); a number is accepted as the same value.
  creationTimestamp: z.union([z.string().min(1), z.number()]),
  fileFormat: z.string().min(1),
  fileSchema: z.string().min(1),
  files: z.array(
    z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative(),
      MD5checksum: z.string().min(1),
    }),
  ),
});

const BUCKET_ARN = /^arn:[a-z0-9-]+:s3:::([^/]+)$/;

function manifestProblem(manifestKey: string, problem: string, fix: string, cause?: unknown): InventoryFormatError {
  return new InventoryFormatError(problem, { file: manifestKey, fix, ...(cause === undefined ? {} : { cause }) });
}

/** Reads an S3 Inventory `manifest.json`. `manifestKey` names the file in errors. */
export function parseInventoryManifest(jsonText: string, manifestKey: string): InventoryManifest {
  let json: unknown;
  try {
    json = JSON.parse(jsonText);
  } catch (cause) {
    throw manifestProblem(
      manifestKey,
      "manifest.json is not valid JSON.",
      "Check that the key points at the inventory's manifest.json and that the object is complete; if S3 wrote it incompletely, wait for the next delivery.",
      cause,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw manifestProblem(
      manifestKey,
      `manifest.json does not have the S3 Inventory shape (${issues}).`,
      "Point rekey at the manifest.json of an S3 Inventory delivery (…/<source-bucket>/<config-id>/<YYYY-MM-DDTHH-MMZ>/manifest.json).",
    );
  }
  const m = parsed.data;
  if (m.fileFormat !== "CSV" && m.fileFormat !== "Parquet" && m.fileFormat !== "ORC") {
    throw new InventoryConfigurationError(
      `${manifestKey}: the inventory is delivered as ${m.fileFormat}; S3 Inventory writes CSV, Parquet or ORC.`,
      {
        fix: "Point rekey at an S3 Inventory delivery's manifest.json, or change the configuration's Destination Format to CSV and wait for the next delivery.",
      },
    );
  }
  const fileFormat: InventoryFileFormat = m.fileFormat;
  const arn = BUCKET_ARN.exec(m.destinationBucket);
  const destinationBucket = arn?.[1];
  if (destinationBucket === undefined) {
    throw manifestProblem(
      manifestKey,
      `destinationBucket "${m.destinationBucket}" is not a bucket ARN (arn:aws:s3:::name).`,
      "Check that the file is an S3 Inventory manifest.json; S3 always writes the destination as a bucket ARN.",
    );
  }
  const millis = typeof m.creationTimestamp === "number" ? m.creationTimestamp : Number(m.creationTimestamp);
  const creationTimestamp = new Date(millis);
  if (
    !Number.isSafeInteger(millis) ||
    millis <= 0 ||
    Number.isNaN(creationTimestamp.getTime()) ||
    (typeof m.creationTimestamp === "string" && !/^\d+$/.test(m.creationTimestamp))
  ) {
    throw manifestProblem(
      manifestKey,
      `creationTimestamp "${m.creationTimestamp}" is not epoch milliseconds.`,
      "Check that the file is an S3 Inventory manifest.json; S3 writes creationTimestamp as epoch milliseconds in a string.",
    );
  }
  const columns = fileFormat === "CSV" ? m.fileSchema.split(",").map((c) => c.trim()) : columnarFields(m.fileSchema);
  const seen = new Set<string>();
  for (const column of columns) {
    if (column === "" || seen.has(column)) {
      throw manifestProblem(
        manifestKey,
        `fileSchema "${m.fileSchema}" has an empty or repeated column name.`,
        "Check that the file is an S3 Inventory CSV manifest.json; its fileSchema lists each column once, separated by ', '.",
      );
    }
    seen.add(column);
  }
  for (const needed of ["Bucket", "Key"]) {
    if (!seen.has(needed)) {
      throw manifestProblem(
        manifestKey,
        `fileSchema "${m.fileSchema}" has no ${needed} column.`,
        "Check that the file is an S3 Inventory CSV manifest.json; every inventory has Bucket and Key columns.",
      );
    }
  }
  return {
    sourceBucket: m.sourceBucket,
    destinationBucketArn: m.destinationBucket,
    destinationBucket,
    version: m.version,
    creationTimestamp,
    fileFormat,
    columns,
    files: m.files.map((f) => ({ key: f.key, size: f.size, md5: f.MD5checksum })),
  };
}

/**
 * The fields of a Parquet (`message s3.inventory { required binary bucket (UTF8); optional boolean is_latest; ... }`)
 * or ORC (`struct<bucket:string,key:string,...>`) fileSchema, by their CSV names; a field rekey does not know keeps
 * its own name. https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html
 */
function columnarFields(fileSchema: string): InventoryColumn[] {
  const parquet = /^\s*message\s+[\w.]+\s*\{(.*)\}\s*$/s.exec(fileSchema);
  const orc = /^\s*struct<(.*)>\s*$/s.exec(fileSchema);
  const names = parquet
    ? (parquet[1] ?? "")
        .split(";")
        .map((f) => /^\s*(?:required|optional|repeated)\s+\w+\s+(\w+)/.exec(f)?.[1])
        .filter((n): n is string => n !== undefined)
    : orc
      ? (orc[1] ?? "").split(",").map((f) => f.split(":")[0]?.trim() ?? "")
      : [];
  return names.map((n) => CSV_NAME_OF.get(n) ?? n);
}

const CSV_NAME_OF = new Map<string, InventoryColumn>(KNOWN_INVENTORY_COLUMNS.map((c) => [athenaColumnName(c), c]));

/** The columns of `needed` that the inventory lacks, in `needed` order. */
export function missingColumns(
  columns: readonly InventoryColumn[],
  needed: readonly InventoryColumn[],
): InventoryColumn[] {
  const have = new Set(columns);
  return needed.filter((c) => !have.has(c));
}

/** Throws InventoryConfigurationError when the inventory lacks any of `needed`. */
export function requireColumns(
  columns: readonly InventoryColumn[],
  needed: readonly InventoryColumn[] = REQUIRED_INVENTORY_FIELDS,
): void {
  const missing = missingColumns(columns, needed);
  if (missing.length > 0) {
    throw new InventoryConfigurationError(
      `The inventory lacks the field(s) ${missing.join(", ")}, which rekey needs to decide what each object needs.`,
      {
        fix: `Add ${missing.join(", ")} to the inventory configuration's OptionalFields (rekey also recommends ${RECOMMENDED_INVENTORY_FIELDS.join(", ")}), then wait for a delivery made after the change.`,
      },
    );
  }
}
