import { createHash, randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { Behaviours } from "../behaviours.ts";
import { badRequest } from "./errors.ts";
import { booleanField, oneOf, timestampField } from "./fields.ts";
import type {
  EncryptionFilter,
  GeneratedManifestEncryption,
  GeneratorFilter,
  JobFailure,
  ManifestGeneratorSpec,
  ManifestOutputLocation,
  ManifestTask,
  ReplicationStatus,
} from "./model.ts";
import { REPLICATION_STATUSES, S3_STORAGE_CLASSES } from "./model.ts";
import { bucketFromArn } from "./operations/types.ts";
import { reportBase } from "./report.ts";
import { child, has, isTree, members, text, type XmlTree, type XmlValue } from "./xml.ts";

/**
 * `S3JobManifestGenerator`: CreateJob validation, the filter, and the generated manifest
 * (`S3InventoryReport_CSV_20211130`). The engine lists the source bucket and calls these.
 */

export const GENERATED_MANIFEST_FORMAT = "S3InventoryReport_CSV_20211130";

/** `ObjectEncryptionFilter` union members by wire name (XML names are hyphenated: `<SSE-KMS>`, `<NOT-SSE/>`). */
const ENCRYPTION_FILTER_NAMES = ["SSE-S3", "SSE-KMS", "DSSE-KMS", "SSE-C", "NOT-SSE"] as const;

const MAX_KEY_CONSTRAINT = 1024;
/** Rows per generated data file (AWS does not document it; the sandbox inventory uses the same default). */
export const GENERATED_ROWS_PER_FILE = 100_000;

/** One version of the source bucket as the sandbox's internal listing (`GET /_sandbox/s3/versions`) gives it. */
export interface SourceObjectVersion {
  key: string;
  versionId: string;
  isLatest: boolean;
  isDeleteMarker: boolean;
  size: number;
  /** ISO 8601. */
  lastModified: string;
  storageClass: string;
  encryption: { type: string; keyArn?: string; bucketKeyEnabled?: boolean };
}

/** Parses and validates `<ManifestGenerator>`. Throws BadRequestException on invalid input. */
export function parseManifestGenerator(xml: XmlTree): ManifestGeneratorSpec {
  const names = Object.keys(xml);
  const g = child(xml, "S3JobManifestGenerator");
  if (!g || names.length !== 1) {
    throw badRequest("ManifestGenerator must contain exactly one S3JobManifestGenerator.");
  }
  const source = text(g, "SourceBucket");
  if (!source) throw badRequest("S3JobManifestGenerator requires SourceBucket (a bucket ARN).");
  const enable = booleanField(text(g, "EnableManifestOutput"), "EnableManifestOutput");
  if (enable === undefined) throw badRequest("S3JobManifestGenerator requires EnableManifestOutput.");
  const outputXml = child(g, "ManifestOutputLocation");
  if (enable && !outputXml) {
    throw badRequest("EnableManifestOutput is true, so S3JobManifestGenerator requires ManifestOutputLocation.");
  }
  const owner = text(g, "ExpectedBucketOwner");
  if (owner !== undefined) checkAccountId(owner, "ExpectedBucketOwner");
  return {
    sourceBucket: bucketFromArn(source, "SourceBucket"),
    ...(owner !== undefined ? { expectedBucketOwner: owner } : {}),
    enableManifestOutput: enable,
    ...(outputXml ? { output: parseOutputLocation(outputXml) } : {}),
    filter: parseFilter(child(g, "Filter")),
  };
}

function parseOutputLocation(o: XmlTree): ManifestOutputLocation {
  const bucketArn = text(o, "Bucket");
  if (!bucketArn) throw badRequest("ManifestOutputLocation requires Bucket (a bucket ARN).");
  const format = text(o, "ManifestFormat");
  if (format !== GENERATED_MANIFEST_FORMAT) {
    throw badRequest(
      `ManifestOutputLocation ManifestFormat must be ${GENERATED_MANIFEST_FORMAT}, got "${format ?? ""}".`,
    );
  }
  const prefix = text(o, "ManifestPrefix");
  const owner = text(o, "ExpectedManifestBucketOwner");
  if (owner !== undefined) checkAccountId(owner, "ExpectedManifestBucketOwner");
  const encryption = has(o, "ManifestEncryption") ? parseManifestEncryption(child(o, "ManifestEncryption")) : undefined;
  return {
    bucket: bucketFromArn(bucketArn, "ManifestOutputLocation Bucket"),
    format: GENERATED_MANIFEST_FORMAT,
    ...(prefix ? { prefix } : {}),
    ...(encryption ? { encryption } : {}),
    ...(owner !== undefined ? { expectedBucketOwner: owner } : {}),
  };
}

/** `GeneratedManifestEncryption`: `<SSE-S3/>` or `<SSE-KMS><KeyId>`, one of them. */
function parseManifestEncryption(e: XmlTree | undefined): GeneratedManifestEncryption {
  const sseS3 = has(e, "SSE-S3");
  const sseKms = child(e, "SSE-KMS");
  if (sseS3 === (sseKms !== undefined)) {
    throw badRequest("ManifestEncryption must contain exactly one of SSE-S3 and SSE-KMS.");
  }
  if (sseS3) return { type: "SSE-S3" };
  const keyId = text(sseKms, "KeyId");
  if (!keyId) throw badRequest("ManifestEncryption SSE-KMS requires KeyId.");
  return { type: "SSE-KMS", keyId };
}

function parseFilter(f: XmlTree | undefined): GeneratorFilter {
  if (!f) return {};
  const out: GeneratorFilter = {};
  const eligible = booleanField(text(f, "EligibleForReplication"), "EligibleForReplication");
  if (eligible !== undefined) out.eligibleForReplication = eligible;
  const after = text(f, "CreatedAfter");
  if (after !== undefined) out.createdAfter = timestampField(after, "CreatedAfter");
  const before = text(f, "CreatedBefore");
  if (before !== undefined) out.createdBefore = timestampField(before, "CreatedBefore");
  if (has(f, "ObjectReplicationStatuses")) {
    out.replicationStatuses = strings(members(f, "ObjectReplicationStatuses"), "ObjectReplicationStatuses").map((s) =>
      oneOf(s, REPLICATION_STATUSES, "ObjectReplicationStatuses"),
    );
  }
  const keys = child(f, "KeyNameConstraint");
  for (const [name, field] of [
    ["MatchAnyPrefix", "matchAnyPrefix"],
    ["MatchAnySuffix", "matchAnySuffix"],
    ["MatchAnySubstring", "matchAnySubstring"],
  ] as const) {
    if (has(keys, name)) out[field] = keyConstraint(members(keys, name), name);
  }
  const greater = text(f, "ObjectSizeGreaterThanBytes");
  if (greater !== undefined) out.sizeGreaterThan = parseLong(greater, "ObjectSizeGreaterThanBytes");
  const less = text(f, "ObjectSizeLessThanBytes");
  if (less !== undefined) out.sizeLessThan = parseLong(less, "ObjectSizeLessThanBytes");
  if (has(f, "MatchAnyStorageClass")) {
    out.storageClasses = strings(members(f, "MatchAnyStorageClass"), "MatchAnyStorageClass").map((s) =>
      oneOf(s, S3_STORAGE_CLASSES, "MatchAnyStorageClass"),
    );
  }
  if (has(f, "MatchAnyObjectEncryption")) {
    out.encryptions = encryptionFilterItems(f).map(parseEncryptionFilter);
  }
  return out;
}

/** "Each KeyNameConstraint filter accepts an array of strings with a length of 1 string"; each 1–1024 characters. */
function keyConstraint(items: XmlValue[], name: string): string[] {
  const values = strings(items, name);
  if (values.length !== 1) {
    throw badRequest(`KeyNameConstraint ${name} accepts exactly one string, got ${values.length}.`);
  }
  for (const v of values) {
    if (v.length < 1 || v.length > MAX_KEY_CONSTRAINT) {
      throw badRequest(`KeyNameConstraint ${name} strings must be 1 to ${MAX_KEY_CONSTRAINT} characters.`);
    }
  }
  return values;
}

/**
 * The items of `MatchAnyObjectEncryption`. Its list members are named `<ObjectEncryption>` on the wire (the model's
 * member xmlName, what the JS SDK sends), not `<member>`; `<member>` is read too.
 */
function encryptionFilterItems(f: XmlTree): XmlValue[] {
  const list = f.MatchAnyObjectEncryption;
  if (!isTree(list)) return [];
  const names = Object.keys(list).filter((n) => n !== "ObjectEncryption" && n !== "member");
  if (names.length > 0) {
    throw badRequest(`MatchAnyObjectEncryption items are <ObjectEncryption> elements, got ${names.join(", ")}.`);
  }
  return [list.ObjectEncryption, list.member].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
}

/** One `ObjectEncryptionFilter` union element: exactly one member. */
function parseEncryptionFilter(item: XmlValue): EncryptionFilter {
  const node = isTree(item) ? item : {};
  const names = Object.keys(node);
  const [name] = names;
  const known = ENCRYPTION_FILTER_NAMES.find((n) => n === name);
  if (names.length !== 1 || known === undefined) {
    throw badRequest(
      `Each MatchAnyObjectEncryption element must contain exactly one of ${ENCRYPTION_FILTER_NAMES.join(", ")}; got ${names.length === 0 ? "none" : names.join(", ")}.`,
    );
  }
  const body = child(node, known);
  switch (known) {
    case "SSE-KMS": {
      const arn = text(body, "KmsKeyArn");
      const bucketKey = booleanField(text(body, "BucketKeyEnabled"), "SSE-KMS BucketKeyEnabled");
      return {
        type: "SSE-KMS",
        ...(arn !== undefined ? { kmsKeyArn: arn } : {}),
        ...(bucketKey !== undefined ? { bucketKeyEnabled: bucketKey } : {}),
      };
    }
    case "DSSE-KMS": {
      const arn = text(body, "KmsKeyArn");
      return { type: "DSSE-KMS", ...(arn !== undefined ? { kmsKeyArn: arn } : {}) };
    }
    default:
      return { type: known };
  }
}

/**
 * The objects the generator selects: current versions that are not delete markers, passing every filter member
 * given. Sorted by key. Replication is not emulated (no bucket has a replication configuration and no object a
 * replication status), which decides EligibleForReplication and ObjectReplicationStatuses (ASSUMPTIONS.md).
 */
export function selectObjects(
  versions: readonly SourceObjectVersion[],
  filter: GeneratorFilter,
): SourceObjectVersion[] {
  return versions
    .filter((v) => v.isLatest && !v.isDeleteMarker && matches(v, filter))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function matches(v: SourceObjectVersion, f: GeneratorFilter): boolean {
  const created = Date.parse(v.lastModified);
  if (f.createdAfter && !(created > f.createdAfter.getTime())) return false;
  if (f.createdBefore && !(created < f.createdBefore.getTime())) return false;
  if (f.sizeGreaterThan !== undefined && !(v.size > f.sizeGreaterThan)) return false;
  if (f.sizeLessThan !== undefined && !(v.size < f.sizeLessThan)) return false;
  if (f.storageClasses && !f.storageClasses.includes(v.storageClass)) return false;
  if (f.matchAnyPrefix && !f.matchAnyPrefix.some((p) => v.key.startsWith(p))) return false;
  if (f.matchAnySuffix && !f.matchAnySuffix.some((s) => v.key.endsWith(s))) return false;
  if (f.matchAnySubstring && !f.matchAnySubstring.some((s) => v.key.includes(s))) return false;
  if (f.encryptions && !f.encryptions.some((e) => encryptionMatches(v.encryption, e))) return false;
  // No replication configuration exists in the sandbox: nothing is eligible, and every object's status is NONE.
  if (f.eligibleForReplication === true) return false;
  if (f.replicationStatuses && !f.replicationStatuses.includes(replicationStatusOf(v))) return false;
  return true;
}

function replicationStatusOf(_v: SourceObjectVersion): ReplicationStatus {
  return "NONE";
}

export function encryptionMatches(enc: SourceObjectVersion["encryption"], f: EncryptionFilter): boolean {
  if (enc.type !== f.type) return false;
  if (f.type === "SSE-KMS") {
    if (f.kmsKeyArn !== undefined && enc.keyArn !== f.kmsKeyArn) return false;
    if (f.bucketKeyEnabled !== undefined && (enc.bucketKeyEnabled ?? false) !== f.bucketKeyEnabled) return false;
  }
  if (f.type === "DSSE-KMS" && f.kmsKeyArn !== undefined && enc.keyArn !== f.kmsKeyArn) return false;
  return true;
}

/**
 * Tasks for the selected objects: no VersionId, so each task acts on the key's latest version when it runs, as
 * for a manifest without a VersionId column. `rawKey` is the key as the generated manifest (and so the completion
 * report) writes it: percent-encoded by default, or as it is (sandbox/behaviours.ts, `generatedManifestKeys`).
 */
export function generatedTasks(
  bucket: string,
  selected: readonly SourceObjectVersion[],
  keys: Behaviours["generatedManifestKeys"] = "UrlEncoded",
): ManifestTask[] {
  return selected.map((v) => ({ bucket, rawKey: keys === "Raw" ? v.key : encodeGeneratedKey(v.key), key: v.key }));
}

/**
 * How a generator job whose filter matched nothing ends, as the switch says (sandbox/behaviours.ts); undefined
 * with "EmptyList": the job writes its empty list and carries on like any other.
 */
export function emptyGeneratorEnding(
  behaviours: Pick<Behaviours, "emptyGeneratorJob">,
): { status: "Failed" | "Complete"; failure?: JobFailure } | undefined {
  switch (behaviours.emptyGeneratorJob) {
    case "EmptyList":
      return undefined;
    case "Failed":
      return {
        status: "Failed",
        failure: {
          code: "ManifestGenerationFailure",
          reason: "The manifest generator found no objects matching the filter: there are no tasks to process.",
        },
      };
    case "CompleteWithoutManifest":
      return { status: "Complete" };
  }
}

/**
 * Percent-encoding with `/` kept: space is `%20` and `+` is `%2B`, so form decoding and plain percent-decoding
 * read the same key (ASSUMPTIONS.md).
 */
export function encodeGeneratedKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, "/");
}

