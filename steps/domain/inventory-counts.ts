import type { CopyStorageClass } from "../../contract/storage-classes.ts";
import type { Classification } from "./classify.ts";
import type { EngineFacts } from "./engine-choice.ts";
import { formatBytes, formatCount } from "./format.ts";
import type { InventoryRow } from "./inventory.ts";
import { athenaFrom, athenaText, flags, type InventoryTable, literal } from "./inventory-queries.ts";
import type { RouteCount as SqlRouteCount } from "./inventory-routes.ts";

/**
 * What `rekey scan` counts in a bucket's latest inventory delivery: its current objects by encryption against the
 * target key, and what a run would do with them (the same classification as planning: steps/domain/classify.ts, or
 * its SQL form, steps/domain/inventory-routes.ts). S3 Inventory lists no KMS key
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html): an SSE-KMS object with a Bucket Key
 * is under the target key or not as only a HeadObject tells; until one does it counts as `sseKmsKeyUnknown`.
 */

export interface ObjectsAndBytes {
  objects: number;
  bytes: number;
}

/** Current objects by encryption. Only `compliant` is SSE-KMS under the target key with a Bucket Key. */
export interface EncryptionCounts {
  notEncrypted: ObjectsAndBytes;
  sseS3: ObjectsAndBytes;
  /** SSE-KMS without a Bucket Key, whatever the key (the target key's included): a run updates them. */
  sseKmsWithoutBucketKey: ObjectsAndBytes;
  /** SSE-KMS with a Bucket Key under another key, as a HeadObject told. */
  sseKmsOtherKey: ObjectsAndBytes;
  compliant: ObjectsAndBytes;
  /** SSE-KMS with a Bucket Key (or none listed) whose key was not checked. */
  sseKmsKeyUnknown: ObjectsAndBytes;
  /** SSE-C, DSSE-KMS, or an encryption status the inventory does not give: never compliant, never changed by a run. */
  other: ObjectsAndBytes;
}

export const ENCRYPTION_CATEGORIES = [
  "notEncrypted",
  "sseS3",
  "sseKmsWithoutBucketKey",
  "sseKmsOtherKey",
  "compliant",
  "sseKmsKeyUnknown",
  "other",
] as const satisfies readonly (keyof EncryptionCounts)[];

/** What a run would do with the current objects, as its plan would route them (the estimate's input). */
export interface RunWork {
  copy: Partial<Record<CopyStorageClass, ObjectsAndBytes>>;
  /** Objects over 5 GiB (and keys too long for a manifest) rekey copies itself. */
  multipartCopy: Partial<Record<CopyStorageClass, ObjectsAndBytes>>;
  updateFromSseS3: ObjectsAndBytes;
  updateFromSseKms: ObjectsAndBytes;
  /** Left as they are: archived, locked, not copyable, SSE-C, DSSE-KMS, missing columns. */
  skipped: ObjectsAndBytes;
}

export interface InventoryCounts {
  /** The delivery counted: its manifest.json, and when S3 began the listing it reports (its "as of"). */
  delivery: { bucket: string; manifestKey: string; createdAt: string };
  countedBy: "athena" | "stream";
  /** Why that engine (scanCountEngine). */
  why: string;
  current: ObjectsAndBytes;
  /** Noncurrent versions and delete markers, which a run leaves alone. */
  notCurrent: ObjectsAndBytes;
  encryption: EncryptionCounts;
  run: RunWork;
  /** HeadObject calls made to tell the key of `sseKmsKeyUnknown` objects, and those that found the version gone. */
  keyChecks: { checked: number; gone: number };
  /** What Athena's queries scanned (the athena engine). */
  athenaScannedBytes?: number;
}

const zero = (): ObjectsAndBytes => ({ objects: 0, bytes: 0 });
const add = (to: ObjectsAndBytes, objects: number, bytes: number) => {
  to.objects += objects;
  to.bytes += bytes;
};
const addTo = <K extends string>(r: Partial<Record<K, ObjectsAndBytes>>, key: K, objects: number, bytes: number) => {
  const slot = r[key] ?? zero();
  r[key] = slot;
  add(slot, objects, bytes);
};

export function emptyEncryptionCounts(): EncryptionCounts {
  return {
    notEncrypted: zero(),
    sseS3: zero(),
    sseKmsWithoutBucketKey: zero(),
    sseKmsOtherKey: zero(),
    compliant: zero(),
    sseKmsKeyUnknown: zero(),
    other: zero(),
  };
}

export function emptyRunWork(): RunWork {
  return { copy: {}, multipartCopy: {}, updateFromSseS3: zero(), updateFromSseKms: zero(), skipped: zero() };
}

