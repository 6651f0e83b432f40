import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { InvariantViolatedError, UnexpectedResponseError } from "../../contract/errors.ts";
import { requireEtag } from "./s3-io.ts";

/** What a suspended upload needs to continue (LineUpload.suspend, LineUpload.resume); plain JSON. */
export interface SavedUpload {
  uploadId?: string;
  parts: { PartNumber: number; ETag: string }[];
  lines: number;
}

const RETRY_FIX = "Start the step again (a new run of the same inventory reuses everything already written).";

/** S3's part sizes are 5 MiB to 5 GiB; 8 MiB parts reach 80 GB objects within the 10,000-part limit. */
export const PART_BYTES = 8 * 1024 * 1024;

/** The first buffer of an upload; it doubles as lines come, up to one part. */
const FIRST_BUFFER_BYTES = 64 * 1024;

/**
 * Writes lines into one S3 object holding at most one part in memory: a single PutObject for small objects, a
 * multipart upload once the object outgrows a part. A failed step calls abort(), which removes the uploaded
 * parts, so no partial object is ever left behind; re-running a step rewrites the same key.
 *
 * Lines are encoded straight into one buffer of the upload's own (allocated outside Node's shared 8 KiB pool, and
 * reused for every part), never into a Buffer per line: small Buffers are slices of pool slabs shared by every
 * upload, so an upload that never reached a part kept alive the slabs, and with them the lines of every other
 * upload already sent, and a plan's memory grew with its manifests. A part is exactly PART_BYTES (a line may span
 * two parts; S3 joins parts byte for byte), the last one what remains.
 *
 * Writes must be awaited one at a time. (lib-storage's Upload was not used: its abort() returns before the
 * multipart upload is aborted.)
 */
export class LineUpload {
  private buffer: Buffer = EMPTY;
  private bufferedBytes = 0;
  private uploadId: string | undefined;
  private readonly parts: CompletedPart[] = [];
  private state: "open" | "finished" | "aborted" | "suspended" = "open";
  lines = 0;

  /**
   * An upload a suspended step saved (suspend()), continued where it stopped: its multipart upload, the parts sent
   * and the bytes not yet sent (`tail`). A part sent after the save is sent again under the same number, which
   * replaces it.
   */
  static resume(
    s3: S3Client,
    bucket: string,
    key: string,
    contentType: string,
    serverSideEncryption: "AES256" | undefined,
    saved: SavedUpload,
    tail: Buffer,
  ): LineUpload {
    const upload = new LineUpload(s3, bucket, key, contentType, serverSideEncryption);
    upload.uploadId = saved.uploadId;
    upload.parts.push(...saved.parts);
    upload.lines = saved.lines;
    if (tail.length > 0) {
      upload.reserve(tail.length);
      tail.copy(upload.buffer, 0);
      upload.bufferedBytes = tail.length;
    }
    return upload;
  }

