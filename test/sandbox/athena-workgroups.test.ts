import { gunzipSync } from "node:zlib";
import {
  CreateWorkGroupCommand,
  GetQueryResultsCommand,
  GetWorkGroupCommand,
  ListQueryExecutionsCommand,
} from "@aws-sdk/client-athena";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { allRows, athenaError, runQuery, values } from "../support/athena.ts";
import { newTestBucket, useSandbox } from "../support/sandbox.ts";

const env = useSandbox();
let data = "";
let results = "";
const db = "wg_db";

const query = (sql: string, extra: Record<string, unknown> = {}) =>
  runQuery(env.clients.athena, {
    QueryString: sql,
    QueryExecutionContext: { Database: db },
    ResultConfiguration: { OutputLocation: `s3://${results}/client/` },
    ...extra,
  });

beforeAll(async () => {
  data = await newTestBucket(env.s3, "ath-data");
  results = await newTestBucket(env.s3, "ath-wg-results");
  await env.s3.send(
    new PutObjectCommand({ Bucket: data, Key: "small/part-1.csv", Body: '"a","1"\n"b","2"\n"c",""\n' }),
  );
  // 11 MB declared, over the smallest cutoff Athena allows (10,000,000 bytes); never read.
  await env.admin.seed(data, [{ key: "big/part-1.csv", size: 11_000_000 }]);
  expect((await query(`CREATE DATABASE ${db}`)).Status?.State).toBe("SUCCEEDED");
  for (const name of ["small", "big"]) {
    const ddl = await query(
      `CREATE EXTERNAL TABLE ${name} (letter string, n int)
       ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' LOCATION 's3://${data}/${name}/'`,
    );
    expect(ddl.Status?.State).toBe("SUCCEEDED");
  }
});

describe("workgroups", () => {
  it("creates a workgroup with an enforced, encrypted output location and a bytes-scanned cutoff", async () => {
    await env.clients.athena.send(
      new CreateWorkGroupCommand({
        Name: "rekey-wg",
        Configuration: {
          EnforceWorkGroupConfiguration: true,
          BytesScannedCutoffPerQuery: 10_000_000,
          ResultConfiguration: {
            OutputLocation: `s3://${results}/enforced/`,
            EncryptionConfiguration: { EncryptionOption: "SSE_S3" },
          },
        },
      }),
    );
    const got = await env.clients.athena.send(new GetWorkGroupCommand({ WorkGroup: "rekey-wg" }));
    expect(got.WorkGroup).toMatchObject({
      Name: "rekey-wg",
      State: "ENABLED",
      Configuration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10_000_000,
        ResultConfiguration: {
          OutputLocation: `s3://${results}/enforced/`,
          EncryptionConfiguration: { EncryptionOption: "SSE_S3" },
        },
      },
    });
    const again = await athenaError(env.clients.athena.send(new CreateWorkGroupCommand({ Name: "rekey-wg" })));
    expect(again.name).toBe("InvalidRequestException");
    const low = await athenaError(
      env.clients.athena.send(
        new CreateWorkGroupCommand({ Name: "low", Configuration: { BytesScannedCutoffPerQuery: 1000 } }),
      ),
    );
    expect(low.name).toBe("InvalidRequestException");
    const missing = await athenaError(env.clients.athena.send(new GetWorkGroupCommand({ WorkGroup: "nope" })));
    expect(missing.message).toBe("WorkGroup nope is not found.");
  });

  it("writes results where the workgroup says, encrypted as it says, whatever the query asks", async () => {
    const done = await query("SELECT letter, n FROM small ORDER BY letter", { WorkGroup: "rekey-wg" });
    expect(done.Status?.State).toBe("SUCCEEDED");
    expect(done.WorkGroup).toBe("rekey-wg");
    const key = `enforced/${done.QueryExecutionId}.csv`;
    expect(done.ResultConfiguration?.OutputLocation).toBe(`s3://${results}/${key}`);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: results, Key: key }));
    expect(head.ServerSideEncryption).toBe("AES256");
    const body = await (
      await env.s3.send(new GetObjectCommand({ Bucket: results, Key: key }))
    ).Body?.transformToString();
    // An empty value of a non-string column is NULL: an unquoted empty field.
    expect(body).toBe('"letter","n"\n"a","1"\n"b","2"\n"c",\n');
    const rows = await allRows(env.clients.athena, done.QueryExecutionId);
    expect(rows[3]?.Data).toEqual([{ VarCharValue: "c" }, {}]);
    const listed = await env.clients.athena.send(new ListQueryExecutionsCommand({ WorkGroup: "rekey-wg" }));
    expect(listed.QueryExecutionIds).toContain(done.QueryExecutionId);
  });

  it("fails a query that would scan more than the cutoff, before reading it", async () => {
    const done = await query("SELECT count(*) FROM big", { WorkGroup: "rekey-wg" });
    expect(done.Status?.State).toBe("FAILED");
    expect(done.Status?.StateChangeReason).toBe("Bytes scanned limit was exceeded");
    expect(done.Statistics?.DataScannedInBytes).toBe(10_000_000);
    // The same query in a workgroup without a cutoff reads the object, which holds no data in the sandbox.
    const primary = await query("SELECT count(*) FROM big");
    expect(primary.Status?.StateChangeReason).not.toBe("Bytes scanned limit was exceeded");
  });
});

