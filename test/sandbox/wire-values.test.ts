import { describe, expect, it } from "vitest";
import { isTrue, parseBoolean, parseTimestamp } from "../../sandbox/wire-values.ts";

const refuse = (v: string) => new Error(`refused ${v}`);

describe("the sandbox's boolean and timestamp parsers", () => {
  it("reads booleans in any case around white space, undefined when absent, and refuses anything else", () => {
    expect(["true", "True", " TRUE ", "false", "False"].map((v) => parseBoolean(v, refuse))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(parseBoolean(undefined, refuse)).toBeUndefined();
    expect(() => parseBoolean("yes", refuse)).toThrow("refused yes");
    expect(parseBoolean("yes", () => false)).toBe(false);
  });

  it("reads unchecked flags as true only when they say true", () => {
    expect([isTrue("True"), isTrue("true"), isTrue("false"), isTrue("1"), isTrue(undefined), isTrue(null)]).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
  });

  it("reads ISO 8601 and HTTP dates; refuses or ignores anything else as the caller says", () => {
    expect(parseTimestamp("2020-01-02T03:04:05Z", refuse).toISOString()).toBe("2020-01-02T03:04:05.000Z");
    expect(parseTimestamp("Thu, 02 Jan 2020 03:04:05 GMT", refuse).toISOString()).toBe("2020-01-02T03:04:05.000Z");
    expect(() => parseTimestamp("soon", refuse)).toThrow("refused soon");
    expect(parseTimestamp("soon", () => undefined)).toBeUndefined();
  });
});
