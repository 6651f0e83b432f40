import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { InventoryConfigurationError, InventoryFormatError } from "../../contract/errors.ts";
import {
  decodeInventoryKey,
  type InventoryColumn,
  inventoryRowBatches,
  inventoryRows,
  splitInventoryLine,
} from "../../steps/domain/inventory.ts";
import { missingColumns, parseInventoryManifest, requireColumns } from "../../steps/domain/inventory-manifest.ts";
import { chunked, collect, gzipLines, inventoryLine } from "./helpers.ts";

const AWS_CSV_MANIFEST = readFileSync(
  new URL("../fixtures/inventory/manifest-csv-aws-example.json", import.meta.url),
  "utf8",
);
const MANIFEST_KEY = "inv/example-source-bucket/config-1/2016-11-06T21-32Z/manifest.json";

function manifestWith(overrides: Record<string, unknown>): string {
  return JSON.stringify({ ...JSON.parse(AWS_CSV_MANIFEST), ...overrides });
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error");
}

async function catchAsync(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected an error");
}

describe("parseInventoryManifest", () => {
  it("reads AWS's documented CSV manifest.json example", () => {
    const m = parseInventoryManifest(AWS_CSV_MANIFEST, MANIFEST_KEY);

    expect(m.sourceBucket).toBe("example-source-bucket");
    expect(m.destinationBucketArn).toBe("arn:aws:s3:::example-inventory-destination-bucket");
    expect(m.destinationBucket).toBe("example-inventory-destination-bucket");
    expect(m.version).toBe("2016-11-30");
    expect(m.creationTimestamp.toISOString()).toBe("2018-01-03T02:00:00.000Z");
    expect(m.fileFormat).toBe("CSV");
    expect(m.columns).toHaveLength(18);
    expect(m.columns.slice(0, 5)).toEqual(["Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker"]);
    expect(m.columns.at(-1)).toBe("ChecksumAlgorithm");
    expect(m.files).toEqual([
      {
        key: "Inventory/example-source-bucket/2016-11-06T21-32Z/files/939c6d46-85a9-4ba8-87bd-9db705a579ce.csv.gz",
        size: 2147483647,
        md5: "f11166069f1990abeb9c97ace9cdfabc",
      },
    ]);
  });

  it("reads the Bucket-Key example's fileSchema (versions, BucketKeyStatus) and the 2021-05-22 version", () => {
    const m = parseInventoryManifest(
      manifestWith({
        version: "2021-05-22",
        fileSchema: "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, BucketKeyStatus",
      }),
      MANIFEST_KEY,
    );

    expect(m.columns).toEqual(["Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "BucketKeyStatus"]);
    expect(m.version).toBe("2021-05-22");
  });

  it("reads the columns of Parquet and ORC deliveries by their CSV names", () => {
    const parquet = parseInventoryManifest(
      manifestWith({
        fileFormat: "Parquet",
        fileSchema:
          "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional boolean is_latest; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary encryption_status (UTF8); optional binary some_new_field (UTF8); }",
      }),
      MANIFEST_KEY,
    );
    expect(parquet.fileFormat).toBe("Parquet");
    expect(parquet.columns).toEqual([
      "Bucket",
      "Key",
      "IsLatest",
      "Size",
      "LastModifiedDate",
      "ETag",
      "EncryptionStatus",
      "some_new_field",
    ]);
    const orc = parseInventoryManifest(
      manifestWith({ fileFormat: "ORC", fileSchema: "struct<bucket:string,key:string,version_id:string,size:bigint>" }),
      MANIFEST_KEY,
    );
    expect(orc.columns).toEqual(["Bucket", "Key", "VersionId", "Size"]);
  });

  it("sends a format S3 Inventory does not write to the configuration error, with the fix", () => {
    const e = catchError(() => parseInventoryManifest(manifestWith({ fileFormat: "JSON" }), MANIFEST_KEY));

    expect(e).toBeInstanceOf(InventoryConfigurationError);
    expect((e as InventoryConfigurationError).message).toContain("JSON");
    expect((e as InventoryConfigurationError).fix).toContain("Format to CSV");
  });

  it("refuses a columnar schema it cannot read as having no Bucket or Key", () => {
    expect(() =>
      parseInventoryManifest(manifestWith({ fileFormat: "Parquet", fileSchema: "Bucket, Key" }), MANIFEST_KEY),
    ).toThrow(/no Bucket column/);
  });

  it.each([
    ["not JSON", "{", "not valid JSON"],
    ["missing files", manifestWith({ files: undefined }), "files"],
    ["no Key column", manifestWith({ fileSchema: "Bucket, Size" }), "no Key column"],
    ["repeated column", manifestWith({ fileSchema: "Bucket, Key, Key" }), "repeated"],
    ["timestamp not epoch ms", manifestWith({ creationTimestamp: "2018-01-03T02:00:00Z" }), "creationTimestamp"],
    ["destination not an ARN", manifestWith({ destinationBucket: "plain-bucket" }), "not a bucket ARN"],
    [
      "MD5checksum spelled differently",
      manifestWith({ files: [{ key: "k", size: 1, MD5Checksum: "x" }] }),
      "MD5checksum",
    ],
  ])("rejects a manifest with %s, naming the file", (_label, text, expected) => {
    const e = catchError(() => parseInventoryManifest(text, MANIFEST_KEY));

    expect(e).toBeInstanceOf(InventoryFormatError);
    expect((e as InventoryFormatError).file).toBe(MANIFEST_KEY);
    expect((e as Error).message).toContain(MANIFEST_KEY);
    expect((e as Error).message).toContain(expected);
  });
});

describe("requireColumns", () => {
  const columns: InventoryColumn[] = ["Bucket", "Key", "Size", "StorageClass"];

  it("names every missing field and how to add it", () => {
    const e = catchError(() => requireColumns(columns));

    expect(e).toBeInstanceOf(InventoryConfigurationError);
    expect((e as Error).message).toContain("EncryptionStatus");
    expect((e as InventoryConfigurationError).fix).toContain("OptionalFields");
  });

  it("passes when the required fields are there and lists recommended ones separately", () => {
    const full = [...columns, "EncryptionStatus"];

    expect(() => requireColumns(full)).not.toThrow();
    expect(missingColumns(full, ["BucketKeyStatus", "Size"])).toEqual(["BucketKeyStatus"]);
  });
});

// Columns of a third-party fixture row (a Current-versions report with optional fields), in the order of
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html
const FIXTURE_COLUMNS: InventoryColumn[] = [
  "Bucket",
  "Key",
  "Size",
  "LastModifiedDate",
  "ETag",
  "StorageClass",
  "IsMultipartUploaded",
  "ReplicationStatus",
  "EncryptionStatus",
  "ObjectLockRetainUntilDate",
  "ObjectLockMode",
  "ObjectLockLegalHoldStatus",
  "IntelligentTieringAccessTier",
  "BucketKeyStatus",
  "ChecksumAlgorithm",
];
const FIXTURE_ROW =
  '"bucket","key1","0","2024-04-12T06:45:57.000Z","d41d8cd98f00b204e9800998ecf8427e","STANDARD","false","","SSE-S3","","","","","DISABLED",""';

const VERSIONED_COLUMNS: InventoryColumn[] = [
  "Bucket",
  "Key",
  "VersionId",
  "IsLatest",
  "IsDeleteMarker",
  "Size",
  "StorageClass",
  "EncryptionStatus",
  "BucketKeyStatus",
];

function versionedLine(
  key: string,
  extra: Partial<Record<"versionId" | "isLatest" | "isDeleteMarker", string>> = {},
): string {
  return inventoryLine([
    "src",
    key,
    extra.versionId ?? "v1",
    extra.isLatest ?? "true",
    extra.isDeleteMarker ?? "false",
    "10",
    "STANDARD",
    "NOT-SSE",
    "",
  ]);
}

describe("inventoryRows", () => {
  it("parses the all-quoted row of the 3P fixture", async () => {
    const rows = await collect(
      inventoryRows(Readable.from([gzipLines([FIXTURE_ROW])]), FIXTURE_COLUMNS, "data/a.csv.gz"),
    );

    expect(rows).toEqual([
      {
        bucket: "bucket",
        key: "key1",
        versionId: undefined,
        isLatest: true,
        isDeleteMarker: false,
        size: 0,
        storageClass: "STANDARD",
        encryptionStatus: "SSE-S3",
        bucketKeyStatus: "DISABLED",
        intelligentTieringAccessTier: undefined,
        objectLockMode: undefined,
        lastModified: "2024-04-12T06:45:57.000Z",
        eTag: "d41d8cd98f00b204e9800998ecf8427e",
      },
    ]);
  });

  it.each([
    ["a+b", "a b"],
    ["a%2Bb", "a+b"],
    ["a%20b", "a b"],
    ["dir%2Fa%2Cb.txt", "dir/a,b.txt"],
    ["dir/a,b.txt", "dir/a,b.txt"],
    ["caf%C3%A9+%E2%9C%93", "café ✓"],
    ["100%25", "100%"],
    ['say+"hi"', 'say "hi"'],
  ])("decodes the key %s form-style to %s", async (encoded, decoded) => {
    const line = inventoryLine([
      "src",
      encoded,
      "1",
      "",
      "",
      "STANDARD",
      "false",
      "",
      "NOT-SSE",
      "",
      "",
      "",
      "",
      "",
      "",
    ]);

    const rows = await collect(inventoryRows(Readable.from([gzipLines([line])]), FIXTURE_COLUMNS, "f"));

    expect(rows.map((r) => r.key)).toEqual([decoded]);
  });

  it("handles CRLF endings, no final newline, chunk boundaries inside lines and UTF-8 characters", async () => {
    const lines = [
      versionedLine("caf%C3%A9-1"),
      versionedLine("b", { isLatest: "FALSE" }),
      versionedLine("c", { isDeleteMarker: "True" }),
    ];
    const gz = gzipSync(Buffer.from(lines.join("\r\n"), "utf8"));

    const rows = await collect(inventoryRows(chunked(gz, 7), VERSIONED_COLUMNS, "f"));

    expect(rows.map((r) => [r.key, r.isLatest, r.isDeleteMarker])).toEqual([
      ["café-1", true, false],
      ["b", false, false],
      ["c", true, true],
    ]);
  });

  it("reads quoted fields holding doubled quotes and commas through the slow path", async () => {
    const line = '"src","k","v1","true","false","10","STANDARD","NOT-SSE","","x"","""';
    const columns = [...VERSIONED_COLUMNS, "ChecksumAlgorithm"];

    const rows = await collect(inventoryRows(Readable.from([gzipLines([line])]), columns, "f"));

    expect(rows).toHaveLength(1);
    expect(splitInventoryLine(line)?.at(-1)).toBe('x","');
  });

  it("maps an empty VersionId (null version) to undefined and parses booleans in any case", async () => {
    const rows = await collect(
      inventoryRows(
        Readable.from([gzipLines([versionedLine("a", { versionId: "", isLatest: "True", isDeleteMarker: "FALSE" })])]),
        VERSIONED_COLUMNS,
        "f",
      ),
    );

    expect(rows[0]).toMatchObject({ key: "a", versionId: undefined, isLatest: true, isDeleteMarker: false });
  });

  it.each([
    ["wrong column count", ['"src","a","v1"'], 1, "3 field(s)"],
    ["a truncated line at the end", [versionedLine("a"), '"src","b","v'], 2, "not valid quoted CSV"],
    [
      "an invalid percent sequence",
      [versionedLine("a"), versionedLine("b"), versionedLine("bad%E2%28")],
      3,
      "percent-encoding",
    ],
    ["a non-boolean IsLatest", [versionedLine("a", { isLatest: "yes" })], 1, "IsLatest"],
    [
      "a non-numeric Size",
      [inventoryLine(["src", "a", "v", "true", "false", "ten", "STANDARD", "NOT-SSE", ""])],
      1,
      "Size",
    ],
  ])("raises InventoryFormatError naming file and line for %s", async (_label, lines, line, expected) => {
    const gz = gzipSync(Buffer.from(lines.join("\n"), "utf8"));

    const e = await catchAsync(collect(inventoryRows(Readable.from([gz]), VERSIONED_COLUMNS, "data/x.csv.gz")));

    expect(e).toBeInstanceOf(InventoryFormatError);
    expect((e as InventoryFormatError).file).toBe("data/x.csv.gz");
    expect((e as InventoryFormatError).line).toBe(line);
    expect((e as Error).message).toContain(`data/x.csv.gz line ${line}`);
    expect((e as Error).message).toContain(expected);
  });

  it("raises InventoryFormatError for data that is not gzip", async () => {
    const e = await catchAsync(
      collect(inventoryRows(Readable.from([Buffer.from('"a","b"\n')]), ["Bucket", "Key"], "data/y.csv.gz")),
    );

    expect(e).toBeInstanceOf(InventoryFormatError);
    expect((e as Error).message).toContain("data/y.csv.gz");
    expect((e as Error).message).toContain("cannot decompress");
  });

  it("raises InventoryFormatError for a truncated gzip file after yielding the complete rows", async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => versionedLine(`k${i}-${"x".repeat(i % 50)}`));
    const gz = gzipLines(lines);
    const truncated = gz.subarray(0, Math.floor(gz.length / 2));
    const seen: string[] = [];

    const e = await catchAsync(
      (async () => {
        for await (const row of inventoryRows(Readable.from([truncated]), VERSIONED_COLUMNS, "data/t.csv.gz")) {
          seen.push(row.key);
        }
      })(),
    );

    expect(e).toBeInstanceOf(InventoryFormatError);
    expect((e as InventoryFormatError).line).toBe(seen.length + 1);
    expect((e as Error).message).toContain("data/t.csv.gz");
  });

  it("passes a read error through unchanged, since it is not a format problem", async () => {
    const gz = gzipLines(Array.from({ length: 100 }, (_, i) => versionedLine(`k${i}`)));
    const reset = new Error("socket hang up");
    async function* failing(): AsyncGenerator<Buffer> {
      yield gz.subarray(0, 20);
      throw reset;
    }

    const e = await catchAsync(collect(inventoryRows(failing(), VERSIONED_COLUMNS, "f")));

    expect(e).toBe(reset);
  });

  it("stops reading when the consumer stops", async () => {
    const gz = gzipLines(Array.from({ length: 1000 }, (_, i) => versionedLine(`k${i}`)));
    const input = Readable.from(chunked(gz, 64));

    for await (const row of inventoryRows(input, VERSIONED_COLUMNS, "f")) {
      expect(row.key).toBe("k0");
      break;
    }
    await new Promise((resolve) => setImmediate(resolve));

    expect(input.destroyed).toBe(true);
  });
});

