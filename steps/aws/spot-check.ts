import { HeadObjectCommand, type HeadObjectCommandOutput, ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import type { RunContext } from "../../contract/run-context.ts";
import { NOT_FOUND } from "../../contract/verification.ts";
import { copiedAttributeProblems, isCompliant } from "../domain/spot-check.ts";
import type { StepDeps } from "../runtime/step.ts";
import { readTags } from "./multipart-upload.ts";
import { httpStatusOf } from "./s3-io.ts";

/** HeadObject calls in flight during the spot check. */
const HEAD_CONCURRENCY = 16;

/** One sampled object: `copied` when a copy made a new version of it (an encryption update keeps the version). */
export interface SpotCheckItem {
  key: string;
  copied: boolean;
  /** The class the plan gave it, when known; compared only where the bucket keeps no copied-from version. */
  storageClass?: string | undefined;
}

export interface SpotCheckMismatch {
  key: string;
  found: string;
}

export function describeObject(head: HeadObjectCommandOutput): string {
  return `${head.ServerSideEncryption ?? "none"} key=${head.SSEKMSKeyId ?? "-"} bucketKey=${head.BucketKeyEnabled ?? false} class=${head.StorageClass ?? "STANDARD"}`;
}

/**
 * In a versioned bucket, the version a copy in place read: the one right below the current version (a copy needs
 * its source current, so no delete marker lies between). Undefined in an unversioned bucket, or when the listing
 * does not show that order (the current version is not the first, or a delete marker came between).
 */
async function copiedVersion(
  run: RunContext,
  key: string,
  current: HeadObjectCommandOutput,
  { clients }: StepDeps,
): Promise<HeadObjectCommandOutput | undefined> {
  if (current.VersionId === undefined || current.VersionId === "null") return undefined;
  const listed = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: run.bucket, Prefix: key, MaxKeys: 2 }));
  if ((listed.DeleteMarkers ?? []).some((m) => m.Key === key)) return undefined;
  const versions = (listed.Versions ?? []).filter((v) => v.Key === key);
  const below = versions[1]?.VersionId;
  if (versions[0]?.VersionId !== current.VersionId || below === undefined) return undefined;
  return clients.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: key, VersionId: below }));
}

/**
 * HEADs each sampled object: it must be SSE-KMS under the target key with Bucket Key. A copied one must also keep
 * the storage class, content type, user metadata and tags of the version it was copied from, read from the bucket
 * where versioning keeps it: the plan's class is what the inventory saw, and a lifecycle transition since then
 * changes the class without changing Last-Modified. Without versioning the plan's class (when it names one) is all
 * there is to compare with.
 */
export async function spotCheck(
  run: RunContext,
  sample: SpotCheckItem[],
  deps: StepDeps,
): Promise<SpotCheckMismatch[]> {
  const limit = pLimit(HEAD_CONCURRENCY);
  const { s3 } = deps.clients;
  const results = await Promise.all(
    sample.map((item) =>
      limit(async (): Promise<SpotCheckMismatch | undefined> => {
        let head: HeadObjectCommandOutput;
        try {
          head = await s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: item.key }));
        } catch (err) {
          // Deleted after its copy (nothing left to encrypt), or a key rekey misread: counted apart (domain/spot-check.ts).
          if (httpStatusOf(err) === 404) return { key: item.key, found: NOT_FOUND };
          throw err;
        }
        let found = describeObject(head);
        let ok = isCompliant(run.kmsKeyArn, head);
        if (item.copied) {
          const source = await copiedVersion(run, item.key, head, deps);
          const problems = source
            ? copiedAttributeProblems(
                { ...source, tags: await readTags(s3, run.bucket, item.key, source.VersionId) },
                { ...head, tags: await readTags(s3, run.bucket, item.key, head.VersionId) },
              )
            : copiedAttributeProblems({ StorageClass: item.storageClass }, head, { classOnly: true });
          if (problems.length > 0) {
            ok = false;
            found += ` (${problems.join("; ")} ${source ? `of version ${source.VersionId ?? "?"} it was copied from` : "as planned"})`;
          }
        }
        return ok ? undefined : { key: item.key, found };
      }),
    ),
  );
  return results.filter((r): r is SpotCheckMismatch => r !== undefined);
}
