import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { InventoryFormatError } from "../../contract/errors.ts";
import {
  type InventoryColumn,
  type InventoryRow,
  inventoryRowBatches,
  splitInventoryLine,
} from "../../steps/domain/inventory.ts";
import { chunked, collect, inventoryLine } from "./helpers.ts";

// What an operator reads when a delivered inventory file is broken: the file, the line, the problem and the fix.

const FILE = "inv/src/cfg/data/1.csv.gz";
const CORRUPT_FIX =
  "The data file does not match its manifest.json or is corrupt; download it again, or wait for the next inventory delivery.";
const COLUMNS: InventoryColumn[] = ["Bucket", "Key", "IsLatest", "IsDeleteMarker", "Size", "BucketKeyStatus"];

const gz = (text: string) => gzipSync(Buffer.from(text, "utf8"));
const rowsOf = async (text: string, columns = COLUMNS, keys: "encoded" | "either" = "encoded") =>
  (await collect(inventoryRowBatches(chunked(gz(text), 7), columns, FILE, keys))).flat();

async function refusal(text: string | Buffer, columns = COLUMNS): Promise<InventoryFormatError> {
  try {
    await collect(inventoryRowBatches(chunked(typeof text === "string" ? gz(text) : text, 7), columns, FILE));
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryFormatError);
    return e as InventoryFormatError;
  }
  throw new Error("expected the data file to be refused");
}

const ok = ["src", "k", "true", "false", "1", "ENABLED"];
const line = (overrides: Record<number, string>) => inventoryLine(ok.map((v, i) => overrides[i] ?? v));

describe("inventoryRowBatches refuses a broken data file, naming the line", () => {
  it.each<[string, string, string]>([
    ["an unbalanced quote", '"src","k', "the line is not valid quoted CSV (unbalanced or stray double quote)."],
    [
      "a row of another width",
      '"src","k","true"',
      "the line has 3 field(s) but manifest.json fileSchema lists 6 column(s).",
    ],
    ["a bad percent-encoding", line({ 1: "a%zz" }), 'the key "a%zz" has an invalid percent-encoding.'],
    ["IsLatest not a boolean", line({ 2: "yes" }), 'IsLatest is "yes", expected true or false.'],
    ["IsDeleteMarker not a boolean", line({ 3: "" }), 'IsDeleteMarker is "", expected true or false.'],
    ["a negative Size", line({ 4: "-1" }), 'Size is "-1", expected a byte count.'],
    ["a fractional Size", line({ 4: "1.5" }), 'Size is "1.5", expected a byte count.'],
    ["a Size that is not a number", line({ 4: "12kB" }), 'Size is "12kB", expected a byte count.'],
    ["another BucketKeyStatus", line({ 5: "ON" }), 'BucketKeyStatus is "ON", expected ENABLED or DISABLED.'],
  ])("%s", async (_label, bad, problem) => {
    const e = await refusal(`${line({})}\n\n${bad}\n${line({})}\n`);
    expect(e.problem).toBe(`${FILE} line 3: ${problem}`);
    expect(e.file).toBe(FILE);
    expect(e.line).toBe(3);
  });

  it("gives each refusal its fix", async () => {
    expect((await refusal('"src","k\n')).fix).toBe(
      "The data file is corrupt or truncated; download it again, or wait for the next inventory delivery.",
    );
    expect((await refusal('"src"\n')).fix).toBe(
      "Read each data file with the fileSchema of the manifest.json that lists it; if they match, the file is corrupt: wait for the next delivery.",
    );
    expect((await refusal(`${line({ 1: "%" })}\n`)).fix).toBe(
      "The data file is corrupt; download it again or wait for the next inventory delivery.",
    );
    for (const bad of [line({ 2: "x" }), line({ 3: "x" }), line({ 4: "x" }), line({ 5: "x" })]) {
      expect((await refusal(`${bad}\n`)).fix).toBe(CORRUPT_FIX);
    }
  });

  it("a column list without Bucket or Key", async () => {
    for (const columns of [
      ["Key", "Size"],
      ["Bucket", "Size"],
    ]) {
      const e = await refusal("", columns);
      expect(e.problem).toBe(`${FILE}: the column list has no Bucket or Key column.`);
      expect(e.fix).toBe("Pass the columns parsed from the delivery's manifest.json fileSchema.");
    }
  });

  it("a line longer than any inventory row, counted as the next line", async () => {
    const e = await refusal(`${line({})}\n"${"x".repeat(1 << 20)}`);
    expect(e.problem).toBe(`${FILE} line 2: a line is longer than 1048576 characters.`);
    expect(e.fix).toBe(CORRUPT_FIX);
  });

  it("a line of exactly the longest length is still read", async () => {
    const key = "k".repeat((1 << 20) - inventoryLine(["src", "", "true", "false", "1", "ENABLED"]).length);
    const rows = await rowsOf(inventoryLine(["src", key, "true", "false", "1", "ENABLED"]));
    expect(rows.map((r) => r.key.length)).toStrictEqual([key.length]);
  });

  it("a file that is not gzip, keeping the cause", async () => {
    const e = await refusal(Buffer.from("not gzip at all"));
    expect(e.problem).toMatch(new RegExp(`^${FILE} line 1: cannot decompress the data file \\(.+\\)\\.$`));
    expect(e.fix).toBe(
      "The .csv.gz file is damaged or truncated; check its size against manifest.json files[].size, download it again, or wait for the next inventory delivery.",
    );
    expect(e.cause).toBeInstanceOf(Error);
  });
});

