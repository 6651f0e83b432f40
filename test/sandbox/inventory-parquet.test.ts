import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutBucketInventoryConfigurationCommand } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { describe, expect, it } from "vitest";
import { newTestBucket, useSandbox } from "../support/sandbox.ts";

const env = useSandbox();

/** Reads a Parquet file with DuckDB: its schema (name → physical and logical type) and its rows. */
async function readParquet(
  bytes: Buffer,
): Promise<{ schema: Record<string, string>; rows: Record<string, unknown>[] }> {
  const dir = await mkdtemp(join(tmpdir(), "inventory-parquet-test-"));
  const file = join(dir, "data.parquet");
  await writeFile(file, bytes);
  const duck = await DuckDBInstance.create(":memory:");
  const c = await duck.connect();
  try {
    const schema = await c.runAndReadAll(
      `SELECT name, type, logical_type::VARCHAR AS logical, repetition_type FROM parquet_schema('${file}') WHERE name <> 'duckdb_schema'`,
    );
    const rows = await c.runAndReadAll(`SELECT * FROM read_parquet('${file}') ORDER BY key, is_latest DESC`);
    return {
      schema: Object.fromEntries(
        schema
          .getRowObjectsJson()
          .map((r) => [String(r.name), `${r.repetition_type} ${r.type} ${r.logical ?? ""}`.trim()]),
      ),
      rows: rows.getRowObjectsJson(),
    };
  } finally {
    c.closeSync();
    duck.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

describe("Parquet inventory delivery", () => {
  it("writes snake_case typed columns, raw keys and the manifest's message-type fileSchema", async () => {
    const src = await newTestBucket(env.s3, "pq-src", { versioned: true });
    const dest = await newTestBucket(env.s3, "pq-dest");
    await env.admin.seed(src, [
      { key: "a+b c.txt", body: "one", encryption: { type: "NOT-SSE" }, lastModified: "2024-04-12T06:45:57.000Z" },
      { key: "a+b c.txt", body: "two", encryption: { type: "SSE-S3" }, lastModified: "2024-04-13T00:00:00.000Z" },
    ]);
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "pq",
        InventoryConfiguration: {
          Id: "pq",
          IsEnabled: true,
          Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${dest}`, Format: "Parquet" } },
          IncludedObjectVersions: "All",
          OptionalFields: ["Size", "LastModifiedDate", "EncryptionStatus"],
          Schedule: { Frequency: "Daily" },
        },
      }),
    );
    const delivery = await env.admin.deliverInventory({ bucket: src, configurationId: "pq" });
    expect(delivery.dataFiles[0]?.key).toMatch(new RegExp(`^${src}/pq/data/[0-9a-f-]{36}\\.parquet$`));
    const manifest = JSON.parse(
      (await (
        await env.s3.send(new GetObjectCommand({ Bucket: dest, Key: delivery.manifestKey }))
      ).Body?.transformToString()) ?? "",
    ) as { fileFormat: string; fileSchema: string };
    expect(manifest.fileFormat).toBe("Parquet");
    expect(manifest.fileSchema).toBe(
      "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary encryption_status (UTF8); }",
    );
    const data = await env.s3.send(new GetObjectCommand({ Bucket: dest, Key: delivery.dataFiles[0]?.key }));
    const { schema, rows } = await readParquet(Buffer.from((await data.Body?.transformToByteArray()) ?? []));
    expect(Object.keys(schema)).toEqual([
      "bucket",
      "key",
      "version_id",
      "is_latest",
      "is_delete_marker",
      "size",
      "last_modified_date",
      "encryption_status",
    ]);
    expect(schema.is_latest).toMatch(/^OPTIONAL BOOLEAN/);
    expect(schema.size).toMatch(/^OPTIONAL INT64/);
    expect(schema.last_modified_date).toMatch(
      /^OPTIONAL INT64 TimestampType\(isAdjustedToUTC=\d, unit=TimeUnit\(MILLIS/,
    );
    expect(rows.map((r) => [r.key, r.is_latest, r.size, r.last_modified_date, r.encryption_status])).toEqual([
      ["a+b c.txt", true, "3", "2024-04-13 00:00:00", "SSE-S3"],
      ["a+b c.txt", false, "3", "2024-04-12 06:45:57", "NOT-SSE"],
    ]);
  });
});
