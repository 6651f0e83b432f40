import { describe, expect, it } from "vitest";
import { InventoryFormatError } from "../../contract/errors.ts";
import { KNOWN_INVENTORY_COLUMNS } from "../../steps/domain/inventory.ts";
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

describe("exact texts", () => {
  // The columns up to the ACL, in the order S3 Inventory lists them.
  const EVERY_COLUMN = KNOWN_INVENTORY_COLUMNS.slice(0, KNOWN_INVENTORY_COLUMNS.indexOf("ObjectAccessControlList") + 1);

  it("returns exactly the thirteen columns planning reads", () => {
    expect(planColumns(EVERY_COLUMN)).toEqual([
      "Bucket",
      "Key",
      "VersionId",
      "Size",
      "LastModifiedDate",
      "ETag",
      "StorageClass",
      "EncryptionStatus",
      "ObjectLockRetainUntilDate",
      "ObjectLockMode",
      "ObjectLockLegalHoldStatus",
      "IntelligentTieringAccessTier",
      "BucketKeyStatus",
    ]);
  });

  it("writes AWS's Parquet DDL, column for column", () => {
    const table = inventoryTable("db", "dest", "p/src/c/2026-01-02T03-04Z/manifest.json", EVERY_COLUMN, "Parquet");
    expect(inventoryTableDdl(table)).toBe(
      [
        `CREATE EXTERNAL TABLE IF NOT EXISTS \`db\`.\`${table.name}\` (`,
        "  `bucket` string,",
        "  `key` string,",
        "  `version_id` string,",
        "  `is_latest` boolean,",
        "  `is_delete_marker` boolean,",
        "  `size` bigint,",
        "  `last_modified_date` bigint,",
        "  `e_tag` string,",
        "  `storage_class` string,",
        "  `is_multipart_uploaded` boolean,",
        "  `replication_status` string,",
        "  `encryption_status` string,",
        "  `object_lock_retain_until_date` bigint,",
        "  `object_lock_mode` string,",
        "  `object_lock_legal_hold_status` string,",
        "  `intelligent_tiering_access_tier` string,",
        "  `bucket_key_status` string,",
        "  `checksum_algorithm` string,",
        "  `object_access_control_list` string",
        ")",
        "PARTITIONED BY (`dt` string)",
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'",
        "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'",
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
        "LOCATION 's3://dest/p/src/c/hive/'",
        "TBLPROPERTIES (",
        "  'projection.enabled' = 'true',",
        "  'projection.dt.type' = 'date',",
        "  'projection.dt.format' = 'yyyy-MM-dd-HH-mm',",
        "  'projection.dt.range' = '2022-01-01-00-00,NOW',",
        "  'projection.dt.interval' = '1',",
        "  'projection.dt.interval.unit' = 'HOURS'",
        ")",
      ].join("\n"),
    );
    expect(table.dt).toBe("2026-01-02-03-04");
    expect(inventoryTableDdl({ ...table, format: "CSV" })).toContain(
      "  `is_latest` string,\n  `is_delete_marker` string,\n  `size` string,\n  `last_modified_date` string,",
    );
    expect(inventoryTableDdl({ ...table, format: "CSV" })).toContain(
      "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'",
    );
    expect(inventoryTableDdl({ ...table, format: "ORC" })).toContain(
      "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.orc.OrcSerde'",
    );
  });

  it("puts a delivery at the bucket's root on a hive/ folder at the root", () => {
    expect(inventoryTable("db", "dest", "2026-01-02T03-04Z/manifest.json", ["Bucket", "Key"]).location).toBe(
      "s3://dest/hive/",
    );
  });

  it("names the problem and the fix of a manifest outside a delivery folder", () => {
    expect(() => inventoryTable("db", "dest", "x/2026-01-02/manifest.json", ["Bucket", "Key"])).toThrow(
      new InventoryFormatError("the manifest is not in an S3 Inventory delivery folder (…/YYYY-MM-DDTHH-MMZ/).", {
        file: "x/2026-01-02/manifest.json",
        fix: "The athena engine reads S3 Inventory deliveries only; run with engine stream for other manifests.",
      }),
    );
  });

  it("names the problem and the fix of a count it cannot read, and of broken flags", () => {
    expect(() => notCurrentFromCounts(["1", "2.5", "0", "0", "0"], "q")).toThrow(
      new InventoryFormatError('the count of versions that are not current reads "1,2.5,0,0,0".', {
        file: "q",
        fix: "This is a bug in how rekey reads the engine's answer; run with engine stream and report it.",
      }),
    );
    expect(() => notCurrentFromCounts(["0", "0", "0", "0", "1"], "q")).toThrow(
      new InventoryFormatError("1 row(s) have an IsLatest or IsDeleteMarker that is neither true nor false.", {
        file: "q",
        fix: "The data files do not match their manifest.json or are corrupt; wait for the next inventory delivery.",
      }),
    );
    expect(notCurrentFromCounts([undefined, undefined, "0", "0", "0"], "q")).toEqual({ byReason: {} });
  });

  it("asks S3 Select for current versions of an inventory with only one of the flags", () => {
    expect(selectCurrentRowsSql(["Bucket", "Key", "IsLatest"])).toBe(
      "SELECT s._1, s._2 FROM S3Object s WHERE LOWER(s._3) = 'true'",
    );
    expect(selectCurrentRowsSql(["Bucket", "Key", "IsDeleteMarker"])).toBe(
      "SELECT s._1, s._2 FROM S3Object s WHERE LOWER(s._3) = 'false'",
    );
    expect(selectNotCurrentSql(["Bucket", "Key", "IsLatest"])).toBe(
      "SELECT SUM(CASE WHEN FALSE THEN 1 ELSE 0 END), SUM(CASE WHEN FALSE THEN 0 ELSE 0 END), " +
        "SUM(CASE WHEN TRUE AND LOWER(s._3) = 'false' THEN 1 ELSE 0 END), SUM(CASE WHEN TRUE AND LOWER(s._3) = 'false' THEN 0 ELSE 0 END), " +
        "SUM(CASE WHEN LOWER(s._3) NOT IN ('true', 'false') THEN 1 ELSE 0 END) FROM S3Object s",
    );
  });
});