describe("inventoryRowBatches", () => {
  it("yields the same rows as inventoryRows, in arrays", async () => {
    const gz = gzipLines(Array.from({ length: 5000 }, (_, i) => versionedLine(`k${i}+%E2%9C%93`)));

    const batches = await collect(inventoryRowBatches(chunked(gz, 1000), VERSIONED_COLUMNS, "f"));
    const rows = await collect(inventoryRows(chunked(gz, 1000), VERSIONED_COLUMNS, "f"));

    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat()).toEqual(rows);
    expect(rows).toHaveLength(5000);
    expect(rows[4999]?.key).toBe("k4999 ✓");
  });
});

describe("inventoryRowBatches of plain CSV (S3 Select's records, Athena's result file)", () => {
  it("reads uncompressed text, a multi-byte character split across chunks included", async () => {
    const text = Buffer.from(
      `${Array.from({ length: 300 }, (_, i) => inventoryLine(["b", `k${i}%E2%9C%93`, "12"])).join("\n")}\n`,
    );
    const rows = (
      await collect(
        inventoryRowBatches(chunked(text, 7), ["Bucket", "Key", "Size"], "f", "encoded", { compression: "none" }),
      )
    ).flat();
    expect(rows).toHaveLength(300);
    expect(rows[299]).toMatchObject({ bucket: "b", key: "k299✓", size: 12, isLatest: true, isDeleteMarker: false });
  });

  it("reads epoch milliseconds (Parquet and ORC dates, through Athena) as the ISO text CSV inventories have", async () => {
    const text = Buffer.from('"b","k","1733220000123","1893456000000"\n"b","k2","2026-01-01T00:00:00.000Z",""\n');
    const columns = ["Bucket", "Key", "LastModifiedDate", "ObjectLockRetainUntilDate"];
    const rows = (
      await collect(inventoryRowBatches(chunked(text, 9), columns, "f", "encoded", { compression: "none" }))
    ).flat();
    expect(rows.map((r) => [r.lastModified, r.objectLockRetainUntilDate])).toEqual([
      ["2024-12-03T10:00:00.123Z", "2030-01-01T00:00:00.000Z"],
      ["2026-01-01T00:00:00.000Z", undefined],
    ]);
  });

  it("skips a header line, and reads an empty unquoted field as absent", async () => {
    const text = Buffer.from('"bucket","key","size"\n"b","k","12"\n"b","k2",\n');
    const rows = (
      await collect(
        inventoryRowBatches(chunked(text, 5), ["Bucket", "Key", "Size"], "f", "encoded", {
          compression: "none",
          header: true,
        }),
      )
    ).flat();
    expect(rows.map((r) => [r.key, r.size])).toEqual([
      ["k", 12],
      ["k2", undefined],
    ]);
  });

  it("refuses gzip it is told is plain text as a malformed line, naming the file", async () => {
    const gz = gzipLines([inventoryLine(["b", "k", "1"])]);
    await expect(
      collect(
        inventoryRowBatches(chunked(gz, 100), ["Bucket", "Key", "Size"], "select.csv", "encoded", {
          compression: "none",
        }),
      ),
    ).rejects.toThrow(InventoryFormatError);
  });
});

describe("decodeInventoryKey", () => {
  it("returns undefined for a malformed percent sequence rather than a wrong key", () => {
    expect(decodeInventoryKey("a%zz")).toBeUndefined();
    expect(decodeInventoryKey("a%4")).toBeUndefined();
    expect(decodeInventoryKey("a%C3")).toBeUndefined();
    expect(decodeInventoryKey("a%C3%28")).toBeUndefined();
    expect(decodeInventoryKey("%ED%A0%80")).toBeUndefined();
    expect(decodeInventoryKey("plain/key.txt")).toBe("plain/key.txt");
  });

  it("agrees with decodeURIComponent, including a key that really holds U+FFFD and lower-case hex", () => {
    const samples = [
      "%EF%BF%BD+x",
      "a%2fb%2Bc",
      "%F0%9F%98%80%20",
      "caf\u00e9+%E2%9C%93",
      "+%2B+",
      `${"x".repeat(5000)}%20`,
    ];
    for (const encoded of samples) {
      expect(decodeInventoryKey(encoded)).toBe(decodeURIComponent(encoded.replaceAll("+", " ")));
    }
  });
});
