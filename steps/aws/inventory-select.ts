import { type S3Client, SelectObjectContentCommand, type SelectObjectContentEventStream } from "@aws-sdk/client-s3";
import { EngineUnavailableError, InventoryFormatError } from "../../contract/errors.ts";
import { others } from "../domain/engine-choice.ts";
import type { InventoryColumn } from "../domain/inventory.ts";
import { splitInventoryLine } from "../domain/inventory.ts";
import type { InventoryDataFile } from "../domain/inventory-manifest.ts";
import {
  type NotCurrentCounts,
  notCurrentFromCounts,
  selectCurrentRowsSql,
  selectNotCurrentSql,
} from "../domain/inventory-queries.ts";
import { httpStatusOf } from "./s3-io.ts";

/**
 * The select engine's reads (contract/engines.ts): one SelectObjectContent per CSV data file for its current
 * versions and one for the count of the others, the seed recipe's way of filtering an inventory
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_SelectObjectContent.html). A few files are asked at once and
 * read in manifest order, so the plan's files come out in the same order as the stream engine's.
 */

/** Data files whose Select requests are started ahead of the one being read. */
export const SELECT_FILES_IN_FLIGHT = 8;

/** One data file's answers: its current rows as CSV (every field quoted), and the count of its other versions. */
export interface SelectedFile {
  file: InventoryDataFile;
  records: AsyncIterable<Buffer>;
  notCurrent: () => Promise<NotCurrentCounts>;
  /** Ends an answer that will not be read (the plan stopped on an error). */
  close: () => Promise<void>;
}

const INPUT = {
  CSV: { FileHeaderInfo: "NONE", FieldDelimiter: ",", QuoteCharacter: '"', QuoteEscapeCharacter: '"' },
  CompressionType: "GZIP",
} as const;
const OUTPUT = {
  CSV: { QuoteFields: "ALWAYS", FieldDelimiter: ",", QuoteCharacter: '"', QuoteEscapeCharacter: '"' },
} as const;

/** The files' answers in manifest order, with up to SELECT_FILES_IN_FLIGHT requests started ahead. */
export async function* selectDataFiles(
  s3: S3Client,
  bucket: string,
  files: readonly InventoryDataFile[],
  columns: readonly InventoryColumn[],
): AsyncGenerator<SelectedFile, void, undefined> {
  const rowsSql = selectCurrentRowsSql(columns);
  const countSql = selectNotCurrentSql(columns);
  const start = (file: InventoryDataFile): Promise<SelectedFile> => {
    const rows = send(s3, bucket, file.key, rowsSql);
    const counts = countSql
      ? send(s3, bucket, file.key, countSql).then(async (events) => countsOf(await text(events, file.key), file.key))
      : Promise.resolve<NotCurrentCounts>({ byReason: {} });
    // Read only after the rows; a failure is reported then, not as an unhandled rejection before.
    counts.catch(() => {});
    return rows.then((events) => ({
      file,
      records: records(events, file.key),
      notCurrent: () => counts,
      close: async () => {
        await events[Symbol.asyncIterator]().return?.();
      },
    }));
  };
  const started: Promise<SelectedFile>[] = [];
  let next = 0;
  try {
    while (next < files.length || started.length > 0) {
      while (next < files.length && started.length < SELECT_FILES_IN_FLIGHT) {
        const p = start(files[next] as InventoryDataFile);
        p.catch(() => {});
        started.push(p);
        next += 1;
      }
      yield await (started.shift() as Promise<SelectedFile>);
    }
  } finally {
    // Responses started but never read are closed with their streams; nothing else holds them.
    for (const p of started) p.then((f) => f.close()).catch(() => {});
  }
}

async function send(
  s3: S3Client,
  bucket: string,
  key: string,
  expression: string,
): Promise<AsyncIterable<SelectObjectContentEventStream>> {
  try {
    const response = await s3.send(
      new SelectObjectContentCommand({
        Bucket: bucket,
        Key: key,
        ExpressionType: "SQL",
        Expression: expression,
        InputSerialization: INPUT,
        OutputSerialization: OUTPUT,
      }),
    );
    if (!response.Payload) throw new Error("SelectObjectContent answered without an event stream.");
    return response.Payload;
  } catch (err) {
    const status = httpStatusOf(err);
    // S3 Select is closed to accounts that never used it; AWS does not document the refusal (sandbox/ASSUMPTIONS.md).
    if (status === 403 || status === 405 || status === 501) {
      const code = err instanceof Error ? err.name : "error";
      throw new EngineUnavailableError(
        `S3 refused SelectObjectContent on ${bucket}/${key} (${status} ${code}): S3 Select is not available to this account or role.`,
        {
          fix: `Start the run with engine ${others("select")}; S3 Select is closed to accounts that have not used it since 2024-07-25. If the account has it, grant the step role s3:GetObject on the inventory files.`,
          cause: err,
        },
      );
    }
    throw err;
  }
}

/** The Records payloads, failing if the stream ends without its End event (S3 did not finish the answer). */
async function* records(events: AsyncIterable<SelectObjectContentEventStream>, key: string): AsyncGenerator<Buffer> {
  let ended = false;
  try {
    for await (const event of events) {
      if (event.Records?.Payload) yield Buffer.from(event.Records.Payload);
      else if (event.End) ended = true;
    }
  } catch (err) {
    throw selectFailure(err, key);
  }
  if (!ended) throw new Error(`S3 Select's answer for ${key} ended without its End event; the step will be retried.`);
}

async function text(events: AsyncIterable<SelectObjectContentEventStream>, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of records(events, key)) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function countsOf(csv: string, key: string): NotCurrentCounts {
  return notCurrentFromCounts(splitInventoryLine(csv.trim()) ?? [], key);
}

/** An error event in the stream: S3 could not read the file as the query says (CSVParsingError, CastFailed, ...). */
function selectFailure(err: unknown, key: string): unknown {
  const code = err instanceof Error ? err.name : "";
  if (/CSVParsing|CastFailed|InvalidCompressionFormat|InvalidTextEncoding|EvaluatorInvalid/.test(code)) {
    return new InventoryFormatError(`S3 Select could not read the file (${code}: ${(err as Error).message}).`, {
      file: key,
      fix: "The data file is corrupt or does not match its manifest.json; wait for the next inventory delivery.",
      cause: err,
    });
  }
  return err;
}
