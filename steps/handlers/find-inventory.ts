import { createHash } from "node:crypto";
import { GetBucketInventoryConfigurationCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import type { FindInventoryResult } from "../../contract/candidates.ts";
import { InventoryConfigurationError, InventoryFormatError, InventoryNotReadyError } from "../../contract/errors.ts";
import { RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { findCandidateLists } from "../aws/candidate-lists.ts";
import { getText, getTextIfExists } from "../aws/s3-io.ts";
import { parseInventoryManifest } from "../domain/inventory-manifest.ts";
import { nextInventoryPollSeconds } from "../domain/polling.ts";
import { defineStep } from "../runtime/step.ts";

/**
 * Delivery folders are named for the scan's start, `YYYY-MM-DDTHH-MMZ`
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html).
 */
const DELIVERY_FOLDER = /\/(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)\/$/;

/**
 * Where deliveries of one configuration land: `destination-prefix/source-bucket/config-ID/`
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html). For a prefix ending in
 * "/" that page does not say whether S3 writes one slash or two, so both places are searched.
 */
export function inventoryBases(prefix: string | undefined, bucket: string, configurationId: string): string[] {
  const tail = `${bucket}/${configurationId}/`;
  if (!prefix) return [tail];
  if (!prefix.endsWith("/")) return [`${prefix}/${tail}`];
  return [`${prefix}${tail}`, `${prefix}/${tail}`];
}

export const findInventory = defineStep({
  state: StateNames.findInventory,
  input: z.object({ run: RunContextSchema, defaultEncryption: z.object({ enforcedAt: z.string() }) }),
  async run({ run, defaultEncryption }, deps): Promise<FindInventoryResult> {
    // Without an inventory, Batch Operations' manifest generator lists the candidates (steps/aws/candidate-lists.ts).
    if (run.source === "generate" || run.inventoryConfigurationId === undefined)
      return findCandidateLists(run, defaultEncryption, deps);
    const { clients, now, log } = deps;
    const inventoryConfigurationId = run.inventoryConfigurationId;
    const config = (
      await clients.s3.send(
        new GetBucketInventoryConfigurationCommand({ Bucket: run.bucket, Id: inventoryConfigurationId }),
      )
    ).InventoryConfiguration;
    const destinationArn = config?.Destination?.S3BucketDestination?.Bucket ?? "";
    const destination = /^arn:[^:]+:s3:::([^/]+)$/.exec(destinationArn)?.[1];
    if (!destination) {
      throw new InventoryConfigurationError(
        `Inventory configuration "${inventoryConfigurationId}" has destination "${destinationArn}", not a bucket ARN.`,
        {
          fix: "Set the destination to arn:aws:s3:::<bucket>.",
        },
      );
    }
    const bases = inventoryBases(
      config?.Destination?.S3BucketDestination?.Prefix,
      run.bucket,
      inventoryConfigurationId,
    );
    const enforcedAt = Date.parse(defaultEncryption.enforcedAt);
    const folders = newestFirst(
      (await Promise.all(bases.map((b) => deliveryFolders(clients.s3, destination, b)))).flat(),
    );

    let latestSeen: string | null = null;
    for (const folder of folders) {
      const manifestKey = `${folder}manifest.json`;
      const text = await getTextIfExists(clients.s3, destination, manifestKey);
      if (text === undefined) continue; // a delivery still being written
      const manifest = parseInventoryManifest(text, manifestKey);
      latestSeen ??= manifest.creationTimestamp.toISOString();
      if (manifest.creationTimestamp.getTime() <= enforcedAt) break; // folders are newest first
      await checkManifestChecksum(clients.s3, destination, folder, text);
      log.info("inventory found", {
        bucket: run.bucket,
        manifestKey,
        creationTimestamp: manifest.creationTimestamp.toISOString(),
      });
      return {
        found: true,
        bucket: destination,
        manifestKey,
        creationTimestamp: manifest.creationTimestamp.toISOString(),
      };
    }

    const deadline = enforcedAt + run.options.inventoryWaitSeconds * 1000;
    const checkedAt = now().getTime();
    if (checkedAt >= deadline) {
      throw new InventoryNotReadyError(
        `No inventory of ${run.bucket} delivered after ${defaultEncryption.enforcedAt} arrived within ${run.options.inventoryWaitSeconds / 3600} hours (latest seen: ${latestSeen ?? "none"}).`,
        {
          deliveredAfter: new Date(enforcedAt),
          fix: `Check that configuration "${inventoryConfigurationId}" is enabled and that the destination bucket policy lets s3.amazonaws.com write to s3://${destination}/${bases[0]}; then start a new run.`,
        },
      );
    }
    const waitSeconds = nextInventoryPollSeconds({
      waitedSeconds: (checkedAt - enforcedAt) / 1000,
      pollSeconds: run.options.inventoryPollSeconds,
      secondsToDeadline: (deadline - checkedAt) / 1000,
    });
    log.info("waiting for inventory", { bucket: run.bucket, latestSeen, waitSeconds });
    return {
      found: false,
      waitSeconds,
      checkedAt: new Date(checkedAt).toISOString(),
      deadline: new Date(deadline).toISOString(),
      latestSeen,
    };
  },
});

/** Delivery folders under `base`. */
async function deliveryFolders(s3: S3Client, bucket: string, base: string): Promise<string[]> {
  const folders: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: base, Delimiter: "/", ContinuationToken: token }),
    );
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix && DELIVERY_FOLDER.test(p.Prefix)) folders.push(p.Prefix);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return folders;
}

function newestFirst(folders: string[]): string[] {
  const stamp = (f: string) => DELIVERY_FOLDER.exec(f)?.[1] ?? "";
  return [...folders].sort((a, b) => stamp(b).localeCompare(stamp(a)));
}

/**
 * manifest.checksum holds the MD5 of manifest.json (storage-inventory-location.html, as above); a mismatch means a
 * damaged or partial delivery.
 */
async function checkManifestChecksum(
  s3: S3Client,
  bucket: string,
  folder: string,
  manifestText: string,
): Promise<void> {
  const expected = (await getText(s3, bucket, `${folder}manifest.checksum`)).trim().toLowerCase();
  const actual = createHash("md5").update(manifestText, "utf8").digest("hex");
  if (expected !== actual) {
    throw new InventoryFormatError(`manifest.checksum says ${expected} but manifest.json hashes to ${actual}.`, {
      file: `${folder}manifest.json`,
      fix: "The delivery is damaged or incomplete. Wait for the next delivery and start a new run.",
    });
  }
}
