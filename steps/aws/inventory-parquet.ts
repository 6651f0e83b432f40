import type { S3Client } from "@aws-sdk/client-s3";
import { type AsyncBuffer, parquetMetadataAsync, parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { InventoryFormatError } from "../../contract/errors.ts";
import { columnarRowReader, type InventoryColumn, type InventoryRow } from "../domain/inventory.ts";
import { getBytes } from "./s3-io.ts";

/** Rows handed on at a time, as the CSV parser hands on about one decompressed chunk's. */
const BATCH_ROWS = 1_000;

/**
 * Rows of one Parquet inventory data file (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html:
 * snake_case columns in fileSchema order, keys not URL-encoded, dates as timestamps), read with hyparquet through
 * ranged GetObject calls: the footer first, then one row group at a time, so memory holds one row group's values.
 * Values are written as the CSV would write them and read by the same row reader as CSV lines; every
 * decompression codec Parquet allows is read (hyparquet-compressors), since S3 does not say which it writes.
 */
export async function* parquetRowBatches(
  s3: S3Client,
  bucket: string,
  file: { key: string; size: number },
  columns: readonly InventoryColumn[],
): AsyncGenerator<InventoryRow[], void, undefined> {
  const buffer: AsyncBuffer = {
    byteLength: file.size,
    async slice(start: number, end?: number) {
      const bytes = await getBytes(s3, bucket, file.key, { start, end: (end ?? file.size) - 1 });
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
  const fail = (problem: string, cause: unknown) =>
    new InventoryFormatError(problem, {
      file: file.key,
      fix: "The data file is damaged or is not the Parquet file manifest.json lists; wait for the next inventory delivery and start a new run.",
      cause,
    });
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (cause) {
    throw fail(`it cannot be read as Parquet (${(cause as Error).message}).`, cause);
  }
  const leaves = metadata.schema.length - 1;
  if (leaves !== columns.length) {
    throw fail(`it has ${leaves} column(s) but manifest.json fileSchema lists ${columns.length}.`, undefined);
  }
  const toRow = columnarRowReader(columns, file.key);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let values: unknown[][] = [];
    try {
      await parquetRead({
        file: buffer,
        metadata,
        rowStart,
        rowEnd,
        compressors,
        onComplete: (rows) => {
          values = rows;
        },
      });
    } catch (cause) {
      throw fail(`rows ${rowStart} to ${rowEnd - 1} cannot be read (${(cause as Error).message}).`, cause);
    }
    for (let at = 0; at < values.length; at += BATCH_ROWS) {
      yield values.slice(at, at + BATCH_ROWS).map((row, i) => toRow(row.map(asCsvText), rowStart + at + i + 1));
    }
    rowStart = rowEnd;
  }
}

/** A Parquet value as S3 Inventory's CSV writes the field: "" for none, booleans and numbers as text, dates ISO. */
function asCsvText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString();
  return String(value);
}