/** Current objects known not to be under the target key with a Bucket Key (a floor while keys are unknown). */
export function nonCompliantObjects(e: EncryptionCounts): number {
  return (
    e.notEncrypted.objects +
    e.sseS3.objects +
    e.sseKmsWithoutBucketKey.objects +
    e.sseKmsOtherKey.objects +
    e.other.objects
  );
}

/** The encryption category of an inventory row's EncryptionStatus and BucketKeyStatus (current versions only). */
function categoryOf(encryption: string | undefined, keyUnknown: boolean): keyof EncryptionCounts {
  switch (encryption?.toUpperCase()) {
    case "NOT-SSE":
      return "notEncrypted";
    case "SSE-S3":
      return "sseS3";
    case "SSE-KMS":
      return keyUnknown ? "sseKmsKeyUnknown" : "sseKmsWithoutBucketKey";
    default:
      return "other";
  }
}

/** A version whose key a HeadObject is to tell. */
export interface KeyToCheck {
  key: string;
  versionId?: string;
}

/**
 * Counts the rows of the stream engine one by one, each with classifyInventoryRow's verdict (made without a key
 * check, so SSE-KMS rows with a Bucket Key come back "sse-kms-key-unverified"). Keeps up to `keysToKeep` of those
 * rows' keys for the HeadObject checks.
 */
export class InventoryCounter {
  readonly current = zero();
  readonly notCurrent = zero();
  readonly encryption = emptyEncryptionCounts();
  readonly run = emptyRunWork();
  readonly keysToCheck: KeyToCheck[] = [];
  rows = 0;

  constructor(private readonly keysToKeep: number) {}

  add(row: InventoryRow, c: Classification): void {
    this.rows += 1;
    const bytes = row.size ?? 0;
    if (c.kind === "not-current") {
      add(this.notCurrent, 1, bytes);
      return;
    }
    add(this.current, 1, bytes);
    const unverified = c.kind === "skipped" && c.reason === "sse-kms-key-unverified";
    const category = c.kind === "compliant" ? "compliant" : categoryOf(row.encryptionStatus, unverified);
    add(this.encryption[category], 1, bytes);
    switch (c.kind) {
      case "copy":
        addTo(this.run.copy, c.storageClass, 1, bytes);
        return;
      case "large-copy":
        addTo(this.run.multipartCopy, c.storageClass ?? "STANDARD", 1, bytes);
        return;
      case "update-encryption":
        add(
          row.encryptionStatus?.toUpperCase() === "SSE-S3" ? this.run.updateFromSseS3 : this.run.updateFromSseKms,
          1,
          bytes,
        );
        return;
      case "skipped":
        if (!unverified) add(this.run.skipped, 1, bytes);
        else if (this.keysToCheck.length <= this.keysToKeep) {
          this.keysToCheck.push({ key: row.key, ...(row.versionId ? { versionId: row.versionId } : {}) });
        }
        return;
      case "compliant":
        return;
    }
  }
}

/**
 * The same counts from the athena engine's route tally (inventory-routes.ts, asked with key checks on): each group's
 * encryption, its route, and whether its key needs a HeadObject. Rows the SQL leaves to the step that are not
 * key checks are objects over 5 GiB or keys too long for a manifest: counted as rekey's own copies (NOT-SSE ones, in
 * S3 Standard, the class the tally does not give) or updates.
 */
export function countsFromRoutes(groups: readonly SqlRouteCount[]) {
  const current = zero();
  const notCurrent = zero();
  const encryption = emptyEncryptionCounts();
  const run = emptyRunWork();
  for (const { route, encryption: enc, keyCheck, counted } of groups) {
    const { count, bytes } = counted;
    if (route.kind === "not-current") {
      add(notCurrent, count, bytes);
      continue;
    }
    add(current, count, bytes);
    // With key checks on, every SSE-KMS row with a Bucket Key (or none listed) is left to the step's HeadObject.
    const unverified = keyCheck && enc === "SSE-KMS";
    add(encryption[categoryOf(enc, unverified)], count, bytes);
    switch (route.kind) {
      case "copy":
        addTo(run.copy, route.storageClass, count, bytes);
        break;
      case "update-encryption":
        add(enc === "SSE-S3" ? run.updateFromSseS3 : run.updateFromSseKms, count, bytes);
        break;
      case "skipped":
        add(run.skipped, count, bytes);
        break;
      case "step":
        if (unverified) break;
        if (enc === "NOT-SSE") addTo(run.multipartCopy, "STANDARD", count, bytes);
        else if (enc === "SSE-S3") add(run.updateFromSseS3, count, bytes);
        else add(run.updateFromSseKms, count, bytes);
        break;
      default:
        break;
    }
  }
  return { current, notCurrent, encryption, run };
}

/** What HeadObject told of one version counted as `sseKmsKeyUnknown`. */
export type KeyCheckResult = { kind: "target-with-bucket-key" } | { kind: "other" } | { kind: "gone" };

