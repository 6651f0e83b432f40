import { InventoryFormatError } from "../../contract/errors.ts";
import { NOT_CURRENT_REASONS, type NotCurrentReason, SKIP_REASONS, type SkipReason } from "../../contract/reasons.ts";
import {
  ARCHIVE_STORAGE_CLASSES,
  COPYABLE_STORAGE_CLASSES,
  type CopyStorageClass,
  MAX_COPY_OBJECT_BYTES,
} from "../../contract/storage-classes.ts";
import type { CountAndBytes, TallyState } from "../../contract/tally.ts";
import { decodeManifestKey, MANIFEST_KEY_MAX_CHARS } from "./batch-manifest.ts";
import { type Classification, INTELLIGENT_TIERING_ARCHIVE_TIERS } from "./classify.ts";
import type { InventoryColumn } from "./inventory.ts";
import {
  athenaColumnName,
  athenaFrom,
  athenaSelected,
  athenaText,
  flags,
  type InventoryTable,
  literal,
  type NotCurrentCounts,
  planColumns,
} from "./inventory-queries.ts";
import { RunTally, SAMPLE_LIMIT } from "./tally.ts";

/**
 * The athena engine's routes, decided in SQL (contract/engines.ts): the same decisions as classifyInventoryRow
 * (steps/domain/classify.ts), made by Athena over the whole delivery, so that the rows of the Batch manifests and of
 * skipped.csv never pass through Lambda one by one. Athena writes them (UNLOAD, gzip text, one folder a manifest) and
 * counts them (one GROUP BY); "Plan each slice" only gunzips those files into the manifests' parts. What SQL cannot
 * decide goes to the route `step`, and those rows are classified by the step as every engine's rows were:
 * SSE-KMS objects whose key needs a HeadObject, objects over 5 GiB and keys too long for a manifest (the multipart
 * copy's list holds JSON), and values the stream parser would refuse (it then names the problem).
 */

/** A route as the SQL writes it: `copy.<class>`, `update-encryption`, `skipped.<reason>`, `not-current.<reason>`. */
export type SqlRoute =
  | { kind: "copy"; storageClass: CopyStorageClass }
  | { kind: "update-encryption" }
  | { kind: "skipped"; reason: SkipReason }
  | { kind: "not-current"; reason: NotCurrentReason }
  | { kind: "step" }
  | { kind: "bad-flags" }
  | { kind: "other-bucket" };

/** The parts of the plan Athena writes: a copy manifest per class, the update manifest, skipped.csv. */
export type RoutedPart = `copy.${CopyStorageClass}` | "update-encryption" | "skipped";

export interface RouteSqlOptions {
  /** The bucket being planned: a row of another is refused, as the stream engine refuses it. */
  bucket: string;
  /** The inventory's date: a retention that ended by then protects nothing (classify.ts activeRetention). */
  now: Date;
  /** run.options.sseKmsWithBucketKey is "check-key": SSE-KMS rows with a Bucket Key go to the step's HeadObject. */
  checkKeys: boolean;
}

const ROUTE = "rekey_route";
const MANIFEST_KEY = "rekey_manifest_key";

const inList = (values: Iterable<string>) => [...values].map(literal).join(", ");

/**
 * The manifest key encodeManifestKey (steps/domain/batch-manifest.ts) writes, from Trino's url_encode (Java's form
 * encoding: `.-*_` and alphanumerics kept, space as `+`, https://trino.io/docs/current/functions/url.html): a space as
 * `%20`, `*` as `%2A`, and `~` and `/` kept. Both encode UTF-8 bytes with upper-case hex.
 */
function manifestKeySql(rawKey: string): string {
  return `replace(replace(replace(replace(url_encode(${rawKey}), '+', '%20'), '*', '%2A'), '%7E', '~'), '%2F', '/')`;
}