describe("inventoryRowBatches reads", () => {
  it("booleans in any case, an empty size as none, and a Bucket Key status in any case", async () => {
    const rows = await rowsOf(
      `${line({ 2: "TRUE", 3: "False", 4: "", 5: "disabled" })}\r\n${line({ 2: "False", 3: "true", 5: "" })}`,
    );
    expect(rows.map((r) => [r.isLatest, r.isDeleteMarker, r.size, r.bucketKeyStatus])).toStrictEqual([
      [true, false, undefined, "DISABLED"],
      [false, true, 1, undefined],
    ]);
  });

  it("every optional column by name, and an empty value as absent", async () => {
    const columns: InventoryColumn[] = [
      "Bucket",
      "Key",
      "VersionId",
      "StorageClass",
      "EncryptionStatus",
      "IntelligentTieringAccessTier",
      "ObjectLockMode",
      "ObjectLockRetainUntilDate",
      "ObjectLockLegalHoldStatus",
      "LastModifiedDate",
      "ETag",
      "SomeFutureColumn",
    ];
    const values = [
      "src",
      "k",
      "v1",
      "GLACIER_IR",
      "SSE-S3",
      "FREQUENT",
      "GOVERNANCE",
      "2030-01-01T00:00:00.000Z",
      "On",
      "2026-01-01T00:00:00.000Z",
      "e1",
      "x",
    ];
    const [row] = await rowsOf(inventoryLine(values), columns);
    expect(row).toStrictEqual<InventoryRow>({
      bucket: "src",
      key: "k",
      keyAsWritten: undefined,
      versionId: "v1",
      isLatest: true,
      isDeleteMarker: false,
      size: undefined,
      storageClass: "GLACIER_IR",
      encryptionStatus: "SSE-S3",
      bucketKeyStatus: undefined,
      intelligentTieringAccessTier: "FREQUENT",
      objectLockMode: "GOVERNANCE",
      objectLockRetainUntilDate: "2030-01-01T00:00:00.000Z",
      objectLockLegalHoldStatus: "On",
      lastModified: "2026-01-01T00:00:00.000Z",
      eTag: "e1",
    });
    const [empty] = await rowsOf(inventoryLine(["src", "k", "", "", "", "", "", "", "", "", "", ""]), columns);
    for (const field of ["versionId", "storageClass", "encryptionStatus", "objectLockMode", "eTag"] as const) {
      expect(empty?.[field], field).toBeUndefined();
    }
  });

  it("keys that may be written unencoded: as written when they do not decode, with the written form when they do", async () => {
    const columns: InventoryColumn[] = ["Bucket", "Key"];
    const rows = await rowsOf(
      [inventoryLine(["src", "100%"]), inventoryLine(["src", "a+b"]), inventoryLine(["src", "plain"])].join("\n"),
      columns,
      "either",
    );
    expect(rows.map((r) => [r.key, r.keyAsWritten])).toStrictEqual([
      ["100%", undefined],
      ["a b", "a+b"],
      ["plain", undefined],
    ]);
    const encoded = await rowsOf(inventoryLine(["src", "a+b"]), columns);
    expect(encoded.map((r) => [r.key, r.keyAsWritten])).toStrictEqual([["a b", undefined]]);
  });
});

