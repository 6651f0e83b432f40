import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, type GetObjectCommandOutput, HeadObjectCommand } from "@aws-sdk/client-s3";
import { GetExecutionHistoryCommand, type HistoryEvent } from "@aws-sdk/client-sfn";
import type { z } from "zod";
import { type RunReport, runReportSchema } from "../contract/final-report.ts";
import { type PlanFile, PlanFileSchema, workLabel } from "../contract/plan.ts";
import { planKeys, runKeys } from "../contract/run-context.ts";
import { StateNames } from "../contract/states.ts";
import { BucketCheckFileSchema, type VerificationFile, VerificationFileSchema } from "../contract/verification.ts";
import { describeJob, isUnknownJob } from "../steps/aws/batch-jobs.ts";
import { planReportManifestKey, reportResultFiles } from "../steps/aws/completion-reports.ts";
import { httpStatusOf } from "../steps/aws/s3-io.ts";
import { independentCheckSection } from "../steps/domain/verification-report.ts";
import type { AwsClients } from "../steps/runtime/clients.ts";
import { CommandFailedError } from "./errors.ts";
import { evidenceOf } from "./evidence.ts";
import { afterCounts, beforeCounts, skippedOf } from "./evidence-counts.ts";
import { when } from "./evidence-html.ts";
import type { BundleFile } from "./evidence-manifest.ts";
import {
  type Approval,
  type ChecksumEntry,
  EVIDENCE_VERSION,
  type EvidenceJob,
  type RunEvidence,
} from "./evidence-model.ts";
import { type RunView, readRun } from "./runs.ts";

/**
 * Reads one run's evidence from Step Functions, S3 Control and the work bucket, copying the run's own files into the
 * bundle being written as they are read. It reads through the readers the commands and steps already use: the run
 * from its history (cli/runs.ts readRun, cli/evidence.ts evidenceOf), the run's files by the contract's keys and
 * schemas, the independent check as the final report has it (independentCheckSection), the jobs' completion reports
 * as verification lists them (reportResultFiles). Nothing here writes to AWS.
 */

/** The folder of a run's bundle in the work bucket: beside its report, in the run's own folder. */
export const evidencePrefix = (runPrefix: string) => `${runPrefix}evidence/`;

const COPIED_BASIS =
  "Copied into this bundle; SHA-256 computed by rekey evidence while reading the object from S3. S3's ETag is listed too, but it is not a digest anyone can recompute from the bytes: for a multipart upload or an SSE-KMS object it is not their MD5.";
const MANIFEST_BASIS =
  "Not copied (a manifest can hold millions of lines). The ETag is the checksum that counts: the plan recorded it when it wrote the manifest, its Batch Operations job was created with it (CreateJob Manifest.Location.ETag), and Batch Operations refuses a manifest whose ETag differs; the same ETag now shows it is the manifest the job ran.";
const RESULT_FILE_BASIS =
  "Not copied. The MD5 is the one Batch Operations wrote for this file in its completion report's manifest.json; rekey's verification read every result file and checked it against this MD5 (steps/aws/completion-reports.ts) before counting its rows.";
const REPORT_MANIFEST_BASIS =
  "Not copied. The completion report's manifest, written by Batch Operations: it lists each result file with its MD5. ETag as S3 answered it.";

/** S3's additional checksums, strongest first; S3 keeps at most one per object. */
const S3_CHECKSUMS = [
  ["ChecksumSHA256", "SHA256"],
  ["ChecksumSHA1", "SHA1"],
  ["ChecksumCRC64NVME", "CRC64NVME"],
  ["ChecksumCRC32C", "CRC32C"],
  ["ChecksumCRC32", "CRC32"],
] as const;

type ChecksumHeaders = Partial<Record<(typeof S3_CHECKSUMS)[number][0] | "ChecksumType", string>>;

function s3ChecksumOf(out: ChecksumHeaders): ChecksumEntry["s3Checksum"] {
  for (const [field, algorithm] of S3_CHECKSUMS) {
    const value = out[field];
    if (value) return { algorithm, value, ...(out.ChecksumType ? { type: out.ChecksumType } : {}) };
  }
  return undefined;
}

