import type { JobManifestGeneratorFilter } from "@aws-sdk/client-s3-control";
import { describe, expect, it } from "vitest";
import { InvariantViolatedError } from "../../contract/errors.ts";
import { COPYABLE_STORAGE_CLASSES, MAX_COPY_OBJECT_BYTES } from "../../contract/storage-classes.ts";
import { matches, type SourceObjectVersion } from "../../sandbox/s3control/generator.ts";
import type { EncryptionFilter, GeneratorFilter } from "../../sandbox/s3control/model.ts";
import {
  CANDIDATE_LISTS,
  type CandidateRoute,
  candidateList,
  classifyCandidate,
  needsHead,
} from "../../steps/domain/candidates.ts";

/** The SDK's filter as the sandbox's generator reads it off the wire (the e2e test sends it for real). */
function asSandboxFilter(f: JobManifestGeneratorFilter): GeneratorFilter {
  const encryptions = (f.MatchAnyObjectEncryption ?? []).map((e): EncryptionFilter => {
    if (e.NOTSSE) return { type: "NOT-SSE" };
    if (e.SSES3) return { type: "SSE-S3" };
    if (e.SSEC) return { type: "SSE-C" };
    if (e.DSSEKMS) return { type: "DSSE-KMS" };
    if (e.SSEKMS) {
      return {
        type: "SSE-KMS",
        ...(e.SSEKMS.BucketKeyEnabled === undefined ? {} : { bucketKeyEnabled: e.SSEKMS.BucketKeyEnabled }),
      };
    }
    throw new Error(`unknown encryption filter ${JSON.stringify(e)}`);
  });
  return {
    ...(f.ObjectSizeGreaterThanBytes === undefined ? {} : { sizeGreaterThan: f.ObjectSizeGreaterThanBytes }),
    ...(f.ObjectSizeLessThanBytes === undefined ? {} : { sizeLessThan: f.ObjectSizeLessThanBytes }),
    ...(f.MatchAnyStorageClass ? { storageClasses: f.MatchAnyStorageClass } : {}),
    ...(encryptions.length ? { encryptions } : {}),
  };
}

/** One current object of every kind the routes distinguish. */
const OBJECTS: (SourceObjectVersion & { expect: string })[] = [
  ...COPYABLE_STORAGE_CLASSES.map((storageClass) =>
    object(`small-${storageClass}`, { storageClass }, `copy-${storageClass}`),
  ),
  object("exactly-5GiB", { size: MAX_COPY_OBJECT_BYTES }, "copy-STANDARD"),
  object("over-5GiB", { size: MAX_COPY_OBJECT_BYTES + 1 }, "large-copy"),
  object("over-5GiB-IA", { size: MAX_COPY_OBJECT_BYTES * 2, storageClass: "STANDARD_IA" }, "large-copy"),
  object("glacier", { storageClass: "GLACIER" }, "archived"),
  object("deep", { storageClass: "DEEP_ARCHIVE", size: MAX_COPY_OBJECT_BYTES * 3 }, "archived"),
  object("sse-s3", { encryption: { type: "SSE-S3" } }, "update-sse-s3"),
  object("sse-s3-glacier", { encryption: { type: "SSE-S3" }, storageClass: "GLACIER" }, "update-sse-s3"),
  object(
    "kms-no-bk",
    { encryption: { type: "SSE-KMS", keyArn: "k", bucketKeyEnabled: false } },
    "update-sse-kms-without-bucket-key",
  ),
  object("kms-bk", { encryption: { type: "SSE-KMS", keyArn: "k", bucketKeyEnabled: true } }, "sse-kms-with-bucket-key"),
  object("dsse", { encryption: { type: "DSSE-KMS", keyArn: "k" } }, "dsse-kms"),
  object("ssec", { encryption: { type: "SSE-C" } }, "sse-c"),
];

