import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  type QueryExecution,
  StartQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import {
  HeadObjectCommand,
  type InventoryConfiguration,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { EngineUnavailableError, InventoryFormatError, isRekeyError } from "../../contract/errors.ts";
import { classifyInventoryRow } from "../domain/classify.ts";
import { decodeInventoryKey, type InventoryRow, inventoryRowBatches } from "../domain/inventory.ts";
import {
  applyKeyChecks,
  athenaKeysToCheckSql,
  countsFromRoutes,
  InventoryCounter,
  type InventoryCounts,
  type KeyCheckResult,
  type KeyToCheck,
  type ScanCountEngineChoice,
  scanCountEngine,
} from "../domain/inventory-counts.ts";
import { type InventoryManifest, parseInventoryManifest } from "../domain/inventory-manifest.ts";
import { inventoryTable, inventoryTableDdl } from "../domain/inventory-queries.ts";
import { athenaRouteStatements, routeCounts } from "../domain/inventory-routes.ts";
import { sameKey } from "../domain/preflight.ts";
import type { AwsClients } from "../runtime/clients.ts";
import type { AthenaConfig } from "../runtime/step.ts";
import { allRows } from "./inventory-athena.ts";
import { parquetRowBatches } from "./inventory-parquet.ts";
import { getStreamWithMd5, getText, getTextIfExists, httpStatusOf } from "./s3-io.ts";

/**
 * `rekey scan`'s counts of a bucket's latest inventory delivery (steps/domain/inventory-counts.ts): found as a run
 * finds one, counted where it is stored by Athena when the delivery is large and the deployment has Athena (one
 * GROUP BY, the planning's route tally), else read here with a progress callback; then, when few enough, the SSE-KMS
 * objects whose key the inventory does not list are asked with HeadObject.
 */

export interface CountRequest {
  bucket: string;
  configuration: InventoryConfiguration;
  targetKeyArn: string;
  engine: ScanCountEngineChoice;
  /** The deployment's Athena workgroup and database; undefined when it has none. */
  athena: AthenaConfig | undefined;
  /** At most this many HeadObject calls to tell SSE-KMS objects' keys; 0: none. */
  keyChecks: number;
  onProgress?: (progress: CountProgress) => void;
}

/** How far the reading of a delivery has come (stream engine), or that Athena is counting it. */
export type CountProgress =
  | { engine: "stream"; filesRead: number; files: number; rows: number; delivery: string; dataBytes: number }
  | { engine: "athena"; delivery: string };

export type CountOutcome = { counts: InventoryCounts } | { unknown: string };

const DELIVERY_FOLDER = /\/(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)\/$/;
/** HeadObject calls in flight for the key checks. */
const HEADS_IN_FLIGHT = 16;

export async function countLatestDelivery(
  clients: Pick<AwsClients, "s3" | "athena">,
  request: CountRequest,
): Promise<CountOutcome> {
  try {
    const found = await latestDelivery(clients.s3, request.bucket, request.configuration);
    if ("unknown" in found) return found;
    const { manifest, manifestKey } = found;
    const dataBytes = manifest.files.reduce((n, f) => n + f.size, 0);
    const choice = scanCountEngine(request.engine, {
      fileFormat: manifest.fileFormat,
      dataFiles: manifest.files.length,
      dataBytes,
      athenaDeployed: request.athena !== undefined,
    });
    if ("unavailable" in choice) return { unknown: choice.unavailable };
    const delivery = {
      bucket: manifest.destinationBucket,
      manifestKey,
      createdAt: manifest.creationTimestamp.toISOString(),
    };
    const where = `s3://${delivery.bucket}/${manifestKey}`;
    if (choice.engine === "athena" && request.athena) {
      request.onProgress?.({ engine: "athena", delivery: where });
      const athena = await athenaCounts(clients.athena, request.athena, request, manifest, manifestKey);
      const counts: InventoryCounts = {
        delivery,
        countedBy: "athena",
        why: choice.why,
        ...athena.counts,
        keyChecks: { checked: 0, gone: 0 },
        athenaScannedBytes: athena.scannedBytes,
      };
      const unknown = counts.encryption.sseKmsKeyUnknown.objects;
      if (unknown === 0 || unknown > request.keyChecks) return { counts };
      const listed = await athena.keysToCheck(request.keyChecks + 1);
      const checked = await checkKeys(clients.s3, request.bucket, request.targetKeyArn, listed.keys);
      return {
        counts: { ...applyKeyChecks(counts, checked), athenaScannedBytes: athena.scannedBytes + listed.scanned },
      };
    }
    const counter = new InventoryCounter(request.keyChecks);
    const now = manifest.creationTimestamp;
    const progress = (filesRead: number) =>
      request.onProgress?.({
        engine: "stream",
        filesRead,
        files: manifest.files.length,
        rows: counter.rows,
        delivery: where,
        dataBytes,
      });
    progress(0);
    for (const [i, file] of manifest.files.entries()) {
      for await (const rows of fileRows(clients.s3, request.bucket, manifest, file)) {
        for (const row of rows) counter.add(row, classifyInventoryRow(row, { now }));
      }
      progress(i + 1);
    }
    const counts: InventoryCounts = {
      delivery,
      countedBy: "stream",
      why: choice.why,
      current: counter.current,
      notCurrent: counter.notCurrent,
      encryption: counter.encryption,
      run: counter.run,
      keyChecks: { checked: 0, gone: 0 },
    };
    const unknown = counts.encryption.sseKmsKeyUnknown.objects;
    if (unknown === 0 || unknown > request.keyChecks) return { counts };
    return {
      counts: applyKeyChecks(
        counts,
        await checkKeys(clients.s3, request.bucket, request.targetKeyArn, counter.keysToCheck),
      ),
    };
  } catch (err) {
    // One bucket's inventory that cannot be read leaves its counts unknown; the scan goes on with the others.
    if (isRekeyError(err)) return { unknown: `${err.name}: ${err.problem}` };
    if (httpStatusOf(err) !== undefined) return { unknown: `${(err as Error).name}: ${(err as Error).message}` };
    throw err;
  }
}

/**
 * The newest delivery of the configuration whose manifest.json is there and matches its manifest.checksum, as
 * "Find inventory" looks for one (steps/handlers/find-inventory.ts, which handlers keep to themselves).
 */
async function latestDelivery(
  s3: S3Client,
  bucket: string,
  configuration: InventoryConfiguration,
): Promise<{ manifest: InventoryManifest; manifestKey: string } | { unknown: string }> {
  const destinationArn = configuration.Destination?.S3BucketDestination?.Bucket ?? "";
  const destination = /^arn:[^:]+:s3:::([^/]+)$/.exec(destinationArn)?.[1];
  if (!destination) return { unknown: `the inventory's destination "${destinationArn}" is not a bucket ARN` };
  const id = configuration.Id ?? "";
  const prefix = configuration.Destination?.S3BucketDestination?.Prefix;
  const tail = `${bucket}/${id}/`;
  // For a prefix ending in "/" S3's documentation does not say whether one slash or two follow it: both are read.
  const bases = !prefix
    ? [tail]
    : prefix.endsWith("/")
      ? [`${prefix}${tail}`, `${prefix}/${tail}`]
      : [`${prefix}/${tail}`];
  const folders: string[] = [];
  for (const base of bases) {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: destination, Prefix: base, Delimiter: "/", ContinuationToken: token }),
      );
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix && DELIVERY_FOLDER.test(p.Prefix)) folders.push(p.Prefix);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  const stamp = (f: string) => DELIVERY_FOLDER.exec(f)?.[1] ?? "";
  folders.sort((a, b) => stamp(b).localeCompare(stamp(a)));
  for (const folder of folders) {
    const manifestKey = `${folder}manifest.json`;
    const text = await getTextIfExists(s3, destination, manifestKey);
    if (text === undefined) continue; // a delivery still being written
    const checksum = (await getText(s3, destination, `${folder}manifest.checksum`)).trim().toLowerCase();
    if (createHash("md5").update(text, "utf8").digest("hex") !== checksum) {
      throw new InventoryFormatError("manifest.json does not match its manifest.checksum.", {
        file: manifestKey,
        fix: "The delivery is damaged or incomplete; wait for the next one.",
      });
    }
    const manifest = parseInventoryManifest(text, manifestKey);
    if (manifest.sourceBucket !== bucket) {
      throw new InventoryFormatError(`the delivery is of bucket ${manifest.sourceBucket}, not ${bucket}.`, {
        file: manifestKey,
        fix: "Check the inventory configuration's destination.",
      });
    }
    return { manifest, manifestKey };
  }
  return { unknown: `no delivery of inventory configuration "${id}" yet in s3://${destination}/${bases[0]}` };
}

