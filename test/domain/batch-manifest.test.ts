import { describe, expect, it } from "vitest";
import { InvalidInputError, ManifestWriteError } from "../../contract/errors.ts";
import {
  decodeManifestKey,
  encodeManifestKey,
  MANIFEST_KEY_MAX_CHARS,
  manifestKeyTooLong,
  manifestLine,
  parseManifestLine,
  tryDecodeManifestKey,
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

/** The error `fn` throws, for its name, message and fix. */
function thrown(fn: () => unknown): { name: string; message: string; fix?: string } {
  try {
    fn();
  } catch (error) {
    return error as { name: string; message: string; fix?: string };
  }
  throw new Error("expected a throw");
}

describe("manifest errors say what is wrong and how to fix it", () => {
  it("a key that is not valid Unicode", () => {
    const e = thrown(() => encodeManifestKey("a\ud800"));
    expect(e).toBeInstanceOf(ManifestWriteError);
    expect(e.message).toMatch(/^The key "a\\ud800" is not valid Unicode/);
    expect(e.fix).toMatch(/bug/);
  });

  it("a malformed percent sequence", () => {
    const e = thrown(() => decodeManifestKey("a%2"));
    expect(e.message).toMatch(/^The manifest key "a%2" has an invalid percent-encoding/);
    expect(e.fix).toMatch(/%XX/);
  });

  it("a bucket name that would break the CSV, and an empty key", () => {
    const bucket = thrown(() => manifestLine("a,b", "k"));
    expect(bucket.message).toMatch(/^"a,b" is not a bucket name/);
    expect(bucket.fix).toMatch(/bug/);
    const key = thrown(() => manifestLine("b", ""));
    expect(key).toBeInstanceOf(ManifestWriteError);
    expect(key.message).toMatch(/^An empty key cannot go into a manifest for bucket b/);
    expect(key.fix).toMatch(/bug/);
  });

  it("a key too long once encoded: shown whole up to 200 characters, then cut", () => {
    // "€" is 9 characters encoded, so 200 of them (1,800) are too long.
    const at200 = thrown(() => manifestLine("b", "€".repeat(200)));
    expect(at200.message).toMatch(/^The key "€{200}" is 1800 characters once encoded; .* allows 1024\./);
    expect(at200.fix).toMatch(/key-too-long-for-manifest/);
    const at201 = thrown(() => manifestLine("b", "€".repeat(201)));
    expect(at201.message).toMatch(/^The key "€{200}"… \(201 characters\) is 1809 characters once encoded/);
  });

  it("a line that is not bucket,key[,versionId]", () => {
    for (const line of ["b", "b,k,v,x", ",k", "b,", ""]) {
      const e = thrown(() => parseManifestLine(line));
      expect([line, e]).toEqual([line, expect.any(InvalidInputError)]);
      expect(e.message).toContain(`The manifest line ${JSON.stringify(line)} is not bucket,key[,versionId].`);
      expect(e.fix).toMatch(/two or three/);
    }
  });
});

describe("parseManifestLine and tryDecodeManifestKey", () => {
  it("drops a CRLF or LF line end, and an empty version", () => {
    expect(parseManifestLine("b,k\r\n")).toStrictEqual({ bucket: "b", key: "k" });
    expect(parseManifestLine("b,k\n")).toStrictEqual({ bucket: "b", key: "k" });
    expect(parseManifestLine("b,k,")).toStrictEqual({ bucket: "b", key: "k" });
    expect(parseManifestLine("b,k")).toStrictEqual({ bucket: "b", key: "k" });
    expect(parseManifestLine("b,k,v1")).toStrictEqual({ bucket: "b", key: "k", versionId: "v1" });
  });

  it("keeps + as +", () => {
    expect(tryDecodeManifestKey("a+b%20c")).toBe("a+b c");
    expect(tryDecodeManifestKey("a%2")).toBeUndefined();
  });
});