function object(key: string, over: Partial<SourceObjectVersion>, expect: string) {
  return {
    key,
    versionId: "v",
    isLatest: true,
    isDeleteMarker: false,
    size: 100,
    lastModified: "2020-01-01T00:00:00Z",
    storageClass: "STANDARD",
    encryption: { type: "NOT-SSE" },
    ...over,
    expect,
  };
}

describe("the candidate lists of source: generate", () => {
  it("put every object of a Batch Operations storage class in exactly one list, the one its route needs", () => {
    for (const o of OBJECTS) {
      const lists = CANDIDATE_LISTS.filter((l) => matches(o, asSandboxFilter(l.filter)));
      expect(
        lists.map((l) => l.name),
        o.key,
      ).toEqual([o.expect]);
    }
  });

  it("reads SSE-KMS filters by Bucket Key status only, never by key", () => {
    const kms = CANDIDATE_LISTS.flatMap((l) => l.filter.MatchAnyObjectEncryption ?? []).filter((e) => e.SSEKMS);
    expect(kms.map((e) => e.SSEKMS)).toEqual([{ BucketKeyEnabled: false }, { BucketKeyEnabled: true }]);
  });
});

describe("classifyCandidate", () => {
  const copyIt: CandidateRoute = { kind: "copy", storageClass: "INTELLIGENT_TIERING" };
  it.each<[string, CandidateRoute, Parameters<typeof classifyCandidate>[2], string]>([
    ["a copy", { kind: "copy", storageClass: "GLACIER_IR" }, {}, "copy:GLACIER_IR"],
    [
      "an Intelligent-Tiering object in an archive tier",
      copyIt,
      { archiveStatus: "ARCHIVE_ACCESS" },
      "skipped:archived",
    ],
    ["an Intelligent-Tiering object in a frequent tier", copyIt, {}, "copy:INTELLIGENT_TIERING"],
    [
      "a large object in STANDARD_IA",
      { kind: "large-copy" },
      { largeStorageClass: "STANDARD_IA" },
      "large-copy:STANDARD_IA",
    ],
    [
      "a large Intelligent-Tiering object in an archive tier",
      { kind: "large-copy" },
      { largeStorageClass: "INTELLIGENT_TIERING", archiveStatus: "DEEP_ARCHIVE_ACCESS" },
      "skipped:archived",
    ],
    ["an SSE-S3 update", { kind: "update-encryption", from: "SSE-S3" }, {}, "update-encryption"],
    ["SSE-KMS with Bucket Key under the target key", { kind: "check-key" }, { keyIsTarget: true }, "compliant"],
    ["SSE-KMS with Bucket Key under another key", { kind: "check-key" }, { keyIsTarget: false }, "update-encryption"],
    ["SSE-KMS whose key HeadObject did not name", { kind: "check-key" }, {}, "skipped:sse-kms-key-unverified"],
    ["an SSE-C object", { kind: "skipped", reason: "sse-c" }, {}, "skipped:sse-c"],
  ])("routes %s", (_label, route, facts, expected) => {
    const c = classifyCandidate(route, "k", facts);
    const got =
      c.kind === "copy" || c.kind === "large-copy"
        ? `${c.kind}:${c.storageClass}`
        : c.kind === "skipped"
          ? `skipped:${c.reason}`
          : c.kind;
    expect(got).toBe(expected);
  });

  it("routes keys too long for a CSV manifest from the Batch routes to the direct copy", () => {
    const long = "k".repeat(1100);
    expect(classifyCandidate({ kind: "copy", storageClass: "STANDARD" }, long)).toEqual({
      kind: "large-copy",
      storageClass: "STANDARD",
      why: "key-too-long-for-manifest",
    });
    // A generated list of encrypted objects does not name the class; the copy reads and keeps it.
    expect(classifyCandidate({ kind: "update-encryption", from: "SSE-S3" }, long)).toEqual({
      kind: "large-copy",
      storageClass: undefined,
      why: "key-too-long-for-manifest",
    });
    expect(classifyCandidate({ kind: "large-copy" }, long).kind).toBe("large-copy");
  });

  it("checks objects with HeadObject only where the list cannot tell: SSE-KMS keys, large objects, Intelligent-Tiering", () => {
    expect(
      CANDIDATE_LISTS.filter((l) => needsHead(l.route))
        .map((l) => l.name)
        .sort(),
    ).toEqual(["copy-INTELLIGENT_TIERING", "large-copy", "sse-kms-with-bucket-key"]);
  });
});

