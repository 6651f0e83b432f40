import type { CatalogColumn, CatalogTable, GlueCatalog, TableFormat } from "./catalog.ts";
import { ddlFailure, ErrorTypes, QueryFailure } from "./errors.ts";
import { Cursor, nameOf, type SqlToken, tokenizeSql } from "./tokens.ts";

/**
 * The Hive DDL Athena runs (https://docs.aws.amazon.com/athena/latest/ug/ddl-reference.html), the part the sandbox
 * serves: CREATE DATABASE/SCHEMA, DROP DATABASE/SCHEMA, CREATE EXTERNAL TABLE (columns, PARTITIONED BY, ROW FORMAT
 * SERDE / DELIMITED, WITH SERDEPROPERTIES, STORED AS, LOCATION, TBLPROPERTIES), DROP TABLE and MSCK REPAIR TABLE.
 * Each changes the Glue catalog; spec: sandbox/ATHENA.md.
 */

export type DdlStatement =
  | { kind: "createDatabase"; name: string; ifNotExists: boolean; location: string | undefined }
  | { kind: "dropDatabase"; name: string; ifExists: boolean; cascade: boolean }
  | { kind: "createTable"; table: Omit<CatalogTable, "createdAt" | "partitions">; ifNotExists: boolean }
  | { kind: "dropTable"; database: string; name: string; ifExists: boolean }
  | { kind: "repairTable"; database: string; name: string };

/** Reads one DDL statement; `database` is the execution context's database, for unqualified table names. */
export function parseDdl(sql: string, database: string): DdlStatement {
  const c = new Cursor(tokenizeSql(sql));
  if (c.acceptWord("CREATE")) {
    if (c.acceptWord("DATABASE") || c.acceptWord("SCHEMA")) return createDatabase(c);
    c.acceptWord("EXTERNAL");
    if (c.acceptWord("TABLE")) return createTable(c, database);
  }
  if (c.acceptWord("DROP")) {
    if (c.acceptWord("DATABASE") || c.acceptWord("SCHEMA")) {
      const ifExists = c.acceptWord("IF", "EXISTS");
      const name = identifier(c);
      const cascade = c.acceptWord("CASCADE");
      c.acceptWord("RESTRICT");
      end(c);
      return { kind: "dropDatabase", name, ifExists, cascade };
    }
    if (c.acceptWord("TABLE")) {
      const ifExists = c.acceptWord("IF", "EXISTS");
      const { db, name } = qualifiedName(c, database);
      end(c);
      return { kind: "dropTable", database: db, name, ifExists };
    }
  }
  if (c.acceptWord("MSCK", "REPAIR", "TABLE")) {
    const { db, name } = qualifiedName(c, database);
    end(c);
    return { kind: "repairTable", database: db, name };
  }
  throw syntax(sql, c.peek(), "a DDL statement the sandbox serves");
}

function createDatabase(c: Cursor): DdlStatement {
  const ifNotExists = c.acceptWord("IF", "NOT", "EXISTS");
  const name = identifier(c);
  let location: string | undefined;
  while (!c.atEnd()) {
    if (c.acceptWord("COMMENT")) string(c);
    else if (c.acceptWord("LOCATION")) location = string(c);
    else if (c.acceptWord("WITH", "DBPROPERTIES")) properties(c);
    else throw unexpected(c);
  }
  return { kind: "createDatabase", name, ifNotExists, location };
}

