import { createHash } from "node:crypto";
import type { SandboxIdentity } from "../config.ts";
import { header, type SandboxRequest } from "../http.ts";
import type { KeyRegistry } from "../kms/keys.ts";
import { parseBoolean } from "../wire-values.ts";
import { S3Error, s3Errors } from "./errors.ts";
import type { DefaultEncryption, ObjectEncryption, ObjectVersion } from "./store.ts";

const SSE = "x-amz-server-side-encryption";
const SSE_KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id";
const SSE_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled";
const SSEC_ALGORITHM = "x-amz-server-side-encryption-customer-algorithm";
const SSEC_KEY = "x-amz-server-side-encryption-customer-key";
const SSEC_KEY_MD5 = "x-amz-server-side-encryption-customer-key-md5";

export interface CustomerKey {
  keyMd5: string;
}

/**
 * Reads SSE-C headers (plain, or the `x-amz-copy-source-` variant that names the key of a copy source): algorithm AES256, a base64 256-bit key
 * and the base64 MD5 of that key, all three together.
 */
export function customerKey(req: SandboxRequest, forCopySource = false): CustomerKey | undefined {
  const name = (h: string) => (forCopySource ? h.replace("x-amz-", "x-amz-copy-source-") : h);
  const algorithm = header(req, name(SSEC_ALGORITHM));
  const key = header(req, name(SSEC_KEY));
  const keyMd5 = header(req, name(SSEC_KEY_MD5));
  if (algorithm === undefined && key === undefined && keyMd5 === undefined) return undefined;
  if (algorithm === undefined) {
    throw s3Errors.invalidArgument(
      "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
      name(SSEC_ALGORITHM),
    );
  }
  if (algorithm !== "AES256") {
    throw new S3Error(
      "InvalidEncryptionAlgorithmError",
      400,
      "The Encryption request you specified is not valid. Supported value: AES256.",
      { ArgumentName: name(SSEC_ALGORITHM), ArgumentValue: algorithm },
    );
  }
  const raw = Buffer.from(key ?? "", "base64");
  if (raw.length !== 32) {
    throw s3Errors.invalidArgument("The secret key was invalid for the specified algorithm.", name(SSEC_KEY));
  }
  const actualMd5 = createHash("md5").update(raw).digest("base64");
  if (keyMd5 !== undefined && keyMd5 !== actualMd5) {
    throw s3Errors.invalidArgument(
      "The calculated MD5 hash of the key did not match the hash that was provided.",
      name(SSEC_KEY_MD5),
    );
  }
  return { keyMd5: actualMd5 };
}

/** True when the request carries any header that asks for an encryption change (used by the copy-to-itself rule). */
export function requestsEncryption(req: SandboxRequest): boolean {
  return [SSE, SSE_KMS_KEY, SSE_BUCKET_KEY, SSEC_ALGORITHM].some((h) => header(req, h) !== undefined);
}

/**
 * Decides how a new object version (PutObject, CopyObject destination, CreateMultipartUpload) is encrypted:
 * request headers first, else the bucket's default encryption, which since 2023 is at least SSE-S3.
 * KMS keys are resolved to their ARN and must exist, be in the bucket's region and account, and be enabled.
 */
export class EncryptionResolver {
  constructor(
    private readonly identity: SandboxIdentity,
    private readonly kms: KeyRegistry,
  ) {}

  forWrite(req: SandboxRequest, bucketDefault: DefaultEncryption): ObjectEncryption {
    const algorithm = header(req, SSE);
    const keyRef = header(req, SSE_KMS_KEY);
    const bucketKey = parseBoolean(header(req, SSE_BUCKET_KEY), (v) =>
      s3Errors.invalidArgument(`Invalid boolean value: ${v}`, SSE_BUCKET_KEY, v),
    );
    const ssec = customerKey(req);
    if (ssec) {
      if (algorithm !== undefined) {
        throw s3Errors.invalidArgument(
          "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
          SSE,
          algorithm,
        );
      }
      return { type: "SSE-C", keyMd5: ssec.keyMd5 };
    }
    if (algorithm === undefined) {
      if (keyRef !== undefined) {
        throw s3Errors.invalidArgument(
          "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
          SSE_KMS_KEY,
          keyRef,
        );
      }
      return this.fromDefault(bucketDefault, bucketKey);
    }
    if (algorithm === "AES256") {
      if (keyRef !== undefined) {
        throw s3Errors.invalidArgument(
          "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
          SSE_KMS_KEY,
          keyRef,
        );
      }
      return { type: "SSE-S3" };
    }
    if (algorithm === "aws:kms" || algorithm === "aws:kms:dsse") {
      const defaultKey = bucketDefault.sseAlgorithm !== "AES256" ? bucketDefault.kmsMasterKeyId : undefined;
      const keyArn = this.resolveKey(keyRef ?? defaultKey);
      if (algorithm === "aws:kms:dsse") return { type: "DSSE-KMS", keyArn };
      return { type: "SSE-KMS", keyArn, bucketKeyEnabled: bucketKey ?? inheritedBucketKey(bucketDefault) };
    }
    throw s3Errors.invalidArgument("The encryption method specified is not supported", SSE, algorithm);
  }