interface Copied {
  file: BundleFile;
  entry: ChecksumEntry;
}

/** GetObject of `key` into `dir/name`, hashing the bytes as they pass; undefined when there is no such object. */
async function copyInto(
  clients: AwsClients,
  bucket: string,
  key: string,
  dir: string,
  name: string,
  role: string,
): Promise<Copied | undefined> {
  let out: GetObjectCommandOutput;
  try {
    out = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw err;
  }
  const hash = createHash("sha256");
  let bytes = 0;
  await pipeline(
    out.Body as Readable,
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    }),
    createWriteStream(join(dir, name)),
  );
  const sha256 = hash.digest("hex");
  const s3Checksum = s3ChecksumOf(out);
  return {
    file: { path: name, bytes, sha256 },
    entry: {
      role,
      uri: `s3://${bucket}/${key}`,
      bundlePath: name,
      bytes,
      ...(out.ETag ? { etag: out.ETag } : {}),
      ...(s3Checksum ? { s3Checksum } : {}),
      sha256,
      source: "sha256-while-reading",
      basis: COPIED_BASIS,
    },
  };
}

/** HeadObject with S3's checksum asked for; undefined when there is no such object. */
async function head(clients: AwsClients, bucket: string, key: string) {
  try {
    const out = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
    const s3Checksum = s3ChecksumOf(out);
    return {
      ...(out.ETag ? { etag: out.ETag } : {}),
      ...(out.ContentLength === undefined ? {} : { bytes: out.ContentLength }),
      ...(s3Checksum ? { s3Checksum } : {}),
    };
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw err;
  }
}

function parseFile<T>(schema: z.ZodType<T>, text: string, uri: string): T {
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new CommandFailedError(
      `${uri} is not what rekey writes there (${parsed.error.issues[0]?.message ?? "invalid"}): it was changed after the run wrote it, or by another version of rekey.`,
    );
  }
  return parsed.data;
}

/** What the history says beyond readRun: the execution's role, and when the run waited for approval. */
interface HistoryFacts {
  executionRoleArn?: string;
  waitingFrom?: { eventId: number; at: string };
  resumedAt?: { eventId: number; at: string };
  /** The run entered another state than the job checks after its last wait for approval: the jobs were confirmed. */
  wentOn: boolean;
  /** The state whose error the run caught and recorded ("Record failure" follows it). */
  failedIn?: string;
}

const APPROVAL_LOOP = new Set<string>([
  StateNames.waitingForApproval,
  StateNames.checkCopyJobs,
  StateNames.areJobsDone,
]);

