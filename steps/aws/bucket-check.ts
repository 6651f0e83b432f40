import { HeadObjectCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import type { FoundCandidates } from "../../contract/candidates.ts";
import { InventoryFormatError } from "../../contract/errors.ts";
import type { Plan } from "../../contract/plan.ts";
import type { RunContext } from "../../contract/run-context.ts";
import { decodeManifestKey } from "../domain/batch-manifest.ts";
import { type FindingTally, type JudgeContext, judgeObject, type ObjectFacts } from "../domain/bucket-check.ts";
import { inventoryRowBatches } from "../domain/inventory.ts";
import { parseInventoryManifest } from "../domain/inventory-manifest.ts";
import type { StepDeps } from "../runtime/step.ts";
import { readLargeObjectList } from "./large-object-list.ts";
import { getStreamWithMd5, getText, httpStatusOf } from "./s3-io.ts";

/**
 * The calls of the independent check after the jobs (steps/domain/bucket-check.ts): HeadObject of a key, the keys a
 * plan routed to work (its manifests and its direct-copy list), and the keys of generated lists.
 */

/** HeadObject calls in flight (the spot check's and the planning step's bounds are of the same order). */
const HEAD_CONCURRENCY = 16;

/** What HeadObject tells of the current object at `key`. */
export async function objectFacts(run: RunContext, key: string, { clients }: StepDeps): Promise<ObjectFacts> {
  try {
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: key }));
    return { kind: "found", ...head };
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 404) return { kind: "missing" };
    // S3 answers a HEAD of an SSE-C object without its key with 400 (no body on HEAD).
    if (status === 400) return { kind: "sse-c" };
    throw err;
  }
}

/** HEADs each key and adds what it finds to the tally. */
export async function checkKeys(
  run: RunContext,
  keys: string[],
  tally: FindingTally,
  ctx: JudgeContext,
  deps: StepDeps,
): Promise<void> {
  const limit = pLimit(HEAD_CONCURRENCY);
  const facts = await Promise.all(keys.map((key) => limit(() => objectFacts(run, key, deps))));
  for (const [i, key] of keys.entries()) tally.add(judgeObject(key, facts[i] ?? { kind: "missing" }, ctx));
}

/** Every key the plan routed to a Batch job or to the direct copy, in plan order (small plans only: held in memory). */
export async function plannedKeys(run: RunContext, plan: Plan, { clients }: StepDeps): Promise<string[]> {
  const keys: string[] = [];
  for (const manifest of plan.manifests) {
    const text = await getText(clients.s3, run.workBucket, manifest.key);
    for (const line of text.split("\n")) {
      const comma = line.indexOf(",");
      if (comma > 0) keys.push(decodeManifestKey(line.slice(comma + 1)));
    }
  }
  if (plan.largeObjects) {
    for (const o of await readLargeObjectList(clients.s3, run.workBucket, plan.largeObjects.key)) keys.push(o.key);
  }
  return keys;
}

/** Calls `onKeys` with the keys of each generated list, a data file's chunk at a time; checks each file's MD5. */
export async function forEachListedKey(
  run: RunContext,
  lists: FoundCandidates["lists"],
  { clients }: StepDeps,
  onKeys: (keys: string[]) => Promise<void>,
): Promise<void> {
  for (const listed of lists) {
    const manifest = parseInventoryManifest(
      await getText(clients.s3, listed.bucket, listed.manifestKey),
      listed.manifestKey,
    );
    for (const file of manifest.files) {
      const { body, md5 } = await getStreamWithMd5(clients.s3, manifest.destinationBucket, file.key);
      for await (const batch of inventoryRowBatches(body, manifest.columns, file.key)) {
        await onKeys(batch.filter((r) => r.bucket === run.bucket).map((r) => r.key));
      }
      const digest = md5();
      if (digest !== file.md5.toLowerCase()) {
        throw new InventoryFormatError(`the file's MD5 is ${digest}, but its manifest says ${file.md5}.`, {
          file: file.key,
          fix: "The generated list is damaged; start a new run.",
        });
      }
    }
  }
}