/**
 * Moves the checked objects out of `sseKmsKeyUnknown`: under the target key with a Bucket Key, compliant; otherwise
 * to be updated by a run. Only when every one of them was checked: the bytes of each are not known apart, so the
 * counts stay as they are for a partial check.
 */
export function applyKeyChecks(counts: InventoryCounts, results: readonly KeyCheckResult[]): InventoryCounts {
  const unknown = counts.encryption.sseKmsKeyUnknown;
  if (results.length === 0 || results.length !== unknown.objects) return counts;
  const compliant = results.filter((r) => r.kind === "target-with-bucket-key").length;
  const gone = results.filter((r) => r.kind === "gone").length;
  const other = results.length - compliant - gone;
  // Bytes are shared out by count: the inventory's sizes of these rows are summed, not kept one by one.
  const share = (n: number) => (unknown.objects === 0 ? 0 : Math.round((unknown.bytes * n) / unknown.objects));
  const encryption = {
    ...counts.encryption,
    compliant: plus(counts.encryption.compliant, compliant, share(compliant)),
    sseKmsOtherKey: plus(counts.encryption.sseKmsOtherKey, other, share(other)),
    sseKmsKeyUnknown: zero(),
  };
  return {
    ...counts,
    current: { objects: counts.current.objects - gone, bytes: counts.current.bytes - share(gone) },
    encryption,
    run: { ...counts.run, updateFromSseKms: plus(counts.run.updateFromSseKms, other, share(other)) },
    keyChecks: { checked: results.length, gone },
  };
}

function plus(a: ObjectsAndBytes, objects: number, bytes: number): ObjectsAndBytes {
  return { objects: a.objects + objects, bytes: a.bytes + bytes };
}

/**
 * Compressed inventory bytes up to which `rekey scan` reads a delivery itself (about 4 million rows at the ~60
 * bytes a row CSV inventories compress to, under a minute on a good link); above it, where the deployment has
 * Athena, Athena counts it where it is stored, for about $5 a terabyte scanned.
 */
export const SCAN_STREAM_MAX_BYTES = 256 * 1024 ** 2;

export type ScanCountEngineChoice = "auto" | "stream" | "athena";

/** How scan counts a delivery, and why; or why it cannot. */
export function scanCountEngine(
  requested: ScanCountEngineChoice,
  facts: EngineFacts,
): { engine: "stream" | "athena"; why: string } | { unavailable: string } {
  const size = `${formatCount(facts.dataFiles)} data file(s), ${formatBytes(facts.dataBytes)} compressed`;
  if (requested === "athena" || facts.fileFormat === "ORC") {
    if (!facts.athenaDeployed) {
      return {
        unavailable:
          facts.fileFormat === "ORC"
            ? "the inventory is ORC, which only Athena reads, and this deployment has no Athena workgroup"
            : "Athena was asked for, but this deployment has no Athena workgroup",
      };
    }
    return {
      engine: "athena",
      why: requested === "athena" ? `asked for (${size})` : `ORC, which only Athena reads (${size})`,
    };
  }
  if (requested === "stream") return { engine: "stream", why: `asked for (${size})` };
  if (facts.dataBytes <= SCAN_STREAM_MAX_BYTES) {
    return { engine: "stream", why: `${size}, up to the ${formatBytes(SCAN_STREAM_MAX_BYTES)} scan reads itself` };
  }
  return facts.athenaDeployed
    ? { engine: "athena", why: `${size}: Athena counts it where it is stored` }
    : { engine: "stream", why: `${size}, read by scan itself: this deployment has no Athena workgroup` };
}

/**
 * Athena: the keys (and version ids, when listed) of the delivery's current SSE-KMS versions with a Bucket Key (or
 * none listed), at most `limit`, for HeadObject to tell their key. CSV keys come back URL-encoded, as written.
 */
export function athenaKeysToCheckSql(table: InventoryTable, limit: number): string {
  const { current } = flags(table.columns, athenaText);
  const has = (c: string) => table.columns.includes(c);
  const upper = (c: string) => `upper(NULLIF(${athenaText(c)}, ''))`;
  const bucketKey = has("BucketKeyStatus") ? `COALESCE(${upper("BucketKeyStatus")}, '')` : "''";
  const conditions = [
    `dt = ${literal(table.dt)}`,
    ...(current ? [current] : []),
    `${upper("EncryptionStatus")} = 'SSE-KMS'`,
    `${bucketKey} <> 'DISABLED'`,
  ];
  const version = has("VersionId") ? `, ${athenaText("VersionId")}` : "";
  return `SELECT ${athenaText("Key")}${version} FROM ${athenaFrom(table)} WHERE ${conditions.join(" AND ")} LIMIT ${limit}`;
}
