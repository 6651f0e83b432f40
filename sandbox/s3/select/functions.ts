import { selectErrors } from "./errors.ts";
import type { Token } from "./lexer.ts";

/** A translated expression. */
export interface Expr {
  sql: string;
  agg: boolean;
  /** Refers to a column outside an aggregate. */
  cols: boolean;
  name?: string;
}

/** What the function parsers need of the statement parser (sql.ts). */
export interface ExprParser {
  expr(): Expr;
  peek(): Token;
  next(): Token;
  isWord(w: string): boolean;
  isOp(o: string): boolean;
  acceptWord(w: string): boolean;
  acceptOp(o: string): boolean;
  keyword(w: string): void;
  op(o: string): void;
  at(t?: Token): { token: string; position: number };
}

export const AGGREGATES = new Set(["COUNT", "SUM", "AVG", "MIN", "MAX"]);
const SIMPLE: Record<string, { duck: string; min: number; max: number }> = {
  LOWER: { duck: "lower", min: 1, max: 1 },
  UPPER: { duck: "upper", min: 1, max: 1 },
  CHAR_LENGTH: { duck: "length", min: 1, max: 1 },
  CHARACTER_LENGTH: { duck: "length", min: 1, max: 1 },
  COALESCE: { duck: "coalesce", min: 1, max: 1000 },
  NULLIF: { duck: "nullif", min: 2, max: 2 },
};
/** In the SQL reference, not translated here. */
const UNTRANSLATED = new Set(["DATE_ADD", "DATE_DIFF", "EXTRACT", "TO_STRING", "TO_TIMESTAMP", "UTCNOW"]);
/** S3 Select's CAST types and the DuckDB type each becomes (DECIMAL: DOUBLE, see sandbox/S3.md). */
const TYPES: Record<string, string> = {
  BOOL: "BOOLEAN",
  BOOLEAN: "BOOLEAN",
  INT: "BIGINT",
  INTEGER: "BIGINT",
  STRING: "VARCHAR",
  VARCHAR: "VARCHAR",
  CHAR: "VARCHAR",
  FLOAT: "DOUBLE",
  DOUBLE: "DOUBLE",
  REAL: "DOUBLE",
  DECIMAL: "DOUBLE",
  NUMERIC: "DOUBLE",
  TIMESTAMP: "TIMESTAMPTZ",
};

export function parseCast(p: ExprParser): Expr {
  p.next();
  p.op("(");
  const e = p.expr();
  p.keyword("AS");
  const t = p.next();
  const type = t.kind === "word" ? TYPES[t.upper] : undefined;
  if (!type)
    throw selectErrors.parse(
      "ParseExpectedTypeName",
      "Did not find the expected type name in the SQL expression.",
      p.at(t),
    );
  if (p.acceptOp("(")) {
    // DECIMAL(p, s): S3 Select ignores precision and scale when both are given.
    while (!p.acceptOp(")")) p.next();
  }
  p.op(")");
  return { ...e, sql: `CAST(${e.sql} AS ${type})`, name: undefined };
}

export function parseCase(p: ExprParser): Expr {
  p.next();
  const parts: Expr[] = [];
  const subject = p.isWord("WHEN") ? undefined : p.expr();
  if (subject) parts.push(subject);
  let sql = `CASE${subject ? ` ${subject.sql}` : ""}`;
  if (!p.isWord("WHEN"))
    throw selectErrors.parse(
      "ParseExpectedWhenClause",
      "Did not find the expected WHEN clause in the SQL expression.",
      p.at(),
    );
  while (p.acceptWord("WHEN")) {
    const when = p.expr();
    p.keyword("THEN");
    const then = p.expr();
    parts.push(when, then);
    sql += ` WHEN ${when.sql} THEN ${then.sql}`;
  }
  if (p.acceptWord("ELSE")) {
    const other = p.expr();
    parts.push(other);
    sql += ` ELSE ${other.sql}`;
  }
  p.keyword("END");
  return combine(parts, `${sql} END`);
}

