import { describe, expect, it } from "vitest";
import { InventoryFormatError } from "../../contract/errors.ts";
import {
  athenaColumnName,
  athenaNotCurrentSql,
  athenaUnloadSql,
  inventoryTable,
  inventoryTableDdl,
  notCurrentFromCounts,
  planColumns,
  selectCurrentRowsSql,
  selectNotCurrentSql,
} from "../../steps/domain/inventory-queries.ts";

const ALL_VERSIONS = [
  "Bucket",
  "Key",
  "VersionId",
  "IsLatest",
  "IsDeleteMarker",
  "Size",
  "StorageClass",
  "ObjectAccessControlList",
  "EncryptionStatus",
];
const CURRENT_ONLY = ["Bucket", "Key", "Size", "StorageClass", "EncryptionStatus"];
const MANIFEST = "inventory/src/all-versions/2026-12-03T01-00Z/manifest.json";

describe("the columns a query returns", () => {
  it("keeps those planning reads, in fileSchema order, without the version flags or the ACL", () => {
    expect(planColumns(ALL_VERSIONS)).toEqual([
      "Bucket",
      "Key",
      "VersionId",
      "Size",
      "StorageClass",
      "EncryptionStatus",
    ]);
  });

  it("names them as AWS's inventory DDL does", () => {
    expect(
      ["IsLatest", "ETag", "VersionId", "LastModifiedDate", "BucketKeyStatus", "ObjectLockRetainUntilDate"].map(
        athenaColumnName,
      ),
    ).toEqual([
      "is_latest",
      "e_tag",
      "version_id",
      "last_modified_date",
      "bucket_key_status",
      "object_lock_retain_until_date",
    ]);
  });
});

describe("S3 Select", () => {
  it("asks for current versions by fileSchema position", () => {
    expect(selectCurrentRowsSql(ALL_VERSIONS)).toBe(
      "SELECT s._1, s._2, s._3, s._6, s._7, s._9 FROM S3Object s WHERE LOWER(s._5) = 'false' AND LOWER(s._4) = 'true'",
    );
    expect(selectCurrentRowsSql(CURRENT_ONLY)).toBe("SELECT s._1, s._2, s._3, s._4, s._5 FROM S3Object s");
  });

  it("counts delete markers, then other noncurrent versions, and rows with broken flags", () => {
    expect(selectNotCurrentSql(ALL_VERSIONS)).toBe(
      "SELECT SUM(CASE WHEN LOWER(s._5) = 'true' THEN 1 ELSE 0 END), " +
        "SUM(CASE WHEN LOWER(s._5) = 'true' THEN CAST(NULLIF(s._6, '') AS INT) ELSE 0 END), " +
        "SUM(CASE WHEN LOWER(s._5) = 'false' AND LOWER(s._4) = 'false' THEN 1 ELSE 0 END), " +
        "SUM(CASE WHEN LOWER(s._5) = 'false' AND LOWER(s._4) = 'false' THEN CAST(NULLIF(s._6, '') AS INT) ELSE 0 END), " +
        "SUM(CASE WHEN LOWER(s._5) NOT IN ('true', 'false') OR LOWER(s._4) NOT IN ('true', 'false') THEN 1 ELSE 0 END) " +
        "FROM S3Object s",
    );
    expect(selectNotCurrentSql(CURRENT_ONLY)).toBeUndefined();
  });
});

describe("reading the counts", () => {
  it("gives each reason that has versions, with their bytes; an empty sum is none", () => {
    expect(notCurrentFromCounts(["2", "", "3", "300", "0"], "f")).toEqual({
      byReason: { "delete-marker": { count: 2, bytes: 0 }, "noncurrent-version": { count: 3, bytes: 300 } },
    });
    expect(notCurrentFromCounts(["0", "", "", "", ""], "f")).toEqual({ byReason: {} });
  });

  it("refuses rows whose flags are neither true nor false, naming the file", () => {
    expect(() => notCurrentFromCounts(["0", "0", "0", "0", "2"], "data/x.csv.gz")).toThrow(InventoryFormatError);
    expect(() => notCurrentFromCounts(["0", "0", "0", "0", "2"], "data/x.csv.gz")).toThrow(
      /data\/x\.csv\.gz.*2 row\(s\) have an IsLatest or IsDeleteMarker/,
    );
  });

  it("refuses an answer that is not five counts", () => {
    expect(() => notCurrentFromCounts(["1", "2"], "f")).toThrow(/reads "1,2"/);
    expect(() => notCurrentFromCounts(["1", "x", "0", "0", "0"], "f")).toThrow(InventoryFormatError);
    expect(() => notCurrentFromCounts(["-1", "0", "0", "0", "0"], "f")).toThrow(InventoryFormatError);
  });
});