/** Rows of one data file (CSV checked against its MD5 as the bytes pass; Parquet read in ranges), of this bucket. */
async function* fileRows(
  s3: S3Client,
  bucket: string,
  manifest: InventoryManifest,
  file: InventoryManifest["files"][number],
): AsyncGenerator<InventoryRow[], void, undefined> {
  const ofBucket = (rows: InventoryRow[]) => {
    const other = rows.find((r) => r.bucket !== bucket);
    if (other) {
      throw new InventoryFormatError(`a row names bucket ${other.bucket}, not ${bucket}.`, {
        file: file.key,
        fix: "The inventory does not belong to this bucket; check the inventory configuration.",
      });
    }
    return rows;
  };
  if (manifest.fileFormat === "Parquet") {
    for await (const rows of parquetRowBatches(s3, manifest.destinationBucket, file, manifest.columns)) {
      yield ofBucket(rows);
    }
    return;
  }
  const { body, md5 } = await getStreamWithMd5(s3, manifest.destinationBucket, file.key);
  for await (const rows of inventoryRowBatches(body, manifest.columns, file.key)) yield ofBucket(rows);
  if (md5() !== file.md5.toLowerCase()) {
    throw new InventoryFormatError(`the file's MD5 is not the ${file.md5} manifest.json lists.`, {
      file: file.key,
      fix: "The file is damaged or was replaced; wait for the next inventory delivery.",
    });
  }
}

