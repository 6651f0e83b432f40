import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type CreateMultipartUploadCommandInput,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutObjectTaggingCommand,
  type S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { DescribeJobCommand } from "@aws-sdk/client-s3-control";
import pLimit from "p-limit";
import { z } from "zod";
import { ApprovalNotPossibleError, InvalidInputError, ObjectChangedDuringCopyError } from "../../contract/errors.ts";
import { JobsSchema, PlanSchema } from "../../contract/plan.ts";
import { RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { getText, getTextIfExists, httpStatusOf, putJson } from "../aws/s3-io.ts";
import {
  batchDigest,
  batchKey,
  type CopySourceState,
  choosePartSize,
  copySourceRange,
  DEFAULT_PART_BYTES,
  type LargeCopyBatch,
  LargeCopyBatchSchema,
  type LargeCopyOutcome,
  type LargeCopyProgress,
  LargeCopyProgressSchema,
  MAX_PART_BYTES,
  MIN_PART_BYTES,
  newBatch,
  newProgress,
  type PartRange,
  pendingParts,
  planParts,
  progressKey,
  settleNext,
  summarizeBatch,
  withListedParts,
  withPart,
} from "../domain/large-copy.ts";
import { isTransient } from "../runtime/invoke.ts";
import { defineStep, type StepDeps } from "../runtime/step.ts";

/**
 * Re-encrypts objects too large for CopyObject (over 5 GiB, so also for Batch Operations) in place with a
 * multipart copy: CreateMultipartUpload with SSE-KMS under the run's key and Bucket Key on, carrying every
 * attribute a multipart copy does not carry by itself (metadata, content headers, tags, storage class, website
 * redirect, Object Lock settings); UploadPartCopy in parallel; CompleteMultipartUpload; then checks.
 *
 * Concurrent writers (DESIGN.md safety rules, style.md practice 5):
 * - Parts name the key without a version id and carry `x-amz-copy-source-if-match` with the ETag read at the
 *   start, so a write that lands during the copy makes the next part fail (412) instead of the copy mixing
 *   versions. Each part's `x-amz-copy-source-version-id` must be the version read at the start.
 * - Before completing, the current version is read again; CompleteMultipartUpload carries `If-Match` with the
 *   source ETag, so S3 refuses to complete over a newer write (AWS conditional writes; the sandbox does not
 *   evaluate it, so the re-read is what the tests exercise).
 * - After completing, in versioned buckets, the version directly below the new one must be the source version;
 *   otherwise a write landed between the last check and the completion and the result says so.
 * The copy is abandoned (upload aborted, nothing written) when the source changed; the newer write stays.
 *
 * Resumable: an upload's id, its copied parts and the tags it carries are saved under the run prefix
 * (`large-objects/<sha256(key)>.json`) when created, every few parts and when an invocation stops. A call that
 * reaches its deadline returns `done: false`; the next call with the same input continues the same upload
 * (parts S3 lists but the file missed are adopted). A batch file (`large-objects/batch-<digest>.json`) keeps a
 * cursor and the counts, so every call returns the whole batch's picture.
 *
 * Not carried: object ACLs (preflight reports buckets with ACLs enabled before anything is written; new buckets
 * have them disabled), additional checksums (a multipart copy gets no full-object checksum of the source's
 * algorithm), SSE-KMS encryption context of the source. LastModified and the ETag change, as for any copy.
 */

export const LargeObjectSchema = z.object({
  key: z.string().min(1),
  /** Size as planned (inventory); the size HeadObject reports is what is copied. */
  size: z.number().int().nonnegative(),
  /** ETag as planned; informational, the copy is guarded by the ETag HeadObject reports. */
  etag: z.string().optional(),
  storageClass: z.string().optional(),
});
export type LargeObject = z.infer<typeof LargeObjectSchema>;

export const LargeObjectCopyOptionsSchema = z.object({
  /** Preferred part size; raised for objects that would need more than 10,000 parts. */
  partBytes: z.number().int().min(MIN_PART_BYTES).max(MAX_PART_BYTES).default(DEFAULT_PART_BYTES),
  /** UploadPartCopy requests in flight per object. */
  partConcurrency: z.number().int().min(1).max(64).default(8),
  /** No new part or object is started when the deadline is closer than this (a part in flight must finish). */
  deadlineMarginMs: z
    .number()
    .int()
    .min(0)
    .max(15 * 60_000)
    .default(60_000),
  /** Progress is saved after this many copied parts (and always when an invocation stops). */
  saveEveryParts: z.number().int().min(1).max(10_000).default(10),
  /** Problems listed by key in the result (the batch file in the work bucket has all of them). */
  problemsInResult: z.number().int().min(0).max(100).default(20),
});
export type LargeObjectCopyOptions = z.infer<typeof LargeObjectCopyOptionsSchema>;

export const LargeObjectCopyInputSchema = z.object({
  target: z.object({
    bucket: z.string().min(1),
    kmsKeyArn: z.string().startsWith("arn:"),
    workBucket: z.string().min(1),
    /** Where progress files go in the work bucket; the plan's prefix, so a later run continues the same uploads. */
    progressPrefix: z.string().endsWith("/"),
  }),
  /** The objects, or the key in the work bucket of a JSON Lines file with one object per line. */
  objects: z.union([z.array(LargeObjectSchema), z.object({ listKey: z.string().min(1) })]),
  /** Epoch milliseconds by which the call must return (for example, now + the Lambda's remaining time). */
  deadlineMs: z.number().int().positive().optional(),
  /** Alternatively, milliseconds from the start of the call. The earlier of the two applies. */
  timeBudgetMs: z.number().int().positive().optional(),
  options: LargeObjectCopyOptionsSchema.prefault({}),
});
export type LargeObjectCopyInput = z.input<typeof LargeObjectCopyInputSchema>;

export interface LargeObjectCopyResult extends ReturnType<typeof summarizeBatch> {
  /** False when the call stopped at its deadline; call again with the same input to continue. */
  done: boolean;
  /** The batch file in the work bucket: cursor, counts and every problem with its reason. */
  batchKey: string;
}

/** Reads a plan's list of large objects (JSON Lines, one LargeObject per line). */
export async function readLargeObjectList(s3: S3Client, workBucket: string, listKey: string): Promise<LargeObject[]> {
  const text = await getText(s3, workBucket, listKey);
  const list: LargeObject[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let parsed: ReturnType<typeof LargeObjectSchema.safeParse>;
    try {
      parsed = LargeObjectSchema.safeParse(JSON.parse(line));
    } catch {
      parsed = LargeObjectSchema.safeParse(undefined);
    }
    if (!parsed.success) {
      throw new InvalidInputError(
        `s3://${workBucket}/${listKey} line ${i + 1} is not a large object ({"key","size","etag","storageClass"}).`,
        { fix: "Rewrite the list with one JSON object per line, then run the step again." },
      );
    }
    list.push(parsed.data);
  }
  return list;
}

/** Which bucket and key a copy works on, and where its progress goes. */
export type LargeCopyTarget = z.infer<typeof LargeObjectCopyInputSchema>["target"];

export interface LargeObjectCopyContext {
  target: LargeCopyTarget;
  options: LargeObjectCopyOptions;
  /** Epoch milliseconds; undefined means no deadline. */
  deadline: number | undefined;
}

/** One object's result: settled, or paused at the deadline with its upload saved. */
export type LargeObjectResult =
  | { status: "settled"; outcome: LargeCopyOutcome }
  | { status: "paused"; partsCopied: number; partsTotal: number };

/**
 * "Copy large objects": the plan's list of unencrypted objects over 5 GiB, copied within one invocation's time
 * budget; the state machine calls it again while `done` is false. Progress lives under the plan's prefix, so an
 * execution started again for the same plan continues the uploads instead of starting them over.
 */
export const copyLargeObjectsStep = defineStep({
  state: StateNames.copyLargeObjects,
  input: z.object({
    run: RunContextSchema,
    plan: PlanSchema.required({ largeObjects: true }),
    jobs: JobsSchema,
    /** Milliseconds this invocation may spend; the Lambda timeout (15 minutes) minus room to save and return. */
    timeBudgetMs: z.number().int().positive(),
  }),
  async run({ run, plan, jobs, timeBudgetMs }, deps) {
    if (run.options.requireApproval) await requireApprovedJobs(run, plan, jobs, deps);
    return copyLargeObjects(
      {
        target: {
          bucket: run.bucket,
          kmsKeyArn: run.kmsKeyArn,
          workBucket: run.workBucket,
          progressPrefix: plan.planPrefix,
        },
        objects: { listKey: plan.largeObjects.key },
        timeBudgetMs,
      },
      deps,
    );
  },
});

/**
 * Approval confirms Batch Operations jobs, and the copies of large objects start after them, so with approval
 * required they start only when every job shows it was confirmed: it completed, or ran at least one task. A run
 * without jobs, or whose jobs were cancelled (or failed) before running anything, has no approval to show, and its
 * large objects are left as they are.
 */
async function requireApprovedJobs(
  run: z.infer<typeof RunContextSchema>,
  plan: { planKey: string; largeObjects: { objects: number; key: string } },
  jobs: z.infer<typeof JobsSchema>,
  { clients }: StepDeps,
): Promise<void> {
  const fix = `Review the plan (s3://${run.workBucket}/${plan.planKey} and s3://${run.workBucket}/${plan.largeObjects.key}), then start the run again without --require-approval to copy them.`;
  if (jobs.jobs.length === 0) {
    throw new ApprovalNotPossibleError(
      `The run was started with approval required, but its only work is ${plan.largeObjects.objects} object(s) over 5 GiB, copied part by part without a Batch Operations job for rekey approve to confirm. No object was changed.`,
      { fix },
    );
  }
  for (const job of jobs.jobs) {
    const { Job: d } = await clients.s3control.send(
      new DescribeJobCommand({ AccountId: run.accountId, JobId: job.jobId }),
    );
    const p = d?.ProgressSummary;
    const ran = (p?.NumberOfTasksSucceeded ?? 0) + (p?.NumberOfTasksFailed ?? 0);
    if (d?.Status !== "Complete" && ran === 0) {
      throw new ApprovalNotPossibleError(
        `The run was started with approval required, and job ${job.jobId} ended ${d?.Status ?? "Unknown"} without running a task, so nobody approved this run's work: its ${plan.largeObjects.objects} object(s) over 5 GiB were not copied.`,
        { fix },
      );
    }
  }
}

/**
 * The step: re-encrypts each listed object in turn; returns `done: false` when the deadline comes first.
 * Transient AWS errors propagate (the upload is kept and the workflow retries); any other failure of one
 * object aborts its upload, is recorded with its reason and the next object follows.
 */
export async function copyLargeObjects(input: LargeObjectCopyInput, deps: StepDeps): Promise<LargeObjectCopyResult> {
  const parsed = LargeObjectCopyInputSchema.parse(input);
  const { target: run, options } = parsed;
  const started = deps.now().getTime();
  const deadlines = [parsed.deadlineMs, parsed.timeBudgetMs === undefined ? undefined : started + parsed.timeBudgetMs];
  const deadline = deadlines.reduce<number | undefined>(
    (a, b) => (b === undefined ? a : a === undefined ? b : Math.min(a, b)),
    undefined,
  );
  const ctx: LargeObjectCopyContext = { target: run, options, deadline };
  const log = deps.log.child({ bucket: run.bucket });

  const objects = await loadObjects(parsed.objects, run.workBucket, deps.clients.s3);
  const digest = batchDigest(
    run.kmsKeyArn,
    objects.map((o) => o.key),
  );
  const key = batchKey(run.progressPrefix, digest);
  let batch = await loadBatch(deps.clients.s3, run.workBucket, key, digest, objects.length);
  const finish = async (done: boolean): Promise<LargeObjectCopyResult> => {
    await putJson(deps.clients.s3, run.workBucket, key, batch);
    const summary = summarizeBatch(batch, options.problemsInResult);
    log.info(done ? "large objects done" : "large objects paused at deadline", { ...summary.counts, batchKey: key });
    return { done, batchKey: key, ...summary };
  };

  while (batch.nextIndex < objects.length) {
    if (nearDeadline(ctx, deps)) return finish(false);
    const object = objects[batch.nextIndex];
    if (!object) break;
    let outcome: LargeCopyOutcome;
    try {
      const result = await reencryptLargeObject(object, ctx, deps);
      if (result.status === "paused") return finish(false);
      outcome = result.outcome;
    } catch (err) {
      if (err instanceof ObjectChangedDuringCopyError) {
        outcome = { key: object.key, outcome: "changed-during-copy", reason: err.problem };
      } else if (isTransient(err)) {
        await putJson(deps.clients.s3, run.workBucket, key, batch);
        throw err;
      } else {
        outcome = { key: object.key, outcome: "failed", reason: describeError(err) };
      }
    }
    batch = settleNext(batch, outcome);
    await putJson(deps.clients.s3, run.workBucket, key, batch);
  }
  return finish(true);
}

/**
 * Re-encrypts one object in place, or continues its saved upload. Resolves `settled` (re-encrypted, already
 * compliant, gone, skipped, or changed after completion) or `paused`; rejects with ObjectChangedDuringCopyError
 * when the object changed before completion (upload aborted, outcome saved), with other errors otherwise
 * (upload aborted unless the error is transient).
 */
export async function reencryptLargeObject(
  object: LargeObject,
  ctx: LargeObjectCopyContext,
  deps: StepDeps,
): Promise<LargeObjectResult> {
  const { s3 } = deps.clients;
  const { bucket, kmsKeyArn, workBucket } = ctx.target;
  const key = object.key;
  const log = deps.log.child({ bucket, key });
  const pKey = progressKey(ctx.target.progressPrefix, key);
  const save = (p: LargeCopyProgress) => putJson(s3, workBucket, pKey, p);
  const settle = async (p: LargeCopyProgress | undefined, outcome: LargeCopyOutcome): Promise<LargeObjectResult> => {
    if (p) await save({ ...p, state: "settled", outcome });
    log.info("large object settled", {
      outcome: outcome.outcome,
      reason: outcome.reason,
      versionId: outcome.versionId,
    });
    return { status: "settled", outcome };
  };
  const changed = (problem: string) =>
    new ObjectChangedDuringCopyError(problem, {
      bucket,
      key,
      fix: "Nothing was written; the newer write is kept. A later rekey run re-encrypts the object as it is then (new writes are already covered by the bucket's default encryption).",
    });

  const savedText = await getTextIfExists(s3, workBucket, pKey);
  let progress = savedText === undefined ? undefined : LargeCopyProgressSchema.parse(JSON.parse(savedText));
  if (progress?.outcome) return { status: "settled", outcome: progress.outcome };

  let current = await headCurrent(s3, bucket, key);

  try {
    if (progress) {
      progress = { ...progress, invocations: progress.invocations + 1 };
      const resumed = await resume(progress, current, s3);
      if (resumed.kind === "completed-earlier" && current.kind === "found") {
        log.info("upload was completed by an earlier invocation", { uploadId: progress.uploadId });
        const outcome = await checkCompleted(s3, ctx.target, key, progress, current.head.VersionId, undefined);
        return await settle(progress, outcome);
      }
      if (resumed.kind === "changed") throw changed(resumed.problem);
      if (resumed.kind === "upload-gone") {
        log.warn("saved multipart upload no longer exists; starting again", { uploadId: progress.uploadId });
        progress = undefined;
      } else if (resumed.kind === "continue") {
        progress = withListedParts(progress, resumed.listed, planParts(progress.source.size, progress.partBytes));
      }
    }

    if (!progress) {
      if (current.kind === "missing")
        return await settle(undefined, { key, outcome: "gone", reason: "no current version (deleted since planning)" });
      if (current.kind === "sse-c") {
        return await settle(undefined, {
          key,
          outcome: "skipped",
          reason: "HeadObject answered 400: SSE-C (customer-provided key); rekey cannot read or copy it.",
        });
      }
      const head = current.head;
      if (isCompliant(head, kmsKeyArn)) return await settle(undefined, { key, outcome: "already-compliant" });
      const skip = skipReason(head);
      if (skip) return await settle(undefined, { key, outcome: "skipped", reason: skip });
      if (object.etag !== undefined && stripQuotes(object.etag) !== stripQuotes(head.ETag ?? "")) {
        log.info("object changed since planning; copying its current version", { plannedEtag: object.etag });
      }
      const source = sourceOf(head);
      const tags = await readTags(s3, bucket, key, source.versionId);
      const partBytes = choosePartSize(source.size, ctx.options.partBytes);
      const created = await s3.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ...carriedAttributes(head, tags, kmsKeyArn, deps.now()),
        }),
      );
      if (!created.UploadId) throw new Error(`CreateMultipartUpload for s3://${bucket}/${key} returned no UploadId`);
      progress = newProgress({
        bucket,
        key,
        kmsKeyArn,
        source,
        partBytes,
        uploadId: created.UploadId,
        tags,
        now: deps.now(),
      });
      // Saved before any part, so a later invocation finds (and can abort) the upload whatever happens next.
      await save(progress);
      log.info("multipart copy started", { uploadId: progress.uploadId, size: source.size, partBytes });
    }

    const plan = planParts(progress.source.size, progress.partBytes);
    const copied = await copyParts(progress, plan, ctx, deps, save, (p) => {
      // Kept current part by part, so the error path below saves what was copied.
      progress = p;
    });
    progress = copied.progress;
    await save(progress);
    if (copied.stopped) {
      log.info("multipart copy paused at deadline", {
        uploadId: progress.uploadId,
        parts: progress.parts.length,
        of: plan.length,
      });
      return { status: "paused", partsCopied: progress.parts.length, partsTotal: plan.length };
    }

    // Read → verify → write → verify again: the current version must still be the source.
    current = await headCurrent(s3, bucket, key);
    if (current.kind !== "found")
      throw changed("The object was deleted (or replaced by an SSE-C version) during the copy.");
    if (!sameSource(current.head, progress.source)) {
      throw changed(
        `The object was overwritten during the copy (now ETag ${current.head.ETag}, version ${current.head.VersionId ?? "-"}; copied ${progress.source.etag}, version ${progress.source.versionId ?? "-"}).`,
      );
    }
    const tagsNow = await readTags(s3, bucket, key, progress.source.versionId);
    progress = { ...progress, state: "completing" };
    await save(progress);
    const completed = await complete(s3, bucket, key, progress).catch((err: unknown) => {
      throw asChangedError(err, changed) ?? err;
    });
    log.info("multipart copy completed", { uploadId: progress.uploadId, versionId: completed.VersionId });
    if (!sameTags(tagsNow, progress.tags)) {
      // Tags changed during the copy (tag writes make no new version): the new version takes the latest set.
      await s3.send(
        new PutObjectTaggingCommand({
          Bucket: bucket,
          Key: key,
          ...(completed.VersionId ? { VersionId: completed.VersionId } : {}),
          Tagging: { TagSet: Object.entries(tagsNow).map(([Key, Value]) => ({ Key, Value })) },
        }),
      );
    }
    const outcome = await checkCompleted(
      s3,
      ctx.target,
      key,
      { ...progress, tags: tagsNow },
      completed.VersionId,
      current.head,
    );
    return await settle(progress, outcome);
  } catch (err) {
    if (progress && !isTransient(err)) {
      const outcome: LargeCopyOutcome =
        err instanceof ObjectChangedDuringCopyError
          ? { key, outcome: "changed-during-copy", reason: err.problem }
          : { key, outcome: "failed", reason: describeError(err) };
      await abort(s3, bucket, key, progress.uploadId);
      await save({ ...progress, state: "settled", outcome });
      log.warn("multipart copy abandoned; upload aborted", { uploadId: progress.uploadId, reason: outcome.reason });
    } else if (progress) {
      await save(progress).catch(() => undefined);
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reading the source

type Current = { kind: "found"; head: HeadObjectCommandOutput } | { kind: "missing" } | { kind: "sse-c" };

async function headCurrent(s3: S3Client, bucket: string, key: string): Promise<Current> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { kind: "found", head };
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 404) return { kind: "missing" };
    // S3 answers a HEAD of an SSE-C object without its key with 400 (no body on HEAD).
    if (status === 400) return { kind: "sse-c" };
    throw err;
  }
}

