import {
  type AthenaClient,
  AthenaServiceException,
  CreateWorkGroupCommand,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecution,
  type Row,
  StartQueryExecutionCommand,
  type StartQueryExecutionCommandInput,
} from "@aws-sdk/client-athena";

/** Polls GetQueryExecution until the query has ended (no time limit of its own: the test's timeout is the bound). */
export async function waitForQuery(athena: AthenaClient, id: string): Promise<QueryExecution> {
  for (;;) {
    const got = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = got.QueryExecution?.Status?.State;
    if (state !== "QUEUED" && state !== "RUNNING") return got.QueryExecution ?? {};
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts a query and waits for its end. */
export async function runQuery(
  athena: AthenaClient,
  input: StartQueryExecutionCommandInput,
): Promise<QueryExecution & { QueryExecutionId: string }> {
  const started = await athena.send(new StartQueryExecutionCommand(input));
  const id = started.QueryExecutionId ?? "";
  return { ...(await waitForQuery(athena, id)), QueryExecutionId: id };
}

/**
 * A workgroup enforcing its results location (SSE-S3, as infra/ makes rekey's) and a database made in it by Athena
 * DDL: what the athena engine needs (steps/runtime/step.ts AthenaConfig).
 */
export async function athenaWorkGroupWithDatabase(
  athena: AthenaClient,
  config: { workGroup: string; database: string },
  outputLocation: string,
): Promise<void> {
  await athena.send(
    new CreateWorkGroupCommand({
      Name: config.workGroup,
      Configuration: {
        ResultConfiguration: {
          OutputLocation: outputLocation,
          EncryptionConfiguration: { EncryptionOption: "SSE_S3" },
        },
        EnforceWorkGroupConfiguration: true,
      },
    }),
  );
  const created = await runQuery(athena, {
    QueryString: `CREATE DATABASE ${config.database}`,
    WorkGroup: config.workGroup,
  });
  if (created.Status?.State !== "SUCCEEDED") {
    throw new Error(
      `CREATE DATABASE ${config.database} ended ${created.Status?.State}: ${created.Status?.StateChangeReason}`,
    );
  }
}

/** Every row of a query's result, through every page (header row included for a SELECT). */
export async function allRows(athena: AthenaClient, id: string, maxResults?: number): Promise<Row[]> {
  const rows: Row[] = [];
  let token: string | undefined;
  do {
    const page = await athena.send(
      new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: maxResults }),
    );
    rows.push(...(page.ResultSet?.Rows ?? []));
    token = page.NextToken;
  } while (token);
  return rows;
}

export function values(rows: Row[]): (string | undefined)[][] {
  return rows.map((r) => (r.Data ?? []).map((d) => d.VarCharValue));
}

/**
 * AWS's DDL for a CSV inventory (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-athena-query.html),
 * for a report of all versions with every optional field up to ChecksumAlgorithm.
 */
export function csvInventoryTableDdl(table: string, location: string): string {
  return `CREATE EXTERNAL TABLE ${table}(
         bucket string,
         key string,
         version_id string,
         is_latest boolean,
         is_delete_marker boolean,
         size string,
         last_modified_date string,
         e_tag string,
         storage_class string,
         is_multipart_uploaded boolean,
         replication_status string,
         encryption_status string,
         object_lock_retain_until_date string,
         object_lock_mode string,
         object_lock_legal_hold_status string,
         intelligent_tiering_access_tier string,
         bucket_key_status string,
         checksum_algorithm string
) PARTITIONED BY (
        dt string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
  STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat'
  LOCATION '${location}'
  TBLPROPERTIES (
    "projection.enabled" = "true",
    "projection.dt.type" = "date",
    "projection.dt.format" = "yyyy-MM-dd-HH-mm",
    "projection.dt.range" = "2022-01-01-00-00,NOW",
    "projection.dt.interval" = "1",
    "projection.dt.interval.unit" = "DAYS"
  );`;
}

/**
 * AWS's DDL for a Parquet inventory, from the same page: `size bigint`, `last_modified_date timestamp`,
 * `object_lock_retain_until_date bigint`, ParquetHiveSerDe, hourly projection interval.
 */
export function parquetInventoryTableDdl(table: string, location: string): string {
  return csvInventoryTableDdl(table, location)
    .replace("size string", "size bigint")
    .replace("last_modified_date string", "last_modified_date timestamp")
    .replace("object_lock_retain_until_date string", "object_lock_retain_until_date bigint")
    .replace(
      "org.apache.hadoop.hive.serde2.OpenCSVSerde",
      "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    )
    .replace('"projection.dt.interval.unit" = "DAYS"', '"projection.dt.interval.unit" = "HOURS"');
}

/** The optional fields of that table, in fileSchema order. */
export const INVENTORY_TABLE_FIELDS = [
  "Size",
  "LastModifiedDate",
  "ETag",
  "StorageClass",
  "IsMultipartUploaded",
  "ReplicationStatus",
  "EncryptionStatus",
  "ObjectLockRetainUntilDate",
  "ObjectLockMode",
  "ObjectLockLegalHoldStatus",
  "IntelligentTieringAccessTier",
  "BucketKeyStatus",
  "ChecksumAlgorithm",
] as const;

/** The Athena error a call failed with; any other error is rethrown, and a call that succeeds fails the test. */
export async function athenaError(p: Promise<unknown>): Promise<AthenaServiceException> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AthenaServiceException) return e;
    throw e;
  }
  throw new Error("expected the Athena call to fail");
}
