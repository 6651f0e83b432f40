import { once } from "node:events";
import { PassThrough } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

/** Lines are gathered into chunks of this size before they enter the upload stream, to keep per-line overhead low. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Streams lines into one S3 object without holding the object in memory: a multipart upload once the object
 * outgrows one part, a single PutObject otherwise. Idempotent by key: re-running a step rewrites the same object.
 */
export class LineUpload {
  private readonly stream = new PassThrough();
  private readonly done: Promise<{ ETag?: string }>;
  private pending: string[] = [];
  private pendingBytes = 0;
  lines = 0;

  constructor(
    s3: S3Client,
    readonly bucket: string,
    readonly key: string,
    contentType: string,
  ) {
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: this.stream, ContentType: contentType },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
      leavePartsOnError: false,
    });
    this.done = upload.done();
    // Surface an upload failure to whoever awaits next, not as an unhandled rejection.
    this.done.catch(() => undefined);
  }

  async write(line: string): Promise<void> {
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.lines += 1;
    if (this.pendingBytes >= CHUNK_BYTES) await this.flush();
  }

  /** Ends the object and returns its ETag (with quotes, as S3 returns it). */
  async finish(): Promise<string> {
    await this.flush();
    this.stream.end();
    const out = await this.done;
    if (!out.ETag) throw new Error(`Upload of s3://${this.bucket}/${this.key} returned no ETag`);
    return out.ETag;
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join("");
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.stream.write(chunk)) await Promise.race([once(this.stream, "drain"), this.done]);
  }
}
