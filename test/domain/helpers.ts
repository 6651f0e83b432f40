import { gzipSync } from "node:zlib";
import type { ReportRow } from "../../steps/domain/completion-report.ts";
import type { InventoryRow } from "../../steps/domain/inventory.ts";

/** Yields `data` in pieces of `size` bytes, so parsers meet chunk boundaries mid-line and mid-character. */
export async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

export function gzipLines(lines: readonly string[], ending = "\n"): Buffer {
  return gzipSync(Buffer.from(lines.map((l) => l + ending).join(""), "utf8"));
}

export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** Quotes every field like S3 Inventory does. */
export function inventoryLine(fields: readonly string[]): string {
  return fields.map((f) => `"${f.replaceAll('"', '""')}"`).join(",");
}

/** An inventory row of bucket "src": a current, unencrypted STANDARD object of 100 bytes unless `overrides` say. */
export function inventoryObject(key: string, overrides: Partial<InventoryRow> = {}): InventoryRow {
  return {
    bucket: "src",
    key,
    isLatest: true,
    isDeleteMarker: false,
    size: 100,
    storageClass: "STANDARD",
    encryptionStatus: "NOT-SSE",
    ...overrides,
  };
}

/** A completion report row of bucket "src" whose key needed no decoding. */
export function reportRow(
  key: string,
  taskStatus: "succeeded" | "failed",
  httpStatus = 200,
  errorCode?: string,
  resultMessage = "",
): ReportRow {
  return {
    bucket: "src",
    key,
    rawKey: key,
    taskStatus,
    httpStatus,
    resultMessage,
    ...(errorCode ? { errorCode } : {}),
  };
}