/**
 * The athena engine's count: the delivery's table (AWS's DDL, as planning creates it), the route tally with key
 * checks on, and, when asked, a listing of the keys to check.
 */
async function athenaCounts(
  athena: AthenaClient,
  config: AthenaConfig,
  request: CountRequest,
  manifest: InventoryManifest,
  manifestKey: string,
) {
  const table = inventoryTable(
    config.database,
    manifest.destinationBucket,
    manifestKey,
    manifest.columns,
    manifest.fileFormat,
  );
  const ddl = await runQuery(athena, config, inventoryTableDdl(table));
  const tally = await runQuery(
    athena,
    config,
    athenaRouteStatements(table, { bucket: request.bucket, now: manifest.creationTimestamp, checkKeys: true }).tally,
  );
  const groups = routeCounts(await allRows(athena, tally), `Athena query ${tally.QueryExecutionId}`);
  const scanned = (q: QueryExecution) => q.Statistics?.DataScannedInBytes ?? 0;
  return {
    counts: countsFromRoutes(groups),
    scannedBytes: scanned(ddl) + scanned(tally),
    keysToCheck: async (limit: number) => {
      const q = await runQuery(athena, config, athenaKeysToCheckSql(table, limit));
      const csv = manifest.fileFormat === "CSV";
      const keys = (await allRows(athena, q)).slice(1).map(([key = "", version]): KeyToCheck => {
        const decoded = csv ? decodeInventoryKey(key) : key;
        return { key: decoded ?? key, ...(version ? { versionId: version } : {}) };
      });
      return { keys, scanned: scanned(q) };
    },
  };
}

async function runQuery(athena: AthenaClient, config: AthenaConfig, sql: string): Promise<QueryExecution> {
  const { QueryExecutionId: id } = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      WorkGroup: config.workGroup,
      QueryExecutionContext: { Database: config.database },
    }),
  );
  for (let wait = 100; ; wait = Math.min(wait * 2, 5000)) {
    const { QueryExecution: q } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = q?.Status?.State;
    if (state === "SUCCEEDED" && q) return q;
    if (state === "FAILED" || state === "CANCELLED") {
      throw new EngineUnavailableError(
        `Athena query ${id} ${state === "FAILED" ? "failed" : "was cancelled"}: ${q?.Status?.StateChangeReason ?? q?.Status?.AthenaError?.ErrorMessage ?? "no reason given"}.`,
        {
          fix: `Look at the query in the Athena console (workgroup ${config.workGroup}), or scan with --engine stream.`,
        },
      );
    }
    await sleep(wait);
  }
}

/**
 * HeadObject of each version: under the target key with a Bucket Key, or not; gone when the version was deleted since
 * the delivery. Any other answer (access denied) leaves the keys unknown: no result is returned.
 */
async function checkKeys(
  s3: S3Client,
  bucket: string,
  targetKeyArn: string,
  keys: readonly KeyToCheck[],
): Promise<KeyCheckResult[]> {
  const limit = pLimit(HEADS_IN_FLIGHT);
  try {
    return await Promise.all(
      keys.map((k) =>
        limit(async (): Promise<KeyCheckResult> => {
          try {
            const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: k.key, VersionId: k.versionId }));
            const underTarget =
              head.ServerSideEncryption === "aws:kms" &&
              head.SSEKMSKeyId !== undefined &&
              sameKey(head.SSEKMSKeyId, targetKeyArn) &&
              head.BucketKeyEnabled === true;
            return { kind: underTarget ? "target-with-bucket-key" : "other" };
          } catch (err) {
            if (httpStatusOf(err) === 404) return { kind: "gone" };
            throw err;
          }
        }),
      ),
    );
  } catch (err) {
    if (httpStatusOf(err) !== undefined) return [];
    throw err;
  }
}
