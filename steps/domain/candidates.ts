import type { JobManifestGeneratorFilter } from "@aws-sdk/client-s3-control";
import { InvariantViolatedError } from "../../contract/errors.ts";
import type { SkipReason } from "../../contract/reasons.ts";
import {
  ARCHIVE_STORAGE_CLASSES,
  COPYABLE_STORAGE_CLASSES,
  type CopyStorageClass,
  MAX_COPY_OBJECT_BYTES,
} from "../../contract/storage-classes.ts";
import { manifestKeyTooLong } from "./batch-manifest.ts";
import { type Classification, copyDirectly } from "./classify.ts";

/**
 * `source: generate`: instead of waiting up to 48 hours for S3 Inventory, rekey asks Batch Operations' manifest
 * generator for the current objects of each route, one filtered list per route
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobManifestGeneratorFilter.html). A generated list
 * names bucket and key only, so each list's filter is what rekey knows about its objects: the list decides the
 * route, and the plan that follows has the same shape as one made from an inventory.
 *
 * What the filters cannot tell, and so what this source does not see as an inventory does:
 * - object sizes (the plan counts objects; bytes are known for objects over 5 GiB only, from HeadObject);
 * - Object Lock: a locked SSE-S3/SSE-KMS object is planned for an encryption update, which S3 refuses; the task
 *   fails and is reported with its key (preflight warns when the bucket has Object Lock);
 * - Intelligent-Tiering archive tiers: the INTELLIGENT_TIERING list is checked object by object with HeadObject
 *   (x-amz-archive-status), and archived ones are skipped;
 * - storage classes outside the Batch Operations enum (REDUCED_REDUNDANCY, OUTPOSTS…): no filter matches them,
 *   so they are not counted at all;
 * - noncurrent versions and delete markers: the generator lists current objects only;
 * - a single moment: the lists are made one after another, so an object whose class or encryption changes between
 *   two listings can appear in none of them or in two.
 */

/** Size filters are strictly-less / strictly-greater (JobManifestGeneratorFilter, as above): below 5 GiB + 1 byte is "up to 5 GiB". */
const UP_TO_5_GIB = MAX_COPY_OBJECT_BYTES + 1;

export type CandidateRoute =
  | { kind: "copy"; storageClass: CopyStorageClass }
  | { kind: "large-copy" }
  | { kind: "update-encryption"; from: "SSE-S3" | "SSE-KMS" }
  /** SSE-KMS with a Bucket Key: compliant under the target key, otherwise an update; HeadObject tells which. */
  | { kind: "check-key" }
  | { kind: "skipped"; reason: SkipReason };

export interface CandidateList {
  /** Names the list in job descriptions, tokens and output prefixes. */
  name: string;
  filter: JobManifestGeneratorFilter;
  route: CandidateRoute;
}

const NOT_SSE = [{ NOTSSE: {} }];

/**
 * Lists whose objects are each checked with HeadObject: the key of SSE-KMS objects with a Bucket Key, sizes of large
 * objects, archive tiers of Intelligent-Tiering.
 */
export function needsHead(route: CandidateRoute): boolean {
  return (
    route.kind === "check-key" ||
    route.kind === "large-copy" ||
    (route.kind === "copy" && route.storageClass === "INTELLIGENT_TIERING")
  );
}