export interface GeneratedManifestFile {
  key: string;
  body: Buffer;
  contentType: string;
}

/**
 * The generated manifest in the inventory-report layout (S3InventoryReport_CSV_20211130, details in
 * ASSUMPTIONS.md): gzip CSV data files under `<prefix>/job-<id>/data/`, then `<prefix>/job-<id>/manifest.json`
 * (last in the list, so it is written after the files it names).
 */
export function generatedManifestFiles(
  jobId: string,
  sourceBucket: string,
  output: ManifestOutputLocation,
  tasks: readonly ManifestTask[],
  now: Date,
  rowsPerFile = GENERATED_ROWS_PER_FILE,
): GeneratedManifestFile[] {
  const base = reportBase(output.prefix, jobId);
  const files: GeneratedManifestFile[] = [];
  for (let i = 0; i < tasks.length; i += rowsPerFile) {
    const rows = tasks.slice(i, i + rowsPerFile).map((t) => csvLine([t.bucket, t.rawKey]));
    files.push({
      key: `${base}data/${randomUUID()}.csv.gz`,
      body: gzipSync(Buffer.from(rows.join(""), "utf8")),
      contentType: "application/x-gzip",
    });
  }
  const manifest = {
    sourceBucket,
    destinationBucket: `arn:aws:s3:::${output.bucket}`,
    version: "2021-11-30",
    creationTimestamp: String(now.getTime()),
    fileFormat: "CSV",
    fileSchema: "Bucket, Key",
    files: files.map((f) => ({
      key: f.key,
      size: f.body.length,
      MD5checksum: createHash("md5").update(f.body).digest("hex"),
    })),
  };
  files.push({
    key: `${base}manifest.json`,
    body: Buffer.from(JSON.stringify(manifest), "utf8"),
    contentType: "application/json",
  });
  return files;
}

function csvLine(fields: string[]): string {
  return `${fields.map((f) => `"${f.replace(/"/g, '""')}"`).join(",")}\n`;
}

function strings(items: XmlValue[], field: string): string[] {
  return items.map((i) => {
    if (typeof i !== "string") throw badRequest(`${field} members must be strings.`);
    return i;
  });
}

function parseLong(value: string, field: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw badRequest(`${field} must be a whole number of bytes, got "${value}".`);
  return Number(value);
}

function checkAccountId(value: string, field: string): void {
  if (!/^\d{12}$/.test(value)) throw badRequest(`${field} must be a 12-digit account id, got "${value}".`);
}
