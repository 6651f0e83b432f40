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

const RETRY_FIX = "Start the step again (a new run of the same inventory reuses everything already written).";

/** S3's part sizes are 5 MiB to 5 GiB; 8 MiB parts reach 80 GB objects within the 10,000-part limit. */
const PART_BYTES = 8 * 1024 * 1024;

/**
 * Writes lines into one S3 object holding at most one part in memory: a single PutObject for small objects, a
 * multipart upload once the object outgrows a part. A failed step calls abort(), which removes the uploaded
 * parts, so no partial object is ever left behind; re-running a step rewrites the same key.
 *
 * (lib-storage's Upload was not used: its abort() returns before the multipart upload is aborted.)
 */
export class LineUpload {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private uploadId: string | undefined;
  private readonly parts: CompletedPart[] = [];
  private state: "open" | "finished" | "aborted" = "open";
  lines = 0;

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
    const bytes = Buffer.from(line, "utf8");
    this.chunks.push(bytes);
    this.bufferedBytes += bytes.length;
    this.lines += 1;
    if (this.bufferedBytes >= PART_BYTES) await this.uploadPart();
  }

  /** Ends the object and returns its ETag (with quotes, as S3 returns it). */
  async finish(): Promise<string> {
    this.requireOpen();
    this.state = "finished";
    if (this.uploadId === undefined) {
      const out = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          Body: this.take(),
          ContentType: this.contentType,
          ...this.encryption(),
        }),
      );
      return requireEtag(out.ETag, this.bucket, this.key);
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
    return requireEtag(out.ETag, this.bucket, this.key);
  }

  /** Abandons the object: parts already uploaded are deleted; nothing becomes visible. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.state === "aborted") return;
    const wasFinished = this.state === "finished";
    this.state = "aborted";
    this.chunks = [];
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
        Body: this.take(),
      }),
    );
    this.parts.push({ PartNumber: partNumber, ETag: requireEtag(out.ETag, this.bucket, this.key) });
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

  private take(): Buffer {
    const body = Buffer.concat(this.chunks);
    this.chunks = [];
    this.bufferedBytes = 0;
    return body;
  }
}

function requireEtag(etag: string | undefined, bucket: string, key: string): string {
  if (!etag) throw new UnexpectedResponseError(`S3 returned no ETag for s3://${bucket}/${key}.`, { fix: RETRY_FIX });
  return etag;
}
