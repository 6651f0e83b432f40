import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InventoryConfigurationError, InventoryFormatError } from "../../contract/errors.ts";
import {
  parseInventoryManifest,
  RECOMMENDED_INVENTORY_FIELDS,
  requireColumns,
} from "../../steps/domain/inventory-manifest.ts";

// The operator reads these errors in the run's failure and in `rekey status`: their exact words are the contract.
const AWS_CSV_MANIFEST = readFileSync(
  new URL("../fixtures/inventory/manifest-csv-aws-example.json", import.meta.url),
  "utf8",
);
const KEY = "inv/src/config-1/2016-11-06T21-32Z/manifest.json";
const withFields = (overrides: Record<string, unknown>) =>
  JSON.stringify({ ...JSON.parse(AWS_CSV_MANIFEST), ...overrides });

/** The refusal, its problem without the file name it starts with. */
function refusal(text: string): { problem: string; fix: string; cause: unknown; file: string } {
  try {
    parseInventoryManifest(text, KEY);
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryFormatError);
    const { problem, fix, cause, file } = e as InventoryFormatError;
    expect(problem.startsWith(`${KEY}: `)).toBe(true);
    return { problem: problem.slice(KEY.length + 2), fix, cause, file };
  }
  throw new Error("expected the manifest to be refused");
}

describe("parseInventoryManifest refuses a broken manifest.json with the problem and the fix", () => {
  it("not JSON: keeps the parser's error as the cause", () => {
    const e = refusal("{");
    expect(e.problem).toBe("manifest.json is not valid JSON.");
    expect(e.fix).toBe(
      "Check that the key points at the inventory's manifest.json and that the object is complete; if S3 wrote it incompletely, wait for the next delivery.",
    );
    expect(e.cause).toBeInstanceOf(SyntaxError);
    expect(e.file).toBe(KEY);
  });

  it("not the inventory shape: names each field at fault by its path, or the root", () => {
    const e = refusal(withFields({ files: [{ key: "k", size: -1, MD5checksum: "x" }], version: "" }));
    expect(e.problem).toMatch(
      /^manifest\.json does not have the S3 Inventory shape \(version: [^;]+; files\.0\.size: .+\)\.$/,
    );
    expect(e.fix).toBe(
      "Point rekey at the manifest.json of an S3 Inventory delivery (…/<source-bucket>/<config-id>/<YYYY-MM-DDTHH-MMZ>/manifest.json).",
    );
    expect(e.cause).toBeUndefined();
    expect(refusal("[]").problem).toMatch(/^manifest\.json does not have the S3 Inventory shape \(\(root\): .+\)\.$/);
  });

  it.each([
    ["a plain bucket name", "plain-bucket"],
    ["a prefix after the bucket", "arn:aws:s3:::bucket/prefix"],
    ["text before the ARN", "see arn:aws:s3:::bucket"],
    ["text after the ARN", "arn:aws:s3:::bucket and more/x"],
  ])("destination as %s", (_label, destinationBucket) => {
    const e = refusal(withFields({ destinationBucket }));
    expect(e.problem).toBe(`destinationBucket "${destinationBucket}" is not a bucket ARN (arn:aws:s3:::name).`);
    expect(e.fix).toBe(
      "Check that the file is an S3 Inventory manifest.json; S3 always writes the destination as a bucket ARN.",
    );
  });

  it("reads the bucket from an ARN of any partition", () => {
    const m = parseInventoryManifest(withFields({ destinationBucket: "arn:aws-cn:s3:::inv-dest" }), KEY);
    expect(m.destinationBucket).toBe("inv-dest");
    expect(m.destinationBucketArn).toBe("arn:aws-cn:s3:::inv-dest");
  });

  it.each<[string, unknown]>([
    ["an ISO date", "2018-01-03T02:00:00Z"],
    ["zero", "0"],
    ["zero as a number", 0],
    ["a negative number", -5],
    ["a fraction", "1514944800000.5"],
    ["a fraction as a number", 1514944800000.5],
    ["digits then text", "1514944800000x"],
    ["text then digits", "x1514944800000"],
    ["a leading space", " 1514944800000"],
    ["a signed string", "+1514944800000"],
    ["hex", "0x1"],
    ["beyond a safe integer", "90071992547409930"],
    ["beyond a Date", 9_000_000_000_000_000],
  ])("creationTimestamp as %s", (_label, creationTimestamp) => {
    const e = refusal(withFields({ creationTimestamp }));
    expect(e.problem).toBe(`creationTimestamp "${creationTimestamp}" is not epoch milliseconds.`);
    expect(e.fix).toBe(
      "Check that the file is an S3 Inventory manifest.json; S3 writes creationTimestamp as epoch milliseconds in a string.",
    );
  });

  it("takes creationTimestamp as epoch milliseconds, in a string as AWS writes it or as a number", () => {
    expect(parseInventoryManifest(withFields({ creationTimestamp: "1" }), KEY).creationTimestamp.getTime()).toBe(1);
    const asNumber = parseInventoryManifest(withFields({ creationTimestamp: 1514944800000 }), KEY);
    expect(asNumber.creationTimestamp.toISOString()).toBe("2018-01-03T02:00:00.000Z");
  });

  it.each([
    ["an empty column", "Bucket, , Key"],
    ["a trailing comma", "Bucket, Key,"],
    ["a repeated column", "Bucket, Key, Size, Size"],
  ])("fileSchema with %s", (_label, fileSchema) => {
    const e = refusal(withFields({ fileSchema }));
    expect(e.problem).toBe(`fileSchema "${fileSchema}" has an empty or repeated column name.`);
    expect(e.fix).toBe(
      "Check that the file is an S3 Inventory CSV manifest.json; its fileSchema lists each column once, separated by ', '.",
    );
  });

  it.each([
    ["Bucket", "Key, Size"],
    ["Key", "Bucket, Size"],
  ])("fileSchema without %s", (missing, fileSchema) => {
    const e = refusal(withFields({ fileSchema }));
    expect(e.problem).toBe(`fileSchema "${fileSchema}" has no ${missing} column.`);
    expect(e.fix).toBe(
      "Check that the file is an S3 Inventory CSV manifest.json; every inventory has Bucket and Key columns.",
    );
  });
});

describe("requireColumns", () => {
  it("names every missing field, in the order needed, with the fix and the recommended fields", () => {
    let caught: unknown;
    try {
      requireColumns(["Bucket", "Key", "StorageClass"]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InventoryConfigurationError);
    const e = caught as InventoryConfigurationError;
    expect(e.problem).toBe(
      "The inventory lacks the field(s) Size, EncryptionStatus, which rekey needs to decide what each object needs.",
    );
    expect(e.fix).toBe(
      `Add Size, EncryptionStatus to the inventory configuration's OptionalFields (rekey also recommends ${RECOMMENDED_INVENTORY_FIELDS.join(", ")}), then wait for a delivery made after the change.`,
    );
    expect(RECOMMENDED_INVENTORY_FIELDS.join(", ")).toBe("BucketKeyStatus, IntelligentTieringAccessTier");
  });
});
