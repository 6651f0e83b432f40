import { s3PutObjectCopy } from "./copy.ts";
import type { BatchOperation } from "./types.ts";
import { s3UpdateObjectEncryption } from "./update-encryption.ts";

export type { BatchOperation } from "./types.ts";

/** Operations the sandbox runs. Others in the model (LambdaInvoke, S3PutObjectTagging, ...) are refused by name. */
const OPERATIONS: ReadonlyMap<string, BatchOperation> = new Map([
  [s3PutObjectCopy.name, s3PutObjectCopy],
  [s3UpdateObjectEncryption.name, s3UpdateObjectEncryption],
]);

export function findOperation(name: string): BatchOperation | undefined {
  return OPERATIONS.get(name);
}

export function supportedOperations(): string[] {
  return [...OPERATIONS.keys()];
}
