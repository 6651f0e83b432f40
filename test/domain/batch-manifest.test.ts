import { describe, expect, it } from "vitest";
import { InvalidInputError, ManifestWriteError } from "../../contract/errors.ts";
import {
  decodeManifestKey,
  encodeManifestKey,
  MANIFEST_KEY_MAX_CHARS,
  manifestKeyTooLong,
  manifestLine,
  parseManifestLine,
} from "../../steps/domain/batch-manifest.ts";

describe("encodeManifestKey", () => {
  it.each([
    ["objectkey1", "objectkey1"],
    ["photos/jpgs/newjersey/objectkey5", "photos/jpgs/newjersey/objectkey5"],
    ["object key with spaces", "object%20key%20with%20spaces"],
    ["a+b", "a%2Bb"],
    ["dir/sub dir/a b", "dir/sub%20dir/a%20b"],
    ["a,b", "a%2Cb"],
    ["100%", "100%25"],
    ["it's (really) *fine*!", "it%27s%20%28really%29%20%2Afine%2A%21"],
    ['q"uote', "q%22uote"],
    ["tilde~dash-under_dot.", "tilde~dash-under_dot."],
    ["café ✓", "caf%C3%A9%20%E2%9C%93"],
    ["emoji 😀", "emoji%20%F0%9F%98%80"],
    ["line\nbreak", "line%0Abreak"],
    ["?#&=;:@$[]", "%3F%23%26%3D%3B%3A%40%24%5B%5D"],
  ])("encodes %j as %s", (key, encoded) => {
    expect(encodeManifestKey(key)).toBe(encoded);
  });

  it("round-trips, and percent- and form-decoding agree on the encoded form", () => {
    const keys = ["a b+c", "dir/x,y%z", "😀/ü/✓", "+++", "   ", "a%2Bb", "!'()*~"];
    for (const key of keys) {
      const encoded = encodeManifestKey(key);

      expect(decodeManifestKey(encoded)).toBe(key);
      expect(decodeURIComponent(encoded.replaceAll("+", " "))).toBe(key);
      expect(encoded).toMatch(/^[A-Za-z0-9\-_.~/%]*$/);
    }
  });

  it("rejects a malformed percent sequence when decoding", () => {
    expect(() => decodeManifestKey("a%2")).toThrow(InvalidInputError);
  });
});

describe("manifestLine", () => {
  it("writes AWS's documented example rows, without VersionId or header", () => {
    const lines = [
      manifestLine("Examplebucket", "objectkey1"),
      manifestLine("Examplebucket", "photos/jpgs/objectkey4"),
      manifestLine("Examplebucket", "object key with spaces"),
    ].join("");

    expect(lines).toBe(
      "Examplebucket,objectkey1\nExamplebucket,photos/jpgs/objectkey4\nExamplebucket,object%20key%20with%20spaces\n",
    );
  });

  it("parses AWS's documented rows, with and without version IDs", () => {
    expect(parseManifestLine("Examplebucket,object%20key%20with%20spaces\n")).toEqual({
      bucket: "Examplebucket",
      key: "object key with spaces",
    });
    expect(
      parseManifestLine("Examplebucket,photos/jpgs/newjersey/objectkey5,imHf3FAiRsvBW_EHB8GOu.NHunHO1gVs"),
    ).toEqual({
      bucket: "Examplebucket",
      key: "photos/jpgs/newjersey/objectkey5",
      versionId: "imHf3FAiRsvBW_EHB8GOu.NHunHO1gVs",
    });
  });

  it("keeps a key with commas in one field", () => {
    const line = manifestLine("b", "a,b,c");

    expect(line.trimEnd().split(",")).toHaveLength(2);
    expect(parseManifestLine(line).key).toBe("a,b,c");
  });

  it("accepts a key of exactly 1,024 encoded characters and refuses a longer one, naming it", () => {
    const longest = `${"a".repeat(MANIFEST_KEY_MAX_CHARS - 3)} `;
    expect(encodeManifestKey(longest)).toHaveLength(MANIFEST_KEY_MAX_CHARS);
    expect(manifestKeyTooLong(longest)).toBe(false);
    expect(() => manifestLine("b", longest)).not.toThrow();

    const tooLong = `${"a".repeat(MANIFEST_KEY_MAX_CHARS - 2)} `;
    expect(manifestKeyTooLong(tooLong)).toBe(true);
    expect(() => manifestLine("b", tooLong)).toThrow(ManifestWriteError);
    expect(() => manifestLine("b", tooLong)).toThrow(/aaaa.*1025 characters/);
  });

  it("refuses a bucket name that would break the CSV", () => {
    expect(() => manifestLine("a,b", "k")).toThrow(ManifestWriteError);
    expect(() => manifestLine("", "k")).toThrow(ManifestWriteError);
  });
});
