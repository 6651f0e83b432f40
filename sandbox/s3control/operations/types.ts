import type { S3Client } from "@aws-sdk/client-s3";
import type { Behaviours } from "../../behaviours.ts";
import { badRequest } from "../errors.ts";
import type { ManifestTask, TaskOutcome } from "../model.ts";
import type { XmlTree } from "../xml.ts";

/**
 * One Batch Operations operation (the single child of `<Operation>`). Operations (copy.ts, update-encryption.ts,
 * ...) implement this and register in operations/index.ts; the engine never looks inside `spec`.
 */
export interface BatchOperation {
  readonly name: string;
  /** Rejects settings CreateJob must refuse, by throwing a ServiceError. */
  validate(spec: XmlTree): void;
  /** Performs one task against the sandbox's own S3 API, as AWS does through the S3 API. */
  run(spec: XmlTree, task: ManifestTask, s3: S3Client, behaviours?: Behaviours): Promise<TaskOutcome>;
}

/** `arn:aws:s3:::bucket` → `bucket`. */
export function bucketFromArn(arn: string, field: string): string {
  const m = /^arn:[^:]+:s3:::([^/]+)$/.exec(arn);
  if (!m?.[1]) throw badRequest(`${field} must be a bucket ARN such as arn:aws:s3:::bucket, got "${arn}".`);
  return m[1];
}

/**
 * A task's outcome from its one S3 call: succeeded with S3's HTTP status and the message `Successful` (as AWS's
 * completion reports show), or failed as `outcomeFromSdkError` says.
 */
export async function taskOutcome(
  call: () => Promise<{ $metadata: { httpStatusCode?: number } }>,
): Promise<TaskOutcome> {
  try {
    const out = await call();
    return {
      status: "succeeded",
      httpStatus: out.$metadata.httpStatusCode ?? 200,
      errorCode: "",
      message: "Successful",
    };
  } catch (err) {
    return outcomeFromSdkError(err);
  }
}

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/**
 * A failed S3 call as a task outcome: HTTP status, error code and message as S3 returned them. Errors that never
 * reached S3 (connection refused) become 500 InternalError, which is what a task sees when S3 fails inside AWS.
 */
export function outcomeFromSdkError(err: unknown): TaskOutcome {
  const e: SdkErrorShape = typeof err === "object" && err !== null ? err : {};
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : 500;
  const code = typeof e.Code === "string" ? e.Code : typeof e.name === "string" ? e.name : "InternalError";
  const message = typeof e.message === "string" && e.message !== "" ? e.message : code;
  return { status: "failed", httpStatus: status, errorCode: code, message };
}
