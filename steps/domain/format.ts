/** How rekey writes sizes, counts and money for people: in the report, the estimate, the CLI and the demo. */

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/**
 * Bytes in binary units. `"tenths"` always shows one decimal, as the report prints sizes ("17.0 GiB", but "512 B");
 * `"trimmed"` drops it for whole numbers, as the estimate does ("17 GiB", "1.5 MiB").
 */
export function formatBytes(bytes: number, precision: "tenths" | "trimmed" = "tenths"): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (precision === "tenths") return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** US dollars with cents; amounts under half a cent read "<$0.01" rather than "$0.00". */
export function formatUsd(usd: number): string {
  if (usd > 0 && usd < 0.005) return "<$0.01";
  return `$${usd.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** A count with thousands separators ("1,234,567"). */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}