describe("each candidate list's route", () => {
  it("is what the list's filter selects, and is found by the list's name", () => {
    const routes = Object.fromEntries(CANDIDATE_LISTS.map((l) => [l.name, candidateList(l.name).route]));
    expect(routes).toMatchObject({
      "copy-STANDARD": { kind: "copy", storageClass: "STANDARD" },
      "large-copy": { kind: "large-copy" },
      "update-sse-s3": { kind: "update-encryption", from: "SSE-S3" },
      "update-sse-kms-without-bucket-key": { kind: "update-encryption", from: "SSE-KMS" },
      "sse-kms-with-bucket-key": { kind: "check-key" },
      archived: { kind: "skipped", reason: "archived" },
      "sse-c": { kind: "skipped", reason: "sse-c" },
      "dsse-kms": { kind: "skipped", reason: "dsse-kms" },
    });
    for (const l of CANDIDATE_LISTS) expect(candidateList(l.name)).toBe(l);
  });

  it("refuses a list name this version does not know, saying what to do", () => {
    const refused = (() => {
      try {
        candidateList("copy-OUTPOSTS");
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(InvariantViolatedError);
    expect(refused).toMatchObject({
      problem: "No candidate list named copy-OUTPOSTS.",
      fix: "The generated lists and this version of rekey disagree; start a new run with the version that listed them.",
    });
  });

  it("asks HeadObject of no copy list but Intelligent-Tiering's", () => {
    expect(needsHead({ kind: "copy", storageClass: "STANDARD" })).toBe(false);
    expect(needsHead({ kind: "copy", storageClass: "INTELLIGENT_TIERING" })).toBe(true);
    expect(needsHead({ kind: "update-encryption", from: "SSE-S3" })).toBe(false);
  });

  it("says why a listed object is skipped, and takes an unnamed large object's class as STANDARD", () => {
    const detail = (route: CandidateRoute, facts: Parameters<typeof classifyCandidate>[2] = {}) =>
      classifyCandidate(route, "k", facts);
    expect(detail({ kind: "copy", storageClass: "INTELLIGENT_TIERING" }, { archiveStatus: "ARCHIVE_ACCESS" })).toEqual({
      kind: "skipped",
      reason: "archived",
      detail: "INTELLIGENT_TIERING tier ARCHIVE_ACCESS",
    });
    expect(detail({ kind: "large-copy" }, { archiveStatus: "DEEP_ARCHIVE_ACCESS" })).toEqual({
      kind: "skipped",
      reason: "archived",
      detail: "INTELLIGENT_TIERING tier DEEP_ARCHIVE_ACCESS",
    });
    expect(detail({ kind: "large-copy" })).toEqual({ kind: "large-copy", storageClass: "STANDARD" });
    expect(detail({ kind: "check-key" })).toEqual({
      kind: "skipped",
      reason: "sse-kms-key-unverified",
      detail: "SSE-KMS with Bucket Key; HeadObject did not name the key",
    });
    expect(detail({ kind: "skipped", reason: "dsse-kms" })).toEqual({
      kind: "skipped",
      reason: "dsse-kms",
      detail: "listed by the manifest generator as dsse-kms",
    });
    // Under another key, a key too long for a manifest is copied directly, as any update would be.
    expect(classifyCandidate({ kind: "check-key" }, "ü".repeat(200), { keyIsTarget: false })).toEqual({
      kind: "large-copy",
      storageClass: undefined,
      why: "key-too-long-for-manifest",
    });
  });
});
