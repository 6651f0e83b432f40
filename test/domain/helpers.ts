import { gzipSync } from "node:zlib";

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