/** The table's columns as the classification reads them (NULL when the inventory has no such column). */
function columnsOf(table: InventoryTable, options: RouteSqlOptions) {
  const has = (c: InventoryColumn) => table.columns.includes(c);
  const text = (c: InventoryColumn) => (has(c) ? `NULLIF(${athenaText(c)}, '')` : "CAST(NULL AS varchar)");
  const upper = (c: InventoryColumn) => `upper(${text(c)})`;
  const csv = table.format === "CSV";
  const sizeText = text("Size");
  const size = csv ? `try_cast(${sizeText} AS bigint)` : `CAST(${sizeText} AS bigint)`;
  const until = text("ObjectLockRetainUntilDate");
  // A date that does not parse leaves the retention running, as Date.parse's NaN does in classify.ts.
  const expired = csv
    ? `try(from_iso8601_timestamp(${until})) <= from_iso8601_timestamp(${literal(options.now.toISOString())})`
    : `try_cast(${until} AS bigint) <= ${options.now.getTime()}`;
  const mode = `(CASE WHEN ${expired} THEN NULL ELSE ${upper("ObjectLockMode")} END)`;
  // A CSV key that does not decode is NULL here and left to the step, whose reader names it.
  const rawKey = csv ? `try(url_decode("key"))` : `"key"`;
  return {
    size,
    sizeText,
    rawKey,
    enc: upper("EncryptionStatus"),
    storageClass: upper("StorageClass"),
    tier: upper("IntelligentTieringAccessTier"),
    bucketKey: upper("BucketKeyStatus"),
    compliance: `${mode} = 'COMPLIANCE'`,
    governance: `(${mode} = 'GOVERNANCE' OR ${upper("ObjectLockLegalHoldStatus")} = 'ON')`,
    // Values the stream parser refuses with a message naming them: the step reads them and says so.
    unsure: [
      `(${rawKey} IS NULL)`,
      ...(has("Size") ? [`(${sizeText} IS NOT NULL AND (${size} IS NULL OR ${size} < 0))`] : []),
      `(${upper("BucketKeyStatus")} NOT IN ('ENABLED', 'DISABLED'))`,
    ].join(" OR "),
    bucket: text("Bucket"),
  };
}

/** The CASE that routes one row, in classifyInventoryRow's order of checks. */
function routeSql(table: InventoryTable, options: RouteSqlOptions): string {
  const c = columnsOf(table, options);
  const { deleteMarker, latest } = flags(table.columns, athenaText);
  // NULL too: a Parquet or ORC flag may be missing, which the step's reader refuses as a CSV one's empty field.
  const badFlags = [deleteMarker, latest]
    .filter((f) => f !== undefined)
    .map((f) => `(${f} IS NULL OR ${f} NOT IN ('true', 'false'))`);
  const tooLong = `length(${manifestKeySql(c.rawKey)}) > ${MANIFEST_KEY_MAX_CHARS}`;
  const locked = [
    `WHEN ${c.compliance} THEN 'skipped.object-lock-compliance'`,
    `WHEN ${c.governance} THEN 'skipped.object-lock-governance'`,
  ];
  const copy = [
    `WHEN ${c.storageClass} IS NULL THEN 'skipped.missing-columns'`,
    `WHEN ${c.storageClass} IN (${inList(ARCHIVE_STORAGE_CLASSES)}) THEN 'skipped.archived'`,
    `WHEN ${c.storageClass} = 'INTELLIGENT_TIERING' AND ${c.tier} IN (${inList(INTELLIGENT_TIERING_ARCHIVE_TIERS)}) THEN 'skipped.archived'`,
    `WHEN ${c.storageClass} NOT IN (${inList(COPYABLE_STORAGE_CLASSES)}) THEN 'skipped.storage-class-not-copyable'`,
    `WHEN ${c.size} IS NULL THEN 'skipped.missing-columns'`,
    ...locked,
    `WHEN ${c.size} > ${MAX_COPY_OBJECT_BYTES} OR ${tooLong} THEN 'step'`,
    `ELSE 'copy.' || ${c.storageClass}`,
  ];
  const update = [...locked, `WHEN ${tooLong} THEN 'step'`, "ELSE 'update-encryption'"];
  // Without key checks an SSE-KMS row with a Bucket Key is updated like any other (classify.ts classifySseKms).
  const updated = options.checkKeys
    ? `${c.enc} = 'SSE-S3' OR (${c.enc} = 'SSE-KMS' AND ${c.bucketKey} = 'DISABLED')`
    : `${c.enc} IN ('SSE-S3', 'SSE-KMS')`;
  return [
    "CASE",
    ...(badFlags.length > 0 ? [`WHEN ${badFlags.join(" OR ")} THEN 'bad-flags'`] : []),
    ...(deleteMarker ? [`WHEN ${deleteMarker} = 'true' THEN 'not-current.delete-marker'`] : []),
    ...(latest ? [`WHEN ${latest} = 'false' THEN 'not-current.noncurrent-version'`] : []),
    `WHEN ${c.bucket} IS NULL OR ${c.bucket} <> ${literal(options.bucket)} THEN 'other-bucket'`,
    `WHEN ${c.unsure} THEN 'step'`,
    `WHEN ${c.enc} IS NULL THEN 'skipped.missing-columns'`,
    `WHEN ${c.enc} = 'NOT-SSE' THEN CASE ${copy.join(" ")} END`,
    `WHEN ${updated} THEN CASE ${update.join(" ")} END`,
    `WHEN ${c.enc} = 'SSE-KMS' THEN 'step'`,
    `WHEN ${c.enc} = 'SSE-C' THEN 'skipped.sse-c'`,
    `WHEN ${c.enc} = 'DSSE-KMS' THEN 'skipped.dsse-kms'`,
    "ELSE 'skipped.unknown-encryption-status'",
    "END",
  ].join("\n  ");
}

