/**
 * How to join objects into one with a multipart upload, copying what S3 can copy server side (UploadPartCopy) and
 * reading only what it cannot: every part but the last must be at least 5 MiB, so pieces smaller than that (short
 * objects, the ends of longer ones, a leading header) are read and sent together with the start of what follows
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html, https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
 */

export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** UploadPartCopy copies at most 5 GiB per part. */
export const MAX_COPY_PART_BYTES = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;

/** Bytes `start` to `end` (inclusive) of source `source`, or the leading text (`source: "head"`). */
export type Piece = { source: number; start: number; end: number } | { source: "head" };

/** One part of the joined object: a range copied by S3, or pieces read and uploaded together. */
export type JoinPart =
  | { kind: "copy"; source: number; start: number; end: number }
  | { kind: "upload"; pieces: Piece[] };

/**
 * The parts that join `sizes` (in order) after a leading text of `headBytes`. Each part is at least MIN_PART_BYTES
 * except the last; no more than MIN_PART_BYTES of any source is read (plus sources shorter than that).
 */
export function joinParts(headBytes: number, sizes: readonly number[]): JoinPart[] {
  const parts: JoinPart[] = [];
  let pending: Piece[] = headBytes > 0 ? [{ source: "head" }] : [];
  let pendingBytes = headBytes;
  const flush = () => {
    if (pending.length > 0) parts.push({ kind: "upload", pieces: pending });
    pending = [];
    pendingBytes = 0;
  };
  for (const [source, size] of sizes.entries()) {
    let at = 0;
    if (pendingBytes > 0 && size > 0) {
      // Complete the pending part from the start of this source (all of it if it is short).
      const take = Math.min(size, MIN_PART_BYTES - pendingBytes);
      pending.push({ source, start: 0, end: take - 1 });
      pendingBytes += take;
      at = take;
      if (pendingBytes >= MIN_PART_BYTES) flush();
    }
    while (size - at >= MIN_PART_BYTES) {
      let length = Math.min(size - at, MAX_COPY_PART_BYTES);
      // Never leave a remainder that could start a part too small to be anything but the last.
      const rest = size - at - length;
      if (rest > 0 && rest < MIN_PART_BYTES) length -= MIN_PART_BYTES - rest;
      parts.push({ kind: "copy", source, start: at, end: at + length - 1 });
      at += length;
    }
    if (at < size) {
      // Less than a part is left, and nothing is pending (what was pending took this source's start, or flushed).
      pending.push({ source, start: at, end: size - 1 });
      pendingBytes += size - at;
    }
  }
  flush();
  return parts;
}
