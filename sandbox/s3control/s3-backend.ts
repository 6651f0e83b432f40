import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { BatchBackend } from "./engine.ts";
import { findOperation } from "./operations/index.ts";

/**
 * The engine's S3 access through the sandbox's own S3 API and a real S3Client, as Batch Operations goes through
 * the S3 API in AWS: GetObject for manifests, the operation's call per task, PutObject for reports.
 * The client is built on first use because the sandbox's endpoint is only known after it listens.
 */
export function s3Backend(client: () => S3Client): BatchBackend {
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
    async runTask(operationName, spec, task) {
      const operation = findOperation(operationName);
      if (!operation) throw new Error(`Operation ${operationName} is not registered.`);
      return operation.run(spec, task, client());
    },
  };
}
