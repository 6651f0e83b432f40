import type { CsvInput, CsvOutput, JsonOutput } from "./request.ts";

/**
 * The CSV the engine needs outside DuckDB: the first record (how many columns, and the header names for
 * FileHeaderInfo USE), the bytes a ScanRange selects, and the output serializations.
 */

/** The fields of the first record that is not a comment line; undefined for an object without records. */
export function firstRecord(text: string, csv: CsvInput): string[] | undefined {
  let pos = 0;
  while (pos < text.length) {
    const lineEnd = text.indexOf("\n", pos);
    const end = lineEnd < 0 ? text.length : lineEnd;
    const isComment = csv.comments !== undefined && text.startsWith(csv.comments, pos);
    const isBlank = text.slice(pos, end).replace(/\r$/, "") === "";
    if (!isComment && !isBlank) return splitRecord(text, pos, csv);
    pos = end + 1;
  }
  return undefined;
}

function splitRecord(text: string, start: number, csv: CsvInput): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i] ?? "";
    if (quoted) {
      if (c === csv.quoteEscapeCharacter && text[i + 1] === csv.quoteCharacter) {
        field += csv.quoteCharacter;
        i += 1;
      } else if (c === csv.quoteCharacter) quoted = false;
      else field += c;
    } else if (c === csv.quoteCharacter) quoted = true;
    else if (c === csv.fieldDelimiter) {
      fields.push(field);
      field = "";
    } else if (c === "\n") break;
    else if (c !== "\r" || text[i + 1] !== "\n") field += c;
  }
  fields.push(field);
  return fields;
}

/**
 * The records a ScanRange selects in an uncompressed, line-delimited object: those that start within
 * [start, end] (inclusive), each to its end even past `end`. Only End given: the last End bytes.
 */
export function scanRangeSlice(
  data: Buffer,
  range: { start: number | undefined; end: number | undefined },
): { from: number; to: number } {
  const size = data.length;
  let first = range.start ?? 0;
  let last = range.end ?? size - 1;
  if (range.start === undefined && range.end !== undefined) {
    first = Math.max(0, size - range.end);
    last = size - 1;
  }
  if (first >= size || last < first) return { from: size, to: size };
  const from = first === 0 ? 0 : nextRecordStart(data, first - 1);
  if (from > Math.min(last, size - 1)) return { from: size, to: size };
  return { from, to: nextRecordStart(data, Math.min(last, size - 1)) };
}

/** The offset after the first "\n" at or after `pos` (the object's end without one). */
function nextRecordStart(data: Buffer, pos: number): number {
  const nl = data.indexOf(0x0a, pos);
  return nl < 0 ? data.length : nl + 1;
}

/** One output record in CSV: ASNEEDED quotes fields holding a delimiter, quote or line end; null is empty. */
export function csvRecord(values: (string | null)[], out: CsvOutput): string {
  const needsQuotes = (v: string) =>
    v.includes(out.fieldDelimiter) ||
    v.includes(out.quoteCharacter) ||
    v.includes(out.recordDelimiter) ||
    v.includes("\n") ||
    v.includes("\r");
  const fields = values.map((v) => {
    if (v === null) return out.quoteFields === "ALWAYS" ? `${out.quoteCharacter}${out.quoteCharacter}` : "";
    if (out.quoteFields === "ASNEEDED" && !needsQuotes(v)) return v;
    const escaped = v.split(out.quoteCharacter).join(`${out.quoteEscapeCharacter}${out.quoteCharacter}`);
    return `${out.quoteCharacter}${escaped}${out.quoteCharacter}`;
  });
  return fields.join(out.fieldDelimiter) + out.recordDelimiter;
}

/**
 * One output record in JSON: an object of the select list's names; numbers stay numbers, and null (a column the
 * record does not have: S3 Select's MISSING) is left out, as S3 writes MISSING values.
 */
export function jsonRecord(names: string[], values: unknown[], numeric: boolean[], out: JsonOutput): string {
  const parts: string[] = [];
  names.forEach((name, i) => {
    const v = values[i];
    if (v === null || v === undefined) return;
    const text = numeric[i] && (typeof v === "string" || typeof v === "number") ? String(v) : JSON.stringify(v);
    parts.push(`${JSON.stringify(name)}:${text}`);
  });
  return `{${parts.join(",")}}${out.recordDelimiter}`;
}
