import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { PutBucketInventoryConfigurationCommand } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { csvInventoryTableDdl, INVENTORY_TABLE_FIELDS } from "../support/athena.ts";
import { awsCliEnv, cliWorks, newTestBucket, useSandbox } from "../support/sandbox.ts";

const run = promisify(execFile);

const onPath = await cliWorks();

describe.runIf(onPath)("aws athena against the sandbox (skipped: `aws` is not on PATH)", () => {
  const env = useSandbox();
  let results = "";
  let dt = "";
  const keys = ["a+b.txt", "100%.txt", "comma,key.txt", 'quote"key.txt', "ключ.txt"];

  /** Runs `aws athena <args>` against the sandbox and parses its JSON output. */
  async function athena(...args: string[]): Promise<Record<string, unknown>> {
    const { stdout } = await run(
      "aws",
      ["athena", ...args, "--endpoint-url", env.sandbox.endpoint, "--output", "json"],
      {
        env: awsCliEnv(env.sandbox),
      },
    );
    return stdout.trim() === "" ? {} : (JSON.parse(stdout) as Record<string, unknown>);
  }

  /** start-query-execution, then get-query-execution until the query has ended. */
  async function runQuery(sql: string): Promise<{ id: string; execution: Record<string, unknown> }> {
    const started = await athena(
      "start-query-execution",
      "--query-string",
      sql,
      "--query-execution-context",
      "Database=cli_db",
      "--result-configuration",
      `OutputLocation=s3://${results}/cli/`,
    );
    const id = String(started.QueryExecutionId);
    for (;;) {
      const got = (await athena("get-query-execution", "--query-execution-id", id)).QueryExecution as Record<
        string,
        unknown
      >;
      const state = (got.Status as { State: string }).State;
      if (state !== "QUEUED" && state !== "RUNNING") return { id, execution: got };
    }
  }

  beforeAll(async () => {
    const src = await newTestBucket(env.s3, "cli-src", { versioned: true });
    const dest = await newTestBucket(env.s3, "cli-dest");
    results = await newTestBucket(env.s3, "cli-results");
    await env.admin.seed(src, [
      ...keys.map((key) => ({ key, body: key, encryption: { type: "NOT-SSE" as const } })),
      { key: "encrypted.txt", body: "x", encryption: { type: "SSE-S3" as const } },
    ]);
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "cfg",
        InventoryConfiguration: {
          Id: "cfg",
          IsEnabled: true,
          Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${dest}`, Format: "CSV" } },
          IncludedObjectVersions: "All",
          OptionalFields: [...INVENTORY_TABLE_FIELDS],
          Schedule: { Frequency: "Daily" },
        },
      }),
    );
    const delivery = await env.admin.deliverInventory({ bucket: src, configurationId: "cfg" });
    dt = /dt=([^/]+)\//.exec(delivery.symlinkKey)?.[1] ?? "";
    expect((await runQuery("CREATE DATABASE cli_db")).execution.Status).toMatchObject({ State: "SUCCEEDED" });
    const ddl = await runQuery(csvInventoryTableDdl("inv", `s3://${dest}/${src}/cfg/hive/`));
    expect(ddl.execution.Status).toMatchObject({ State: "SUCCEEDED" });
  });

  it("start-query-execution, get-query-execution and get-query-results select the unencrypted latest versions", async () => {
    const { id, execution } = await runQuery(
      `SELECT url_decode(key) AS k FROM inv WHERE dt = '${dt}' AND encryption_status = 'NOT-SSE' AND is_latest = true ORDER BY k`,
    );
    expect(execution).toMatchObject({ StatementType: "DML", Status: { State: "SUCCEEDED" } });
    expect((execution.Statistics as { DataScannedInBytes: number }).DataScannedInBytes).toBeGreaterThan(0);
    const got = await athena("get-query-results", "--query-execution-id", id);
    const rows = (got.ResultSet as { Rows: { Data: { VarCharValue?: string }[] }[] }).Rows.map(
      (r) => r.Data[0]?.VarCharValue,
    );
    expect(rows).toEqual(["k", ...[...keys].sort()]);
  });

  it("pages get-query-results with --max-items and --starting-token", async () => {
    const { id } = await runQuery(`SELECT key FROM inv WHERE dt = '${dt}' ORDER BY key`);
    const first = await athena("get-query-results", "--query-execution-id", id, "--max-items", "2");
    const firstRows = (first.ResultSet as { Rows: unknown[] }).Rows;
    expect(firstRows).toHaveLength(2);
    const rest = await athena(
      "get-query-results",
      "--query-execution-id",
      id,
      "--starting-token",
      String(first.NextToken),
    );
    expect((rest.ResultSet as { Rows: unknown[] }).Rows).toHaveLength(keys.length + 1 + 1 - 2);
  });

  it("reports a failed query's reason", async () => {
    const { execution } = await runQuery("SELECT missing_column FROM inv");
    expect(execution.Status).toMatchObject({ State: "FAILED" });
    expect(String((execution.Status as { StateChangeReason: string }).StateChangeReason)).toMatch(
      /^COLUMN_NOT_FOUND: line 1:8: /,
    );
  });

  it("stop-query-execution leaves an ended query as it is", async () => {
    const { id } = await runQuery("SELECT 1");
    await athena("stop-query-execution", "--query-execution-id", id);
    const got = (await athena("get-query-execution", "--query-execution-id", id)).QueryExecution as {
      Status: { State: string };
    };
    expect(got.Status.State).toBe("SUCCEEDED");
  });
});
