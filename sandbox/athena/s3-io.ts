import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { ErrorTypes, QueryFailure } from "./errors.ts";

/**
 * Athena's own S3 calls, made through the sandbox's S3 API like any client's (so fault rules and encryption apply,
 * and a data directory records what they write), with the user agent ATHENA_USER_AGENT.
 */
export const ATHENA_USER_AGENT = "sandbox-athena";

export interface S3Location {
  bucket: string;
  /** Key prefix, without a leading "/"; "" for the bucket's root. */
  prefix: string;
}

export function parseS3Uri(uri: string): S3Location | undefined {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m?.[1]) return undefined;
  return { bucket: m[1], prefix: m[2] ?? "" };
}

export interface S3ObjectSummary {
  key: string;
  size: number;
  storageClass: string;
}

/** Every object under a prefix, in key order. */
export async function listObjects(s3: S3Client, at: S3Location): Promise<S3ObjectSummary[]> {
  const out: S3ObjectSummary[] = [];
  let token: string | undefined;
  do {
    const page = await call(at, () =>
      s3.send(new ListObjectsV2Command({ Bucket: at.bucket, Prefix: at.prefix, ContinuationToken: token })),
    );
    for (const o of page.Contents ?? [])
      out.push({ key: o.Key ?? "", size: o.Size ?? 0, storageClass: o.StorageClass ?? "STANDARD" });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export async function objectSize(s3: S3Client, at: S3Location): Promise<number> {
  const head = await call(at, () => s3.send(new HeadObjectCommand({ Bucket: at.bucket, Key: at.prefix })));
  return head.ContentLength ?? 0;
}

export async function getObject(s3: S3Client, at: S3Location): Promise<Buffer> {
  const got = await call(at, () => s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: at.prefix })));
  return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
}

/** Encryption of what Athena writes, from the execution's EncryptionConfiguration. */
export interface ResultEncryption {
  EncryptionOption: string;
  KmsKey?: string;
}

export async function putObject(
  s3: S3Client,
  at: S3Location,
  body: Buffer | string,
  contentType: string,
  encryption: ResultEncryption | undefined,
): Promise<void> {
  const input: PutObjectCommandInput = {
    Bucket: at.bucket,
    Key: at.prefix,
    Body: Buffer.from(body),
    ContentType: contentType,
  };
  if (encryption?.EncryptionOption === "SSE_S3") input.ServerSideEncryption = "AES256";
  else if (encryption?.EncryptionOption === "SSE_KMS" || encryption?.EncryptionOption === "CSE_KMS") {
    input.ServerSideEncryption = "aws:kms";
    if (encryption.KmsKey) input.SSEKMSKeyId = encryption.KmsKey;
  }
  try {
    await s3.send(new PutObjectCommand(input));
  } catch (err) {
    if (err instanceof S3ServiceException) {
      throw new QueryFailure(
        `Unable to write query results to s3://${at.bucket}/${at.prefix}: ${err.name}: ${err.message}`,
        ErrorTypes.writeResults,
        1,
        err.$retryable !== undefined,
      );
    }
    throw err;
  }
}

/** An S3 refusal while reading table data is the query's failure, named as Athena's error types name them. */
async function call<T>(at: S3Location, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (!(err instanceof S3ServiceException)) throw err;
    const where = `s3://${at.bucket}/${at.prefix}`;
    if (err.name === "NoSuchBucket") {
      throw new QueryFailure(
        `HIVE_FILESYSTEM_ERROR: The specified bucket does not exist (${where})`,
        ErrorTypes.bucketNotFound,
      );
    }
    if (err.name === "AccessDenied" || err.$metadata.httpStatusCode === 403) {
      throw new QueryFailure(`Permission denied on S3 path: ${where}: ${err.message}`, ErrorTypes.s3PermissionError);
    }
    throw new QueryFailure(
      `HIVE_CANNOT_OPEN_SPLIT: Error opening ${where}: ${err.name}: ${err.message}`,
      ErrorTypes.internalEngine,
      1,
      true,
    );
  }
}