describe("Athena", () => {
  const table = inventoryTable("rekey", "dest", MANIFEST, ALL_VERSIONS);

  it("puts a delivery's table on the configuration's hive/ folder and its partition on the delivery's time", () => {
    expect(table).toMatchObject({
      database: "rekey",
      location: "s3://dest/inventory/src/all-versions/hive/",
      dt: "2026-12-03-01-00",
    });
    expect(table.name).toMatch(/^rekey_inventory_[0-9a-f]{16}$/);
    // The same configuration's next delivery reads the same table; other columns get another.
    expect(inventoryTable("rekey", "dest", MANIFEST.replace("01-00Z", "02-00Z"), ALL_VERSIONS).name).toBe(table.name);
    expect(inventoryTable("rekey", "dest", MANIFEST, CURRENT_ONLY).name).not.toBe(table.name);
  });

  it("refuses a manifest outside a delivery folder", () => {
    expect(() => inventoryTable("rekey", "dest", "lists/manifest.json", ALL_VERSIONS)).toThrow(InventoryFormatError);
  });

  it("declares every column a string over the symlinks, with dt projected", () => {
    const ddl = inventoryTableDdl(table);
    expect(ddl).toContain(`CREATE EXTERNAL TABLE IF NOT EXISTS \`rekey\`.\`${table.name}\` (`);
    expect(ddl).toContain("  `is_delete_marker` string,\n  `size` string,");
    expect(ddl).toContain("STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'");
    expect(ddl).toContain("LOCATION 's3://dest/inventory/src/all-versions/hive/'");
    expect(ddl).toContain("'projection.dt.format' = 'yyyy-MM-dd-HH-mm',");
  });

  it("unloads the delivery's partition only, every value as text, as gzip CSV", () => {
    expect(athenaUnloadSql(table, "s3://work/athena-results/unload/x/")).toBe(
      `UNLOAD (SELECT COALESCE(CAST("bucket" AS varchar), ''), COALESCE(CAST("key" AS varchar), ''), ` +
        `COALESCE(CAST("version_id" AS varchar), ''), COALESCE(CAST("size" AS varchar), ''), ` +
        `COALESCE(CAST("storage_class" AS varchar), ''), COALESCE(CAST("encryption_status" AS varchar), '') ` +
        `FROM "rekey"."${table.name}" WHERE dt = '2026-12-03-01-00' AND LOWER(CAST("is_delete_marker" AS varchar)) = 'false' ` +
        `AND LOWER(CAST("is_latest" AS varchar)) = 'true') TO 's3://work/athena-results/unload/x/' ` +
        `WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'gzip')`,
    );
    expect(athenaNotCurrentSql(table)).toMatch(
      /CAST\(NULLIF\(CAST\("size" AS varchar\), ''\) AS bigint\).* WHERE dt = '2026-12-03-01-00'$/,
    );
  });

  it("escapes quotes in what it writes as a literal", () => {
    const quoted = inventoryTable("rekey", "dest", "it's/src/c/2026-12-03T01-00Z/manifest.json", CURRENT_ONLY);
    expect(inventoryTableDdl(quoted)).toContain("LOCATION 's3://dest/it''s/src/c/hive/'");
  });

  it("types a Parquet table's flags, size and dates as AWS's DDL does, and asks for keys encoded as CSV ones are", () => {
    const parquet = inventoryTable("rekey", "dest", MANIFEST, [...ALL_VERSIONS, "LastModifiedDate"], "Parquet");
    expect(parquet.name).not.toBe(table.name);
    const ddl = inventoryTableDdl(parquet);
    expect(ddl).toContain("  `is_latest` boolean,\n  `is_delete_marker` boolean,\n  `size` bigint,");
    expect(ddl).toContain("  `last_modified_date` bigint\n)");
    expect(ddl).toContain("ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'");
    expect(athenaUnloadSql(parquet, "s3://w/u/")).toMatch(
      /^UNLOAD \(SELECT COALESCE\(CAST\("bucket" AS varchar\), ''\), COALESCE\(CAST\(url_encode\("key"\) AS varchar\), ''\), /,
    );
    expect(inventoryTableDdl(inventoryTable("rekey", "dest", MANIFEST, ALL_VERSIONS, "ORC"))).toContain("OrcSerde");
  });
});
