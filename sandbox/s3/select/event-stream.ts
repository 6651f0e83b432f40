import { crc32 } from "node:zlib";

/**
 * The binary event stream SelectObjectContent answers with, as "Appendix: SelectObjectContent Response" describes it
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html): each message is a prelude (total
 * length, headers length, both 4-byte big-endian), the prelude's CRC32, the headers, the payload and the whole
 * message's CRC32. Every header value is of type 7 (string): a 2-byte length and UTF-8 bytes.
 */

const STRING_TYPE = 7;
/** Prelude (8) + prelude CRC (4) + message CRC (4). */
const OVERHEAD = 16;

export type SelectEventType = "Records" | "Stats" | "Progress" | "Cont" | "End";

/** One message: headers in the order given, then the payload. */
export function encodeMessage(headers: [string, string][], payload: Buffer = Buffer.alloc(0)): Buffer {
  const encodedHeaders = Buffer.concat(headers.map(([name, value]) => encodeHeader(name, value)));
  const total = OVERHEAD + encodedHeaders.length + payload.length;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(encodedHeaders.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)) >>> 0, 8);
  encodedHeaders.copy(out, 12);
  payload.copy(out, 12 + encodedHeaders.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)) >>> 0, total - 4);
  return out;
}

function encodeHeader(name: string, value: string): Buffer {
  const n = Buffer.from(name, "utf8");
  const v = Buffer.from(value, "utf8");
  if (n.length > 255) throw new RangeError(`event-stream header name too long: ${name}`);
  const out = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
  out.writeUInt8(n.length, 0);
  n.copy(out, 1);
  out.writeUInt8(STRING_TYPE, 1 + n.length);
  out.writeUInt16BE(v.length, 2 + n.length);
  v.copy(out, 4 + n.length);
  return out;
}

/** A Records event: one chunk of the result, as the output serialization wrote it. */
export function recordsEvent(payload: Buffer): Buffer {
  return encodeMessage(
    [
      [":event-type", "Records"],
      [":content-type", "application/octet-stream"],
      [":message-type", "event"],
    ],
    payload,
  );
}

export interface ScanCounts {
  bytesScanned: number;
  bytesProcessed: number;
  bytesReturned: number;
}

function countsXml(root: "Stats" | "Progress", c: ScanCounts): Buffer {
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?><${root} xmlns=""><BytesScanned>${c.bytesScanned}</BytesScanned>` +
      `<BytesProcessed>${c.bytesProcessed}</BytesProcessed><BytesReturned>${c.bytesReturned}</BytesReturned></${root}>`,
    "utf8",
  );
}

export function statsEvent(c: ScanCounts): Buffer {
  return encodeMessage(
    [
      [":event-type", "Stats"],
      [":content-type", "text/xml"],
      [":message-type", "event"],
    ],
    countsXml("Stats", c),
  );
}

export function progressEvent(c: ScanCounts): Buffer {
  return encodeMessage(
    [
      [":event-type", "Progress"],
      [":content-type", "text/xml"],
      [":message-type", "event"],
    ],
    countsXml("Progress", c),
  );
}

/** Keep-alive: S3 sends it while a scan finds nothing to return for a while. */
export function contEvent(): Buffer {
  return encodeMessage([
    [":event-type", "Cont"],
    [":message-type", "event"],
  ]);
}

/** The last message of a query that completed; a stream without it did not. */
export function endEvent(): Buffer {
  return encodeMessage([
    [":event-type", "End"],
    [":message-type", "event"],
  ]);
}

/** An error after the response began: the stream ends with it, and without an End event. */
export function errorMessage(code: string, message: string): Buffer {
  return encodeMessage([
    [":error-code", code],
    [":error-message", message],
    [":message-type", "error"],
  ]);
}

export interface DecodedMessage {
  headers: Record<string, string>;
  payload: Buffer;
}

/**
 * Splits a stream into messages, checking both CRCs: for the sandbox's own tests and for anything that reads a
 * stream without an SDK. Throws on a truncated message, a bad CRC or a non-string header.
 */
export function decodeMessages(stream: Buffer): DecodedMessage[] {
  const out: DecodedMessage[] = [];
  let pos = 0;
  while (pos < stream.length) {
    if (stream.length - pos < OVERHEAD) throw new Error(`truncated message at byte ${pos}`);
    const total = stream.readUInt32BE(pos);
    const headersLength = stream.readUInt32BE(pos + 4);
    if (total < OVERHEAD + headersLength || pos + total > stream.length) {
      throw new Error(`bad message length ${total} at byte ${pos}`);
    }
    const msg = stream.subarray(pos, pos + total);
    if (msg.readUInt32BE(8) !== crc32(msg.subarray(0, 8)) >>> 0) throw new Error(`prelude CRC mismatch at ${pos}`);
    if (msg.readUInt32BE(total - 4) !== crc32(msg.subarray(0, total - 4)) >>> 0) {
      throw new Error(`message CRC mismatch at ${pos}`);
    }
    out.push({
      headers: decodeHeaders(msg.subarray(12, 12 + headersLength)),
      payload: msg.subarray(12 + headersLength, total - 4),
    });
    pos += total;
  }
  return out;
}

function decodeHeaders(buf: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  let p = 0;
  while (p < buf.length) {
    const nameLength = buf.readUInt8(p);
    const name = buf.subarray(p + 1, p + 1 + nameLength).toString("utf8");
    p += 1 + nameLength;
    const type = buf.readUInt8(p);
    if (type !== STRING_TYPE) throw new Error(`header ${name} has type ${type}, not string`);
    const valueLength = buf.readUInt16BE(p + 1);
    headers[name] = buf.subarray(p + 3, p + 3 + valueLength).toString("utf8");
    p += 3 + valueLength;
  }
  return headers;
}
