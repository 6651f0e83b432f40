import type { HeadObjectCommandOutput } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import {
  attributeProblems,
  carriedAttributes,
  encryptionProblems,
  isCompliant,
  realVersion,
  sameSource,
  sameTags,
  skipReason,
  stripQuotes,
} from "../../steps/domain/large-copy-checks.ts";

const KEY = "arn:aws:kms:us-east-1:111122223333:key/target";
const NOW = new Date("2026-06-01T00:00:00Z");
const head = (h: Partial<HeadObjectCommandOutput>): HeadObjectCommandOutput => ({ $metadata: {}, ...h });
const compliant = { ServerSideEncryption: "aws:kms", SSEKMSKeyId: KEY, BucketKeyEnabled: true } as const;

describe("isCompliant", () => {
  it("needs SSE-KMS, the target key and a Bucket Key, all three", () => {
    expect(isCompliant(compliant, KEY)).toBe(true);
    expect(isCompliant({ ...compliant, ServerSideEncryption: "AES256" }, KEY)).toBe(false);
    expect(isCompliant({ ...compliant, SSEKMSKeyId: "arn:aws:kms:us-east-1:111122223333:key/other" }, KEY)).toBe(false);
    expect(isCompliant({ ...compliant, BucketKeyEnabled: false }, KEY)).toBe(false);
    expect(isCompliant({ ...compliant, BucketKeyEnabled: undefined }, KEY)).toBe(false);
  });
});

describe("skipReason", () => {
  it("copies ordinary objects", () => {
    expect(skipReason(head({ StorageClass: "STANDARD_IA", MissingMeta: 0 }))).toBeUndefined();
    expect(skipReason(head({ Expires: new Date(0), ExpiresString: "Thu, 01 Jan 1970 00:00:00 GMT" }))).toBeUndefined();
  });

  it("names what would be lost or fail", () => {
    expect(skipReason(head({ ServerSideEncryption: "aws:kms:dsse" }))).toBe(
      "DSSE-KMS: rekey does not change dual-layer encryption.",
    );
    expect(skipReason(head({ StorageClass: "GLACIER" }))).toBe("Archived (GLACIER): restore it, then run rekey again.");
    expect(skipReason(head({ ArchiveStatus: "DEEP_ARCHIVE_ACCESS" }))).toBe(
      "In the Intelligent-Tiering DEEP_ARCHIVE_ACCESS tier: restore it, then run rekey again.",
    );
    expect(skipReason(head({ MissingMeta: 1 }))).toBe(
      "Has 1 metadata entries that HTTP headers cannot carry; a copy would drop them.",
    );
    expect(skipReason(head({ ExpiresString: "soon" }))).toBe(
      "Its Expires header (soon) is not a date; a copy could not keep it as it is.",
    );
  });
});

describe("sameTags", () => {
  it("compares keys and values, whatever the order", () => {
    expect(sameTags({ a: "1", b: "2" }, { b: "2", a: "1" })).toBe(true);
    expect(sameTags({ a: "1" }, { a: "2" })).toBe(false);
    expect(sameTags({ a: "1" }, { b: "1" })).toBe(false);
    expect(sameTags({ a: "1" }, { a: "1", b: "2" })).toBe(false);
    expect(sameTags({ a: "1", b: "2" }, { a: "1" })).toBe(false);
    expect(sameTags({}, {})).toBe(true);
    expect(sameTags({ b: "2", a: "1" }, { a: "1", b: "2" })).toBe(true);
  });
});

