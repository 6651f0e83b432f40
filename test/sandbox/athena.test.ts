import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  InvalidRequestException,
  ListQueryExecutionsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketInventoryConfigurationCommand,
} from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import type { DeliveryResult } from "../../sandbox/s3/inventory.ts";
import {
  allRows,
  athenaError,
  csvInventoryTableDdl,
  INVENTORY_TABLE_FIELDS,
  parquetInventoryTableDdl,
  runQuery,
  values,
  waitForQuery,
} from "../support/athena.ts";
import { newTestBucket, useSandbox } from "../support/sandbox.ts";

const env = useSandbox();

/** Keys that CSV inventories must URL-encode, and that a query must give back exactly. */
const UNENCRYPTED = [
  "a+b.txt",
  "100%.csv",
  "comma,key.txt",
  'quote"key.txt',
  "naïve/ключ 日本.txt",
  "plain.txt",
  "space key.txt",
];

let src = "";
let dest = "";
let results = "";
let delivery: DeliveryResult;
let dt = "";
const db = "inventory_db";

function query(sql: string, extra: Record<string, unknown> = {}) {
  return runQuery(env.clients.athena, {
    QueryString: sql,
    QueryExecutionContext: { Database: db },
    ResultConfiguration: { OutputLocation: `s3://${results}/athena/` },
    ...extra,
  });
}