function createTable(c: Cursor, database: string): DdlStatement {
  const ifNotExists = c.acceptWord("IF", "NOT", "EXISTS");
  const { db, name } = qualifiedName(c, database);
  const columns = c.isOp("(") ? columnList(c) : [];
  let partitionKeys: CatalogColumn[] = [];
  let serde: string | undefined;
  let inputFormat: string | undefined;
  let storedAs: string | undefined;
  let location: string | undefined;
  let serdeProperties: Record<string, string> = {};
  let tableProperties: Record<string, string> = {};
  let delimited: Record<string, string> | undefined;
  while (!c.atEnd()) {
    if (c.acceptWord("COMMENT")) string(c);
    else if (c.acceptWord("PARTITIONED", "BY")) partitionKeys = columnList(c);
    else if (c.acceptWord("ROW", "FORMAT", "SERDE")) serde = string(c);
    else if (c.acceptWord("ROW", "FORMAT", "DELIMITED")) delimited = delimitedClauses(c);
    else if (c.acceptWord("WITH", "SERDEPROPERTIES")) serdeProperties = properties(c);
    else if (c.acceptWord("STORED", "AS", "INPUTFORMAT")) {
      inputFormat = string(c);
      if (c.acceptWord("OUTPUTFORMAT")) string(c);
    } else if (c.acceptWord("STORED", "AS")) storedAs = identifier(c).toUpperCase();
    else if (c.acceptWord("LOCATION")) location = string(c);
    else if (c.acceptWord("TBLPROPERTIES")) tableProperties = properties(c);
    else throw unexpected(c);
  }
  if (columns.length === 0)
    throw new QueryFailure(
      "FAILED: SemanticException [Error 10043]: Either list of columns or a custom serializer should be specified",
      ErrorTypes.syntaxError,
    );
  if (location === undefined || !/^s3a?:\/\/[^/]+/.test(location)) {
    throw new QueryFailure(
      location === undefined
        ? "The sandbox needs a LOCATION 's3://bucket/prefix/' for every table."
        : `Invalid LOCATION '${location}': it must be an s3:// URI.`,
      ErrorTypes.invalidArgument,
    );
  }
  const properties_ = delimited ? { ...delimited, ...serdeProperties } : serdeProperties;
  return {
    kind: "createTable",
    ifNotExists,
    table: {
      database: db,
      name,
      columns,
      partitionKeys,
      location: location.endsWith("/") ? location : `${location}/`,
      format: formatOf(serde, inputFormat, storedAs, delimited !== undefined),
      symlink: /SymlinkTextInputFormat$/.test(inputFormat ?? ""),
      serde,
      inputFormat,
      serdeProperties: properties_,
      tableProperties,
      external: true,
    },
  };
}

function formatOf(
  serde: string | undefined,
  inputFormat: string | undefined,
  storedAs: string | undefined,
  delimited: boolean,
): TableFormat {
  const s = (serde ?? "").toLowerCase();
  const i = (inputFormat ?? "").toLowerCase();
  if (s.includes("opencsvserde")) return "csv";
  if (s.includes("parquet") || i.includes("parquet") || storedAs === "PARQUET") return "parquet";
  if (s.includes("orc") || i.includes("orc") || storedAs === "ORC") return "orc";
  if (s.includes("json") || storedAs === "JSON") return "json";
  if (delimited || s.includes("lazysimpleserde") || storedAs === "TEXTFILE" || i.includes("text")) return "text";
  return "text";
}

/** `FIELDS TERMINATED BY 'x' [ESCAPED BY 'y'] LINES TERMINATED BY ... NULL DEFINED AS ...` as SerDe properties. */
function delimitedClauses(c: Cursor): Record<string, string> {
  const props: Record<string, string> = {};
  for (;;) {
    if (c.acceptWord("FIELDS", "TERMINATED", "BY")) {
      props["field.delim"] = string(c);
      if (c.acceptWord("ESCAPED", "BY")) props["escape.delim"] = string(c);
    } else if (c.acceptWord("COLLECTION", "ITEMS", "TERMINATED", "BY")) props["collection.delim"] = string(c);
    else if (c.acceptWord("MAP", "KEYS", "TERMINATED", "BY")) props["mapkey.delim"] = string(c);
    else if (c.acceptWord("LINES", "TERMINATED", "BY")) props["line.delim"] = string(c);
    else if (c.acceptWord("NULL", "DEFINED", "AS")) props["serialization.null.format"] = string(c);
    else return props;
  }
}

function columnList(c: Cursor): CatalogColumn[] {
  expectOp(c, "(");
  const columns: CatalogColumn[] = [];
  do {
    const name = identifier(c);
    columns.push({ name, type: typeText(c) });
    if (c.acceptWord("COMMENT")) string(c);
  } while (c.acceptOp(","));
  expectOp(c, ")");
  return columns;
}

/** A Hive type up to the next `,` or `)` at depth 0: `string`, `decimal(10, 2)`, `struct<a:int,b:string>`. */
function typeText(c: Cursor): string {
  let depth = 0;
  let text = "";
  for (;;) {
    const t = c.peek();
    if (!t) throw unexpected(c);
    if (depth === 0 && t.kind === "op" && (t.text === "," || t.text === ")")) break;
    if (depth === 0 && t.kind === "word" && t.upper === "COMMENT") break;
    if (t.kind === "op" && (t.text === "(" || t.text === "<")) depth += 1;
    if (t.kind === "op" && (t.text === ")" || t.text === ">")) depth -= 1;
    text += t.kind === "op" && t.text === "," ? "," : t.kind === "op" ? t.text : t.text.toLowerCase();
    c.next();
  }
  if (text === "") throw unexpected(c);
  return text;
}