/** A version id for requests that take one; `null` (unversioned writes) is left out. */
function realVersion(versionId: string | undefined): string | undefined {
  return versionId === undefined || versionId === "null" ? undefined : versionId;
}

async function readTags(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId: string | undefined,
): Promise<Record<string, string>> {
  const v = realVersion(versionId);
  const out = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key, ...(v ? { VersionId: v } : {}) }));
  const tags: Record<string, string> = {};
  for (const t of out.TagSet ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? "";
  return tags;
}

function sourceOf(head: HeadObjectCommandOutput): CopySourceState {
  if (!head.ETag) throw new Error("HeadObject returned no ETag");
  return {
    ...(head.VersionId !== undefined ? { versionId: head.VersionId } : {}),
    etag: head.ETag,
    size: head.ContentLength ?? 0,
    ...(head.LastModified ? { lastModified: head.LastModified.toISOString() } : {}),
  };
}

function stripQuotes(etag: string): string {
  return etag.replace(/"/g, "");
}

function sameSource(head: HeadObjectCommandOutput, source: CopySourceState): boolean {
  return stripQuotes(head.ETag ?? "") === stripQuotes(source.etag) && head.VersionId === source.versionId;
}

/** SSE-KMS under the target key with an S3 Bucket Key: nothing to do. */
export function isCompliant(
  head: Pick<HeadObjectCommandOutput, "ServerSideEncryption" | "SSEKMSKeyId" | "BucketKeyEnabled">,
  kmsKeyArn: string,
): boolean {
  return head.ServerSideEncryption === "aws:kms" && head.SSEKMSKeyId === kmsKeyArn && head.BucketKeyEnabled === true;
}

const ARCHIVE_CLASSES = new Set(["GLACIER", "DEEP_ARCHIVE"]);

/** Why an object is not copied, when something about it means a copy would fail or lose data. */
export function skipReason(head: HeadObjectCommandOutput): string | undefined {
  if (head.ServerSideEncryption === "aws:kms:dsse") return "DSSE-KMS: rekey does not change dual-layer encryption.";
  if (head.StorageClass && ARCHIVE_CLASSES.has(head.StorageClass)) {
    return `Archived (${head.StorageClass}): restore it, then run rekey again.`;
  }
  if (head.ArchiveStatus)
    return `In the Intelligent-Tiering ${head.ArchiveStatus} tier: restore it, then run rekey again.`;
  if ((head.MissingMeta ?? 0) > 0) {
    return `Has ${head.MissingMeta} metadata entries that HTTP headers cannot carry; a copy would drop them.`;
  }
  if (head.Expires === undefined && head.ExpiresString !== undefined) {
    return `Its Expires header (${head.ExpiresString}) is not a date; a copy could not keep it as it is.`;
  }
  if ((head.ContentLength ?? 0) === 0)
    return "Empty: a multipart copy needs at least one byte (CopyObject handles it).";
  return undefined;
}

/** `x-amz-tagging`: a URL query string. */
function encodeTags(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
}

function sameTags(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/**
 * What CreateMultipartUpload must be told, because a multipart copy carries nothing over from the source: the
 * content headers, user metadata, tags, storage class (unset means STANDARD), website redirect and Object Lock
 * settings of the source, and the target encryption.
 */
export function carriedAttributes(
  head: HeadObjectCommandOutput,
  tags: Record<string, string>,
  kmsKeyArn: string,
  now: Date,
): Omit<CreateMultipartUploadCommandInput, "Bucket" | "Key"> {
  const retain = head.ObjectLockRetainUntilDate;
  return {
    ...(head.ContentType !== undefined ? { ContentType: head.ContentType } : {}),
    ...(head.CacheControl !== undefined ? { CacheControl: head.CacheControl } : {}),
    ...(head.ContentDisposition !== undefined ? { ContentDisposition: head.ContentDisposition } : {}),
    ...(head.ContentEncoding !== undefined ? { ContentEncoding: head.ContentEncoding } : {}),
    ...(head.ContentLanguage !== undefined ? { ContentLanguage: head.ContentLanguage } : {}),
    ...(head.Expires !== undefined ? { Expires: head.Expires } : {}),
    ...(head.WebsiteRedirectLocation !== undefined ? { WebsiteRedirectLocation: head.WebsiteRedirectLocation } : {}),
    Metadata: { ...(head.Metadata ?? {}) },
    StorageClass: head.StorageClass ?? "STANDARD",
    ...(Object.keys(tags).length > 0 ? { Tagging: encodeTags(tags) } : {}),
    ...(head.ObjectLockMode && retain && retain.getTime() > now.getTime()
      ? { ObjectLockMode: head.ObjectLockMode, ObjectLockRetainUntilDate: retain }
      : {}),
    ...(head.ObjectLockLegalHoldStatus === "ON" ? { ObjectLockLegalHoldStatus: "ON" } : {}),
    ServerSideEncryption: "aws:kms",
    SSEKMSKeyId: kmsKeyArn,
    BucketKeyEnabled: true,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Resuming

type Resumed =
  | { kind: "continue"; listed: { partNumber: number; etag: string; size: number }[] }
  | { kind: "changed"; problem: string }
  | { kind: "upload-gone" }
  | { kind: "completed-earlier" };

async function resume(progress: LargeCopyProgress, current: Current, s3: S3Client): Promise<Resumed> {
  const listed = await listParts(s3, progress);
  if (current.kind === "found" && sameSource(current.head, progress.source)) {
    return listed ? { kind: "continue", listed } : { kind: "upload-gone" };
  }
  // The object is no longer the source. If the last invocation was completing and the upload is gone, the
  // change is most likely our own completion; checkCompleted confirms it from the version order.
  if (progress.state === "completing" && !listed && current.kind === "found") return { kind: "completed-earlier" };
  return {
    kind: "changed",
    problem:
      current.kind === "found"
        ? `The object was overwritten between invocations (now ETag ${current.head.ETag}; copied ${progress.source.etag}).`
        : "The object was deleted or became unreadable between invocations.",
  };
}

/** Every part S3 holds for the upload, or undefined when the upload no longer exists. */
async function listParts(
  s3: S3Client,
  progress: LargeCopyProgress,
): Promise<{ partNumber: number; etag: string; size: number }[] | undefined> {
  const parts: { partNumber: number; etag: string; size: number }[] = [];
  let marker: string | undefined;
  try {
    do {
      const out = await s3.send(
        new ListPartsCommand({
          Bucket: progress.bucket,
          Key: progress.key,
          UploadId: progress.uploadId,
          ...(marker !== undefined ? { PartNumberMarker: marker } : {}),
        }),
      );
      for (const p of out.Parts ?? []) {
        if (p.PartNumber !== undefined && p.ETag && p.Size !== undefined) {
          parts.push({ partNumber: p.PartNumber, etag: p.ETag, size: p.Size });
        }
      }
      marker = out.IsTruncated ? out.NextPartNumberMarker : undefined;
    } while (marker !== undefined);
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw err;
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------------------
// Copying

function nearDeadline(ctx: LargeObjectCopyContext, deps: StepDeps): boolean {
  return ctx.deadline !== undefined && deps.now().getTime() + ctx.options.deadlineMarginMs >= ctx.deadline;
}

/** `x-amz-copy-source` for the current version of a key (URL-encoded). */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key)}`;
}

/**
 * Copies the pending parts, `partConcurrency` at a time, each guarded by the source ETag. Stops starting parts
 * at the deadline or after the first error; parts in flight finish. Rejects with that first error.
 */
async function copyParts(
  start: LargeCopyProgress,
  plan: PartRange[],
  ctx: LargeObjectCopyContext,
  deps: StepDeps,
  save: (p: LargeCopyProgress) => Promise<unknown>,
  onPart: (p: LargeCopyProgress) => void,
): Promise<{ progress: LargeCopyProgress; stopped: boolean }> {
  const { s3 } = deps.clients;
  const { bucket } = ctx.target;
  const { key, source, uploadId } = start;
  const limit = pLimit(ctx.options.partConcurrency);
  let progress = start;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let sinceSave = 0;
  let saving: Promise<unknown> = Promise.resolve();

  const copyOne = async (part: PartRange): Promise<void> => {
    if (failure || stopped) return;
    if (nearDeadline(ctx, deps)) {
      stopped = true;
      return;
    }
    try {
      const out = await s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: part.partNumber,
          CopySource: copySource(bucket, key),
          CopySourceIfMatch: source.etag,
          CopySourceRange: copySourceRange(part),
        }),
      );
      const etag = out.CopyPartResult?.ETag;
      if (!etag) throw new Error(`UploadPartCopy of part ${part.partNumber} returned no ETag`);
      if (source.versionId !== undefined && out.CopySourceVersionId !== source.versionId) {
        throw new ObjectChangedDuringCopyError(
          `Part ${part.partNumber} was copied from version ${out.CopySourceVersionId ?? "(none)"}, not from ${source.versionId}, the version read at the start.`,
          { bucket, key, fix: "Nothing was written; the newer write is kept. A later rekey run re-encrypts it." },
        );
      }
      progress = withPart(progress, { partNumber: part.partNumber, etag });
      onPart(progress);
      sinceSave += 1;
      if (sinceSave >= ctx.options.saveEveryParts) {
        sinceSave = 0;
        const snapshot = progress;
        saving = saving.then(() => save(snapshot));
        await saving;
      }
    } catch (error) {
      failure ??= { error };
    }
  };

  await Promise.all(pendingParts(plan, progress).map((part) => limit(() => copyOne(part))));
  if (failure) {
    const changedError = asChangedError(
      failure.error,
      (problem) =>
        new ObjectChangedDuringCopyError(problem, {
          bucket,
          key,
          fix: "Nothing was written; the newer write is kept. A later rekey run re-encrypts the object as it is then.",
        }),
    );
    // Keep what was copied, so a transient failure resumes rather than starts over.
    await save(progress).catch(() => undefined);
    throw changedError ?? failure.error;
  }
  return { progress, stopped };
}

/** Maps the answers S3 gives when the source changed under a guarded request to ObjectChangedDuringCopyError. */
function asChangedError(
  err: unknown,
  changed: (problem: string) => ObjectChangedDuringCopyError,
): ObjectChangedDuringCopyError | undefined {
  if (err instanceof ObjectChangedDuringCopyError) return err;
  const status = httpStatusOf(err);
  const name = (err as { name?: string } | undefined)?.name;
  if (status === 412) return changed("The object was overwritten during the copy (its ETag no longer matches).");
  if (status === 404 && name === "NoSuchKey") return changed("The object was deleted during the copy.");
  if (status === 409 && name === "ConditionalRequestConflict") {
    return changed("Another write to the object raced the completion of the copy.");
  }
  return undefined;
}

async function complete(s3: S3Client, bucket: string, key: string, progress: LargeCopyProgress) {
  return s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId: progress.uploadId,
      MultipartUpload: { Parts: progress.parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
      // S3 completes only if the current object still has the source's ETag (conditional write).
      IfMatch: progress.source.etag,
    }),
  );
}

async function abort(s3: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (err) {
    if (httpStatusOf(err) !== 404) throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Checking the result

/**
 * After completion: the new version must sit directly on the source version (versioned buckets), be SSE-KMS
 * under the target key with Bucket Key, and keep size, metadata, content headers, storage class, redirect and
 * tags. `expected` is the source as read before completing; without it the source version is read again.
 */
async function checkCompleted(
  s3: S3Client,
  target: LargeCopyTarget,
  key: string,
  progress: LargeCopyProgress,
  newVersionId: string | undefined,
  expected: HeadObjectCommandOutput | undefined,
): Promise<LargeCopyOutcome> {
  const { bucket, kmsKeyArn } = target;
  const sourceVersionId = realVersion(progress.source.versionId);
  const ids = {
    ...(newVersionId !== undefined ? { versionId: newVersionId } : {}),
    ...(progress.source.versionId !== undefined ? { sourceVersionId: progress.source.versionId } : {}),
  };
  const newVersion = realVersion(newVersionId);

  if (newVersion && sourceVersionId) {
    const below = await versionBelow(s3, bucket, key, newVersion);
    if (below !== sourceVersionId) {
      return {
        key,
        outcome: "changed-during-copy",
        reason: `A write (version ${below ?? "unknown"}) landed during the copy, before its completion: the re-encrypted copy of version ${sourceVersionId} (now version ${newVersion}) is current above it. Check the object; to restore the newer write, copy version ${below ?? "?"} onto the key.`,
        ...ids,
      };
    }
  }

  const source =
    expected ??
    (sourceVersionId
      ? await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: sourceVersionId }))
      : undefined);
  const actual = await s3.send(
    new HeadObjectCommand({ Bucket: bucket, Key: key, ...(newVersion ? { VersionId: newVersion } : {}) }),
  );
  const problems = source ? attributeProblems(source, actual, kmsKeyArn) : encryptionProblems(actual, kmsKeyArn);
  if (actual.ContentLength !== progress.source.size) {
    problems.push(`size is ${actual.ContentLength}, the source has ${progress.source.size}`);
  }
  const tags = await readTags(s3, bucket, key, newVersion);
  if (!sameTags(tags, progress.tags)) {
    problems.push(`tags are ${JSON.stringify(tags)}, expected ${JSON.stringify(progress.tags)}`);
  }
  if (problems.length > 0) {
    return {
      key,
      outcome: "failed",
      reason: `Copied, but the new version does not match: ${[...new Set(problems)].join("; ")}.`,
      ...ids,
    };
  }
  return { key, outcome: "reencrypted", ...ids };
}

/** The version directly below `versionId` among the key's versions (delete markers aside), newest first. */
async function versionBelow(s3: S3Client, bucket: string, key: string, versionId: string): Promise<string | undefined> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  let seen = false;
  for (;;) {
    const out = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: key,
        ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
        ...(versionIdMarker !== undefined ? { VersionIdMarker: versionIdMarker } : {}),
      }),
    );
    for (const v of out.Versions ?? []) {
      if (v.Key !== key) continue;
      if (seen) return v.VersionId;
      if (v.VersionId === versionId) seen = true;
    }
    // Versions of `key` come before those of longer keys sharing the prefix; stop once past them.
    const passed = (out.Versions ?? []).some((v) => v.Key !== undefined && v.Key > key);
    if (!out.IsTruncated || passed) return undefined;
    keyMarker = out.NextKeyMarker;
    versionIdMarker = out.NextVersionIdMarker;
  }
}

function encryptionProblems(actual: HeadObjectCommandOutput, kmsKeyArn: string): string[] {
  const problems: string[] = [];
  if (actual.ServerSideEncryption !== "aws:kms")
    problems.push(`encryption is ${actual.ServerSideEncryption ?? "none"}`);
  if (actual.SSEKMSKeyId !== kmsKeyArn) problems.push(`KMS key is ${actual.SSEKMSKeyId ?? "none"}`);
  if (actual.BucketKeyEnabled !== true) problems.push("Bucket Key is off");
  return problems;
}

const COMPARED_HEADERS = [
  "ContentType",
  "CacheControl",
  "ContentDisposition",
  "ContentEncoding",
  "ContentLanguage",
  "WebsiteRedirectLocation",
] as const;

function attributeProblems(
  source: HeadObjectCommandOutput,
  actual: HeadObjectCommandOutput,
  kmsKeyArn: string,
): string[] {
  const problems = encryptionProblems(actual, kmsKeyArn);
  for (const h of COMPARED_HEADERS) {
    if (source[h] !== actual[h])
      problems.push(`${h} is ${actual[h] ?? "unset"}, the source has ${source[h] ?? "unset"}`);
  }
  if (source.Expires?.getTime() !== actual.Expires?.getTime()) problems.push("Expires differs from the source");
  if ((source.StorageClass ?? "STANDARD") !== (actual.StorageClass ?? "STANDARD")) {
    problems.push(
      `storage class is ${actual.StorageClass ?? "STANDARD"}, the source has ${source.StorageClass ?? "STANDARD"}`,
    );
  }
  if (!sameTags(source.Metadata ?? {}, actual.Metadata ?? {})) {
    problems.push(
      `metadata is ${JSON.stringify(actual.Metadata ?? {})}, the source has ${JSON.stringify(source.Metadata ?? {})}`,
    );
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// Input and batch files

async function loadObjects(
  objects: LargeObject[] | { listKey: string },
  workBucket: string,
  s3: S3Client,
): Promise<LargeObject[]> {
  const list = Array.isArray(objects) ? objects : await readLargeObjectList(s3, workBucket, objects.listKey);
  // A key listed twice is copied once.
  const seen = new Set<string>();
  return list.filter((o) => !seen.has(o.key) && seen.add(o.key));
}

async function loadBatch(
  s3: S3Client,
  workBucket: string,
  key: string,
  digest: string,
  total: number,
): Promise<LargeCopyBatch> {
  const text = await getTextIfExists(s3, workBucket, key);
  if (text === undefined) return newBatch(digest, total);
  const saved = LargeCopyBatchSchema.parse(JSON.parse(text));
  return saved.inputDigest === digest && saved.total === total ? saved : newBatch(digest, total);
}

function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string } | undefined;
  const status = httpStatusOf(err);
  return `${e?.name ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${e?.message ?? String(err)}`;
}