/** The delivery's rows with their route and manifest key, as a subquery every statement below reads. */
function routed(table: InventoryTable, options: RouteSqlOptions): string {
  const c = columnsOf(table, options);
  return `(SELECT *, ${routeSql(table, options)} AS ${ROUTE}, ${manifestKeySql(c.rawKey)} AS ${MANIFEST_KEY} FROM ${athenaFrom(table)} WHERE dt = ${literal(table.dt)}) routed`;
}

const TEXT_UNLOAD = "format = 'TEXTFILE', field_delimiter = ',', compression = 'gzip'";

/** Up to this many skipped keys a reason keeps as samples: RunTally's. */
export const ROUTE_SAMPLES = SAMPLE_LIMIT;

/**
 * The statements of a plan made by routes: `tally` counts every route (GROUP BY: route, encryption, whether a key
 * check was skipped; count, bytes, the first keys in manifest-key order); `manifests` writes the copy and update
 * manifests' lines (`bucket,key`) partitioned by route (`rekey_route=<route>/`, steps/aws/inventory-athena.ts reads
 * the folder); `skipped` writes skipped.csv's lines; `step` writes the rows left to the step, as athenaUnloadSql
 * writes every row.
 */
export function athenaRouteStatements(table: InventoryTable, options: RouteSqlOptions) {
  const from = routed(table, options);
  const c = columnsOf(table, options);
  const keyCheck = `(${c.enc} = 'SSE-KMS' AND (${c.bucketKey} IS NULL OR ${c.bucketKey} <> 'DISABLED'))`;
  const text = (sql: string) => `COALESCE(CAST(${sql} AS varchar), '')`;
  const bucket = literal(options.bucket);
  const selected = athenaSelected(table.format);
  const stepColumns = planColumns(table.columns)
    .map((col) => `COALESCE(CAST(${selected(col)} AS varchar), '') AS "${athenaColumnName(col)}"`)
    .join(", ");
  return {
    tally: [
      `SELECT ${ROUTE}, COALESCE(${c.enc}, ''), CASE WHEN ${keyCheck} THEN 'true' ELSE 'false' END,`,
      `count(*), COALESCE(sum(${c.size}), 0), array_join(min(${MANIFEST_KEY}, ${ROUTE_SAMPLES}), ' ')`,
      `FROM ${from} GROUP BY 1, 2, 3`,
    ].join(" "),
    manifests: (location: string) =>
      `UNLOAD (SELECT ${bucket} AS rekey_bucket, ${MANIFEST_KEY}, ${ROUTE} FROM ${from} WHERE ${ROUTE} LIKE 'copy.%' OR ${ROUTE} = 'update-encryption') TO ${literal(location)} WITH (${TEXT_UNLOAD}, partitioned_by = ARRAY['${ROUTE}'])`,
    skipped: (location: string) =>
      `UNLOAD (SELECT ${bucket} AS rekey_bucket, ${MANIFEST_KEY}, substr(${ROUTE}, 9) AS rekey_reason, ${text(`"${athenaColumnName("StorageClass")}"`)} AS rekey_storage_class, ${text(`"${athenaColumnName("EncryptionStatus")}"`)} AS rekey_encryption, ${text(c.size)} AS rekey_size FROM ${from} WHERE ${ROUTE} LIKE 'skipped.%') TO ${literal(location)} WITH (${TEXT_UNLOAD})`,
    step: (location: string) =>
      `UNLOAD (SELECT ${stepColumns} FROM ${from} WHERE ${ROUTE} = 'step') TO ${literal(location)} WITH (${TEXT_UNLOAD})`,
  };
}

