import type { S3Error } from "../errors.ts";
import { selectErrors } from "./errors.ts";

/** Tokens of the S3 Select SQL subset (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-select-sql-reference.html). */
export type Token =
  | { kind: "word"; text: string; upper: string; position: number }
  | { kind: "quoted"; text: string; position: number }
  | { kind: "string"; text: string; position: number }
  | { kind: "number"; text: string; position: number }
  | { kind: "op"; text: string; position: number }
  | { kind: "end"; text: ""; position: number };

const OPERATORS = [
  "<>",
  "!=",
  "<=",
  ">=",
  "||",
  "(",
  ")",
  ",",
  ".",
  "*",
  "+",
  "-",
  "/",
  "%",
  "=",
  "<",
  ">",
  ";",
  "[",
  "]",
];

/** Splits an expression into tokens; positions are 1-based character offsets, as S3's parse errors give them. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] ?? "";
    const position = i + 1;
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i))?.[0] ?? c;
      out.push({ kind: "word", text: m, upper: m.toUpperCase(), position });
      i += m.length;
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(sql[i + 1] ?? ""))) {
      const m = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(sql.slice(i))?.[0] ?? c;
      out.push({ kind: "number", text: m, position });
      i += m.length;
    } else if (c === "'" || c === '"') {
      const { text, next } = quotedRun(sql, i, c);
      out.push({ kind: c === "'" ? "string" : "quoted", text, position });
      i = next;
    } else {
      const op = OPERATORS.find((o) => sql.startsWith(o, i));
      if (!op) {
        throw selectErrors.parse("LexerInvalidChar", "The SQL expression contains an invalid character.", {
          token: c,
          position,
        });
      }
      out.push({ kind: "op", text: op, position });
      i += op.length;
    }
  }
  out.push({ kind: "end", text: "", position: sql.length + 1 });
  return out;
}

/** A '...' or "..." run; the delimiter doubled stands for itself. */
function quotedRun(sql: string, start: number, quote: string): { text: string; next: number } {
  let text = "";
  let i = start + 1;
  for (;;) {
    if (i >= sql.length) {
      throw selectErrors.parse("LexerInvalidLiteral", "The SQL expression contains an invalid literal.", {
        token: sql.slice(start, start + 20),
        position: start + 1,
      });
    }
    const ch = sql[i] ?? "";
    if (ch === quote) {
      if (sql[i + 1] === quote) {
        text += quote;
        i += 2;
        continue;
      }
      return { text, next: i + 1 };
    }
    text += ch;
    i += 1;
  }
}

/** Reading position over the tokens, with the checks that raise S3's parse errors. */
export class TokenCursor {
  protected i = 0;

  constructor(protected readonly tokens: Token[]) {}

  peek(): Token {
    return this.tokens[this.i] ?? (this.tokens[this.tokens.length - 1] as Token);
  }
  next(): Token {
    const t = this.peek();
    if (t.kind !== "end") this.i += 1;
    return t;
  }
  upper(): string {
    const t = this.peek();
    return t.kind === "word" ? t.upper : "";
  }
  isWord(w: string): boolean {
    return this.upper() === w;
  }
  isOp(o: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.text === o;
  }
  acceptWord(w: string): boolean {
    if (!this.isWord(w)) return false;
    this.i += 1;
    return true;
  }
  acceptOp(o: string): boolean {
    if (!this.isOp(o)) return false;
    this.i += 1;
    return true;
  }
  keyword(w: string): void {
    if (!this.acceptWord(w)) {
      throw selectErrors.parse(
        "ParseExpectedKeyword",
        "Did not find the expected keyword in the SQL expression.",
        this.at(),
      );
    }
  }
  op(o: string): void {
    if (!this.acceptOp(o)) {
      throw selectErrors.parse(
        "ParseExpectedTokenType",
        "Did not find the expected token in the SQL expression.",
        this.at(),
      );
    }
  }
  at(t: Token = this.peek()): { token: string; position: number } {
    return { token: t.kind === "end" ? "<EOF>" : t.text, position: t.position };
  }
  unexpected(t: Token = this.peek()): S3Error {
    return selectErrors.parse("ParseUnexpectedToken", "The SQL expression contains an unexpected token.", this.at(t));
  }
  unsupported(t: Token = this.peek()): S3Error {
    return selectErrors.parse("ParseUnsupportedSyntax", "The SQL expression contains unsupported syntax.", this.at(t));
  }
}