export function parseCall(p: ExprParser): Expr {
  const fn = p.next() as Token & { upper: string };
  const name = fn.upper;
  p.op("(");
  if (name === "TRIM") return parseTrim(p);
  if (name === "SUBSTRING") return parseSubstring(p);
  if (AGGREGATES.has(name)) {
    if (p.acceptOp("*")) {
      if (name !== "COUNT")
        throw selectErrors.parse(
          "ParseUnsupportedCallWithStar",
          "Only COUNT with (*) as a parameter is supported in the SQL expression.",
          p.at(fn),
        );
      p.op(")");
      return { sql: "count(*)", agg: true, cols: false };
    }
    const arg = p.expr();
    if (p.isOp(","))
      throw selectErrors.parse(
        "ParseNonUnaryAgregateFunctionCall",
        "Only one argument is supported for aggregate functions in the SQL expression.",
        p.at(),
      );
    p.op(")");
    if (arg.agg) throw selectErrors.unsupportedSqlStructure("Aggregate functions cannot be nested.");
    return { sql: `${name.toLowerCase()}(${arg.sql})`, agg: true, cols: false };
  }
  const simple = SIMPLE[name];
  if (!simple) {
    if (UNTRANSLATED.has(name)) throw selectErrors.notServed(`the function ${name}`);
    throw selectErrors.unsupportedFunction(fn.text);
  }
  const args: Expr[] = [];
  if (!p.acceptOp(")")) {
    do args.push(p.expr());
    while (p.acceptOp(","));
    p.op(")");
  }
  if (args.length < simple.min || args.length > simple.max) {
    throw selectErrors.parse(
      "EvaluatorInvalidArguments",
      "Incorrect number of arguments in the function call in the SQL expression.",
      p.at(fn),
    );
  }
  return combine(args, `${simple.duck}(${args.map((a) => a.sql).join(", ")})`);
}

/** TRIM([[LEADING|TRAILING|BOTH] [chars] FROM] s); the default removes spaces only. */
function parseTrim(p: ExprParser): Expr {
  let side = "BOTH";
  let chars: Expr = { sql: "' '", agg: false, cols: false };
  const t = p.peek();
  const hasSide = t.kind === "word" && ["LEADING", "TRAILING", "BOTH"].includes(t.upper);
  if (hasSide) {
    side = (p.next() as { upper: string }).upper;
    if (!p.isWord("FROM")) chars = p.expr();
    p.keyword("FROM");
  }
  let s = p.expr();
  if (!hasSide && p.acceptWord("FROM")) {
    chars = s;
    s = p.expr();
  }
  p.op(")");
  const fn = side === "LEADING" ? "ltrim" : side === "TRAILING" ? "rtrim" : "trim";
  return combine([s, chars], `${fn}(${s.sql}, ${chars.sql})`);
}

/** SUBSTRING(s FROM start [FOR length]) or SUBSTRING(s, start[, length]), with the reference's rules for start < 1. */
function parseSubstring(p: ExprParser): Expr {
  const s = p.expr();
  if (!p.acceptWord("FROM")) p.op(",");
  const start = p.expr();
  const length = p.acceptWord("FOR") || p.acceptOp(",") ? p.expr() : undefined;
  p.op(")");
  if (!length) return combine([s, start], `substring(${s.sql}, greatest(${start.sql}, 1))`);
  const sql =
    `(CASE WHEN ${start.sql} < 1 THEN substring(${s.sql}, 1, greatest(${start.sql} + ${length.sql} - 1, 0)) ` +
    `ELSE substring(${s.sql}, ${start.sql}, ${length.sql}) END)`;
  return combine([s, start, length], sql);
}

export function bin(left: Expr, op: string, right: Expr): Expr {
  return combine([left, right], `(${left.sql} ${op} ${right.sql})`);
}

export function combine(parts: Expr[], sql: string): Expr {
  return { sql, agg: parts.some((x) => x.agg), cols: parts.some((x) => x.cols) };
}
