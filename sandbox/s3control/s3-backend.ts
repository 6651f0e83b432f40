import { GetObjectCommand, PutObjectCommand, type PutObjectCommandInput, type S3Client } from "@aws-sdk/client-s3";
import { SandboxAdmin } from "../admin-client.ts";
import type { BatchBackend } from "./backend.ts";
import { findOperation } from "./operations/index.ts";

/**
 * The engine's S3 access through the sandbox's own S3 API and a real S3Client, as Batch Operations goes through
 * the S3 API in AWS: GetObject for manifests, the operation's call per task, PutObject for reports.
 * ManifestGenerator lists buckets through the S3 admin endpoint (`GET /_sandbox/s3/versions`), which stands in for
 * AWS's internal listing (it gives encryption, storage class and size without a HEAD per object).
 * The client is built on first use because the sandbox's endpoint is only known after it listens.
 */
export function s3Backend(client: () => S3Client, endpoint?: () => string): BatchBackend {
  return {
    async getObject(bucket, key, versionId) {
      const out = await client().send(
        new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }),
      );
      const body = out.Body ? Buffer.from(await out.Body.transformToByteArray()) : Buffer.alloc(0);
      return {
        body,
        etag: out.ETag ?? "",
        ...(out.ServerSideEncryption ? { serverSideEncryption: out.ServerSideEncryption } : {}),
      };
    },
    async putObject(bucket, key, body, contentType) {
      // "Completion reports are always encrypted with Amazon S3 managed keys (SSE-S3)."
      await client().send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ServerSideEncryption: "AES256",
        }),
      );
    },
    ...(endpoint
      ? {
          async listVersions(bucket: string) {
            return new SandboxAdmin(endpoint()).versions(bucket);
          },
        }
      : {}),
    async writeObject(bucket, key, body, contentType, encryption) {
      const sse: Partial<PutObjectCommandInput> =
        encryption?.type === "SSE-S3"
          ? { ServerSideEncryption: "AES256" }
          : encryption?.type === "SSE-KMS"
            ? { ServerSideEncryption: "aws:kms", SSEKMSKeyId: encryption.keyId }
            : {};
      const out = await client().send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, ...sse }),
      );
      return { etag: out.ETag ?? "" };
    },
    async runTask(operationName, spec, task, behaviours) {
      const operation = findOperation(operationName);
      // CreateJob accepts only registered operations, so a job naming another one is a sandbox bug.
      if (!operation) {
        throw new Error(`Job operation ${operationName} passed CreateJob but is not in s3control/operations/index.ts.`);
      }
      return operation.run(spec, task, client(), behaviours);
    },
  };
}
