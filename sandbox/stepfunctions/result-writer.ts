import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { MapStateDefinition } from "./distributed-map.ts";
import { passEvaluator } from "./engine.ts";
import { stateError } from "./tasks.ts";

/**
 * A Distributed Map state's ResultWriter (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html):
 * the child workflow executions' results go to `<Prefix>/<map run id>/` in S3 as `SUCCEEDED_0.json`, `FAILED_0.json`
 * and `PENDING_0.json` (each a JSON array, written only when it has an entry; sandbox/ASSUMPTIONS.md) and a
 * `manifest.json` naming them, through the sandbox's S3 API. A failure to write is `States.ResultWriterFailed`.
 */

const PUT_OBJECT = /^arn:aws[a-z-]*:states:::s3:putObject$/;
export const RESULT_WRITER_FAILED = "States.ResultWriterFailed";

/** One child execution as the result files show it (the `NONE` transformation: output and metadata). */
export type ResultRecord = Record<string, unknown> & { Status: string };

export type ResultStatus = "SUCCEEDED" | "FAILED" | "PENDING";

/** Where the results go, from the ResultWriter's Parameters (`Bucket`, `Prefix`, or their `.$` paths). */
export async function resultLocation(
  writer: NonNullable<MapStateDefinition["ResultWriter"]>,
  input: unknown,
  context: Record<string, unknown>,
): Promise<{ bucket: string; prefix: string }> {
  if (writer.WriterConfig !== undefined || writer.Resource === undefined || !PUT_OBJECT.test(writer.Resource)) {
    throw stateError(
      "States.Runtime",
      "The sandbox emulates a ResultWriter with Resource arn:aws:states:::s3:putObject and Parameters only (no WriterConfig).",
      true,
    );
  }
  let parameters: { Bucket?: unknown; Prefix?: unknown };
  try {
    parameters = (await passEvaluator({ Parameters: writer.Parameters ?? {} })(input, context)) as typeof parameters;
  } catch (err) {
    throw stateError("States.Runtime", (err as Error).message, true);
  }
  if (typeof parameters.Bucket !== "string") {
    throw stateError(RESULT_WRITER_FAILED, "The ResultWriter's Parameters must give a Bucket string.");
  }
  const prefix = typeof parameters.Prefix === "string" ? parameters.Prefix : "";
  return { bucket: parameters.Bucket, prefix };
}

/** Writes the result files and the manifest; answers the manifest's key. */
export async function writeResults(params: {
  s3: S3Client;
  bucket: string;
  prefix: string;
  mapRunArn: string;
  records: Record<ResultStatus, ResultRecord[]>;
}): Promise<string> {
  const runId = params.mapRunArn.slice(params.mapRunArn.lastIndexOf(":") + 1);
  const base = params.prefix === "" ? runId : `${params.prefix.replace(/\/+$/, "")}/${runId}`;
  const files: Record<ResultStatus, { Key: string; Size: number }[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  for (const status of ["SUCCEEDED", "FAILED", "PENDING"] as const) {
    const records = params.records[status];
    if (records.length === 0) continue;
    const key = `${base}/${status}_0.json`;
    const body = JSON.stringify(records);
    await put(params.s3, params.bucket, key, body);
    files[status].push({ Key: key, Size: Buffer.byteLength(body, "utf8") });
  }
  const manifestKey = `${base}/manifest.json`;
  await put(
    params.s3,
    params.bucket,
    manifestKey,
    JSON.stringify({ DestinationBucket: params.bucket, MapRunArn: params.mapRunArn, ResultFiles: files }),
  );
  return manifestKey;
}

async function put(s3: S3Client, bucket: string, key: string, body: string): Promise<void> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/json" }));
  } catch (err) {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    throw stateError(
      RESULT_WRITER_FAILED,
      `${e.message ?? String(err)} (Service: S3, Status Code: ${e.$metadata?.httpStatusCode ?? "unknown"}, Error Code: ${e.name ?? "unknown"})`,
    );
  }
}
