import { z } from "zod";
import { type SandboxRequest, type SandboxResponse, ServiceError, type ServiceHandler } from "../http.ts";
import type { S3Context } from "./context.ts";
import { deliverInventory } from "./inventory.ts";
import { deliverSyntheticInventory } from "./inventory-synthetic.ts";
import { seedObjects, seedRequestSchema } from "./seed.ts";
import type { ObjectEncryption } from "./store.ts";

const deliverSchema = z.object({
  bucket: z.string(),
  configurationId: z.string(),
  maxRowsPerFile: z.number().int().positive().optional(),
});

const share = z.number().min(0).max(1);
const syntheticSchema = deliverSchema.extend({
  rows: z.number().int().nonnegative(),
  seed: z.number().int().optional(),
  mix: z
    .object({
      noncurrent: share,
      deleteMarkers: share,
      notSse: share,
      sseS3: share,
      sseKms: share,
      bucketKeyDisabled: share,
    })
    .partial()
    .strict()
    .optional(),
});

/** One object version as the admin API reports it (GET /_sandbox/s3/versions). */
export interface AdminObjectVersion {
  key: string;
  versionId: string;
  isLatest: boolean;
  isDeleteMarker: boolean;
  size: number;
  etag: string;
  lastModified: string;
  storageClass: string;
  encryption: ObjectEncryption;
  tags: Record<string, string>;
  metadata: Record<string, string>;
  contentType?: string;
  acl: string;
  hasBody: boolean;
  /** Object Lock retention (ISO retainUntil), present when set, even if expired. */
  retention?: { mode: string; retainUntil: string };
  legalHold?: "ON" | "OFF";
}

/** The sandbox's own S3 API under /_sandbox/s3/: JSON in and out, for tests and the demo. */
export function s3Admin(ctx: S3Context): ServiceHandler {
  return async (req) => {
    try {
      return await route(ctx, req);
    } catch (err) {
      if (err instanceof ServiceError) return json(err.status, { error: err.code, message: err.message });
      if (err instanceof z.ZodError) return json(400, { error: "InvalidAdminRequest", message: z.prettifyError(err) });
      if (err instanceof SyntaxError) return json(400, { error: "InvalidAdminRequest", message: "Body is not JSON" });
      throw err;
    }
  };
}

async function route(ctx: S3Context, req: SandboxRequest): Promise<SandboxResponse | undefined> {
  const path = req.rawPath.slice("/_sandbox/s3".length);
  if (req.method === "POST" && path === "/seed") {
    return json(200, seedObjects(ctx.store, ctx.encryption, seedRequestSchema.parse(body(req))));
  }
  if (req.method === "POST" && path === "/inventory/deliver") {
    const input = deliverSchema.parse(body(req));
    const creation = await strictlyAfter(Math.max(Date.now(), ctx.store.lastWriteAt));
    return json(
      200,
      await deliverInventory(
        ctx.store,
        ctx.encryption,
        input.bucket,
        input.configurationId,
        creation,
        input.maxRowsPerFile,
      ),
    );
  }
  if (req.method === "POST" && path === "/inventory/synthetic") {
    const input = syntheticSchema.parse(body(req));
    const creation = await strictlyAfter(Math.max(Date.now(), ctx.store.lastWriteAt));
    return json(200, await deliverSyntheticInventory(ctx.store, ctx.encryption, input, creation));
  }
  if (req.method === "GET" && path === "/versions") {
    return json(200, { versions: dumpVersions(ctx, req.query.get("bucket") ?? "", req.query.get("prefix") ?? "") });
  }
  return undefined;
}

function body(req: SandboxRequest): unknown {
  return JSON.parse(req.body.toString("utf8"));
}

/** Waits until the clock has passed `ms`, so a report is stamped later than anything done before the call. */
async function strictlyAfter(ms: number): Promise<Date> {
  while (Date.now() <= ms) await new Promise((r) => setTimeout(r, 1));
  return new Date();
}

function dumpVersions(ctx: S3Context, bucketName: string, prefix: string): AdminObjectVersion[] {
  const bucket = ctx.store.bucket(bucketName);
  const out: AdminObjectVersion[] = [];
  for (const key of bucket.sortedKeys()) {
    if (!key.startsWith(prefix)) continue;
    for (const [i, v] of bucket.versionsOf(key).entries()) {
      out.push({
        key,
        versionId: v.versionId,
        isLatest: i === 0,
        isDeleteMarker: v.isDeleteMarker,
        size: v.size,
        etag: v.etag,
        lastModified: v.lastModified.toISOString(),
        storageClass: v.storageClass,
        encryption: v.encryption,
        tags: v.tags,
        metadata: v.metadata,
        ...(v.content.contentType !== undefined ? { contentType: v.content.contentType } : {}),
        acl: v.acl,
        hasBody: v.body !== undefined,
        ...(v.retention
          ? { retention: { mode: v.retention.mode, retainUntil: v.retention.retainUntil.toISOString() } }
          : {}),
        ...(v.legalHold !== undefined ? { legalHold: v.legalHold } : {}),
      });
    }
  }
  return out;
}

function json(status: number, value: unknown): SandboxResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(value) };
}
