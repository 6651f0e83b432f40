import { HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { InvariantViolatedError } from "../../contract/errors.ts";
import { httpStatusOf } from "./s3-io.ts";

/**
 * Planning's HeadObject calls, kept off the parsing path: each batch of rows starts its HEADs and is queued, parsing
 * goes on, and batches are written in the order they were read once their answers are in. With one round of HEADs
 * per ~90-row batch, 10 ms each, a plan read 8,000 rows/s; with a few hundred in flight across batches, latency no
 * longer sets the pace. Memory stays bounded: reading waits while more than ROWS_PENDING rows wait to be written.
 */

/**
 * HeadObject calls in flight at once, across batches. S3 serves at least 5,500 GET/HEAD requests per second per
 * partitioned prefix and answers 503 Slow Down above it (the SDK retries those), see
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html. The S3 client's sockets must
 * allow as many (steps/runtime/clients.ts).
 */
export const HEADS_IN_FLIGHT = 256;

/** Rows read but not yet written, at most: what parsing may run ahead of the oldest batch's HEADs. */
export const ROWS_PENDING = 16_384;

/**
 * HeadObject of objects of one bucket, at most HEADS_IN_FLIGHT at a time over every caller: what neither an inventory
 * nor a generated list says (the KMS key of SSE-KMS objects, which S3 Inventory does not list; size, ETag, class and
 * archive status for generated lists).
 */
export class HeadObjects {
  private readonly limit = pLimit(HEADS_IN_FLIGHT);
  private failure: { error: unknown } | undefined;
  /** HeadObject requests sent, for the estimate: each is billed as a GET. */
  sent = 0;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /**
   * Each object's HeadObject, keyed by key; an object deleted since it was listed answers 404 and maps to undefined.
   * Once one call has failed, calls not yet sent fail the same way instead of being sent.
   */
  async each(rows: readonly { key: string }[]): Promise<Map<string, HeadObjectCommandOutput | undefined>> {
    if (rows.length === 0) return new Map();
    const heads = await Promise.all(
      rows.map((row) =>
        this.limit(async (): Promise<[string, HeadObjectCommandOutput | undefined]> => {
          if (this.failure) throw this.failure.error;
          this.sent += 1;
          try {
            return [row.key, await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: row.key }))];
          } catch (err) {
            if (httpStatusOf(err) === 404) return [row.key, undefined];
            this.failure ??= { error: err };
            throw err;
          }
        }),
      ),
    );
    return new Map(heads);
  }
}

/**
 * Batches whose preparation (their HEADs) is under way, written strictly in the order they were pushed, so the
 * files written are the same, line for line, as if each batch had waited for its own HEADs.
 */
export class OrderedBatches<T> {
  private readonly pending: { rows: number; ready: Promise<T>; settled: boolean }[] = [];
  private pendingRows = 0;

  constructor(
    private readonly write: (prepared: T) => Promise<void>,
    private readonly maxPendingRows = ROWS_PENDING,
  ) {}

  /**
   * Queues a batch of `rows` rows being prepared. Writes the oldest batches already prepared (rows kept no longer
   * than their HEADs take), then waits for the oldest while more than the bound wait.
   */
  async push(rows: number, ready: Promise<T>): Promise<void> {
    const entry = { rows, ready, settled: false };
    // A failed batch fails the step when its turn to be written comes; until then it must not count as unhandled.
    ready.then(
      () => {
        entry.settled = true;
      },
      () => {
        entry.settled = true;
      },
    );
    this.pending.push(entry);
    this.pendingRows += rows;
    while (this.pending[0]?.settled || this.pendingRows > this.maxPendingRows) await this.writeOldest();
  }

  /** Writes every batch still queued. */
  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.writeOldest();
  }

  private async writeOldest(): Promise<void> {
    const oldest = this.pending.shift();
    if (!oldest) {
      throw new InvariantViolatedError("No batch is queued, yet rows are counted as pending.", {
        fix: "This is a bug in rekey; report it with the execution's history.",
      });
    }
    this.pendingRows -= oldest.rows;
    await this.write(await oldest.ready);
  }
}
