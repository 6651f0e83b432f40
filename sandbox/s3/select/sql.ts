import { quoteLiteral } from "../../duckdb.ts";
import { selectErrors } from "./errors.ts";
import { bin, combine, type Expr, type ExprParser, parseCall, parseCase, parseCast } from "./functions.ts";
import { type Token, TokenCursor, tokenize } from "./lexer.ts";

/**
 * Translates the S3 Select SQL subset (SELECT list, FROM S3Object [alias], WHERE, LIMIT; the operators, CAST, CASE,
 * string, conditional and aggregate functions of the SQL reference) into DuckDB SQL over a table whose columns are
 * VARCHAR and named "_1" ... "_K". sandbox/S3.md ("SelectObjectContent") lists the subset and each translation;
 * anything else is refused with the documented parse error, or NotImplemented for what S3 evaluates and the
 * sandbox does not (date functions, JSON paths).
 */

export interface Projection {
  /** DuckDB expression. */
  sql: string;
  /** The record's field name in JSON output: the alias, the column's name, or `_<position>`. */
  name: string;
}

export interface Translation {
  /** `SELECT *`: every column, as read. */
  star: boolean;
  projections: Projection[];
  where: string | undefined;
  limit: number | undefined;
  /** The select list aggregates: one record results. */
  aggregate: boolean;
  /** The highest column position the query names (0: none); the table has at least that many columns. */
  maxColumn: number;
}

/** Header names when FileHeaderInfo is USE; undefined otherwise. */
export interface Schema {
  headers: string[] | undefined;
}

const RESERVED = new Set(
  "SELECT FROM WHERE LIMIT AND OR NOT IS NULL LIKE IN BETWEEN CAST AS TRUE FALSE CASE WHEN THEN ELSE END ESCAPE MISSING GROUP ORDER BY HAVING JOIN UNION LEADING TRAILING BOTH FOR DISTINCT".split(
    " ",
  ),
);

export function translate(expression: string, schema: Schema): Translation {
  return new Parser(tokenize(expression), schema).query();
}

class Parser extends TokenCursor implements ExprParser {
  private alias: string | undefined;
  private maxColumn = 0;
  private deferred: (() => void)[] = [];

  constructor(
    tokens: Token[],
    private readonly schema: Schema,
  ) {
    super(tokens);
  }

  query(): Translation {
    this.keyword("SELECT");
    if (this.isWord("DISTINCT")) throw this.unsupported();
    const star = this.isOp("*");
    const items: Expr[] = [];
    if (star) this.i += 1;
    else {
      do items.push(this.selectItem());
      while (this.acceptOp(","));
    }
    if (!this.isWord("FROM")) {
      if (this.peek().kind === "end") {
        throw selectErrors.parse(
          "ParseSelectMissingFrom",
          "The SQL expression contains a missing FROM after SELECT list.",
          this.at(),
        );
      }
      throw this.unexpected();
    }
    this.i += 1;
    const table = this.next();
    if (table.kind !== "word" || table.upper !== "S3OBJECT") throw this.unexpected(table);
    if (this.isOp("[")) throw selectErrors.notServed("JSON paths in FROM");
    if (this.acceptWord("AS")) this.alias = this.identifier();
    else if (this.peek().kind === "word" && !RESERVED.has(this.upper())) this.alias = this.identifier();
    // Column references in the select list were read before the alias was known.
    for (const check of this.deferred) check();
    let where: string | undefined;
    if (this.acceptWord("WHERE")) {
      const cond = this.expr();
      if (cond.agg) throw selectErrors.unsupportedSqlStructure("Aggregate functions are not allowed in WHERE.");
      where = cond.sql;
    }
    let limit: number | undefined;
    if (this.acceptWord("LIMIT")) {
      const n = this.next();
      if (n.kind !== "number" || !/^\d+$/.test(n.text)) {
        throw selectErrors.parse(
          "ParseExpectedNumber",
          "Did not find the expected number in the SQL expression.",
          this.at(n),
        );
      }
      limit = Number(n.text);
    }
    this.acceptOp(";");
    const rest = this.peek();
    if (rest.kind !== "end") {
      if (rest.kind === "word" && ["GROUP", "ORDER", "HAVING", "JOIN", "UNION"].includes(rest.upper))
        throw this.unsupported(rest);
      throw this.unexpected(rest);
    }
    const aggregate = items.some((e) => e.agg);
    if (aggregate && items.some((e) => e.cols)) {
      throw selectErrors.unsupportedSqlStructure(
        "A SELECT list that aggregates cannot also name columns outside an aggregate.",
      );
    }
    return {
      star,
      projections: items.map((e, n) => ({ sql: e.sql, name: e.name ?? `_${n + 1}` })),
      where,
      limit,
      aggregate,
      maxColumn: this.maxColumn,
    };
  }

  private selectItem(): Expr {
    const e = this.expr();
    if (this.acceptWord("AS")) return { ...e, name: this.identifier() };
    if (this.peek().kind === "word" && !RESERVED.has(this.upper())) return { ...e, name: this.identifier() };
    return e;
  }

