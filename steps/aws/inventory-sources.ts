import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { PlanEngine } from "../../contract/engines.ts";
import { InvariantViolatedError, InventoryFormatError } from "../../contract/errors.ts";
import type { RunContext } from "../../contract/run-context.ts";
import { type InventoryRow, inventoryRowBatches } from "../domain/inventory.ts";
import type { InventoryManifest } from "../domain/inventory-manifest.ts";
import { type NotCurrentCounts, planColumns } from "../domain/inventory-queries.ts";
import type { RoutedPart } from "../domain/inventory-routes.ts";
import type { StepDeps } from "../runtime/step.ts";
import type { UnloadedFile } from "./inventory-athena.ts";
import { parquetRowBatches } from "./inventory-parquet.ts";
import { selectDataFiles } from "./inventory-select.ts";
import { getStream, getStreamWithMd5 } from "./s3-io.ts";

/**
 * A slice of an inventory delivery read by the plan's engine (contract/engines.ts), as one sequence whatever the
 * engine: rows to classify, in batches; versions counted where they are stored (select); and the end of each file,
 * for progress and for stopping between files. The stream engine yields every row, the others only current versions.
 */
export type InventoryChunk =
  | { kind: "rows"; rows: InventoryRow[] }
  /** Lines Athena already routed to a part of the plan (gunzipped), to append as they are; read before the next chunk. */
  | { kind: "lines"; part: RoutedPart; bytes: AsyncIterable<Buffer> }
  | { kind: "not-current"; counts: NotCurrentCounts }
  /** A file read to its end; `nextFile`: the index of the one after it. */
  | { kind: "read"; source: string; nextFile: number };

/**
 * Reads files `from` to `to` (exclusive): of the delivery's data files (stream, select), or of the files the athena
 * engine's UNLOAD wrote (`unloaded`, which "Slice the inventory" recorded; its queries already counted the versions
 * that are not current).
 */
export async function* readDelivery(
  engine: PlanEngine,
  run: RunContext,
  manifest: InventoryManifest,
  deps: StepDeps,
  range: { from: number; to: number },
  unloaded?: readonly UnloadedFile[],
): AsyncGenerator<InventoryChunk, void, undefined> {
  const { clients } = deps;
  const { from, to } = range;
  switch (engine.name) {
    case "stream":
      for (const [i, file] of manifest.files.slice(from, to).entries()) {
        const rows = manifest.fileFormat === "Parquet" ? parquetFileRows : dataFileRows;
        for await (const batch of rows(run, manifest, file, deps)) yield { kind: "rows", rows: batch };
        yield { kind: "read", source: file.key, nextFile: from + i + 1 };
      }
      return;
    case "select": {
      const columns = planColumns(manifest.columns);
      let next = from;
      const files = manifest.files.slice(from, to);
      for await (const selected of selectDataFiles(clients.s3, manifest.destinationBucket, files, manifest.columns)) {
        const text = { compression: "none", header: false } as const;
        for await (const rows of inventoryRowBatches(selected.records, columns, selected.file.key, "encoded", text)) {
          yield { kind: "rows", rows: ofBucket(run, rows, selected.file.key) };
        }
        yield { kind: "not-current", counts: await selected.notCurrent() };
        next += 1;
        yield { kind: "read", source: selected.file.key, nextFile: next };
      }
      return;
    }
    case "athena": {
      if (!unloaded) {
        throw new InvariantViolatedError("The plan uses the athena engine, but no unloaded files were recorded.", {
          fix: "This is a bug in rekey's planning; start a new run and report it with the execution's history.",
        });
      }
      const columns = planColumns(manifest.columns);
      for (const [i, file] of unloaded.slice(from, to).entries()) {
        const body = await getStream(clients.s3, file.bucket, file.key);
        if (file.part) {
          // pipeline, not pipe: a read that fails mid-file fails the gunzip, and a writer that stops ends the read.
          const gunzip = createGunzip();
          pipeline(body, gunzip).catch(() => {});
          yield { kind: "lines", part: file.part, bytes: gunzip };
        } else {
          for await (const rows of inventoryRowBatches(body, columns, file.key)) {
            yield { kind: "rows", rows: ofBucket(run, rows, file.key) };
          }
        }
        yield { kind: "read", source: file.key, nextFile: from + i + 1 };
      }
      return;
    }
  }
}

/**
 * Rows of one gzipped data file, checking its MD5 against the manifest as the bytes go by, and that every row is
 * of the run's bucket. `keys` as inventoryRowBatches takes it.
 */
export async function* dataFileRows(
  run: RunContext,
  manifest: InventoryManifest,
  file: InventoryManifest["files"][number],
  { clients }: StepDeps,
  keys: "encoded" | "either" = "encoded",
): AsyncGenerator<InventoryRow[], void, undefined> {
  const { body, md5 } = await getStreamWithMd5(clients.s3, manifest.destinationBucket, file.key);
  for await (const batch of inventoryRowBatches(body, manifest.columns, file.key, keys)) {
    yield ofBucket(run, batch, file.key);
  }
  checkMd5(md5(), file);
}

/**
 * Rows of one Parquet data file (steps/aws/inventory-parquet.ts), read in ranges; its MD5 is computed from a
 * second, streamed read of the whole file alongside, since the ranges need not cover every byte.
 */
async function* parquetFileRows(
  run: RunContext,
  manifest: InventoryManifest,
  file: InventoryManifest["files"][number],
  { clients }: StepDeps,
): AsyncGenerator<InventoryRow[], void, undefined> {
  const bucket = manifest.destinationBucket;
  const digest = getStreamWithMd5(clients.s3, bucket, file.key).then(async ({ body, md5 }) => {
    for await (const _ of body) {
      // Only the hash is wanted.
    }
    return md5();
  });
  // Checked once the rows are read; a failed read must not be left unhandled meanwhile.
  digest.catch(() => undefined);
  for await (const batch of parquetRowBatches(clients.s3, bucket, file, manifest.columns)) {
    yield ofBucket(run, batch, file.key);
  }
  checkMd5(await digest, file);
}

function checkMd5(digest: string, file: InventoryManifest["files"][number]): void {
  if (digest !== file.md5.toLowerCase()) {
    throw new InventoryFormatError(`the file's MD5 is ${digest}, but manifest.json says ${file.md5}.`, {
      file: file.key,
      fix: "The file is damaged or was replaced. Wait for the next inventory delivery and start a new run.",
    });
  }
}

function ofBucket(run: RunContext, rows: InventoryRow[], source: string): InventoryRow[] {
  for (const row of rows) {
    if (row.bucket !== run.bucket) {
      throw new InventoryFormatError(`a row names bucket ${row.bucket}, not ${run.bucket}.`, {
        file: source,
        fix: "The inventory does not belong to this bucket; check the inventory configuration.",
      });
    }
  }
  return rows;
}
