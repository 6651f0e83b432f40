import { describe, expect, it } from "vitest";
import { InventoryFormatError } from "../../contract/errors.ts";
import { columnarRowReader } from "../../steps/domain/inventory.ts";

/** The columns of a Parquet delivery, by their CSV names, in fileSchema order. */
const COLUMNS = ["Bucket", "Key", "IsLatest", "IsDeleteMarker", "Size", "StorageClass", "EncryptionStatus"];

/** A reader of the columns above, made in each test (so a change to the reader's checks is seen by every test). */
const read = (fields: readonly string[], position: number) =>
  columnarRowReader(COLUMNS, "data/part-0.parquet")(fields, position);

describe("columnarRowReader", () => {
  it("builds a row from values written as the CSV would write them, the key as it is", () => {
    expect(read(["b", "dir/a%2Fb+c d", "true", "false", "42", "STANDARD", "NOT-SSE"], 1)).toMatchObject({
      bucket: "b",
      key: "dir/a%2Fb+c d",
      isLatest: true,
      isDeleteMarker: false,
      size: 42,
      storageClass: "STANDARD",
      encryptionStatus: "NOT-SSE",
    });
    // A value the object does not have is "": no size, no class.
    const sparse = read(["b", "k", "false", "true", "", "", "NOT-SSE"], 2);
    expect(sparse.size).toBeUndefined();
    expect(sparse.storageClass).toBeUndefined();
    expect(sparse.isLatest).toBe(false);
    expect(sparse.isDeleteMarker).toBe(true);
  });

  it("names the file and the row of a value that cannot be read", () => {
    const bad = () => read(["b", "k", "maybe", "false", "1", "STANDARD", "NOT-SSE"], 3);
    expect(bad).toThrow(InventoryFormatError);
    expect(bad).toThrow(/row 3: IsLatest is "maybe", expected true or false/);
    expect(bad).toThrow(/data\/part-0\.parquet/);
    expect(() => read(["b", "k", "true", "false", "-1", "STANDARD", "NOT-SSE"], 9)).toThrow(
      /row 9: Size is "-1", expected a byte count/,
    );
  });

  it("refuses a row with another number of values than the manifest's columns", () => {
    expect(() => read(["b", "k", "true"], 7)).toThrow(
      /row 7 has 3 value\(s\) but manifest\.json fileSchema lists 7 column\(s\)/,
    );
    expect(() =>
      read(
        [...Array(8)].map(() => "x"),
        8,
      ),
    ).toThrow(/row 8 has 8 value\(s\)/);
    // Where, and what to do.
    expect(() => read(["b"], 1)).toThrow(
      /data\/part-0\.parquet.*download it again, or wait for the next inventory delivery/s,
    );
  });

  it("refuses a column list without Bucket or Key", () => {
    for (const columns of [
      ["Key", "Size"],
      ["Bucket", "Size"],
    ]) {
      expect(() => columnarRowReader(columns, "f.parquet")).toThrow(
        /f\.parquet.*the column list has no Bucket or Key column.*Pass the columns parsed from the delivery's manifest\.json fileSchema/s,
      );
    }
    // Either may come first.
    expect(columnarRowReader(["Key", "Bucket"], "f.parquet")(["k", "b"], 1)).toMatchObject({ key: "k", bucket: "b" });
  });
});