/** A route the SQL wrote, read back; undefined for a value it cannot write (a bug between the two). */
export function parseSqlRoute(route: string): SqlRoute | undefined {
  if (route === "step" || route === "bad-flags" || route === "other-bucket" || route === "update-encryption") {
    return { kind: route };
  }
  const [kind, detail = ""] = [route.slice(0, route.indexOf(".")), route.slice(route.indexOf(".") + 1)];
  if (kind === "copy" && (COPYABLE_STORAGE_CLASSES as readonly string[]).includes(detail)) {
    return { kind, storageClass: detail as CopyStorageClass };
  }
  if (kind === "skipped" && detail in SKIP_REASONS) return { kind, reason: detail as SkipReason };
  if (kind === "not-current" && detail in NOT_CURRENT_REASONS) return { kind, reason: detail as NotCurrentReason };
  return undefined;
}

/** The part a routed manifest file belongs to, from its folder (`rekey_route=<route>/`). */
export function partOfUnloadedFile(key: string): RoutedPart | undefined {
  const m = new RegExp(`(?:^|/)${ROUTE}=([^/]+)/[^/]*$`).exec(key);
  const route = m?.[1] ? parseSqlRoute(decodeURIComponent(m[1])) : undefined;
  if (route?.kind === "copy") return `copy.${route.storageClass}`;
  if (route?.kind === "update-encryption") return "update-encryption";
  return undefined;
}

/** The lines Athena writes for each part of the plan, from its count: what the UNLOADs hold and the slices append. */
export function routedLines(tally: TallyState): Map<RoutedPart, number> {
  const lines = new Map<RoutedPart, number>();
  for (const [storageClass, counted] of Object.entries(tally.copyPlanned)) {
    if (counted?.count) lines.set(`copy.${storageClass as CopyStorageClass}`, counted.count);
  }
  if (tally.updatePlanned.count > 0) lines.set("update-encryption", tally.updatePlanned.count);
  const skipped = Object.values(tally.skipped).reduce((n, c) => n + (c?.count ?? 0), 0);
  if (skipped > 0) lines.set("skipped", skipped);
  return lines;
}

/** One group of the tally query, read. */
export interface RouteCount {
  route: SqlRoute;
  /** The EncryptionStatus, upper case ("" when absent). */
  encryption: string;
  /** SSE-KMS with a Bucket Key (or none listed): a row whose key only a HeadObject tells. */
  keyCheck: boolean;
  counted: CountAndBytes;
  /** Up to ROUTE_SAMPLES keys, decoded, in manifest-key order. */
  samples: string[];
}

