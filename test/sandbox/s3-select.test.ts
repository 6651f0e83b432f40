import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import {
  PutObjectCommand,
  SelectObjectContentCommand,
  type SelectObjectContentCommandInput,
  type StatsEvent,
} from "@aws-sdk/client-s3";
import { EventStreamCodec } from "@smithy/core/event-streams";
import { fromUtf8, toUtf8 } from "@smithy/core/serde";
import { beforeAll, describe, expect, it } from "vitest";
import {
  contEvent,
  decodeMessages,
  encodeMessage,
  endEvent,
  errorMessage,
  recordsEvent,
  statsEvent,
} from "../../sandbox/s3/select/event-stream.ts";
import { awsCliEnv, cliWorks, newTestBucket, s3Error, useSandbox } from "../support/sandbox.ts";

const run = promisify(execFile);

/** The seed recipe's query: latest, unencrypted versions of an inventory with all versions. */
const SEED_QUERY = "select s._1, s._2 from s3object s where s._4 = 'true' and s._6 = 'NOT-SSE'";

interface InventoryRow {
  bucket: string;
  key: string;
  versionId: string;
  isLatest: "true" | "false";
  isDeleteMarker: "true" | "false";
  encryption: string;
  note: string;
}

/** Form-style URL encoding, as S3 Inventory writes keys (space "+", "+" "%2B", "," "%2C", UTF-8 bytes). */
function inventoryKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%20/g, "+")
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Every field quoted, as S3 Inventory writes its CSV; a quote inside a field is doubled. */
function inventoryCsv(rows: InventoryRow[]): string {
  const q = (v: string) => `"${v.replace(/"/g, '""')}"`;
  return rows
    .map((r) => [r.bucket, r.key, r.versionId, r.isLatest, r.isDeleteMarker, r.encryption, r.note].map(q).join(","))
    .map((line) => `${line}\n`)
    .join("");
}

const ENCRYPTIONS = ["NOT-SSE", "SSE-S3", "SSE-KMS", "NOT-SSE", "DSSE-KMS"];
const NAMES = ["a b+c.txt", "dir/x,y.csv", "ünïcödé/✓ file", "plain", "quote'd (1)*", "100% & more=yes"];

function inventoryRows(n: number): InventoryRow[] {
  return Array.from({ length: n }, (_, i) => ({
    bucket: "src-bucket",
    key: inventoryKey(`${NAMES[i % NAMES.length]}-${i}`),
    versionId: i % 7 === 0 ? "" : `v${i}`,
    isLatest: i % 4 === 3 ? "false" : "true",
    isDeleteMarker: i % 11 === 0 ? "true" : "false",
    encryption: ENCRYPTIONS[i % ENCRYPTIONS.length] ?? "NOT-SSE",
    note: i % 4 === 0 ? `has "quotes", commas` : "",
  }));
}