beforeAll(async () => {
  src = await newTestBucket(env.s3, "ath-src", { versioned: true });
  dest = await newTestBucket(env.s3, "ath-dest");
  results = await newTestBucket(env.s3, "ath-results");
  await env.admin.seed(src, [
    ...UNENCRYPTED.map((key) => ({ key, body: `body of ${key}`, encryption: { type: "NOT-SSE" as const } })),
    { key: "encrypted.txt", body: "x", encryption: { type: "SSE-S3" as const } },
    // An unencrypted older version under an encrypted latest one, and an unencrypted object since deleted.
    { key: "rewritten.txt", body: "old", encryption: { type: "NOT-SSE" as const } },
    { key: "rewritten.txt", body: "new", encryption: { type: "SSE-S3" as const } },
    { key: "deleted.txt", body: "gone", encryption: { type: "NOT-SSE" as const } },
  ]);
  await env.s3.send(new DeleteObjectCommand({ Bucket: src, Key: "deleted.txt" }));
  await env.s3.send(
    new PutBucketInventoryConfigurationCommand({
      Bucket: src,
      Id: "all-versions",
      InventoryConfiguration: {
        Id: "all-versions",
        IsEnabled: true,
        Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${dest}`, Format: "CSV", Prefix: "inv" } },
        IncludedObjectVersions: "All",
        OptionalFields: [...INVENTORY_TABLE_FIELDS],
        Schedule: { Frequency: "Daily" },
      },
    }),
  );
  delivery = await env.admin.deliverInventory({ bucket: src, configurationId: "all-versions", maxRowsPerFile: 4 });
  dt = /dt=([^/]+)\//.exec(delivery.symlinkKey)?.[1] ?? "";
  const created = await query(`CREATE DATABASE ${db}`, { QueryExecutionContext: undefined });
  expect(created.Status?.State).toBe("SUCCEEDED");
  const table = await query(csvInventoryTableDdl("inventory", `s3://${dest}/inv/${src}/all-versions/hive/`));
  expect(table.Status?.StateChangeReason).toBeUndefined();
  expect(table.Status?.State).toBe("SUCCEEDED");
  expect(table.StatementType).toBe("DDL");
});

describe("Athena over an S3 Inventory (CSV, hive symlinks, dt projection)", () => {
  it("selects the unencrypted latest versions, keys exactly as the inventory wrote them", async () => {
    const done = await query(
      `SELECT key, url_decode(key) AS decoded, version_id FROM inventory
       WHERE dt = '${dt}' AND encryption_status = 'NOT-SSE' AND is_latest = true AND is_delete_marker = false
       ORDER BY decoded`,
    );
    expect(done.Status?.State).toBe("SUCCEEDED");
    expect(done.StatementType).toBe("DML");
    const rows = values(await allRows(env.clients.athena, done.QueryExecutionId));
    expect(rows[0]).toEqual(["key", "decoded", "version_id"]);
    const sorted = [...UNENCRYPTED].sort();
    expect(rows.slice(1).map((r) => r[1])).toEqual(sorted);
    // CSV inventories URL-encode keys form-style: "+" is %2B, a space is "+".
    expect(rows.slice(1).find((r) => r[1] === "a+b.txt")?.[0]).toBe("a%2Bb.txt");
    expect(rows.slice(1).find((r) => r[1] === "space key.txt")?.[0]).toBe("space+key.txt");
    const versions = await env.admin.versions(src);
    for (const r of rows.slice(1)) {
      expect(r[2]).toBe(versions.find((v) => v.key === r[1] && v.isLatest)?.versionId);
    }
  });

  it("reports the bytes of the data files it read, and writes <id>.csv (every field quoted) and <id>.csv.metadata", async () => {
    const done = await query(`SELECT key, size FROM inventory WHERE dt = '${dt}' AND key = 'comma%2Ckey.txt'`);
    const id = done.QueryExecutionId;
    expect(done.Statistics?.DataScannedInBytes).toBe(delivery.dataFiles.reduce((n, f) => n + f.size, 0));
    expect(done.ResultConfiguration?.OutputLocation).toBe(`s3://${results}/athena/${id}.csv`);
    expect(done.Status?.SubmissionDateTime).toBeInstanceOf(Date);
    expect(done.Status?.CompletionDateTime).toBeInstanceOf(Date);
    const csv = await env.s3.send(new GetObjectCommand({ Bucket: results, Key: `athena/${id}.csv` }));
    expect(await csv.Body?.transformToString()).toBe(
      `"key","size"\n"comma%2Ckey.txt","${"body of comma,key.txt".length}"\n`,
    );
    const metadata = await env.s3.send(new HeadObjectCommand({ Bucket: results, Key: `athena/${id}.csv.metadata` }));
    expect(metadata.ContentLength).toBeGreaterThan(0);
    const page = await env.clients.athena.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
    expect(page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((c) => [c.Name, c.Type])).toEqual([
      ["key", "varchar"],
      ["size", "varchar"],
    ]);
  });

  it("reads no partition a dt predicate excludes", async () => {
    const done = await query(`SELECT count(*) AS n FROM inventory WHERE dt = '2022-01-01-00-00'`);
    expect(done.Statistics?.DataScannedInBytes).toBe(0);
    expect(values(await allRows(env.clients.athena, done.QueryExecutionId))).toEqual([["n"], ["0"]]);
  });

  it("pages GetQueryResults by MaxResults and NextToken, the header row first", async () => {
    const done = await query(`SELECT key FROM inventory WHERE dt = '${dt}' ORDER BY key`);
    const all = values(await allRows(env.clients.athena, done.QueryExecutionId));
    const first = await env.clients.athena.send(
      new GetQueryResultsCommand({ QueryExecutionId: done.QueryExecutionId, MaxResults: 3 }),
    );
    expect(values(first.ResultSet?.Rows ?? [])).toEqual(all.slice(0, 3));
    expect(first.NextToken).toBeDefined();
    const paged = values(await allRows(env.clients.athena, done.QueryExecutionId, 3));
    expect(paged).toEqual(all);
    expect(paged.filter((r) => r[0] === "key")).toHaveLength(1);
    // Bucket "versions": 7 + 1 + 2 + 2 (a version and its delete marker) rows, and the header.
    expect(all).toHaveLength(13);
  });
});

describe("Athena over a Parquet S3 Inventory", () => {
  it("reads it through AWS's Parquet DDL: raw keys, typed size and timestamps", async () => {
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "parquet",
        InventoryConfiguration: {
          Id: "parquet",
          IsEnabled: true,
          Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${dest}`, Format: "Parquet", Prefix: "inv" } },
          IncludedObjectVersions: "All",
          OptionalFields: [...INVENTORY_TABLE_FIELDS],
          Schedule: { Frequency: "Daily" },
        },
      }),
    );
    const report = await env.admin.deliverInventory({ bucket: src, configurationId: "parquet", maxRowsPerFile: 5 });
    const day = /dt=([^/]+)\//.exec(report.symlinkKey)?.[1] ?? "";
    const ddl = await query(parquetInventoryTableDdl("inventory_parquet", `s3://${dest}/inv/${src}/parquet/hive/`));
    expect(ddl.Status?.State).toBe("SUCCEEDED");
    const done = await query(
      `SELECT key, size, last_modified_date FROM inventory_parquet
       WHERE dt = '${day}' AND encryption_status = 'NOT-SSE' AND is_latest = true AND is_delete_marker = false
       ORDER BY key`,
    );
    expect(done.Status?.StateChangeReason).toBeUndefined();
    const rows = await allRows(env.clients.athena, done.QueryExecutionId);
    expect(
      values(rows)
        .slice(1)
        .map((r) => r[0]),
    ).toEqual([...UNENCRYPTED].sort());
    expect(values(rows)[1]?.[1]).toBe(String("body of 100%.csv".length));
    expect(values(rows)[1]?.[2]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/);
    const page = await env.clients.athena.send(new GetQueryResultsCommand({ QueryExecutionId: done.QueryExecutionId }));
    expect(page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((c) => c.Type)).toEqual([
      "varchar",
      "bigint",
      "timestamp",
    ]);
    expect(done.Statistics?.DataScannedInBytes).toBe(report.dataFiles.reduce((n, f) => n + f.size, 0));
    // `object_lock_retain_until_date bigint` over the files' TIMESTAMP_MILLIS column reads without failing.
    const lock = await query(
      `SELECT max(object_lock_retain_until_date) AS m FROM inventory_parquet WHERE dt = '${day}'`,
    );
    expect(lock.Status?.StateChangeReason).toBeUndefined();
  });
});

describe("query failures", () => {
  it("refuses a statement it cannot parse when it is started", async () => {
    const e = await athenaError(
      env.clients.athena.send(
        new StartQueryExecutionCommand({
          QueryString: "SELEC key FROM inventory",
          ResultConfiguration: { OutputLocation: `s3://${results}/` },
        }),
      ),
    );
    expect(e).toBeInstanceOf(InvalidRequestException);
    expect(e.message).toMatch(/^line 1:1: mismatched input 'SELEC'/);
    expect((e as InvalidRequestException).AthenaErrorCode).toBe("MALFORMED_QUERY");
  });

  it("fails a query naming an unknown column or table, with the reason", async () => {
    const column = await query("SELECT no_such_column FROM inventory");
    expect(column.Status?.State).toBe("FAILED");
    expect(column.Status?.StateChangeReason).toBe(
      "COLUMN_NOT_FOUND: line 1:8: Column 'no_such_column' cannot be resolved or requester is not authorized to access requested resources",
    );
    expect(column.Status?.AthenaError).toMatchObject({ ErrorCategory: 2, ErrorType: 1006, Retryable: false });
    const table = await query("SELECT * FROM no_such_table");
    expect(table.Status?.StateChangeReason).toBe(
      `TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.${db}.no_such_table' does not exist`,
    );
    const results_ = await athenaError(
      env.clients.athena.send(new GetQueryResultsCommand({ QueryExecutionId: table.QueryExecutionId })),
    );
    expect(results_.name).toBe("InvalidRequestException");
  });

  it("refuses more than one statement, and tells a table's STORED AS from CREATE TABLE AS", async () => {
    const two = await athenaError(
      env.clients.athena.send(
        new StartQueryExecutionCommand({
          QueryString: "SELECT 1; SELECT 2",
          ResultConfiguration: { OutputLocation: `s3://${results}/` },
        }),
      ),
    );
    expect(two.message).toBe("Only one sql statement is allowed. Got: SELECT 1; SELECT 2");
    const ddl = await query(
      `CREATE EXTERNAL TABLE stored_as (a string) STORED AS PARQUET LOCATION 's3://${dest}/none/'`,
    );
    expect(ddl.StatementType).toBe("DDL");
    expect(ddl.Status?.State).toBe("SUCCEEDED");
  });

  it("needs an output location, from the query or its workgroup", async () => {
    const e = await athenaError(env.clients.athena.send(new StartQueryExecutionCommand({ QueryString: "SELECT 1" })));
    expect(e.message).toBe(
      "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.",
    );
  });
});

describe("query lifecycle", () => {
  it("is QUEUED until the queue takes it; StopQueryExecution cancels it, and it stays CANCELLED", async () => {
    await env.admin.request("POST", "/_sandbox/athena/queue", { paused: true });
    try {
      const { QueryExecutionId } = await env.clients.athena.send(
        new StartQueryExecutionCommand({
          QueryString: "SELECT 1",
          ResultConfiguration: { OutputLocation: `s3://${results}/stop/` },
        }),
      );
      const id = QueryExecutionId ?? "";
      const queued = await env.clients.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      expect(queued.QueryExecution?.Status?.State).toBe("QUEUED");
      const early = await athenaError(env.clients.athena.send(new GetQueryResultsCommand({ QueryExecutionId: id })));
      expect(early.message).toBe("Query has not yet finished. Current state: QUEUED");
      await env.clients.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
      await env.admin.request("POST", "/_sandbox/athena/queue", { paused: false });
      const ended = await waitForQuery(env.clients.athena, id);
      expect(ended.Status?.State).toBe("CANCELLED");
      expect(ended.Status?.CompletionDateTime).toBeInstanceOf(Date);
    } finally {
      await env.admin.request("POST", "/_sandbox/athena/queue", { paused: false });
    }
  });

  it("cancels a RUNNING query, which stays CANCELLED and writes no result", async () => {
    await env.admin.request("POST", "/_sandbox/athena/queue", { holdRunning: true });
    try {
      const { QueryExecutionId } = await env.clients.athena.send(
        new StartQueryExecutionCommand({
          QueryString: `SELECT key FROM ${db}.inventory`,
          ResultConfiguration: { OutputLocation: `s3://${results}/running/` },
        }),
      );
      const id = QueryExecutionId ?? "";
      let state: string | undefined;
      while (state !== "RUNNING") {
        state = (await env.clients.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution
          ?.Status?.State;
      }
      await env.clients.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
      await env.admin.request("POST", "/_sandbox/athena/queue", { holdRunning: false });
      expect((await waitForQuery(env.clients.athena, id)).Status?.State).toBe("CANCELLED");
      const written = await env.s3.send(new ListObjectsV2Command({ Bucket: results, Prefix: "running/" }));
      expect(written.KeyCount).toBe(0);
    } finally {
      await env.admin.request("POST", "/_sandbox/athena/queue", { holdRunning: false });
    }
  });

  it("starts one execution per ClientRequestToken, and refuses the token with other parameters", async () => {
    const token = "rekey-athena-test-token-0000000000001";
    const input = {
      QueryString: "SELECT 42 AS answer",
      ClientRequestToken: token,
      ResultConfiguration: { OutputLocation: `s3://${results}/idem/` },
    };
    const a = await env.clients.athena.send(new StartQueryExecutionCommand(input));
    const b = await env.clients.athena.send(new StartQueryExecutionCommand(input));
    expect(b.QueryExecutionId).toBe(a.QueryExecutionId);
    const e = await athenaError(
      env.clients.athena.send(new StartQueryExecutionCommand({ ...input, QueryString: "SELECT 43" })),
    );
    expect(e.message).toBe("Idempotent parameters do not match");
    const listed = await env.clients.athena.send(new ListQueryExecutionsCommand({}));
    expect(listed.QueryExecutionIds?.[0]).toBe(a.QueryExecutionId);
  });
});
