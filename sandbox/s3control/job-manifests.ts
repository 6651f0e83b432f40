import { gunzipSync } from "node:zlib";
import type { Behaviours } from "../behaviours.ts";
import type { BatchBackend } from "./backend.ts";
import {
  GENERATED_MANIFEST_FORMAT,
  generatedManifestFiles,
  generatedTasks,
  type SourceObjectVersion,
  selectObjects,
} from "./generator.ts";
import { ManifestError, parseCsvManifest, parseInventoryCsv, parseInventoryManifest } from "./manifest.ts";
import type { GeneratedManifest, ManifestGeneratorSpec, ManifestSpec, ManifestTask } from "./model.ts";

/**
 * The tasks of a job, before any runs: read from its manifest, or listed by its manifest generator (which writes
 * the generated manifest first). The engine (engine.ts) runs them; a ManifestError here fails the job.
 */

/**
 * ManifestGenerator: lists the source bucket's current versions (through the S3 admin listing, standing in for
 * AWS's internal one), applies the filter, and, with EnableManifestOutput, writes the generated manifest before
 * any task runs. Failures fail the job with `ManifestGenerationFailure` (ASSUMPTIONS.md).
 */
export async function generateManifest(
  ctx: { backend: BatchBackend; accountId: string; behaviours: Behaviours },
  job: { id: string; generatedManifest?: GeneratedManifest | undefined },
  g: ManifestGeneratorSpec,
): Promise<ManifestTask[]> {
  const account = ctx.accountId;
  for (const [field, owner] of [
    ["ExpectedBucketOwner", g.expectedBucketOwner],
    ["ExpectedManifestBucketOwner", g.output?.expectedBucketOwner],
  ] as const) {
    if (owner !== undefined && owner !== account) {
      throw new ManifestError(
        "ManifestGenerationFailure",
        `${field} is ${owner}, but the bucket is owned by ${account}.`,
      );
    }
  }
  const backend = ctx.backend;
  if (!backend.listVersions) {
    throw new ManifestError("ManifestGenerationFailure", "This sandbox backend cannot list buckets.");
  }
  let versions: SourceObjectVersion[];
  try {
    versions = await backend.listVersions(g.sourceBucket);
  } catch (err) {
    throw new ManifestError(
      "ManifestGenerationFailure",
      `Listing the source bucket ${g.sourceBucket} failed: ${errorText(err)}`,
    );
  }
  const keys = ctx.behaviours.generatedManifestKeys;
  const tasks = generatedTasks(g.sourceBucket, selectObjects(versions, g.filter), keys);
  // Only the "EmptyList" reading writes a list of nothing (emptyGeneratorEnding).
  const writesList = tasks.length > 0 || ctx.behaviours.emptyGeneratorJob === "EmptyList";
  if (g.enableManifestOutput && g.output && writesList) {
    const output = g.output;
    if (!backend.writeObject) {
      throw new ManifestError("ManifestGenerationFailure", "This sandbox backend cannot write objects.");
    }
    const files = generatedManifestFiles(job.id, g.sourceBucket, output, tasks, new Date());
    let etag = "";
    for (const f of files) {
      try {
        ({ etag } = await backend.writeObject(output.bucket, f.key, f.body, f.contentType, output.encryption));
      } catch (err) {
        throw new ManifestError(
          "ManifestGenerationFailure",
          `Writing the generated manifest s3://${output.bucket}/${f.key} failed: ${errorText(err)}`,
        );
      }
    }
    const manifestFile = files[files.length - 1];
    if (manifestFile) {
      job.generatedManifest = {
        format: GENERATED_MANIFEST_FORMAT,
        bucket: output.bucket,
        key: manifestFile.key,
        etag: stripQuotes(etag),
        dataKeys: files.slice(0, -1).map((f) => f.key),
      };
    }
  }
  return tasks;
}

/** Reads a job's manifest (CSV, or an S3 Inventory report's manifest.json and its data files) into tasks. */
export async function readManifest(backend: BatchBackend, m: ManifestSpec): Promise<ManifestTask[]> {
  const manifestObject = await readManifestObject(backend, m.bucket, m.key, m.versionId);
  if (stripQuotes(manifestObject.etag) !== stripQuotes(m.etag)) {
    throw new ManifestError(
      "ManifestETagMismatch",
      `The ETag of manifest s3://${m.bucket}/${m.key} is ${stripQuotes(manifestObject.etag)}, not the ${stripQuotes(m.etag)} given in the job.`,
    );
  }
  const text = manifestObject.body.toString("utf8");
  if (m.format === "S3BatchOperations_CSV_20180820" && manifestObject.serverSideEncryption?.startsWith("aws:kms")) {
    // "S3 Batch Operations does not support CSV manifest files that are AWS KMS-encrypted." (see ASSUMPTIONS.md)
    throw new ManifestError(
      "ManifestReadFailure",
      `The CSV manifest s3://${m.bucket}/${m.key} is encrypted with ${manifestObject.serverSideEncryption}; Batch Operations reads CSV manifests encrypted with SSE-S3 only.`,
    );
  }
  if (m.format === "S3BatchOperations_CSV_20180820") return parseCsvManifest(text, m.fields);
  const inventory = parseInventoryManifest(text);
  const tasks: ManifestTask[] = [];
  for (const file of inventory.files) {
    const data = await readManifestObject(backend, inventory.bucket, file);
    const body = file.endsWith(".gz") ? gunzipSync(data.body) : data.body;
    tasks.push(...parseInventoryCsv(body.toString("utf8"), inventory.columns));
  }
  return tasks;
}

async function readManifestObject(backend: BatchBackend, bucket: string, key: string, versionId?: string) {
  try {
    return await backend.getObject(bucket, key, versionId);
  } catch (err) {
    const code = err instanceof Error ? err.name : "InternalError";
    const message = err instanceof Error ? err.message : String(err);
    throw new ManifestError("ManifestReadFailure", `Reading s3://${bucket}/${key} failed: ${code}: ${message}`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function stripQuotes(etag: string): string {
  return etag.trim().replace(/^"|"$/g, "");
}