describe("S3 SelectObjectContent", () => {
  const env = useSandbox();
  let bucket: string;

  beforeAll(async () => {
    bucket = await newTestBucket(env.s3, "select");
  });

  async function put(key: string, body: Buffer | string): Promise<void> {
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  /** Runs a select through the SDK and collects the stream as the SDK parsed it. */
  async function select(key: string, input: Partial<SelectObjectContentCommandInput>) {
    const out = await env.s3.send(
      new SelectObjectContentCommand({
        Bucket: bucket,
        Key: key,
        ExpressionType: "SQL",
        Expression: SEED_QUERY,
        InputSerialization: { CSV: { FileHeaderInfo: "NONE" }, CompressionType: "GZIP" },
        OutputSerialization: { CSV: {} },
        ...input,
      }),
    );
    let records = "";
    let recordsEvents = 0;
    let stats: StatsEvent["Details"];
    let progressEvents = 0;
    let ended = false;
    for await (const event of out.Payload ?? []) {
      if (event.Records?.Payload) {
        recordsEvents += 1;
        records += Buffer.from(event.Records.Payload).toString("utf8");
      }
      if (event.Stats) stats = event.Stats.Details;
      if (event.Progress) progressEvents += 1;
      if (event.End) ended = true;
    }
    return { records, recordsEvents, stats, progressEvents, ended };
  }

  it("answers the seed recipe's query over a gzip inventory file with exactly the matching rows", async () => {
    const rows = inventoryRows(60);
    const body = gzipSync(inventoryCsv(rows));
    await put("inventory/data/seed.csv.gz", body);
    const result = await select("inventory/data/seed.csv.gz", {});
    const expected = rows
      .filter((r) => r.isLatest === "true" && r.encryption === "NOT-SSE")
      .map((r) => `${r.bucket},${r.key}\n`)
      .join("");
    expect(expected).toContain("a+b%2Bc.txt");
    expect(expected).toContain("x%2Cy.csv");
    expect(expected).toContain("%C3%BCn%C3%AFc%C3%B6d%C3%A9%2F%E2%9C%93+file");
    expect(result.records).toBe(expected);
    expect(result.ended).toBe(true);
    expect(result.stats).toEqual({
      BytesScanned: body.length,
      BytesProcessed: Buffer.byteLength(inventoryCsv(rows)),
      BytesReturned: Buffer.byteLength(expected),
    });
  });

  it("quotes output fields only when needed, and keeps doubled quotes and empty fields", async () => {
    const rows = inventoryRows(8);
    await put("inventory/data/quotes.csv.gz", gzipSync(inventoryCsv(rows)));
    const result = await select("inventory/data/quotes.csv.gz", {
      Expression: "SELECT s._3, s._7 FROM S3Object s WHERE s._7 <> '' OR s._3 = ''",
    });
    expect(result.records).toBe(`,"has ""quotes"", commas"\nv4,"has ""quotes"", commas"\n,\n`);
  });

  it("reads and writes the delimiters, quotes and record delimiters the request gives", async () => {
    await put("pipes.txt", "# a comment line\n'a|b'|'it''s'\nc|d\n");
    const result = await select("pipes.txt", {
      Expression: "SELECT s._2, s._1 FROM S3Object s",
      InputSerialization: {
        CSV: {
          FieldDelimiter: "|",
          QuoteCharacter: "'",
          QuoteEscapeCharacter: "'",
          Comments: "#",
          RecordDelimiter: "\n",
        },
        CompressionType: "NONE",
      },
      OutputSerialization: { CSV: { FieldDelimiter: "\t", RecordDelimiter: "\r\n", QuoteFields: "ALWAYS" } },
    });
    expect(result.records).toBe(`"it's"\t"a|b"\r\n"d"\t"c"\r\n`);
    const json = await select("pipes.txt", {
      Expression: "SELECT COUNT(*) AS n, MAX(s._1) FROM S3Object s",
      InputSerialization: { CSV: { FieldDelimiter: "|", QuoteCharacter: "'", Comments: "#" } },
      OutputSerialization: { JSON: { RecordDelimiter: "," } },
    });
    expect(json.records).toBe(`{"n":2,"_2":"c"},`);
  });

  it("names columns by the header row with FileHeaderInfo USE, case-insensitively unless quoted, and writes JSON", async () => {
    await put("people.csv", "Name,Team,Size\nAda,eng,12\nBob,ops,7\nCyd,eng,30\n");
    const result = await select("people.csv", {
      Expression: `SELECT s.name, s."Size" AS sz FROM S3Object s WHERE s.TEAM = 'eng' AND CAST(s.size AS INT) > 10`,
      InputSerialization: { CSV: { FileHeaderInfo: "USE" }, CompressionType: "NONE" },
      OutputSerialization: { JSON: {} },
    });
    expect(result.records).toBe(`{"Name":"Ada","sz":"12"}\n{"Name":"Cyd","sz":"30"}\n`);
    const ignored = await select("people.csv", {
      Expression: "SELECT s._1 FROM S3Object s WHERE s._2 = 'eng'",
      InputSerialization: { CSV: { FileHeaderInfo: "IGNORE" }, CompressionType: "NONE" },
    });
    expect(ignored.records).toBe("Ada\nCyd\n");
    const missing = await s3Error(
      select("people.csv", {
        Expression: `SELECT s."name" FROM S3Object s`,
        InputSerialization: { CSV: { FileHeaderInfo: "USE" } },
      }),
    );
    expect(missing.name).toBe("MissingHeaderName");
  });

  it("aggregates: the user guide's SUM over an inventory folder, and COUNT", async () => {
    const csv =
      '"DOC-EXAMPLE-BUCKET","example-folder/","0"\n' +
      '"DOC-EXAMPLE-BUCKET","example-folder/object1","2011267"\n' +
      '"DOC-EXAMPLE-BUCKET","example-folder/object2","1570024"\n';
    await put("sizes.csv.gz", gzipSync(csv));
    const result = await select("sizes.csv.gz", {
      Expression:
        "SELECT SUM(CAST(_3 as INT)), COUNT(*) FROM s3object s WHERE _2 LIKE 'example-folder/%' AND _2 != 'example-folder/';",
    });
    expect(result.records).toBe("3581291,2\n");
  });

  it("evaluates the string functions as the SQL reference's examples do", async () => {
    await put("strings.csv", "123456789,1112211foobar22211122,AbCdEfG!@#$,       foobar         \n");
    const result = await select("strings.csv", {
      Expression:
        "SELECT SUBSTRING(s._1, 0), SUBSTRING(s._1, 2), SUBSTRING(s._1, -4), SUBSTRING(s._1, 0, 999), " +
        "SUBSTRING(s._1 FROM 1 FOR 5), TRIM(BOTH '12' FROM s._2), LOWER(s._3), UPPER(s._3), " +
        "TRIM(LEADING FROM s._4), TRIM(s._4), CHAR_LENGTH(s._1), CHARACTER_LENGTH('') FROM S3Object s",
      InputSerialization: { CSV: {}, CompressionType: "NONE" },
    });
    expect(result.records).toBe(
      "123456789,23456789,123456789,123456789,12345,foobar,abcdefg!@#$,ABCDEFG!@#$,foobar         ,foobar,9,0\n",
    );
  });

  it("scans only the records that start in a ScanRange, as the user guide's example", async () => {
    await put("range.csv", "A,B\nC,D\nD,E\nE,F\nG,H\nI,J\n");
    await put("range.csv.gz", gzipSync("A,B\nC,D\n"));
    const range = (Start: number | undefined, End: number | undefined) =>
      select("range.csv", {
        Expression: "SELECT * FROM S3Object",
        InputSerialization: { CSV: {}, CompressionType: "NONE" },
        ScanRange: { Start, End },
      });
    expect((await range(1, 4)).records).toBe("C,D\n");
    expect((await range(0, 0)).records).toBe("A,B\n");
    expect((await range(undefined, 4)).records).toBe("I,J\n");
    const gzipped = await s3Error(
      select("range.csv.gz", { Expression: "SELECT * FROM S3Object", ScanRange: { Start: 0, End: 10 } }),
    );
    expect(gzipped.name).toBe("UnsupportedScanRangeInput");
  });

  it("refuses SQL it cannot parse with the documented parse error, before any stream", async () => {
    await put("small.csv", "a,b\n");
    const base = { InputSerialization: { CSV: {}, CompressionType: "NONE" as const } };
    const cases: [string, string][] = [
      ["SELECT s._1 FROM S3Object s WHERE s._1 ==", "ParseExpectedExpression"],
      ["SELECT s._1 FROM S3Object s WHERE", "ParseExpectedExpression"],
      ["SELECT s._1 S3Object", "ParseSelectMissingFrom"],
      ["SELECT s._1 FROM S3Object s GROUP BY s._1", "ParseUnsupportedSyntax"],
      ["SELECT nope(s._1) FROM S3Object s", "UnsupportedFunction"],
      ["SELECT s._0 FROM S3Object s", "InvalidColumnIndex"],
      ["SELECT s._1, COUNT(*) FROM S3Object s", "UnsupportedSqlStructure"],
      ["SELECT s._1 FROM S3Object s WHERE s._2 > 5", "IncorrectSqlFunctionArgumentType"],
      ["SELECT s._1 FROM S3Object t", "InvalidTableAlias"],
    ];
    for (const [expression, code] of cases) {
      const err = await s3Error(select("small.csv", { ...base, Expression: expression }));
      expect([expression, err.name, err.$metadata.httpStatusCode]).toEqual([expression, code, 400]);
    }
    const badType = await s3Error(select("small.csv", { ...base, ExpressionType: "XPATH" as "SQL" }));
    expect(badType.name).toBe("InvalidExpressionType");
  });

  it("answers InvalidCompressionFormat when GZIP is asked for an object that is not gzip", async () => {
    await put("plain.csv", '"src-bucket","k","v","true","false","NOT-SSE",""\n');
    const err = await s3Error(select("plain.csv", {}));
    expect(err.name).toBe("InvalidCompressionFormat");
    expect(err.$metadata.httpStatusCode).toBe(400);
  });

  it("streams a large result in several Records events, with Progress when asked", async () => {
    const rows = inventoryRows(200_000);
    const raw = inventoryCsv(rows);
    const body = gzipSync(raw);
    await put("inventory/data/big.csv.gz", body);
    const result = await select("inventory/data/big.csv.gz", { RequestProgress: { Enabled: true } });
    const expected = rows.filter((r) => r.isLatest === "true" && r.encryption === "NOT-SSE");
    const lines = result.records.split("\n").filter((l) => l !== "");
    expect(lines.length).toBe(expected.length);
    expect(lines[lines.length - 1]).toBe(`src-bucket,${expected[expected.length - 1]?.key}`);
    expect(result.recordsEvents).toBeGreaterThan(1);
    expect(result.progressEvents).toBeGreaterThan(0);
    expect(result.stats).toEqual({
      BytesScanned: body.length,
      BytesProcessed: Buffer.byteLength(raw),
      BytesReturned: Buffer.byteLength(result.records),
    });
  });

  it("ends the stream with an error message, not an HTTP error, when evaluating a record fails", async () => {
    const lines = `${Array.from({ length: 5000 }, (_, i) => `k${i},${i}\n`).join("")}bad,not-a-number\n`;
    await put("numbers.csv", lines);
    let ended = false;
    let failure: unknown;
    try {
      // The SDK reads the first message before it resolves: an error there rejects send() itself.
      const out = await env.s3.send(
        new SelectObjectContentCommand({
          Bucket: bucket,
          Key: "numbers.csv",
          ExpressionType: "SQL",
          Expression: "SELECT s._1 FROM S3Object s WHERE CAST(s._2 AS INT) >= 0",
          InputSerialization: { CSV: {} },
          OutputSerialization: { CSV: {} },
        }),
      );
      for await (const event of out.Payload ?? []) if (event.End) ended = true;
    } catch (e) {
      failure = e;
    }
    expect((failure as Error).name).toBe("CastFailed");
    expect((failure as { $response?: { statusCode?: number } }).$response?.statusCode).toBe(200);
    expect(ended).toBe(false);
  });

  it("is refused with 405 MethodNotAllowed when the account may not use S3 Select (switch s3Select)", async () => {
    await put("refused.csv", "a\n");
    await env.admin.request("POST", "/_sandbox/behaviours", { s3Select: "NotAvailable" });
    try {
      const err = await s3Error(select("refused.csv", { InputSerialization: { CSV: {} } }));
      expect([err.name, err.$metadata.httpStatusCode]).toEqual(["MethodNotAllowed", 405]);
    } finally {
      await env.admin.request("POST", "/_sandbox/behaviours", { s3Select: "Available" });
    }
    const ok = await select("refused.csv", { Expression: "SELECT * FROM S3Object", InputSerialization: { CSV: {} } });
    expect(ok.records).toBe("a\n");
  });
});

const hasCli = await cliWorks();

describe.runIf(hasCli)("aws s3api select-object-content against the sandbox (skipped: `aws` is not on PATH)", () => {
  const env = useSandbox();

  it("writes the seed query's rows to the outfile", async () => {
    const bucket = await newTestBucket(env.s3, "select-cli");
    const rows = inventoryRows(500);
    await env.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: "data/part-0.csv.gz", Body: gzipSync(inventoryCsv(rows)) }),
    );
    const dir = mkdtempSync(join(tmpdir(), "rekey-select-cli-"));
    const outfile = join(dir, "out.csv");
    writeFileSync(outfile, "");
    await run(
      "aws",
      [
        "--endpoint-url",
        env.sandbox.endpoint,
        "s3api",
        "select-object-content",
        "--bucket",
        bucket,
        "--key",
        "data/part-0.csv.gz",
        "--expression",
        SEED_QUERY,
        "--expression-type",
        "SQL",
        "--input-serialization",
        '{"CSV": {"FileHeaderInfo": "NONE"}, "CompressionType": "GZIP"}',
        "--output-serialization",
        '{"CSV": {}}',
        outfile,
      ],
      { env: awsCliEnv(env.sandbox) },
    );
    const expected = rows
      .filter((r) => r.isLatest === "true" && r.encryption === "NOT-SSE")
      .map((r) => `${r.bucket},${r.key}\n`)
      .join("");
    expect(readFileSync(outfile, "utf8")).toBe(expected);
  });
});

