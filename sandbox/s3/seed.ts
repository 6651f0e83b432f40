import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import type { EncryptionResolver } from "./encryption.ts";
import { etagFor, md5Hex } from "./encryption.ts";
import { s3Errors } from "./errors.ts";
import { isStorageClass, type ObjectEncryption, type S3Store, type StorageClass } from "./store.ts";

/** Single PUTs stop at 5 GB, so larger declared objects are modelled as multipart uploads of 8 MiB parts (the CLI default). */
const DECLARED_PART_SIZE = 8 * 1024 * 1024;
const MAX_SINGLE_PUT = 5 * 1024 ** 3;
const MAX_PART_SIZE = 5 * 1024 ** 3;

/** The SSE-C key seeded SSE-C objects use unless `keyMd5` names another: 32 bytes of 0x07. */
export const SANDBOX_SSE_C_KEY = Buffer.alloc(32, 7);
export const SANDBOX_SSE_C_KEY_MD5 = createHash("md5").update(SANDBOX_SSE_C_KEY).digest("base64");

const encryptionSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("NOT-SSE") }),
  z.object({ type: z.literal("SSE-S3") }),
  z.object({ type: z.literal("SSE-KMS"), keyArn: z.string().min(1), bucketKeyEnabled: z.boolean() }),
  z.object({ type: z.literal("DSSE-KMS"), keyArn: z.string().min(1) }),
  z.object({ type: z.literal("SSE-C"), keyMd5: z.string().optional() }),
]);

export const seedObjectSchema = z
  .object({
    key: z.string().min(1).max(1024),
    body: z.string().optional(),
    bodyBase64: z.string().optional(),
    /** Declared size without data; GET answers 501 for such objects. */
    size: z.number().int().nonnegative().optional(),
    /**
     * With `size`: the declared object's content identity, which its ETag (and so every read of it, copies and
     * UploadPartCopy parts) derives from. Equal seeds and sizes give equal ETags; without one each write is new
     * content, as an overwrite on AWS would be.
     */
    contentSeed: z.string().min(1).optional(),
    /** With `size`: the number of parts it was uploaded in, for its multipart ETag `"<md5>-<parts>"`. */
    parts: z.number().int().min(1).max(10_000).optional(),
    contentType: z.string().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    tags: z.record(z.string(), z.string()).optional(),
    storageClass: z.string().refine(isStorageClass, "not an S3 storage class").optional(),
    intelligentTieringAccessTier: z
      .enum(["FREQUENT", "INFREQUENT", "ARCHIVE_INSTANT_ACCESS", "ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"])
      .optional(),
    encryption: encryptionSchema.optional(),
    lastModified: z.iso.datetime({ offset: true }).optional(),
    /** Object Lock state of the version; the bucket must have Object Lock enabled. A past retainUntil is allowed (expired). */
    objectLock: z
      .object({
        mode: z.enum(["GOVERNANCE", "COMPLIANCE"]),
        retainUntil: z.iso.datetime({ offset: true }),
        legalHold: z.boolean().optional(),
      })
      .optional(),
  })
  .refine((o) => [o.body, o.bodyBase64, o.size].filter((v) => v !== undefined).length <= 1, {
    message: "give at most one of body, bodyBase64 and size",
  })
  .refine((o) => o.size !== undefined || (o.contentSeed === undefined && o.parts === undefined), {
    message: "contentSeed and parts describe declared-size objects: give them with size",
  })
  .refine((o) => o.parts === undefined || o.size === undefined || o.parts >= Math.ceil(o.size / MAX_PART_SIZE), {
    message: "parts: a part holds at most 5 GiB",
  });

export const seedRequestSchema = z.object({ bucket: z.string(), objects: z.array(seedObjectSchema) });

export type SeedObject = z.infer<typeof seedObjectSchema>;
export type SeedRequest = z.infer<typeof seedRequestSchema>;
export interface SeedResult {
  versions: { key: string; versionId: string; etag: string }[];
}

/**
 * Writes each entry as a new version, as PutObject would (versioning respected), but with the encryption
 * given instead of the bucket default; entries without `encryption` get the bucket default.
 */
export function seedObjects(store: S3Store, resolver: EncryptionResolver, request: SeedRequest): SeedResult {
  const bucket = store.bucket(request.bucket);
  const versions: SeedResult["versions"] = [];
  for (const o of request.objects) {
    if (o.objectLock && !bucket.objectLock) throw s3Errors.bucketMissingObjectLock();
    const encryption = o.encryption
      ? seedEncryption(o.encryption)
      : resolver.fromDefault(bucket.defaultEncryption, undefined);
    const body =
      o.bodyBase64 !== undefined
        ? Buffer.from(o.bodyBase64, "base64")
        : o.size === undefined
          ? Buffer.from(o.body ?? "", "utf8")
          : undefined;
    const size = body ? body.length : (o.size ?? 0);
    const parts = body
      ? undefined
      : (o.parts ?? (size > MAX_SINGLE_PUT ? Math.ceil(size / DECLARED_PART_SIZE) : undefined));
    const dataMd5 = body ? md5Hex(body) : md5Hex(`sandbox-declared:${size}:${o.contentSeed ?? randomUUID()}`);
    const etag = parts ? `"${dataMd5}-${parts}"` : etagFor(dataMd5, encryption);
    const v = store.writeObject(bucket.name, {
      key: o.key,
      ...(body ? { body } : {}),
      size,
      etag,
      content: o.contentType !== undefined ? { contentType: o.contentType } : {},
      metadata: lowerCaseKeys(o.metadata ?? {}),
      tags: { ...(o.tags ?? {}) },
      storageClass: (o.storageClass as StorageClass | undefined) ?? "STANDARD",
      ...(o.intelligentTieringAccessTier ? { intelligentTieringAccessTier: o.intelligentTieringAccessTier } : {}),
      encryption,
      acl: "private",
      ...(parts ? { partsCount: parts } : {}),
      ...(o.lastModified ? { lastModified: new Date(o.lastModified) } : {}),
      ...(o.objectLock
        ? {
            retention: { mode: o.objectLock.mode, retainUntil: new Date(o.objectLock.retainUntil) },
            ...(o.objectLock.legalHold !== undefined ? { legalHold: o.objectLock.legalHold ? "ON" : "OFF" } : {}),
          }
        : {}),
    });
    versions.push({ key: v.key, versionId: v.versionId, etag: v.etag });
  }
  return { versions };
}

function seedEncryption(e: z.infer<typeof encryptionSchema>): ObjectEncryption {
  if (e.type === "SSE-C") return { type: "SSE-C", keyMd5: e.keyMd5 ?? SANDBOX_SSE_C_KEY_MD5 };
  return e;
}

/** S3 stores user metadata names in lower case (HTTP headers are case-insensitive). */
function lowerCaseKeys(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
}