  expr(): Expr {
    let left = this.and();
    while (this.acceptWord("OR")) left = bin(left, "OR", this.and());
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.acceptWord("AND")) left = bin(left, "AND", this.not());
    return left;
  }

  private not(): Expr {
    if (this.acceptWord("NOT")) {
      const e = this.not();
      return { ...e, sql: `(NOT ${e.sql})`, name: undefined };
    }
    return this.predicate();
  }

  private predicate(): Expr {
    const left = this.additive();
    const t = this.peek();
    if (t.kind === "op" && ["=", "<>", "!=", "<", ">", "<=", ">="].includes(t.text)) {
      this.i += 1;
      return bin(left, t.text === "!=" ? "<>" : t.text, this.additive());
    }
    if (this.acceptWord("IS")) {
      const negate = this.acceptWord("NOT");
      if (!this.acceptWord("NULL") && !this.acceptWord("MISSING")) throw this.unexpected();
      return { ...left, sql: `(${left.sql} IS ${negate ? "NOT " : ""}NULL)`, name: undefined };
    }
    const negate = this.acceptWord("NOT");
    if (this.acceptWord("BETWEEN")) {
      const low = this.additive();
      this.keyword("AND");
      const high = this.additive();
      return combine([left, low, high], `(${left.sql} ${negate ? "NOT " : ""}BETWEEN ${low.sql} AND ${high.sql})`);
    }
    if (this.acceptWord("IN")) {
      this.op("(");
      const list: Expr[] = [];
      do list.push(this.expr());
      while (this.acceptOp(","));
      this.op(")");
      return combine([left, ...list], `(${left.sql} ${negate ? "NOT " : ""}IN (${list.map((e) => e.sql).join(", ")}))`);
    }
    if (this.acceptWord("LIKE")) {
      const pattern = this.additive();
      const escapeChar = this.acceptWord("ESCAPE") ? this.additive() : undefined;
      const tail = escapeChar ? ` ESCAPE ${escapeChar.sql}` : "";
      return combine(
        [left, pattern, ...(escapeChar ? [escapeChar] : [])],
        `(${left.sql} ${negate ? "NOT " : ""}LIKE ${pattern.sql}${tail})`,
      );
    }
    if (negate) throw this.unexpected();
    return left;
  }

  private additive(): Expr {
    let left = this.multiplicative();
    for (;;) {
      const t = this.peek();
      if (t.kind !== "op" || !["+", "-", "||"].includes(t.text)) return left;
      this.i += 1;
      left = bin(left, t.text, this.multiplicative());
    }
  }

  private multiplicative(): Expr {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.kind !== "op" || !["*", "/", "%"].includes(t.text)) return left;
      this.i += 1;
      left = bin(left, t.text, this.unary());
    }
  }

  private unary(): Expr {
    if (this.acceptOp("-")) {
      const e = this.unary();
      return { ...e, sql: `(-${e.sql})`, name: undefined };
    }
    if (this.acceptOp("+")) return this.unary();
    return this.primary();
  }

  private primary(): Expr {
    const t = this.peek();
    if (t.kind === "number") return this.literal(t.text);
    if (t.kind === "string") return this.literal(quoteLiteral(t.text));
    if (t.kind === "op" && t.text === "(") {
      this.i += 1;
      const e = this.expr();
      this.op(")");
      return { ...e, name: undefined };
    }
    if (t.kind === "word") {
      if (t.upper === "TRUE" || t.upper === "FALSE") return this.literal(t.upper);
      if (t.upper === "NULL" || t.upper === "MISSING") return this.literal("NULL");
      if (t.upper === "CAST") return parseCast(this);
      if (t.upper === "CASE") return parseCase(this);
      if (this.tokens[this.i + 1]?.text === "(") return parseCall(this);
    }
    if (t.kind === "word" || t.kind === "quoted") return this.column();
    throw selectErrors.parse("ParseExpectedExpression", "Did not find the expected SQL expression.", this.at(t));
  }

  private literal(sql: string): Expr {
    this.i += 1;
    return { sql, agg: false, cols: false };
  }

  private column(): Expr {
    let t = this.next();
    let qualifier: Token | undefined;
    if (this.isOp(".")) {
      this.i += 1;
      qualifier = t;
      t = this.next();
      if (t.kind !== "word" && t.kind !== "quoted") throw this.unexpected(t);
    }
    if (t.kind === "word" && RESERVED.has(t.upper)) throw this.unexpected(t);
    if (qualifier) {
      const q = qualifier;
      this.deferred.push(() => this.checkQualifier(q));
    }
    const positional = t.kind === "word" ? /^_(\d+)$/.exec(t.text) : null;
    if (positional) {
      const n = Number(positional[1]);
      if (n < 1) throw selectErrors.invalidColumnIndex(t.text);
      this.maxColumn = Math.max(this.maxColumn, n);
      return { sql: `"_${n}"`, agg: false, cols: true, name: t.text };
    }
    const headers = this.schema.headers ?? [];
    const matches = headers
      .map((h, idx) => ({ h, idx }))
      .filter(({ h }) => (t.kind === "quoted" ? h === t.text : h.toLowerCase() === t.text.toLowerCase()));
    if (matches.length > 1) throw selectErrors.ambiguousFieldName(t.text);
    const match = matches[0];
    if (!match) throw selectErrors.missingHeaderName(t.text);
    this.maxColumn = Math.max(this.maxColumn, match.idx + 1);
    return { sql: `"_${match.idx + 1}"`, agg: false, cols: true, name: match.h };
  }

  private checkQualifier(q: Token): void {
    const name = q.text.toLowerCase();
    const ok = this.alias !== undefined ? name === this.alias.toLowerCase() : name === "s3object";
    if (!ok) throw selectErrors.invalidTableAlias(q.text);
  }

  private identifier(): string {
    const t = this.next();
    if ((t.kind === "word" && !RESERVED.has(t.upper)) || t.kind === "quoted") return t.text;
    throw selectErrors.parse(
      "ParseExpectedIdentForAlias",
      "Did not find the expected identifier for the alias in the SQL expression.",
      this.at(t),
    );
  }
}
