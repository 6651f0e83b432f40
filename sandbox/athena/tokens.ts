/**
 * Tokens of the SQL Athena takes: Hive DDL and Trino/Presto statements. Only what the sandbox needs to read the
 * statement's structure (its kind, DDL clauses, table names, partition predicates, function names) and to rewrite
 * it for DuckDB in place; the statement itself is left to DuckDB. S3 Select's lexer (sandbox/s3/select/lexer.ts)
 * answers S3 Select's parse errors and knows S3 Select's operators only, so it is not reused here.
 */
export type SqlToken =
  | { kind: "word"; text: string; upper: string; start: number; end: number }
  /** `"name"` or `` `name` ``: an identifier, unquoted. */
  | { kind: "ident"; text: string; start: number; end: number }
  | { kind: "string"; text: string; start: number; end: number }
  | { kind: "number"; text: string; start: number; end: number }
  | { kind: "op"; text: string; start: number; end: number };

/** Thrown for text that cannot be tokenized (an unterminated string or quoted name). */
export class SqlTokenError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = "SqlTokenError";
  }
}

const TWO_CHAR_OPS = ["<>", "!=", "<=", ">=", "||", "=>", "->", "::"];

export function tokenizeSql(sql: string): SqlToken[] {
  const out: SqlToken[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] ?? "";
    if (/\s/.test(c)) i += 1;
    else if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const close = sql.indexOf("*/", i + 2);
      i = close < 0 ? sql.length : close + 2;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))?.[0] ?? c;
      out.push({ kind: "word", text: m, upper: m.toUpperCase(), start: i, end: i + m.length });
      i += m.length;
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(sql[i + 1] ?? ""))) {
      const m = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(sql.slice(i))?.[0] ?? c;
      out.push({ kind: "number", text: m, start: i, end: i + m.length });
      i += m.length;
    } else if (c === "'" || c === '"' || c === "`") {
      const { text, next } = quoted(sql, i, c);
      out.push({ kind: c === "'" ? "string" : "ident", text, start: i, end: next });
      i = next;
    } else {
      const two = sql.slice(i, i + 2);
      const op = TWO_CHAR_OPS.includes(two) ? two : c;
      out.push({ kind: "op", text: op, start: i, end: i + op.length });
      i += op.length;
    }
  }
  return out;
}

/** A quoted run from `start` (the opening quote); a doubled quote stands for one. */
function quoted(sql: string, start: number, q: string): { text: string; next: number } {
  let text = "";
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (c === q) {
      if (sql[i + 1] === q) {
        text += q;
        i += 2;
        continue;
      }
      return { text, next: i + 1 };
    }
    text += c;
    i += 1;
  }
  throw new SqlTokenError(`Unterminated ${q === "'" ? "string literal" : "quoted identifier"}`, start);
}

/** 1-based line and column of an offset, as Athena's messages give them (`line 1:8`). */
export function lineColumn(sql: string, offset: number): string {
  const before = sql.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return `line ${line}:${column}`;
}

/** A name as Athena stores it: unquoted names are case-insensitive and kept in lower case. */
export function nameOf(t: SqlToken | undefined): string | undefined {
  if (t?.kind === "word") return t.text.toLowerCase();
  if (t?.kind === "ident") return t.text.toLowerCase();
  return undefined;
}

/** A cursor over tokens for the DDL reader. */
export class Cursor {
  i = 0;
  constructor(readonly tokens: SqlToken[]) {}
  peek(ahead = 0): SqlToken | undefined {
    return this.tokens[this.i + ahead];
  }
  atEnd(): boolean {
    const t = this.peek();
    return t === undefined || (t.kind === "op" && t.text === ";" && this.i === this.tokens.length - 1);
  }
  isWord(...words: string[]): boolean {
    return words.every((w, k) => {
      const t = this.peek(k);
      return t?.kind === "word" && t.upper === w;
    });
  }
  acceptWord(...words: string[]): boolean {
    if (!this.isWord(...words)) return false;
    this.i += words.length;
    return true;
  }
  isOp(op: string): boolean {
    const t = this.peek();
    return t?.kind === "op" && t.text === op;
  }
  acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.i += 1;
    return true;
  }
  next(): SqlToken | undefined {
    const t = this.peek();
    if (t) this.i += 1;
    return t;
  }
}