function properties(c: Cursor): Record<string, string> {
  expectOp(c, "(");
  const props: Record<string, string> = {};
  if (c.acceptOp(")")) return props;
  do {
    const key = c.next();
    if (key?.kind !== "string" && key?.kind !== "ident") throw unexpected(c, -1);
    expectOp(c, "=");
    props[key.text] = string(c);
  } while (c.acceptOp(","));
  expectOp(c, ")");
  return props;
}

function qualifiedName(c: Cursor, database: string): { db: string; name: string } {
  const first = identifier(c);
  if (!c.acceptOp(".")) return { db: database, name: first };
  const second = identifier(c);
  // `awsdatacatalog.db.table`: the only catalog the sandbox has.
  if (c.acceptOp(".")) return { db: second, name: identifier(c) };
  return { db: first, name: second };
}

function identifier(c: Cursor): string {
  const name = nameOf(c.peek());
  if (name === undefined) throw unexpected(c);
  c.next();
  return name;
}

function string(c: Cursor): string {
  const t = c.next();
  if (t?.kind !== "string" && t?.kind !== "ident") throw unexpected(c, -1);
  return t.text;
}

function expectOp(c: Cursor, op: string): void {
  if (!c.acceptOp(op)) throw unexpected(c);
}

function end(c: Cursor): void {
  if (!c.atEnd()) throw unexpected(c);
}

function unexpected(c: Cursor, back = 0): QueryFailure {
  const t = c.tokens[c.i + back];
  const seen = t ? `'${t.text}'` : "'<EOF>'";
  return new QueryFailure(
    `FAILED: ParseException line 1:${(t?.start ?? 0) + 1} cannot recognize input near ${seen}`,
    ErrorTypes.syntaxError,
  );
}

function syntax(sql: string, t: SqlToken | undefined, what: string): QueryFailure {
  return new QueryFailure(
    `FAILED: ParseException: the sandbox expected ${what} at '${t ? t.text : sql.slice(0, 20)}'`,
    ErrorTypes.syntaxError,
  );
}

/** Applies a DDL statement to the catalog; Hive's refusals become the query's failure. */
export function applyDdl(catalog: GlueCatalog, ddl: DdlStatement, discovered?: CatalogTable["partitions"]): void {
  switch (ddl.kind) {
    case "createDatabase":
      if (catalog.database(ddl.name)) {
        if (ddl.ifNotExists) return;
        throw ddlFailure(`Database ${ddl.name} already exists`);
      }
      catalog.createDatabase(ddl.name, ddl.location);
      return;
    case "dropDatabase": {
      const db = catalog.database(ddl.name);
      if (!db) {
        if (ddl.ifExists) return;
        throw ddlFailure(`NoSuchObjectException(message:Database ${ddl.name} not found.)`);
      }
      if (db.tables.size > 0 && !ddl.cascade) {
        throw ddlFailure(
          `InvalidOperationException(message:Database ${ddl.name} is not empty. One or more tables exist.)`,
        );
      }
      catalog.dropDatabase(ddl.name);
      return;
    }
    case "createTable": {
      const db = catalog.database(ddl.table.database);
      if (!db)
        throw new QueryFailure(
          `FAILED: SemanticException [Error 10072]: Database does not exist: ${ddl.table.database}`,
          ErrorTypes.ddlTaskFailed,
        );
      if (db.tables.has(ddl.table.name)) {
        if (ddl.ifNotExists) return;
        throw ddlFailure(`AlreadyExistsException(message:Table ${ddl.table.name} already exists)`);
      }
      db.tables.set(ddl.table.name, { ...ddl.table, partitions: [], createdAt: new Date() });
      return;
    }
    case "dropTable": {
      const db = catalog.database(ddl.database);
      if (!db?.tables.has(ddl.name)) {
        if (ddl.ifExists) return;
        throw new QueryFailure(
          `FAILED: SemanticException [Error 10001]: Table not found ${ddl.database}.${ddl.name}`,
          ErrorTypes.tableNotFound,
        );
      }
      db.tables.delete(ddl.name);
      return;
    }
    case "repairTable": {
      const table = catalog.table(ddl.database, ddl.name);
      if (!table)
        throw new QueryFailure(
          `FAILED: SemanticException [Error 10001]: Table not found ${ddl.database}.${ddl.name}`,
          ErrorTypes.tableNotFound,
        );
      table.partitions = discovered ?? [];
      return;
    }
  }
}