  fromDefault(bucketDefault: DefaultEncryption, bucketKey: boolean | undefined): ObjectEncryption {
    if (bucketDefault.sseAlgorithm === "AES256") return { type: "SSE-S3" };
    const keyArn = this.resolveKey(bucketDefault.kmsMasterKeyId);
    if (bucketDefault.sseAlgorithm === "aws:kms:dsse") return { type: "DSSE-KMS", keyArn };
    return { type: "SSE-KMS", keyArn, bucketKeyEnabled: bucketKey ?? bucketDefault.bucketKeyEnabled };
  }

  /** A KMS key reference as S3 resolves it: absent means the AWS managed key aws/s3. */
  resolveKey(ref: string | undefined): string {
    if (ref === undefined || ref === "") return this.kms.awsManagedS3Key().arn;
    const arn = /^arn:aws[-a-z]*:kms:([-a-z0-9]+):(\d{12}):(key|alias)\/.+$/.exec(ref);
    if (arn && arn[1] !== this.identity.region) {
      throw new S3Error("KMS.NotFoundException", 400, `Invalid arn ${arn[1]}`);
    }
    if (!arn && !/^[0-9a-fA-F-]{36}$/.test(ref) && !/^mrk-[0-9a-f]{32}$/.test(ref) && !ref.startsWith("alias/")) {
      throw new S3Error("KMS.NotFoundException", 400, `Invalid keyId ${ref}`);
    }
    const key = this.kms.find(ref);
    if (!key) throw new S3Error("KMS.NotFoundException", 400, `Key '${this.qualified(ref)}' does not exist`);
    if (key.state === "Disabled") throw new S3Error("KMS.DisabledException", 400, `${key.arn} is disabled.`);
    if (key.state === "PendingDeletion") {
      throw new S3Error("KMS.KMSInvalidStateException", 400, `${key.arn} is pending deletion.`);
    }
    // S3 encrypts only under symmetric encryption keys; KMS refuses it GenerateDataKey under any other kind, and S3
    // passes the KMS error on (sandbox/ASSUMPTIONS.md, "KMS errors").
    if (key.kind.keyUsage !== "ENCRYPT_DECRYPT") {
      throw new S3Error(
        "KMS.InvalidKeyUsageException",
        400,
        `${key.arn} key usage is ${key.kind.keyUsage} which is not valid for GenerateDataKey.`,
      );
    }
    if (key.kind.keySpec !== "SYMMETRIC_DEFAULT") {
      throw new S3Error(
        "KMS.InvalidKeyUsageException",
        400,
        `Algorithm SYMMETRIC_DEFAULT is incompatible with key spec ${key.kind.keySpec}.`,
      );
    }
    return key.arn;
  }

  private qualified(ref: string): string {
    if (ref.startsWith("arn:")) return ref;
    return `arn:aws:kms:${this.identity.region}:${this.identity.accountId}:${ref.startsWith("alias/") ? ref : `key/${ref}`}`;
  }
}

/**
 * With SSE-KMS asked for but no Bucket Key header, the bucket's Bucket Key setting applies
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html).
 */
function inheritedBucketKey(bucketDefault: DefaultEncryption): boolean {
  return bucketDefault.sseAlgorithm === "aws:kms" && bucketDefault.bucketKeyEnabled;
}

/** The SSE response headers S3 returns on PUT, GET, HEAD, COPY and multipart calls. */
export function encryptionHeaders(encryption: ObjectEncryption): Record<string, string> {
  switch (encryption.type) {
    case "NOT-SSE":
      return {};
    case "SSE-S3":
      return { [SSE]: "AES256" };
    case "SSE-KMS":
      return {
        [SSE]: "aws:kms",
        [SSE_KMS_KEY]: encryption.keyArn,
        ...(encryption.bucketKeyEnabled ? { [SSE_BUCKET_KEY]: "true" } : {}),
      };
    case "DSSE-KMS":
      return { [SSE]: "aws:kms:dsse", [SSE_KMS_KEY]: encryption.keyArn };
    case "SSE-C":
      return { [SSEC_ALGORITHM]: "AES256", [SSEC_KEY_MD5]: encryption.keyMd5 };
  }
}

/** GET/HEAD of an SSE-C object needs the same customer key; other objects ignore SSE-C headers only when absent. */
export function checkReadKey(req: SandboxRequest, version: ObjectVersion, forCopySource = false): void {
  const given = customerKey(req, forCopySource);
  if (version.encryption.type !== "SSE-C") {
    if (given) {
      throw s3Errors.invalidRequest("The encryption parameters are not applicable to this object.");
    }
    return;
  }
  if (!given) throw s3Errors.sseCustomerKeyRequired();
  if (given.keyMd5 !== version.encryption.keyMd5) throw s3Errors.sseCustomerKeyMismatch();
}

/**
 * ETags of SSE-KMS, DSSE-KMS and SSE-C objects are not the MD5 of their data on AWS. The sandbox derives a
 * deterministic 32-hex value from the data's MD5 and the key, so equal data under equal keys compares equal.
 */
export function etagFor(dataMd5Hex: string, encryption: ObjectEncryption): string {
  switch (encryption.type) {
    case "NOT-SSE":
    case "SSE-S3":
      return `"${dataMd5Hex}"`;
    case "SSE-KMS":
    case "DSSE-KMS":
      return `"${md5Hex(`sandbox-${encryption.type}:${encryption.keyArn}:${dataMd5Hex}`)}"`;
    case "SSE-C":
      return `"${md5Hex(`sandbox-SSE-C:${encryption.keyMd5}:${dataMd5Hex}`)}"`;
  }
}

export function md5Hex(data: Buffer | string): string {
  return createHash("md5").update(data).digest("hex");
}
