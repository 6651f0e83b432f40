import type { PlanEngine } from "../../contract/engines.ts";
import { EngineUnavailableError, InventoryFormatError } from "../../contract/errors.ts";
import type { RunContext } from "../../contract/run-context.ts";
import { others } from "../domain/engine-choice.ts";
import { type InventoryRow, inventoryRowBatches } from "../domain/inventory.ts";
import type { InventoryManifest } from "../domain/inventory-manifest.ts";
import { inventoryTable, type NotCurrentCounts, planColumns } from "../domain/inventory-queries.ts";
import type { StepDeps } from "../runtime/step.ts";
import { queryInventory, type UnloadedFile } from "./inventory-athena.ts";
import { selectDataFiles } from "./inventory-select.ts";
import { getStream, getStreamWithMd5 } from "./s3-io.ts";

/**
 * An inventory delivery read by the plan's engine (contract/engines.ts), as one sequence whatever the engine: rows
 * to classify, in batches; versions counted where they are stored (select, athena); and the end of each file or
 * query, for progress logs. The stream engine yields every row, the others only current versions.
 */
export type InventoryChunk =
  | { kind: "rows"; rows: InventoryRow[] }
  | { kind: "not-current"; counts: NotCurrentCounts }
  /** A file read to its end; `nextFile`: the index of the one after it, of `files`. */
  | { kind: "read"; source: string; nextFile: number; files: number }
  /** Athena unloaded the current versions into these files (read next, and saved with a plan's progress). */
  | { kind: "unloaded"; files: UnloadedFile[]; scannedBytes: number[] };

export async function* readDelivery(
  engine: PlanEngine,
  run: RunContext,
  manifest: InventoryManifest,
  manifestKey: string,
  planPrefix: string,
  deps: StepDeps,
  /** The file to start from: of the delivery's data files, or of the athena engine's unloaded ones. */
  fromFile = 0,
  /** What a plan continued from a checkpoint saved: the files Athena unloaded (no query is run again). */
  saved?: { athenaFiles?: UnloadedFile[] },
): AsyncGenerator<InventoryChunk, void, undefined> {
  const { clients } = deps;
  const files = manifest.files.slice(fromFile);
  switch (engine.name) {
    case "stream":
      for (const [i, file] of files.entries()) {
        for await (const rows of dataFileRows(run, manifest, file, deps)) yield { kind: "rows", rows };
        yield { kind: "read", source: file.key, nextFile: fromFile + i + 1, files: manifest.files.length };
      }
      return;
    case "select": {
      const columns = planColumns(manifest.columns);
      let next = fromFile;
      for await (const selected of selectDataFiles(clients.s3, manifest.destinationBucket, files, manifest.columns)) {
        const text = { compression: "none", header: false } as const;
        for await (const rows of inventoryRowBatches(selected.records, columns, selected.file.key, "encoded", text)) {
          yield { kind: "rows", rows: ofBucket(run, rows, selected.file.key) };
        }
        yield { kind: "not-current", counts: await selected.notCurrent() };
        next += 1;
        yield { kind: "read", source: selected.file.key, nextFile: next, files: manifest.files.length };
      }
      return;
    }
    case "athena": {
      const config = deps.config.athena;
      if (!config) {
        throw new EngineUnavailableError(
          "The plan uses the athena engine, but this deployment has no Athena workgroup.",
          {
            fix: `Deploy rekey with its Athena workgroup (infra/), or start the run with engine ${others("athena")}.`,
          },
        );
      }
      let unloaded = saved?.athenaFiles;
      if (!unloaded) {
        const { destinationBucket, columns: all, fileFormat } = manifest;
        const table = inventoryTable(config.database, destinationBucket, manifestKey, all, fileFormat);
        const result = await queryInventory(clients.athena, clients.s3, config, table, planPrefix);
        yield { kind: "not-current", counts: result.notCurrent };
        yield { kind: "unloaded", files: result.files, scannedBytes: result.scannedBytes };
        unloaded = result.files;
      }
      const columns = planColumns(manifest.columns);
      for (const [i, file] of unloaded.slice(fromFile).entries()) {
        const body = await getStream(clients.s3, file.bucket, file.key);
        for await (const rows of inventoryRowBatches(body, columns, file.key)) {
          yield { kind: "rows", rows: ofBucket(run, rows, file.key) };
        }
        yield { kind: "read", source: file.key, nextFile: fromFile + i + 1, files: unloaded.length };
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
  const digest = md5();
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
