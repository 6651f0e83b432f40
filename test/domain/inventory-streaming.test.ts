import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { describe, expect, it } from "vitest";
import { classifyInventoryRow } from "../../steps/domain/classify.ts";
import { type InventoryColumn, inventoryRows } from "../../steps/domain/inventory.ts";

const COLUMNS: InventoryColumn[] = ["Bucket", "Key", "Size", "StorageClass", "EncryptionStatus", "BucketKeyStatus"];
const TOTAL_ROWS = 300_000;
const ROWS_PER_CHUNK = 500;

describe("inventoryRows streaming", () => {
  it("delivers every row while the producer never runs far ahead of the consumer", async () => {
    let produced = 0;
    let consumed = 0;
    let maxLead = 0;
    async function* csvText(): AsyncGenerator<string> {
      while (produced < TOTAL_ROWS) {
        let chunk = "";
        for (let i = 0; i < ROWS_PER_CHUNK; i++) {
          const n = produced + i;
          chunk += `"src","dir%2Fpart+${n}%E2%9C%93.parquet","${n}","STANDARD","NOT-SSE",""\n`;
        }
        produced += ROWS_PER_CHUNK;
        yield chunk;
      }
    }
    const gzipped = Readable.from(csvText()).pipe(createGzip());
    let copies = 0;

    for await (const row of inventoryRows(gzipped, COLUMNS, "generated.csv.gz")) {
      consumed += 1;
      maxLead = Math.max(maxLead, produced - consumed);
      if (classifyInventoryRow(row).kind === "copy") copies += 1;
      if (consumed === 1) expect(row.key).toBe("dir/part 0✓.parquet");
    }

    expect(consumed).toBe(TOTAL_ROWS);
    expect(copies).toBe(TOTAL_ROWS);
    // Backpressure holds: at most a few stream buffers' worth of rows exist ahead of the consumer, so memory
    // depends on buffer sizes, not on the file's length.
    expect(maxLead).toBeLessThan(TOTAL_ROWS / 10);
  });
});
