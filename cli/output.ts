import jmespath from "jmespath";
import { UsageError } from "./errors.ts";
import type { Io } from "./io.ts";

/** `--output`, as the aws CLI names its formats. */
export const OUTPUT_FORMATS = ["json", "text", "table"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** What the operator asked for: a format, a JMESPath query, or neither (rekey's own view for people). */
export interface OutputChoice {
  format?: OutputFormat | undefined;
  query?: string | undefined;
}

/** The same data as a JSON document would carry it: dates as ISO strings, no undefined members. */
function plain(data: unknown): unknown {
  const text = JSON.stringify(data);
  return text === undefined ? null : JSON.parse(text);
}

/**
 * Writes a command's result. Without --output or --query: the view written for people. Otherwise the data, filtered
 * by --query (JMESPath, as the aws CLI applies it) and printed as json (the default once a query is given, as with
 * the aws CLI), text or table.
 */
export function printResult(io: Io, choice: OutputChoice, title: string, data: unknown, forPeople: () => string): void {
  if (choice.format === undefined && choice.query === undefined) {
    io.out.write(forPeople());
    return;
  }
  const value = choice.query === undefined ? plain(data) : search(plain(data), choice.query);
  io.out.write(formatData(value, choice.format ?? "json", title));
}

function search(data: unknown, query: string): unknown {
  try {
    return jmespath.search(data, query);
  } catch (err) {
    throw new UsageError(`--query "${query}" is not a valid JMESPath expression: ${(err as Error).message}`);
  }
}

export function formatData(value: unknown, format: OutputFormat, title: string): string {
  if (format === "json") return `${JSON.stringify(value, null, 4)}\n`;
  if (format === "text") return textLines(value, undefined, undefined).join("");
  return `${tableLines(value, title).join("\n")}\n`;
}

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === "object" && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => typeof v !== "object" || v === null;

/** A scalar as the aws CLI prints one in text and table output (Python's spelling of true, false and null). */
function scalarText(v: unknown): string {
  if (v === true) return "True";
  if (v === false) return "False";
  if (v === null || v === undefined) return "None";
  return String(v);
}

/**
 * The aws CLI's text format (https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-output-format.html#text-output):
 * a dictionary's scalar values on one tab-separated line in key order, each nested list or dictionary after it on
 * lines that start with its key in capitals; a list of dictionaries one line each, with the columns every one of them
 * has; a list of scalars on one line.
 */
function textLines(value: unknown, identifier: string | undefined, columns: string[] | undefined): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [];
    if (value.some(isDict)) {
      const keys = [
        ...new Set(value.flatMap((v) => (isDict(v) ? Object.keys(v).filter((k) => isScalar(v[k])) : []))),
      ].sort();
      return value.flatMap((v) => textLines(v, identifier, keys));
    }
    const scalars = value.filter(isScalar);
    const nested = value.filter((v) => !isScalar(v));
    const lines: string[] = [];
    if (scalars.length) {
      lines.push(
        identifier === undefined
          ? `${scalars.map(scalarText).join("\t")}\n`
          : scalars.map((s) => `${identifier.toUpperCase()}\t${scalarText(s)}\n`).join(""),
      );
    }
    for (const n of nested) lines.push(...textLines(n, identifier, undefined));
    return lines;
  }
  if (isDict(value)) {
    const keys = Object.keys(value).sort();
    const scalarKeys = columns ?? keys.filter((k) => isScalar(value[k]));
    const nestedKeys = keys.filter((k) => !scalarKeys.includes(k) && !isScalar(value[k]));
    const lines: string[] = [];
    if (scalarKeys.length) {
      const cells = scalarKeys.map((k) => (k in value ? scalarText(value[k]) : ""));
      lines.push(`${[...(identifier === undefined ? [] : [identifier.toUpperCase()]), ...cells].join("\t")}\n`);
    }
    for (const k of nestedKeys) lines.push(...textLines(value[k], k, undefined));
    return lines;
  }
  return [`${scalarText(value)}\n`];
}

/**
 * A table as the aws CLI draws one: a titled box; a dictionary's scalars as one row under their keys, a list of
 * dictionaries as one row each, a list of scalars one per row; each nested list or dictionary its own table after,
 * titled with its key.
 */