  /**
   * Stops writing without ending the object, for a step that continues in its next invocation: what resume() needs,
   * and the bytes not yet sent, which the caller stores. The multipart upload stays open.
   */
  suspend(): { saved: SavedUpload; tail: Buffer } {
    this.requireOpen();
    this.state = "suspended";
    const tail = Buffer.from(this.buffered());
    const saved: SavedUpload = {
      ...(this.uploadId === undefined ? {} : { uploadId: this.uploadId }),
      parts: this.parts.map((p) => ({ PartNumber: p.PartNumber ?? 0, ETag: p.ETag ?? "" })),
      lines: this.lines,
    };
    this.release();
    return { saved, tail };
  }

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly key: string,
    private readonly contentType: string,
    /**
     * "AES256" for Batch Operations manifests: rekey writes them with SSE-S3, as a CSV manifest encrypted with a KMS
     * key fails its job (see https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html).
     */
    private readonly serverSideEncryption?: "AES256",
  ) {}

  async write(line: string): Promise<void> {
    this.requireOpen();
    this.lines += 1;
    // A UTF-16 code unit is at most 3 UTF-8 bytes, so this bound saves measuring most lines.
    const room = this.buffer.length - this.bufferedBytes;
    if (line.length * 3 <= room) {
      this.bufferedBytes += this.buffer.write(line, this.bufferedBytes, "utf8");
      if (this.bufferedBytes === PART_BYTES) await this.uploadPart();
      return;
    }
    const bytes = Buffer.byteLength(line, "utf8");
    if (this.bufferedBytes + bytes <= PART_BYTES) {
      this.reserve(this.bufferedBytes + bytes);
      this.bufferedBytes += this.buffer.write(line, this.bufferedBytes, "utf8");
      if (this.bufferedBytes === PART_BYTES) await this.uploadPart();
      return;
    }
    // The line crosses a part boundary: its bytes go in pieces. A temporary Buffer, dropped on return.
    await this.writePieces(Buffer.from(line, "utf8"));
  }

  /**
   * Bytes that are whole lines already (a gunzipped file of manifest lines Athena wrote,
   * steps/domain/inventory-routes.ts), `lines` of them.
   */
  async writeBytes(bytes: Buffer, lines: number): Promise<void> {
    this.requireOpen();
    this.lines += lines;
    await this.writePieces(bytes);
  }

  /** Copies `encoded` into the buffer, uploading each part it fills. */
  private async writePieces(encoded: Buffer): Promise<void> {
    let at = 0;
    while (at < encoded.length) {
      this.reserve(Math.min(PART_BYTES, this.bufferedBytes + encoded.length - at));
      const n = encoded.copy(
        this.buffer,
        this.bufferedBytes,
        at,
        Math.min(encoded.length, at + PART_BYTES - this.bufferedBytes),
      );
      this.bufferedBytes += n;
      at += n;
      if (this.bufferedBytes === PART_BYTES) await this.uploadPart();
    }
  }

  /** Ends the object and returns its ETag (with quotes, as S3 returns it). */
  async finish(): Promise<string> {
    this.requireOpen();
    this.state = "finished";
    try {
      if (this.uploadId === undefined) {
        const out = await this.s3.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.key,
            Body: this.buffered(),
            ContentType: this.contentType,
            ...this.encryption(),
          }),
        );
        return requireEtag(out.ETag, this.bucket, this.key, RETRY_FIX);
      }
      if (this.bufferedBytes > 0) await this.uploadPart();
      const out = await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: this.parts },
        }),
      );
      return requireEtag(out.ETag, this.bucket, this.key, RETRY_FIX);
    } finally {
      this.release();
    }
  }

  /**
   * Abandons the object: parts already uploaded are deleted; nothing becomes visible. Safe to call twice. A suspended
   * upload is left to the step that resumes it.
   */
  async abort(): Promise<void> {
    if (this.state === "aborted" || this.state === "suspended") return;
    const wasFinished = this.state === "finished";
    this.state = "aborted";
    this.release();
    if (this.uploadId !== undefined && !wasFinished) {
      await this.s3.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId }),
      );
    }
  }

  private async uploadPart(): Promise<void> {
    if (this.uploadId === undefined) {
      const created = await this.s3.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.key,
          ContentType: this.contentType,
          ...this.encryption(),
        }),
      );
      if (!created.UploadId) {
        throw new UnexpectedResponseError(
          `CreateMultipartUpload for s3://${this.bucket}/${this.key} returned no UploadId.`,
          { fix: RETRY_FIX },
        );
      }
      this.uploadId = created.UploadId;
    }
    const partNumber = this.parts.length + 1;
    const out = await this.s3.send(
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId: this.uploadId,
        PartNumber: partNumber,
        Body: this.buffered(),
      }),
    );
    this.parts.push({ PartNumber: partNumber, ETag: requireEtag(out.ETag, this.bucket, this.key, RETRY_FIX) });
    // The part has been sent: its buffer takes the next part's bytes.
    this.bufferedBytes = 0;
  }

  private requireOpen(): void {
    if (this.state !== "open") {
      throw new InvariantViolatedError(
        `s3://${this.bucket}/${this.key} is ${this.state}; no more lines can be written.`,
        {
          fix: "This is a bug in rekey; report it with the execution's history.",
        },
      );
    }
  }

  private encryption() {
    return this.serverSideEncryption ? { ServerSideEncryption: this.serverSideEncryption } : {};
  }

  /** Grows the buffer (doubling, at most to a part) so it holds `bytes`; an upload's memory follows its size. */
  private reserve(bytes: number): void {
    if (bytes <= this.buffer.length) return;
    let size = Math.max(this.buffer.length, FIRST_BUFFER_BYTES);
    while (size < bytes) size *= 2;
    const grown = Buffer.allocUnsafeSlow(Math.min(size, PART_BYTES));
    this.buffer.copy(grown, 0, 0, this.bufferedBytes);
    this.buffer = grown;
  }

  /** The bytes not yet sent; a view of the buffer, valid until the next write. */
  private buffered(): Buffer {
    return this.buffer.subarray(0, this.bufferedBytes);
  }

  private release(): void {
    this.buffer = EMPTY;
    this.bufferedBytes = 0;
  }
}

const EMPTY = Buffer.alloc(0);