async function historyFacts(clients: AwsClients, executionArn: string): Promise<HistoryFacts> {
  const facts: HistoryFacts = { wentOn: false };
  const at = (e: HistoryEvent) => ({ eventId: e.id ?? 0, at: (e.timestamp ?? new Date(0)).toISOString() });
  let nextToken: string | undefined;
  let previous: string | undefined;
  do {
    const page = await clients.sfn.send(
      new GetExecutionHistoryCommand({ executionArn, includeExecutionData: false, maxResults: 1000, nextToken }),
    );
    for (const e of page.events ?? []) {
      const role = e.executionStartedEventDetails?.roleArn;
      if (role) facts.executionRoleArn = role;
      const entered = e.stateEnteredEventDetails?.name;
      if (entered === StateNames.recordFailure) {
        if (previous) facts.failedIn ??= previous;
      } else if (entered) {
        previous = entered;
      }
      if (entered === StateNames.waitingForApproval) {
        facts.waitingFrom ??= at(e);
        facts.wentOn = false;
      } else if (entered && facts.resumedAt && !APPROVAL_LOOP.has(entered)) {
        facts.wentOn = true;
      }
      if (e.stateExitedEventDetails?.name === StateNames.waitingForApproval) facts.resumedAt = at(e);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return facts;
}

function approvalOf(run: RunView, required: boolean, h: HistoryFacts): Approval {
  const waits = {
    ...(h.waitingFrom ? { waitingFrom: h.waitingFrom } : {}),
    ...(h.resumedAt ? { resumedAt: h.resumedAt } : {}),
  };
  if (!required) {
    return {
      required,
      ...waits,
      summary:
        "No approval step: the run was started without --require-approval, so its copy jobs started as soon as they were created.",
    };
  }
  if (!h.waitingFrom) {
    return {
      required,
      summary:
        run.status === "RUNNING"
          ? "Approval required (--require-approval); the run has not created its copy jobs yet."
          : "Approval required (--require-approval), but the run never waited for it: it had no copy jobs to confirm, or ended before it created them.",
    };
  }
  const from = `${when(h.waitingFrom.at)} (history event ${h.waitingFrom.eventId})`;
  if (h.wentOn && h.resumedAt) {
    return {
      required,
      ...waits,
      summary: `Approved: the copy jobs waited, copying nothing, from ${from}; they were confirmed and the run went on at ${when(h.resumedAt.at)} (history event ${h.resumedAt.eventId}). Who confirmed them is recorded by AWS CloudTrail (event UpdateJobStatus), not by Step Functions or Batch Operations.`,
    };
  }
  return {
    required,
    ...waits,
    summary:
      run.status === "RUNNING"
        ? `Waiting for approval since ${from}: the copy jobs have copied nothing.`
        : `Never approved: the run ended (${run.status}) while its copy jobs waited for approval (since ${from}); they copied nothing.`,
  };
}

function outcomeOf(run: RunView, report: RunReport | undefined): RunEvidence["outcome"] {
  switch (run.status) {
    case "SUCCEEDED":
      return "succeeded";
    case "FAILED":
      // "Write final report" ran and the run ended in its Fail state: the work is reported, with failures.
      return report ? "finished-with-failures" : "failed";
    case "ABORTED":
      return "stopped";
    case "TIMED_OUT":
      return "timed-out";
    default:
      return "running";
  }
}

/** Why a part of the evidence is missing, in the run's own terms. */
function missingBecause(run: RunView, history: HistoryFacts, what: { done: string; notYet: string }): string {
  if (run.status === "RUNNING" || run.status === "PENDING_REDRIVE") {
    return `the run has not ${what.notYet} yet${run.currentState ? ` (it is in "${run.currentState}")` : ""}`;
  }
  const last = history.failedIn
    ? ` (it failed in "${history.failedIn}")`
    : run.currentState
      ? ` (its last state was "${run.currentState}")`
      : "";
  return `the run ended ${run.status} before it ${what.done}${last}`;
}

export interface ReadEvidence {
  evidence: RunEvidence;
  /** The run's files copied into the bundle's folder. */
  copied: BundleFile[];
}

/** One run's evidence; the run's own files are copied into `dir` as they are read. */
export async function readRunEvidence(clients: AwsClients, executionArn: string, dir: string): Promise<ReadEvidence> {
  const run = await readRun(clients, executionArn);
  const history = await historyFacts(clients, executionArn);
  const context = run.context;
  const input = run.input;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const bucket = context?.bucket ?? run.bucket ?? "";
  const kmsKeyArn = context?.kmsKeyArn ?? str(input.kmsKeyArn) ?? "";
  const copied: Copied[] = [];
  const absent: RunEvidence["absent"] = [];
  const checksums: ChecksumEntry[] = [];

  /** Copies a file of the run into the bundle; a JSON file's text is read back for its schema (lists are not). */
  const copy = async (key: string, name: string, role: string) => {
    if (!context) return undefined;
    const c = await copyInto(clients, context.workBucket, key, dir, name, role);
    if (c) copied.push(c);
    return c && name.endsWith(".json") ? readFile(join(dir, name), "utf8") : undefined;
  };
  const uri = (key: string) => `s3://${context?.workBucket}/${key}`;

  let report: RunReport | undefined;
  let planFile: PlanFile | undefined;
  let verification: VerificationFile | undefined;
  let check: RunReport["independentCheck"];
  if (context) {
    const keys = runKeys(context);
    const reportText = await copy(keys.report, "report.json", "final report (report.json)");
    report = reportText === undefined ? undefined : parseFile(runReportSchema, reportText, uri(keys.report));
    await copy(keys.summary, "summary.txt", "final report as text (summary.txt)");
    const verificationText = await copy(
      keys.verification,
      "verification.json",
      "verification: the completion reports counted, and the spot check (verification.json)",
    );
    verification =
      verificationText === undefined
        ? undefined
        : parseFile(VerificationFileSchema, verificationText, uri(keys.verification));
    const checkText = await copy(
      keys.bucketCheck,
      "bucket-check.json",
      "the independent check of the bucket after the jobs (bucket-check.json)",
    );
    check =
      checkText === undefined
        ? report?.independentCheck
        : independentCheckSection(parseFile(BucketCheckFileSchema, checkText, uri(keys.bucketCheck)));
    await copy(keys.failed, "failed.csv", "objects whose copy failed, with the reason (failed.csv)");
    await copy(keys.failure, "failure.json", "why the run failed (failure.json)");
    if (run.plan) {
      const planText = await copy(
        run.plan.planKey,
        "plan.json",
        "the plan, with its tally of the inventory (plan.json)",
      );
      planFile = planText === undefined ? undefined : parseFile(PlanFileSchema, planText, uri(run.plan.planKey));
      await copy(
        planKeys(run.plan.planPrefix).skipped,
        "skipped.csv",
        "objects the plan left as they were, with the reason (skipped.csv)",
      );
    }
  } else {
    absent.push({
      what: "the run's folder in the work bucket",
      why: `the run ended ${run.status} in "${StateNames.validateInput}", before it had one: this bundle exists only where rekey evidence wrote it`,
    });
  }
  checksums.push(...copied.map((c) => c.entry));
  if (!report)
    absent.push({
      what: "the final report",
      why: missingBecause(run, history, { done: "wrote its final report", notYet: "written its final report" }),
    });
  if (!planFile)
    absent.push({
      what: "before: the inventory's counts",
      why: missingBecause(run, history, { done: "planned", notYet: "planned" }),
    });
  if (!check)
    absent.push({
      what: "after: the independent check of the bucket",
      why: missingBecause(run, history, { done: "checked the bucket", notYet: "checked the bucket" }),
    });

  if (context && run.plan) {
    for (const m of run.plan.manifests) {
      const found = await head(clients, context.workBucket, m.key);
      const role = `copy manifest (${workLabel(m)}, ${m.objects} object(s))`;
      if (!found) absent.push({ what: `${role} ${uri(m.key)}`, why: "it is no longer in the work bucket" });
      else
        checksums.push({
          role,
          uri: uri(m.key),
          ...found,
          plannedEtag: m.etag,
          source: "s3-etag",
          basis: MANIFEST_BASIS,
        });
    }
    const large = run.plan.largeObjects;
    if (large) {
      const found = await head(clients, context.workBucket, large.key);
      const role = `list of the objects rekey copied itself (${large.objects} object(s))`;
      if (found)
        checksums.push({
          role,
          uri: uri(large.key),
          ...found,
          source: "s3-etag",
          basis: "Not copied. ETag as S3 answered it; S3's own checksum when it keeps one.",
        });
    }
  }

  const accountId = context?.accountId ?? executionArn.split(":")[4] ?? "";
  const jobs: EvidenceJob[] = [];
  const units = verification
    ? verification.tally.jobs
    : (run.jobs?.jobs ?? []).map((j) => ({ ...j, redrive: j.redriveOf !== undefined }));
  for (const unit of units) {
    const job: EvidenceJob = {
      jobId: unit.jobId,
      work: workLabel(unit),
      ...(unit.attempt === undefined ? {} : { attempt: unit.attempt }),
      ...(unit.redriveOf === undefined ? {} : { redriveOf: unit.redriveOf }),
    };
    try {
      const d = await describeJob(clients.s3control, accountId, unit.jobId);
      if (d?.Status) job.status = d.Status;
      if (d?.RoleArn) job.roleArn = d.RoleArn;
      if (d?.StatusUpdateReason) job.statusUpdateReason = d.StatusUpdateReason;
    } catch (err) {
      // S3 Control forgets a job some time after it ends; the completion report below still stands for it.
      if (!isUnknownJob(err)) throw err;
    }
    if (context && run.plan) {
      const manifestKey = planReportManifestKey(run.plan.planPrefix, unit.jobId);
      const files = await reportResultFiles(context.workBucket, manifestKey, { clients });
      if (!files) {
        job.report = { missing: `no completion report at ${uri(manifestKey)}` };
      } else {
        job.report = { manifestUri: uri(manifestKey), files: files.length };
        const found = await head(clients, context.workBucket, manifestKey);
        checksums.push({
          role: `completion report manifest of job ${unit.jobId}`,
          uri: uri(manifestKey),
          ...found,
          source: "s3-etag",
          basis: REPORT_MANIFEST_BASIS,
        });
        for (const f of files) {
          checksums.push({
            role: `completion report of job ${unit.jobId} (${f.taskStatus} tasks)`,
            uri: `s3://${f.bucket}/${f.key}`,
            bytes: f.size,
            md5: f.md5,
            source: "batch-report-md5",
            basis: RESULT_FILE_BASIS,
          });
        }
      }
    }
    jobs.push(job);
  }

  const requireApproval =
    // The context comes from the history as the steps passed it on, not through its schema: read it with care.
    context?.options?.requireApproval ??
    (input.options as { requireApproval?: unknown } | undefined)?.requireApproval === true;
  const evidence: RunEvidence = {
    evidenceVersion: EVIDENCE_VERSION,
    run: {
      executionArn,
      name: run.name,
      status: run.status,
      ...(run.startDate ? { startedAt: run.startDate.toISOString() } : {}),
      ...(run.stopDate ? { stoppedAt: run.stopDate.toISOString() } : {}),
      ...(run.currentState ? { currentState: run.currentState } : {}),
      ...(history.failedIn ? { failedIn: history.failedIn } : {}),
      ...(run.error ? { error: run.error } : {}),
      ...(run.cause ? { cause: run.cause } : {}),
      ...(history.executionRoleArn ? { executionRoleArn: history.executionRoleArn } : {}),
    },
    outcome: outcomeOf(run, report),
    bucket,
    kmsKeyArn,
    ...(context ? { region: context.region } : {}),
    ...(accountId ? { accountId } : {}),
    ...(context
      ? {
          runFolder: evidenceOf(run)?.runFolder ?? uri(context.runPrefix),
          evidenceFolder: uri(evidencePrefix(context.runPrefix)),
        }
      : {}),
    input,
    approval: approvalOf(run, requireApproval, history),
    preflightWarnings: (run.preflight?.warnings ?? []).map((w) => ({ code: w.code, message: w.message, fix: w.fix })),
    ...(run.preflight?.facts ? { preflightFacts: { ...run.preflight.facts } } : {}),
    ...(planFile
      ? {
          plannedFrom: {
            manifestKey: planFile.inventoryManifestKey,
            createdAt: planFile.inventoryCreatedAt,
            ...(planFile.engine ? { engine: planFile.engine.name } : {}),
          },
          before: beforeCounts(planFile, context?.source === "generate" ? "generated-lists" : "inventory"),
        }
      : {}),
    ...(check ? { after: afterCounts(check) } : {}),
    ...(report ? { totals: report.totals } : {}),
    ...(verification || report
      ? {
          verification: {
            ...(verification
              ? {
                  spotCheck: {
                    checked: verification.spotCheck.checked,
                    mismatches: verification.spotCheck.mismatches.length,
                  },
                }
              : {}),
            ...(report ? { reconciliation: report.reconciliation } : {}),
            warnings: report?.warnings ?? [],
          },
        }
      : {}),
    skipped: report
      ? report.skipped.map((s) => ({ ...s, sampleKeys: [...s.sampleKeys] }))
      : planFile
        ? skippedOf(planFile)
        : [],
    failed: (report?.failed ?? []).map((f) => ({
      category: f.category,
      summary: f.summary,
      count: f.count,
      whatToDo: f.whatToDo,
    })),
    jobs,
    checksums,
    absent,
  };
  return { evidence, copied: copied.map((c) => c.file) };
}
