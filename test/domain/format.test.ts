import { describe, expect, it } from "vitest";
import { formatBytes, formatCount, formatUsd } from "../../steps/domain/format.ts";

describe("formatBytes", () => {
  it("shows tenths by default, except for plain bytes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1.0 KiB");
    expect(formatBytes(17 * 1024 ** 3)).toBe("17.0 GiB");
    expect(formatBytes(1536, "tenths")).toBe("1.5 KiB");
  });

  it("trims the decimal of whole numbers when asked", () => {
    expect(formatBytes(1024, "trimmed")).toBe("1 KiB");
    expect(formatBytes(1.5 * 1024 ** 2, "trimmed")).toBe("1.5 MiB");
    expect(formatBytes(100, "trimmed")).toBe("100 B");
  });

  it("stops at the largest unit rather than running off the end", () => {
    expect(formatBytes(1024 ** 5)).toBe("1.0 PiB");
    expect(formatBytes(2048 * 1024 ** 5)).toBe("2048.0 PiB");
    expect(formatBytes(2048 * 1024 ** 5, "trimmed")).toBe("2048 PiB");
  });
});

describe("formatUsd", () => {
  it("shows cents, and '<$0.01' only for positive amounts that would round to zero", () => {
    expect(formatUsd(0)).toBe("$0.00");
    expect(formatUsd(0.004)).toBe("<$0.01");
    expect(formatUsd(0.005)).toBe("$0.01");
    expect(formatUsd(1234.5)).toBe("$1,234.50");
  });
});

describe("formatCount", () => {
  it("groups thousands", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
  });
});