function tableLines(value: unknown, title: string): string[] {
  let header: string[] | undefined;
  let rows: string[][] = [];
  const nested: [string, unknown][] = [];
  if (Array.isArray(value)) {
    if (value.some(isDict)) {
      header = [
        ...new Set(value.flatMap((v) => (isDict(v) ? Object.keys(v).filter((k) => isScalar(v[k])) : []))),
      ].sort();
      rows = value.filter(isDict).map((v) => (header ?? []).map((k) => (k in v ? scalarText(v[k]) : "")));
      value.forEach((v, i) => {
        if (!isDict(v)) return;
        for (const k of Object.keys(v).sort()) if (!isScalar(v[k])) nested.push([`${title}[${i}].${k}`, v[k]]);
      });
    } else if (value.length && value.every((v) => Array.isArray(v) && v.every(isScalar))) {
      // A list of lists (what a multiselect --query gives): one row per list, one column per element.
      rows = (value as unknown[][]).map((v) => v.map(scalarText));
    } else {
      rows = value.filter(isScalar).map((v) => [scalarText(v)]);
      value.forEach((v, i) => {
        if (!isScalar(v)) nested.push([`${title}[${i}]`, v]);
      });
    }
  } else if (isDict(value)) {
    const keys = Object.keys(value).sort();
    header = keys.filter((k) => isScalar(value[k]));
    if (header.length) rows = [header.map((k) => scalarText(value[k]))];
    for (const k of keys) if (!isScalar(value[k])) nested.push([k, value[k]]);
  } else {
    rows = [[scalarText(value)]];
  }
  const lines = drawTable(title, header?.length ? header : undefined, rows);
  for (const [key, v] of nested) lines.push(...tableLines(v, key));
  return lines;
}

function drawTable(title: string, header: string[] | undefined, rows: string[][]): string[] {
  const columns = Math.max(header?.length ?? 0, ...rows.map((r) => r.length), 1);
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(header?.[i]?.length ?? 0, ...rows.map((r) => r[i]?.length ?? 0)),
  );
  let inner = widths.reduce((n, w) => n + w + 3, 0) - 1;
  if (inner < title.length + 2) {
    // Widen the last column so the title fits.
    const extra = title.length + 2 - inner;
    widths[columns - 1] = (widths[columns - 1] ?? 0) + extra;
    inner += extra;
  }
  const rule = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const row = (cells: string[], centre: boolean) =>
    `|${widths
      .map((w, i) => {
        const c = cells[i] ?? "";
        if (!centre) return ` ${c.padEnd(w)} `;
        const left = Math.floor((w - c.length) / 2);
        return ` ${" ".repeat(left)}${c}${" ".repeat(w - c.length - left)} `;
      })
      .join("|")}|`;
  const padLeft = Math.floor((inner - title.length) / 2);
  const lines = [
    `${"-".repeat(inner + 2)}`,
    `|${" ".repeat(padLeft)}${title}${" ".repeat(inner - title.length - padLeft)}|`,
    rule,
  ];
  if (header) lines.push(row(header, true), rule);
  for (const r of rows) lines.push(row(r, false));
  if (rows.length || header) lines.push(rule);
  return lines;
}

/** The output choice before the command line is parsed, so that a parse error can already be printed as JSON. */
export function outputChoiceOf(argv: string[]): OutputChoice {
  const choice: OutputChoice = {};
  argv.forEach((arg, i) => {
    const [flag, inline] = arg.split(/=(.*)/s, 2);
    const value = inline ?? argv[i + 1];
    if (flag === "--output" && OUTPUT_FORMATS.includes(value as OutputFormat)) choice.format = value as OutputFormat;
    if (flag === "--query" && value !== undefined) choice.query = value;
  });
  return choice;
}

/** An error in the form the operator asked for: one JSON object on stderr with JSON output, else a plain line. */
export function printError(
  io: Io,
  choice: OutputChoice,
  error: { name: string; message: string },
  exitCode: number,
): void {
  if (choice.format === "json" || (choice.format === undefined && choice.query !== undefined)) {
    io.err.write(`${JSON.stringify({ error: { name: error.name, message: error.message }, exitCode }, null, 4)}\n`);
  } else {
    io.err.write(`rekey: ${error.message}\n`);
  }
}