/** Reads the tally query's rows (header first, as GetQueryResults returns them). `source` names the query. */
export function routeCounts(rows: readonly (readonly (string | undefined)[])[], source: string): RouteCount[] {
  return rows.slice(1).map((fields) => {
    const [route = "", encryption = "", keyCheck = "", count = "", bytes = "", samples = ""] = fields;
    const parsed = parseSqlRoute(route);
    const counted = { count: Number(count), bytes: Number(bytes) };
    if (!parsed || fields.length !== 6 || !isCount(counted.count) || !isCount(counted.bytes)) {
      throw new InventoryFormatError(`the count of routes reads "${fields.join(",")}".`, {
        file: source,
        fix: "This is a bug in how rekey reads the engine's answer; run with engine stream and report it.",
      });
    }
    if (parsed.kind === "bad-flags") {
      throw new InventoryFormatError(
        `${counted.count} row(s) have an IsLatest or IsDeleteMarker that is neither true nor false.`,
        {
          file: source,
          fix: "The data files do not match their manifest.json or are corrupt; wait for the next inventory delivery.",
        },
      );
    }
    if (parsed.kind === "other-bucket") {
      throw new InventoryFormatError(`${counted.count} row(s) name another bucket than the one being planned.`, {
        file: source,
        fix: "The inventory does not belong to this bucket; check the inventory configuration.",
      });
    }
    return {
      route: parsed,
      encryption,
      keyCheck: keyCheck === "true",
      counted,
      samples: samples === "" ? [] : samples.split(" ").map(decodeManifestKey),
    };
  });
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** The classification a counted route stands for, for RunTally; undefined for the step's rows and other versions. */
export function classificationOf(route: SqlRoute): Classification | undefined {
  switch (route.kind) {
    case "copy":
      return { kind: "copy", storageClass: route.storageClass };
    case "update-encryption":
      return { kind: "update-encryption" };
    case "skipped":
      return { kind: "skipped", reason: route.reason, detail: "" };
    default:
      return undefined;
  }
}

/** What the tally query counted, as planning records it. */
export interface RoutedTally {
  /** The routed objects (copies, updates, skips), as RunTally counts them. */
  tally: TallyState;
  notCurrent: NotCurrentCounts;
  /** Updates by the encryption they change from (the estimate prices them alike, and reports them apart). */
  updatesFrom: { sseS3: { objects: number; bytes: number }; sseKms: { objects: number; bytes: number } };
  /** SSE-KMS objects with a Bucket Key routed without a key check (options.sseKmsWithBucketKey "update"). */
  keyChecksSkipped: number;
  /** Current versions left to the step. */
  stepRows: number;
}

export function routedTally(counts: readonly RouteCount[]): RoutedTally {
  const tally = new RunTally();
  const notCurrent: NotCurrentCounts = { byReason: {} };
  const updatesFrom = { sseS3: { objects: 0, bytes: 0 }, sseKms: { objects: 0, bytes: 0 } };
  let keyChecksSkipped = 0;
  let stepRows = 0;
  for (const { route, encryption, keyCheck, counted, samples } of counts) {
    if (route.kind === "not-current") {
      const slot = notCurrent.byReason[route.reason] ?? { count: 0, bytes: 0 };
      notCurrent.byReason[route.reason] = { count: slot.count + counted.count, bytes: slot.bytes + counted.bytes };
      continue;
    }
    if (route.kind === "step") {
      stepRows += counted.count;
      continue;
    }
    const result = classificationOf(route);
    if (!result) continue;
    tally.recordClassified(result, counted, result.kind === "skipped" ? samples : []);
    if (keyCheck) keyChecksSkipped += counted.count;
    if (result.kind === "update-encryption") {
      const from = encryption === "SSE-S3" ? updatesFrom.sseS3 : updatesFrom.sseKms;
      from.objects += counted.count;
      from.bytes += counted.bytes;
    }
  }
  return { tally: tally.toJSON(), notCurrent, updatesFrom, keyChecksSkipped, stepRows };
}