describe("splitInventoryLine", () => {
  it.each<[string, string[] | undefined]>([
    ['"a","b"', ["a", "b"]],
    ['"a,""b""","c"', ['a,"b"', "c"]],
    ['"a","b', undefined],
    ['"a"x', undefined],
    ['"a",', ["a", ""]],
    ['"a",b', ["a", "b"]],
    ["a,b", ["a", "b"]],
    ['a,"b"', ["a", "b"]],
    ['a,b"c', undefined],
    ['"a""', undefined],
    ["", [""]],
    ['""', [""]],
    ['"",""', ["", ""]],
  ])("%s", (text, fields) => {
    expect(splitInventoryLine(text)).toStrictEqual(fields);
  });
});

describe("inventoryRowBatches across chunk boundaries", () => {
  it("skips blank lines wherever the chunks cut them, and never yields an empty batch", async () => {
    const text = `\n${line({ 1: "a" })}\n\n\r\n${line({ 1: "b" })}\r\n\n${line({ 1: "c" })}\n\r`;
    for (let size = 1; size <= 40; size++) {
      const batches = await collect(inventoryRowBatches(chunked(gz(text), size), COLUMNS, FILE));
      expect(batches.every((b) => b.length > 0)).toBe(true);
      expect(
        batches.flat().map((r) => r.key),
        `chunks of ${size} bytes`,
      ).toStrictEqual(["a", "b", "c"]);
    }
  });
});

describe("columns in any order", () => {
  it("reads each column wherever it is, also first", async () => {
    const at0 = async (column: InventoryColumn, value: string) => {
      const [row] = await rowsOf(inventoryLine([value, "src", "k"]), [column, "Bucket", "Key"]);
      return row;
    };
    expect((await at0("IsLatest", "false"))?.isLatest).toBe(false);
    expect((await at0("IsDeleteMarker", "true"))?.isDeleteMarker).toBe(true);
    expect((await at0("Size", "42"))?.size).toBe(42);
    expect((await at0("BucketKeyStatus", "ENABLED"))?.bucketKeyStatus).toBe("ENABLED");
    expect((await at0("VersionId", "v9"))?.versionId).toBe("v9");
    const [keyFirst] = await rowsOf(inventoryLine(["k", "src"]), ["Key", "Bucket"]);
    expect(keyFirst).toMatchObject({ bucket: "src", key: "k" });
  });
});

describe("splitInventoryLine on every kind of field", () => {
  it("gives back the fields S3 Inventory quoted, and the same fields unquoted", () => {
    const values = ["", "a", 'a"b', '"', '""', "a,b", ",", '","', 'a","b', "é", "a b+c%2F", ' "x" '];
    for (const a of values) {
      for (const b of values) {
        expect(splitInventoryLine(inventoryLine([a, b])), `${a} | ${b}`).toStrictEqual([a, b]);
        expect(splitInventoryLine(inventoryLine([a, b, a])), `${a} | ${b} | ${a}`).toStrictEqual([a, b, a]);
      }
    }
    expect(splitInventoryLine('"a""b"')).toStrictEqual(['a"b']);
    expect(splitInventoryLine('"ba,""","a"')).toStrictEqual(['ba,"', "a"]);
    expect(splitInventoryLine("a,,b")).toStrictEqual(["a", "", "b"]);
    expect(splitInventoryLine(",a")).toStrictEqual(["", "a"]);
  });
});