describe("carriedAttributes", () => {
  it("asks only for the target encryption when the source has nothing to carry", () => {
    expect(carriedAttributes(head({}), {}, KEY, NOW)).toStrictEqual({
      Metadata: {},
      StorageClass: "STANDARD",
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: KEY,
      BucketKeyEnabled: true,
    });
  });

  it("carries every content header, metadata, tags, storage class and a live Object Lock", () => {
    const retain = new Date("2027-01-01T00:00:00Z");
    const expires = new Date("2030-01-01T00:00:00Z");
    const source = head({
      ContentType: "text/plain",
      CacheControl: "no-cache",
      ContentDisposition: "attachment",
      ContentEncoding: "gzip",
      ContentLanguage: "fr",
      Expires: expires,
      WebsiteRedirectLocation: "/elsewhere",
      Metadata: { owner: "me" },
      StorageClass: "STANDARD_IA",
      ObjectLockMode: "GOVERNANCE",
      ObjectLockRetainUntilDate: retain,
      ObjectLockLegalHoldStatus: "ON",
    });
    expect(carriedAttributes(source, { "a b": "c&d", e: "f" }, KEY, NOW)).toEqual({
      ContentType: "text/plain",
      CacheControl: "no-cache",
      ContentDisposition: "attachment",
      ContentEncoding: "gzip",
      ContentLanguage: "fr",
      Expires: expires,
      WebsiteRedirectLocation: "/elsewhere",
      Metadata: { owner: "me" },
      StorageClass: "STANDARD_IA",
      Tagging: "a%20b=c%26d&e=f",
      ObjectLockMode: "GOVERNANCE",
      ObjectLockRetainUntilDate: retain,
      ObjectLockLegalHoldStatus: "ON",
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: KEY,
      BucketKeyEnabled: true,
    });
  });

  it("drops a retention that has ended, a lock without a date, and a legal hold that is off", () => {
    const lock = (retain: Date | undefined, mode?: "GOVERNANCE") =>
      carriedAttributes(
        head({ ObjectLockMode: mode, ObjectLockRetainUntilDate: retain, ObjectLockLegalHoldStatus: "OFF" }),
        {},
        KEY,
        NOW,
      );
    for (const a of [
      lock(NOW, "GOVERNANCE"),
      lock(new Date("2026-01-01"), "GOVERNANCE"),
      lock(undefined, "GOVERNANCE"),
    ]) {
      expect(a).not.toHaveProperty("ObjectLockMode");
      expect(a).not.toHaveProperty("ObjectLockRetainUntilDate");
      expect(a).not.toHaveProperty("ObjectLockLegalHoldStatus");
    }
    expect(lock(new Date("2027-01-01"))).not.toHaveProperty("ObjectLockMode");
  });

  it("copies the metadata rather than sharing the source's object", () => {
    const metadata = { owner: "me" };
    const carried = carriedAttributes(head({ Metadata: metadata }), {}, KEY, NOW);
    expect(carried.Metadata).toEqual(metadata);
    expect(carried.Metadata).not.toBe(metadata);
  });
});

describe("versions and ETags", () => {
  it("leaves out the null version", () => {
    expect(realVersion(undefined)).toBeUndefined();
    expect(realVersion("null")).toBeUndefined();
    expect(realVersion("v1")).toBe("v1");
  });

  it("strips every quote", () => {
    expect(stripQuotes('"abc"')).toBe("abc");
  });

  it("sees the same source only with the same ETag and version", () => {
    const source = { etag: '"e1"', versionId: "v1", size: 1 };
    expect(sameSource(head({ ETag: "e1", VersionId: "v1" }), source)).toBe(true);
    expect(sameSource(head({ ETag: '"e2"', VersionId: "v1" }), source)).toBe(false);
    expect(sameSource(head({ ETag: '"e1"', VersionId: "v2" }), source)).toBe(false);
    expect(sameSource(head({ VersionId: "v1" }), source)).toBe(false);
  });
});

describe("encryptionProblems and attributeProblems", () => {
  it("finds nothing when the new version matches", () => {
    const source = head({ ContentType: "text/plain", Metadata: { a: "1" }, Expires: new Date(5) });
    const actual = head({ ...compliant, ContentType: "text/plain", Metadata: { a: "1" }, Expires: new Date(5) });
    expect(attributeProblems(source, actual, KEY)).toEqual([]);
    expect(attributeProblems(head({ StorageClass: "STANDARD" }), head({ ...compliant }), KEY)).toEqual([]);
  });

  it("names each encryption problem", () => {
    expect(encryptionProblems(head({}), KEY)).toEqual(["encryption is none", "KMS key is none", "Bucket Key is off"]);
    expect(encryptionProblems(head({ ServerSideEncryption: "AES256", SSEKMSKeyId: "k" }), KEY)).toEqual([
      "encryption is AES256",
      "KMS key is k",
      "Bucket Key is off",
    ]);
  });

  it("names each attribute that differs from the source", () => {
    const source = head({
      ContentType: "text/plain",
      Expires: new Date(5),
      StorageClass: "STANDARD_IA",
      Metadata: { a: "1" },
    });
    const actual = head({ ...compliant, CacheControl: "no-cache", StorageClass: "GLACIER_IR" });
    expect(attributeProblems(source, actual, KEY)).toEqual([
      "ContentType is unset, the source has text/plain",
      "CacheControl is no-cache, the source has unset",
      "Expires differs from the source",
      "storage class is GLACIER_IR, the source has STANDARD_IA",
      'metadata is {}, the source has {"a":"1"}',
    ]);
    expect(
      attributeProblems(head({}), head({ ...compliant, StorageClass: "ONEZONE_IA", Metadata: { b: "2" } }), KEY),
    ).toEqual(["storage class is ONEZONE_IA, the source has STANDARD", 'metadata is {"b":"2"}, the source has {}']);
    expect(attributeProblems(head({ StorageClass: "GLACIER_IR" }), head({ ...compliant }), KEY)).toEqual([
      "storage class is STANDARD, the source has GLACIER_IR",
    ]);
  });
});
