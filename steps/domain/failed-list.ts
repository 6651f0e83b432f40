import { encodeManifestKey } from "./batch-manifest.ts";

/** failed.csv in the run prefix: every object that failed, one line each, written by the verification steps. */
export const FAILED_HEADER = "bucket,key,category,http_status,error_code,message\n";

/** One failed.csv line (FAILED_HEADER); the key percent-encoded like a manifest key, the message quoted. */
export function failedLine(
  bucket: string,
  key: string,
  category: string,
  message: string,
  httpStatus?: number,
  errorCode?: string,
): string {
  return `${bucket},${encodeManifestKey(key)},${category},${httpStatus ?? ""},${errorCode ?? ""},"${message.replace(/"/g, '""')}"\n`;
}
