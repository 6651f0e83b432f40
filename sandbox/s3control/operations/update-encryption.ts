import {
  type S3Client,
  UpdateObjectEncryptionCommand,
  type UpdateObjectEncryptionCommandInput,
} from "@aws-sdk/client-s3";
import { badRequest } from "../errors.ts";
import { booleanField } from "../fields.ts";
import type { ManifestTask } from "../model.ts";
import { child, text, type XmlTree } from "../xml.ts";
import { type BatchOperation, taskOutcome } from "./types.ts";

/**
 * `S3UpdateObjectEncryption`: each task is one S3 `UpdateObjectEncryption` call on the manifest object, so every
 * rule (NOT-SSE, SSE-C and DSSE-KMS sources refused, key ARN checks, Object Lock) comes from the S3 emulation.
 *
 * Wire shape (S3 Control REST-XML; the `SSEKMS` member is serialised as `<SSE-KMS>`):
 * `<S3UpdateObjectEncryption><ObjectEncryption><SSE-KMS><KMSKeyArn/><BucketKeyEnabled/></SSE-KMS></ObjectEncryption>`.
 */
export const s3UpdateObjectEncryption: BatchOperation = {
  name: "S3UpdateObjectEncryption",
  validate(spec) {
    updateObjectEncryptionInput(spec, { bucket: "validation", rawKey: "k", key: "k" });
  },
  async run(spec, task, s3: S3Client) {
    return taskOutcome(() => s3.send(new UpdateObjectEncryptionCommand(updateObjectEncryptionInput(spec, task))));
  },
};

/**
 * The UpdateObjectEncryption request for one manifest row. VersionId only when the manifest has a VersionId
 * column (the latest version at task time otherwise); BucketKeyEnabled only when the job gives it (S3's default
 * is false either way). Throws BadRequestException for settings CreateJob must reject.
 */
export function updateObjectEncryptionInput(spec: XmlTree, task: ManifestTask): UpdateObjectEncryptionCommandInput {
  const encryption = child(spec, "ObjectEncryption");
  if (!encryption) throw badRequest("S3UpdateObjectEncryption requires ObjectEncryption.");
  const others = Object.keys(encryption).filter((k) => k !== "SSE-KMS");
  if (others.length > 0) {
    throw badRequest(
      `S3UpdateObjectEncryption ObjectEncryption supports only SSE-KMS (serialised <SSE-KMS>), got ${others.join(", ")}.`,
    );
  }
  const kms = child(encryption, "SSE-KMS");
  if (!kms) throw badRequest("S3UpdateObjectEncryption ObjectEncryption requires SSE-KMS.");
  const keyArn = text(kms, "KMSKeyArn");
  if (!keyArn) throw badRequest("S3UpdateObjectEncryption SSE-KMS requires KMSKeyArn.");
  const bucketKey = booleanField(text(kms, "BucketKeyEnabled"), "SSE-KMS BucketKeyEnabled");
  return {
    Bucket: task.bucket,
    Key: task.key,
    ...(task.versionId !== undefined ? { VersionId: task.versionId } : {}),
    ObjectEncryption: {
      SSEKMS: { KMSKeyArn: keyArn, ...(bucketKey !== undefined ? { BucketKeyEnabled: bucketKey } : {}) },
    },
  };
}
