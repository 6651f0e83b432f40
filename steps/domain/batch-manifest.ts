import { InvalidInputError, ManifestWriteError } from "../../contract/errors.ts";
import { percentDecode } from "./percent-decode.ts";

/**
 * "The maximum number of characters for the key field in the manifest is 1,024"
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html).
 */
export const MANIFEST_KEY_MAX_CHARS = 1024;

const UNRESERVED_ONLY = /^[A-Za-z0-9\-_.~/]*$/;
// encodeURIComponent leaves these five alone; a manifest encodes them too so that nothing but the
// unreserved set and "/" is ever literal.
const SUB_DELIMS_LEFT_BY_ENCODE_URI_COMPONENT = /[!'()*]/g;

/**
 * Percent-encodes every character of an object key except `A-Za-z0-9-_.~` and `/`, as UTF-8 bytes.
 * Batch Operations does not document whether it decodes `+` as a space (batch-ops-create-job.html, as above); with `+` written as
 * `%2B` and space as `%20`, percent-decoding and form-decoding give the same key, so either reading is right.
 */
export function encodeManifestKey(key: string): string {
  if (UNRESERVED_ONLY.test(key)) return key;
  let encoded: string;
  try {
    encoded = encodeURIComponent(key);
  } catch (cause) {
    // Only a lone UTF-16 surrogate makes encodeURIComponent throw; no S3 key can contain one.
    throw new ManifestWriteError(`The key ${JSON.stringify(key)} is not valid Unicode and cannot be an S3 key.`, {
      fix: "This is a bug in the step that produced the key; report it with the key shown.",
      cause,
    });
  }
  return encoded
    .replace(SUB_DELIMS_LEFT_BY_ENCODE_URI_COMPONENT, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%2F", "/");
}

/** Reverses encodeManifestKey (plain percent-decoding, `+` stays `+`); undefined when malformed. */
export function tryDecodeManifestKey(encoded: string): string | undefined {
  return percentDecode(encoded, false);
}

/** Reverses encodeManifestKey; throws InvalidInputError on a malformed percent sequence. */
export function decodeManifestKey(encoded: string): string {
  const key = tryDecodeManifestKey(encoded);
  if (key === undefined) {
    throw new InvalidInputError(`The manifest key "${encoded}" has an invalid percent-encoding.`, {
      fix: "Manifest keys must percent-encode each UTF-8 byte of reserved characters as %XX.",
    });
  }
  return key;
}

/**
 * Whether a key would exceed the manifest's 1,024-character key field once encoded. A key of at most 113
 * UTF-16 units cannot: the worst expansion is 9 characters per unit (3 UTF-8 bytes, each %XX).
 */
export function manifestKeyTooLong(key: string): boolean {
  if (key.length * 9 <= MANIFEST_KEY_MAX_CHARS) return false;
  return encodeManifestKey(key).length > MANIFEST_KEY_MAX_CHARS;
}

function shortKey(key: string): string {
  return key.length <= 200 ? JSON.stringify(key) : `${JSON.stringify(key.slice(0, 200))}… (${key.length} characters)`;
}

/**
 * One `S3BatchOperations_CSV_20180820` line: `bucket,encodedKey\n`, no header and never a VersionId, so a copy
 * acts on the version that is current when the task runs (a pinned stale version would roll back a newer
 * write). Keys too long for the manifest should have been routed to a skip by classifyInventoryRow;
 * reaching here with one is a bug, so it throws rather than drop the object.
 */
export function manifestLine(bucket: string, key: string): string {
  if (bucket === "" || /[,\r\n"]/.test(bucket)) {
    throw new ManifestWriteError(`${JSON.stringify(bucket)} is not a bucket name that can go into a CSV manifest.`, {
      fix: "This is a bug in the step that writes manifests; report it.",
    });
  }
  if (key === "") {
    throw new ManifestWriteError(`An empty key cannot go into a manifest for bucket ${bucket}.`, {
      fix: "This is a bug in the step that writes manifests; report it.",
    });
  }
  const encoded = encodeManifestKey(key);
  if (encoded.length > MANIFEST_KEY_MAX_CHARS) {
    throw new ManifestWriteError(
      `The key ${shortKey(key)} is ${encoded.length} characters once encoded; a Batch Operations manifest allows ${MANIFEST_KEY_MAX_CHARS}.`,
      {
        fix: "Classify rows before writing them: such keys are skipped with reason key-too-long-for-manifest and re-encrypted by hand (CopyObject with the target key).",
      },
    );
  }
  return `${bucket},${encoded}\n`;
}

export interface ManifestEntry {
  bucket: string;
  /** Decoded key. */
  key: string;
  versionId?: string;
}

/** Parses one manifest line (`bucket,key[,versionId]`, key percent-encoded), e.g. to check a written manifest. */
export function parseManifestLine(line: string): ManifestEntry {
  const text = line.endsWith("\r\n") ? line.slice(0, -2) : line.endsWith("\n") ? line.slice(0, -1) : line;
  const parts = text.split(",");
  const [bucket, encodedKey, versionId] = parts;
  if (parts.length < 2 || parts.length > 3 || !bucket || !encodedKey) {
    throw new InvalidInputError(`The manifest line ${JSON.stringify(line)} is not bucket,key[,versionId].`, {
      fix: "A Batch Operations CSV manifest has two or three comma-separated fields per line and no header.",
    });
  }
  const entry: ManifestEntry = { bucket, key: decodeManifestKey(encodedKey) };
  if (versionId !== undefined && versionId !== "") entry.versionId = versionId;
  return entry;
}