/** Every list a generated plan reads; together they cover each current object in a Batch Operations class once. */
export const CANDIDATE_LISTS: readonly CandidateList[] = [
  ...COPYABLE_STORAGE_CLASSES.map(
    (storageClass): CandidateList => ({
      name: `copy-${storageClass}`,
      filter: {
        MatchAnyObjectEncryption: NOT_SSE,
        MatchAnyStorageClass: [storageClass],
        ObjectSizeLessThanBytes: UP_TO_5_GIB,
      },
      route: { kind: "copy", storageClass },
    }),
  ),
  {
    name: "large-copy",
    filter: {
      MatchAnyObjectEncryption: NOT_SSE,
      MatchAnyStorageClass: [...COPYABLE_STORAGE_CLASSES],
      ObjectSizeGreaterThanBytes: MAX_COPY_OBJECT_BYTES,
    },
    route: { kind: "large-copy" },
  },
  {
    name: "update-sse-s3",
    filter: { MatchAnyObjectEncryption: [{ SSES3: {} }] },
    route: { kind: "update-encryption", from: "SSE-S3" },
  },
  {
    name: "update-sse-kms-without-bucket-key",
    filter: { MatchAnyObjectEncryption: [{ SSEKMS: { BucketKeyEnabled: false } }] },
    route: { kind: "update-encryption", from: "SSE-KMS" },
  },
  {
    name: "sse-kms-with-bucket-key",
    filter: { MatchAnyObjectEncryption: [{ SSEKMS: { BucketKeyEnabled: true } }] },
    route: { kind: "check-key" },
  },
  {
    name: "archived",
    filter: { MatchAnyObjectEncryption: NOT_SSE, MatchAnyStorageClass: [...ARCHIVE_STORAGE_CLASSES] },
    route: { kind: "skipped", reason: "archived" },
  },
  {
    name: "sse-c",
    filter: { MatchAnyObjectEncryption: [{ SSEC: {} }] },
    route: { kind: "skipped", reason: "sse-c" },
  },
  {
    name: "dsse-kms",
    filter: { MatchAnyObjectEncryption: [{ DSSEKMS: {} }] },
    route: { kind: "skipped", reason: "dsse-kms" },
  },
];

export function candidateList(name: string): CandidateList {
  const list = CANDIDATE_LISTS.find((l) => l.name === name);
  if (!list) {
    throw new InvariantViolatedError(`No candidate list named ${name}.`, {
      fix: "The generated lists and this version of rekey disagree; start a new run with the version that listed them.",
    });
  }
  return list;
}

/**
 * The classification of one listed object, as classifyInventoryRow gives it for an inventory row. `keyIsTarget`
 * answers for check-key lists (HeadObject); `largeStorageClass` for objects over 5 GiB (HeadObject).
 */
export function classifyCandidate(
  route: CandidateRoute,
  key: string,
  facts: {
    keyIsTarget?: boolean | undefined;
    largeStorageClass?: CopyStorageClass | undefined;
    /** HeadObject's ArchiveStatus for Intelligent-Tiering objects (ARCHIVE_ACCESS, DEEP_ARCHIVE_ACCESS). */
    archiveStatus?: string | undefined;
  } = {},
): Classification {
  switch (route.kind) {
    case "copy":
      if (facts.archiveStatus) return skippedBecause("archived", `INTELLIGENT_TIERING tier ${facts.archiveStatus}`);
      if (manifestKeyTooLong(key)) return copyDirectly(route.storageClass);
      return { kind: "copy", storageClass: route.storageClass };
    case "large-copy":
      if (facts.archiveStatus) return skippedBecause("archived", `INTELLIGENT_TIERING tier ${facts.archiveStatus}`);
      return { kind: "large-copy", storageClass: facts.largeStorageClass ?? "STANDARD" };
    case "update-encryption":
      // The list does not say the class; the copy reads it (HeadObject) and keeps it.
      if (manifestKeyTooLong(key)) return copyDirectly(undefined);
      return { kind: "update-encryption" };
    case "check-key":
      if (facts.keyIsTarget === true) return { kind: "compliant" };
      if (facts.keyIsTarget === false) return classifyCandidate({ kind: "update-encryption", from: "SSE-KMS" }, key);
      return skippedBecause("sse-kms-key-unverified", "SSE-KMS with Bucket Key; HeadObject did not name the key");
    case "skipped":
      return skippedBecause(route.reason, `listed by the manifest generator as ${route.reason}`);
  }
}

function skippedBecause(reason: SkipReason, detail: string): Classification {
  return { kind: "skipped", reason, detail };
}
