import type { ManifestField, ManifestTask } from "./model.ts";

/** A manifest problem that fails the job during Preparing (no task runs, so no report). */
export class ManifestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ManifestError";
  }
}

const MAX_KEY_FIELD = 1024;

/** RFC-4180 CSV: quoted fields may hold commas, `""` and line breaks; CRLF or LF row ends; blank lines skipped. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const endRow = () => {
    row.push(field);
    if (!(row.length === 1 && row[0] === "")) rows.push(row);
    row = [];
    field = "";
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n") endRow();
    else if (c === "\r" && text[i + 1] === "\n") {
      endRow();
      i++;
    } else field += c;
    i++;
  }
  if (quoted) throw new ManifestError("InvalidManifestContent", "The manifest ends inside a quoted field.");
  if (field !== "" || row.length > 0) endRow();
  return rows;
}

/**
 * Manifest keys are URL-encoded. Decoded as form data (`+` is a space), which also decodes a fully
 * percent-encoded key correctly (sandbox/ASSUMPTIONS.md).
 */
export function decodeManifestKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    throw new ManifestError("InvalidManifestContent", `The manifest key "${raw}" is not valid URL encoding.`);
  }
}

/** Reads an `S3BatchOperations_CSV_20180820` manifest with the job's Spec.Fields (no header row). */
export function parseCsvManifest(text: string, fields: readonly ManifestField[]): ManifestTask[] {
  const bucketAt = fields.indexOf("Bucket");
  const keyAt = fields.indexOf("Key");
  const versionAt = fields.indexOf("VersionId");
  const tasks = parseCsv(text).map((cells, i) => taskFromRow(cells, i + 1, bucketAt, keyAt, versionAt));
  checkVersionIdsConsistent(tasks);
  return tasks;
}

function taskFromRow(cells: string[], line: number, bucketAt: number, keyAt: number, versionAt: number): ManifestTask {
  const bucket = cells[bucketAt];
  const rawKey = cells[keyAt];
  if (bucket === undefined || bucket === "" || rawKey === undefined || rawKey === "") {
    throw new ManifestError("InvalidManifestContent", `Manifest row ${line} has no bucket or key.`);
  }
  if (rawKey.length > MAX_KEY_FIELD) {
    throw new ManifestError(
      "InvalidManifestContent",
      `Manifest row ${line} has a key longer than ${MAX_KEY_FIELD} characters.`,
    );
  }
  const task: ManifestTask = { bucket, rawKey, key: decodeManifestKey(rawKey) };
  if (versionAt >= 0 && cells[versionAt] !== undefined) task.versionId = cells[versionAt];
  return task;
}

/** "The manifest must either include version IDs for all objects or omit version IDs for all objects." */
function checkVersionIdsConsistent(tasks: ManifestTask[]): void {
  const withVersion = tasks.filter((t) => t.versionId !== undefined).length;
  if (withVersion > 0 && withVersion < tasks.length) {
    throw new ManifestError(
      "InvalidManifestContent",
      "The manifest must either include version IDs for all objects or omit version IDs for all objects.",
    );
  }
}

/** The parts of an inventory `manifest.json` a Batch job reads. */
export interface InventoryManifest {
  bucket: string;
  files: string[];
  columns: string[];
}

export function parseInventoryManifest(text: string): InventoryManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ManifestError("InvalidManifestContent", "The inventory manifest.json is not valid JSON.");
  }
  const d = typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>) : {};
  if (d.fileFormat !== "CSV") {
    throw new ManifestError("InvalidManifestContent", "Batch Operations reads only CSV-formatted inventory reports.");
  }
  const bucket = typeof d.destinationBucket === "string" ? d.destinationBucket.replace(/^arn:[^:]+:s3:::/, "") : "";
  const columns = typeof d.fileSchema === "string" ? d.fileSchema.split(",").map((c) => c.trim()) : [];
  const files = Array.isArray(d.files)
    ? d.files.flatMap((f: unknown) =>
        typeof f === "object" && f !== null && typeof (f as { key?: unknown }).key === "string"
          ? [(f as { key: string }).key]
          : [],
      )
    : [];
  if (!bucket || !columns.includes("Bucket") || !columns.includes("Key")) {
    throw new ManifestError(
      "InvalidManifestContent",
      "The inventory manifest.json lacks destinationBucket or fileSchema.",
    );
  }
  return { bucket, files, columns };
}

/** Rows of one inventory CSV data file (all fields quoted, keys URL-encoded). */
export function parseInventoryCsv(text: string, columns: readonly string[]): ManifestTask[] {
  const fields = columns.map((c): ManifestField => (c === "Bucket" || c === "Key" || c === "VersionId" ? c : "Ignore"));
  return parseCsvManifest(text, fields);
}
