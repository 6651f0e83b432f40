/**
 * Largest object a single CopyObject (and so a Batch Operations copy task) handles: 5 GiB
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
 */
export const MAX_COPY_OBJECT_BYTES = 5 * 1024 * 1024 * 1024;

/**
 * Storage classes a copy-in-place keeps by naming them in the job's `StorageClass`: the Batch Operations
 * enum (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_S3CopyObjectOperation.html) minus the archive
 * classes, which need a restore first.
 */
export const COPYABLE_STORAGE_CLASSES = [
  "STANDARD",
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER_IR",
] as const;

export type CopyStorageClass = (typeof COPYABLE_STORAGE_CLASSES)[number];

/** Archive storage classes: an object in them must be restored before it can be read or copied. */
export const ARCHIVE_STORAGE_CLASSES = ["GLACIER", "DEEP_ARCHIVE"] as const;

const ARCHIVED: ReadonlySet<string> = new Set(ARCHIVE_STORAGE_CLASSES);

export function isArchiveStorageClass(storageClass: string): boolean {
  return ARCHIVED.has(storageClass);
}