describe("S3 Select event-stream encoder", () => {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);

  it("writes the bytes the SDK's own event-stream codec writes for the same message", () => {
    const payload = Buffer.from("src-bucket,a+b%2Bc.txt\n");
    const ours = recordsEvent(payload);
    const theirs = codec.encode({
      headers: {
        ":event-type": { type: "string", value: "Records" },
        ":content-type": { type: "string", value: "application/octet-stream" },
        ":message-type": { type: "string", value: "event" },
      },
      body: payload,
    });
    expect(Buffer.from(theirs).equals(ours)).toBe(true);
  });

  it("frames every event so that the SDK codec decodes it (CRCs checked) and a flipped byte is refused", () => {
    const stats = { bytesScanned: 100, bytesProcessed: 250, bytesReturned: 40 };
    for (const message of [
      recordsEvent(Buffer.from("a,b\n")),
      statsEvent(stats),
      contEvent(),
      endEvent(),
      errorMessage("CastFailed", "bad"),
    ]) {
      const decoded = codec.decode(message);
      const ours = decodeMessages(message)[0];
      expect(Object.fromEntries(Object.entries(decoded.headers).map(([k, v]) => [k, v.value]))).toEqual(ours?.headers);
      expect(Buffer.from(decoded.body).equals(ours?.payload ?? Buffer.alloc(0))).toBe(true);
      const damaged = Buffer.from(message);
      damaged[damaged.length - 5] = (damaged[damaged.length - 5] ?? 0) ^ 0xff;
      expect(() => codec.decode(damaged)).toThrow(/checksum/i);
      expect(() => decodeMessages(damaged)).toThrow(/CRC/);
    }
  });

  it("matches a hand-computed frame: an End event is 16 bytes of framing plus its headers", () => {
    const end = endEvent();
    // :event-type (1+11+1+2+3) + :message-type (1+13+1+2+5) = 18 + 22 = 40 header bytes, no payload.
    expect(end.readUInt32BE(0)).toBe(56);
    expect(end.readUInt32BE(4)).toBe(40);
    expect(end.subarray(12, 52).toString("latin1")).toBe(
      "\u000b:event-type\u0007\u0000\u0003End\u000d:message-type\u0007\u0000\u0005event",
    );
    expect(decodeMessages(Buffer.concat([end, encodeMessage([["x", "y"]], Buffer.from("z"))])).length).toBe(2);
  });
});
