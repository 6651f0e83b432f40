import type { Behaviours } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import type { SandboxResponse } from "../http.ts";
import type { EncryptionResolver } from "./encryption.ts";
import type { S3Store } from "./store.ts";
import { type XmlNode, xmlDocument } from "./xml.ts";

/** What every S3 operation handler needs. */
export interface S3Context {
  store: S3Store;
  encryption: EncryptionResolver;
  identity: SandboxIdentity;
  /** The switches for undocumented AWS behaviour (sandbox/behaviours.ts), read when a request is served. */
  behaviours: Behaviours;
}

/** An S3 request with the path-style bucket and key already decoded. */
export interface S3Target {
  bucket: string;
  key: string;
}

export function xmlResponse(
  root: string,
  body: XmlNode,
  headers: Record<string, string> = {},
  status = 200,
): SandboxResponse {
  return { status, headers: { "content-type": "application/xml", ...headers }, body: xmlDocument(root, body) };
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): SandboxResponse {
  return { status, headers: { "content-length": 0, ...headers } };
}

/** HTTP dates, as S3 writes Last-Modified. */
export function httpDate(d: Date): string {
  return d.toUTCString();
}