describe("UNLOAD and CREATE TABLE AS", () => {
  it("unloads a SELECT as gzip text into an empty location and lists the files in the manifest", async () => {
    const done = await query(
      `UNLOAD (SELECT letter, n FROM small WHERE n IS NOT NULL ORDER BY letter) TO 's3://${results}/unloaded/' WITH (format = 'TEXTFILE', field_delimiter = ',')`,
    );
    expect(done.Status?.State).toBe("SUCCEEDED");
    const listed = await env.s3.send(new ListObjectsV2Command({ Bucket: results, Prefix: "unloaded/" }));
    const key = listed.Contents?.[0]?.Key ?? "";
    const got = await env.s3.send(new GetObjectCommand({ Bucket: results, Key: key }));
    expect(gunzipSync(Buffer.from((await got.Body?.transformToByteArray()) ?? [])).toString()).toBe("a,1\nb,2\n");
    expect(done.Statistics?.DataManifestLocation).toBe(`s3://${results}/client/${done.QueryExecutionId}-manifest.csv`);
    const manifest = await env.clients.athena.send(
      new GetQueryResultsCommand({ QueryExecutionId: done.QueryExecutionId, QueryResultType: "DATA_MANIFEST" }),
    );
    expect(values(manifest.ResultSet?.Rows ?? [])).toEqual([[`s3://${results}/${key}`]]);
    const again = await query(`UNLOAD (SELECT 1) TO 's3://${results}/unloaded/' WITH (format = 'PARQUET')`);
    expect(again.Status?.StateChangeReason).toMatch(/^HIVE_PATH_ALREADY_EXISTS/);
    const formatless = await query(`UNLOAD (SELECT 1) TO 's3://${results}/elsewhere/'`);
    expect(formatless.Status?.StateChangeReason).toMatch(/format property is required/);
  });

  it("writes an UNLOAD as several files when switched to (athenaUnloadRowsPerFile), every row once, all listed", async () => {
    await env.admin.request("POST", "/_sandbox/behaviours", { athenaUnloadRowsPerFile: 1 });
    try {
      const done = await query(
        `UNLOAD (SELECT letter, n FROM small ORDER BY letter) TO 's3://${results}/split/' WITH (format = 'TEXTFILE', field_delimiter = ',')`,
      );
      expect(done.Status?.State).toBe("SUCCEEDED");
      const manifest = await env.clients.athena.send(
        new GetQueryResultsCommand({ QueryExecutionId: done.QueryExecutionId, QueryResultType: "DATA_MANIFEST" }),
      );
      const uris = values(manifest.ResultSet?.Rows ?? []).map((r) => r[0] ?? "");
      expect(uris).toHaveLength(3);
      const rows: string[] = [];
      for (const uri of uris) {
        const got = await env.s3.send(
          new GetObjectCommand({ Bucket: results, Key: uri.replace(`s3://${results}/`, "") }),
        );
        rows.push(gunzipSync(Buffer.from((await got.Body?.transformToByteArray()) ?? [])).toString());
      }
      expect(rows).toEqual(["a,1\n", "b,2\n", "c,\\N\n"]);
    } finally {
      await env.admin.request("POST", "/_sandbox/behaviours", { athenaUnloadRowsPerFile: null });
    }
  });

  it("partitions a TEXTFILE UNLOAD into col=value/ folders without the partition column, and refuses it elsewhere", async () => {
    const done = await query(
      `UNLOAD (SELECT letter, n, CASE WHEN n IS NULL THEN NULL WHEN n > 1 THEN 'big/one' ELSE 'small' END AS size FROM small) TO 's3://${results}/parted/' WITH (format = 'TEXTFILE', field_delimiter = ',', partitioned_by = ARRAY['size'])`,
    );
    expect(done.Status?.State).toBe("SUCCEEDED");
    const manifest = await env.clients.athena.send(
      new GetQueryResultsCommand({ QueryExecutionId: done.QueryExecutionId, QueryResultType: "DATA_MANIFEST" }),
    );
    const files: Record<string, string> = {};
    for (const [uri = ""] of values(manifest.ResultSet?.Rows ?? [])) {
      const key = uri.replace(`s3://${results}/`, "");
      const got = await env.s3.send(new GetObjectCommand({ Bucket: results, Key: key }));
      const folder = key.replace(/^parted\//, "").replace(/[^/]*$/, "");
      files[folder] = gunzipSync(Buffer.from((await got.Body?.transformToByteArray()) ?? [])).toString();
    }
    expect(files).toEqual({
      "size=big%2Fone/": "b,2\n",
      "size=small/": "a,1\n",
      "size=__HIVE_DEFAULT_PARTITION__/": "c,\\N\n",
    });
    const notLast = await query(
      `UNLOAD (SELECT n, letter FROM small) TO 's3://${results}/parted-wrong/' WITH (format = 'TEXTFILE', partitioned_by = ARRAY['n'])`,
    );
    expect(notLast.Status?.StateChangeReason).toMatch(/Partition columns must be the last columns/);
    const parquet = await query(
      `UNLOAD (SELECT letter, n FROM small) TO 's3://${results}/parted-parquet/' WITH (format = 'PARQUET', partitioned_by = ARRAY['n'])`,
    );
    expect(parquet.Status?.StateChangeReason).toMatch(/^NOT_SUPPORTED/);
  });

  it("url_encode leaves . - * _ alone and writes a space as +, as Trino; array_join joins min(x, n)", async () => {
    const done = await query(
      `SELECT url_encode('a b+c*d~e/f.g-h_i''é') AS encoded, url_decode('a+b%2Bc') AS decoded, (SELECT array_join(min(letter, 2), ' ') FROM small) AS smallest`,
    );
    expect(values(await allRows(env.clients.athena, done.QueryExecutionId))).toEqual([
      ["encoded", "decoded", "smallest"],
      ["a+b%2Bc*d%7Ee%2Ff.g-h_i%27%C3%A9", "a b+c", "a b"],
    ]);
  });

  it("creates a Parquet table from a SELECT, and the table reads back", async () => {
    const done = await query(
      `CREATE TABLE letters WITH (format = 'PARQUET', external_location = 's3://${results}/letters/') AS SELECT letter, n * 10 AS tens FROM small`,
    );
    expect(done.Status?.State).toBe("SUCCEEDED");
    const read = await query("SELECT letter, tens FROM letters WHERE tens IS NOT NULL ORDER BY letter");
    expect(values(await allRows(env.clients.athena, read.QueryExecutionId))).toEqual([
      ["letter", "tens"],
      ["a", "10"],
      ["b", "20"],
    ]);
  });
});

describe("Hive partitions without projection", () => {
  it("reads none until MSCK REPAIR TABLE registers them, then prunes by the partition key", async () => {
    const day1 = '"x"\n"y"\n';
    const day2 = '"z"\n';
    await env.s3.send(new PutObjectCommand({ Bucket: data, Key: "parts/dt=2024-01-01/a.csv", Body: day1 }));
    await env.s3.send(new PutObjectCommand({ Bucket: data, Key: "parts/dt=2024-01-02/b.csv", Body: day2 }));
    await env.s3.send(new PutObjectCommand({ Bucket: data, Key: "parts/dt=2024-01-02/_SUCCESS", Body: "ignored" }));
    const ddl = await query(
      `CREATE EXTERNAL TABLE parts (letter string) PARTITIONED BY (dt string)
       ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' LOCATION 's3://${data}/parts/'`,
    );
    expect(ddl.Status?.State).toBe("SUCCEEDED");
    const before = await query("SELECT count(*) AS n FROM parts");
    expect(values(await allRows(env.clients.athena, before.QueryExecutionId))).toEqual([["n"], ["0"]]);
    expect((await query("MSCK REPAIR TABLE parts")).Status?.State).toBe("SUCCEEDED");
    const all = await query("SELECT dt, letter FROM parts ORDER BY letter");
    expect(values(await allRows(env.clients.athena, all.QueryExecutionId))).toEqual([
      ["dt", "letter"],
      ["2024-01-01", "x"],
      ["2024-01-01", "y"],
      ["2024-01-02", "z"],
    ]);
    expect(all.Statistics?.DataScannedInBytes).toBe(day1.length + day2.length);
    const one = await query("SELECT letter FROM parts WHERE dt = '2024-01-02' AND letter IS NOT NULL");
    expect(one.Statistics?.DataScannedInBytes).toBe(day2.length);
    expect(values(await allRows(env.clients.athena, one.QueryExecutionId))).toEqual([["letter"], ["z"]]);
    // An OR could let other partitions' rows in: every partition is read.
    const either = await query("SELECT letter FROM parts WHERE dt = '2024-01-02' OR letter = 'x' ORDER BY letter");
    expect(either.Statistics?.DataScannedInBytes).toBe(day1.length + day2.length);
    expect(values(await allRows(env.clients.athena, either.QueryExecutionId))).toEqual([["letter"], ["x"], ["z"]]);
  });
});

describe("DROP TABLE", () => {
  it("removes the table from the catalog", async () => {
    expect((await query(`CREATE EXTERNAL TABLE doomed (a string) LOCATION 's3://${data}/small/'`)).Status?.State).toBe(
      "SUCCEEDED",
    );
    expect((await query("DROP TABLE doomed")).Status?.State).toBe("SUCCEEDED");
    expect((await query("SELECT * FROM doomed")).Status?.StateChangeReason).toMatch(/^TABLE_NOT_FOUND/);
    expect((await query("DROP TABLE doomed")).Status?.State).toBe("FAILED");
    expect((await query("DROP TABLE IF EXISTS doomed")).Status?.State).toBe("SUCCEEDED");
  });
});

describe("faults", () => {
  it("throttles Athena calls as Athena does, and fails a query whose data S3 refuses", async () => {
    await env.admin.addFaults({ service: "athena", operation: "StartQueryExecution", count: 1 });
    const throttled = await athenaError(query("SELECT 1"));
    expect(throttled.name).toBe("ThrottlingException");
    await env.admin.addFaults({ service: "s3", operation: "GetObject", bucket: data, count: 1, error: "accessDenied" });
    try {
      const denied = await query("SELECT letter FROM small");
      expect(denied.Status?.State).toBe("FAILED");
      expect(denied.Status?.StateChangeReason).toMatch(
        /^Permission denied on S3 path: s3:\/\/ath-data-.*\/small\/part-1\.csv/,
      );
      expect(denied.Status?.AthenaError?.ErrorType).toBe(1501);
    } finally {
      await env.admin.clearFaults();
    }
  });
});
