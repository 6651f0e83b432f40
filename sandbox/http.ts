import type { IncomingHttpHeaders } from "node:http";

/** One request as every emulated service sees it: target normalised, body fully read and aws-chunked decoded. */
export interface SandboxRequest {
  method: string;
  /** Path exactly as sent (still percent-encoded), without the query string. */
  rawPath: string;
  query: URLSearchParams;
  /** Raw query string without the leading "?", for services whose sub-resources are bare names (`?tagging`). */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
}

export interface SandboxResponse {
  status: number;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
}

/** A service answers the requests it owns and returns undefined for the rest. */
export type ServiceHandler = (req: SandboxRequest) => Promise<SandboxResponse | undefined>;

/** An error a service returns with its documented code and HTTP status. */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ServiceError";
  }
}

export function header(req: SandboxRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(",") : v;
}

/**
 * The aws CLI reaches S3 Control through an HTTP proxy, so requests may arrive in absolute form
 * (`GET http://123456789012.127.0.0.1:4599/v20180820/jobs/...`). Such hosts are not valid WHATWG URLs,
 * so the scheme and authority are stripped by hand before anything parses the target.
 */
export function splitTarget(target: string): { rawPath: string; rawQuery: string } {
  const originForm = target.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/, "") || "/";
  const q = originForm.indexOf("?");
  return q < 0
    ? { rawPath: originForm, rawQuery: "" }
    : { rawPath: originForm.slice(0, q), rawQuery: originForm.slice(q + 1) };
}

/**
 * Decodes an aws-chunked body (SigV4 streaming): `<hex-size>[;chunk-signature=...]\r\n<data>\r\n ... 0\r\n<trailers>\r\n\r\n`.
 * Returns the payload and any trailing headers (such as `x-amz-checksum-crc32`).
 */
export function decodeAwsChunked(raw: Buffer): { payload: Buffer; trailers: Record<string, string> } {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", pos);
    if (lineEnd < 0)
      throw new ServiceError("IncompleteBody", 400, "The aws-chunked body ended before its final chunk.");
    const sizeField = raw.subarray(pos, lineEnd).toString("latin1").split(";")[0]?.trim() ?? "";
    const size = Number.parseInt(sizeField, 16);
    if (!Number.isFinite(size) || size < 0) {
      throw new ServiceError("InvalidRequest", 400, `Malformed aws-chunked chunk size "${sizeField}".`);
    }
    pos = lineEnd + 2;
    if (size === 0) break;
    if (pos + size > raw.length)
      throw new ServiceError("IncompleteBody", 400, "The aws-chunked body is shorter than its chunk sizes say.");
    parts.push(raw.subarray(pos, pos + size));
    pos += size + 2;
  }
  const trailers: Record<string, string> = {};
  for (const line of raw.subarray(pos).toString("latin1").split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { payload: Buffer.concat(parts), trailers };
}

export function isAwsChunked(headers: IncomingHttpHeaders): boolean {
  const encoding = String(headers["content-encoding"] ?? "");
  const sha = String(headers["x-amz-content-sha256"] ?? "");
  return encoding.split(",").some((e) => e.trim() === "aws-chunked") || sha.startsWith("STREAMING-");
}
