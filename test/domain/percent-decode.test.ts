import { describe, expect, it } from "vitest";
import { percentDecode } from "../../steps/domain/percent-decode.ts";

/** What percentDecode promises: decodeURIComponent's result, or undefined where it throws. */
function oracle(encoded: string, plusAsSpace: boolean): string | undefined {
  try {
    return decodeURIComponent(plusAsSpace ? encoded.replaceAll("+", " ") : encoded);
  } catch {
    return undefined;
  }
}

const CASES = [
  "plain",
  "a+b",
  "%41%42",
  "%4a%4A%4f%4F",
  "%0A",
  "%3:", // ':' follows '9' in ASCII but is no hex digit
  "%4G",
  "%4g",
  "%G1",
  "%1G",
  "%80", // a lone continuation byte: not UTF-8
  "%C3%A9",
  "%E2%82%AC+%41",
  "%EF%BF%BD", // a key that really holds U+FFFD
  "%\u00e91", // a non-ASCII character where a hex digit should be
  "%1\u00e9",
  "\u20ac%41", // a non-ASCII character in encoded text is kept as it is
  "\u00e9%41",
  "%",
  "a%4",
  "%41%",
];

describe("percentDecode", () => {
  for (const plusAsSpace of [false, true]) {
    it(`agrees with decodeURIComponent (plusAsSpace: ${plusAsSpace})`, () => {
      for (const encoded of CASES)
        expect([encoded, percentDecode(encoded, plusAsSpace)]).toEqual([encoded, oracle(encoded, plusAsSpace)]);
    });
  }

  it("decodes the examples by their known values", () => {
    expect(percentDecode("%3:", false)).toBeUndefined();
    expect(percentDecode("%4G", false)).toBeUndefined();
    expect(percentDecode("%80", false)).toBeUndefined();
    expect(percentDecode("%0A", false)).toBe("\n");
    expect(percentDecode("\u20ac%41", false)).toBe("\u20acA");
    expect(percentDecode("a+b%20c", true)).toBe("a b c");
    expect(percentDecode("a+b%20c", false)).toBe("a+b c");
  });

  it("takes keys longer than its buffer through the strict decoder", () => {
    const long = "%41".repeat(2000);
    expect(percentDecode(long, false)).toBe("A".repeat(2000));
    expect(percentDecode(`${long}%`, false)).toBeUndefined();
  });
});
