import { createHash } from "node:crypto";
import {
  CreateJobCommand,
  DescribeJobCommand,
  type JobDescriptor,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import { z } from "zod";
import { failureReasonsOf } from "./check-copy-jobs.ts";
import { copyOperation, updateEncryptionOperation } from "./create-copy-jobs.ts";
import { CANDIDATE_LISTS, type CandidateList } from "./domain/candidates.ts";
import { BatchJobFailedError } from "./errors.ts";
import { bucketArn, type RunContext } from "./run-context.ts";
import type { StepDeps } from "./step.ts";

/** The generated manifests of one run, ready to plan from. */
export const FoundCandidatesSchema = z.object({
  found: z.literal(true),
  source: z.literal("generate"),
  lists: z.array(z.object({ name: z.string(), jobId: z.string(), bucket: z.string(), manifestKey: z.string().min(1) })),
});
export type FoundCandidates = z.infer<typeof FoundCandidatesSchema>;

export interface CandidatesNotReady {
  found: false;
  waitSeconds: number;
  /** Lists still being generated, by name. */
  pending: string[];
}

/** Where the generator writes a list: under the run prefix, one folder per list. */
export function candidatePrefix(run: Pick<RunContext, "runPrefix">, list: Pick<CandidateList, "name">): string {
  return `${run.runPrefix}candidates/${list.name}`;
}

/** Job statuses in which a generated manifest, once written, stays readable and the job runs no task of ours. */
const LIST_READY = new Set(["Suspended", "Cancelling", "Cancelled"]);

/**
 * Creates (idempotently, by token) one Batch Operations job per candidate list with a manifest generator and
 * ConfirmationRequired, so each lists its objects and then waits for a confirmation that never comes; once every
 * list is written, cancels the jobs. Nothing in the bucket is touched: the jobs are cancelled before any task runs.
 * Each call re-sends the same CreateJob requests (same token, same job) and reads the jobs' states, so the step can
 * be retried and looped on like "Find inventory".
 */
export async function findCandidateLists(
  run: RunContext,
  { clients, config, log }: StepDeps,
): Promise<FoundCandidates | CandidatesNotReady> {
  const jobs: { list: CandidateList; job: JobDescriptor }[] = [];
  for (const list of CANDIDATE_LISTS) {
    const created = await clients.s3control.send(new CreateJobCommand(listJobRequest(run, list, config.batchRoleArn)));
    if (!created.JobId) throw new Error(`CreateJob for candidate list ${list.name} returned no JobId`);
    const { Job: job } = await clients.s3control.send(
      new DescribeJobCommand({ AccountId: run.accountId, JobId: created.JobId }),
    );
    if (!job) throw new Error(`DescribeJob ${created.JobId} returned no job`);
    jobs.push({ list, job });
  }

  const failed = jobs.filter(({ job }) => job.Status === "Failed" || job.Status === "Failing");
  if (failed.length > 0) {
    const reasons = failed.map(
      ({ list, job }) => `${list.name} (job ${job.JobId}): ${failureReasonsOf(job).join("; ")}`,
    );
    throw new BatchJobFailedError(`The manifest generator could not list the bucket: ${reasons.join(" | ")}`, {
      jobId: failed[0]?.job.JobId ?? "",
      fix: "Check that the Batch Operations role may list the bucket (s3:ListBucket) and write to the work bucket's runs/ prefix, then start a new run; or give an inventory configuration instead (source: inventory).",
    });
  }
  const pending = jobs.filter(({ job }) => !(LIST_READY.has(job.Status ?? "") && generatedManifestOf(job)));
  if (pending.length > 0) {
    const waitSeconds = run.options.jobPollMinSeconds;
    log.info("candidate lists being generated", {
      bucket: run.bucket,
      pending: pending.map((p) => p.list.name),
      waitSeconds,
    });
    return { found: false, waitSeconds, pending: pending.map((p) => p.list.name) };
  }

  const lists: FoundCandidates["lists"] = [];
  for (const { list, job } of jobs) {
    if (job.Status === "Suspended") {
      await clients.s3control.send(
        new UpdateJobStatusCommand({
          AccountId: run.accountId,
          JobId: job.JobId,
          RequestedJobStatus: "Cancelled",
          StatusUpdateReason: "rekey read the generated list; the job itself is not run",
        }),
      );
    }
    const manifest = generatedManifestOf(job);
    if (!manifest) throw new Error(`Job ${job.JobId} has no generated manifest`);
    lists.push({ name: list.name, jobId: job.JobId ?? "", ...manifest });
  }
  log.info("candidate lists generated", { bucket: run.bucket, lists: lists.length });
  return { found: true, source: "generate", lists };
}

function listJobRequest(run: RunContext, list: CandidateList, roleArn: string) {
  return {
    AccountId: run.accountId,
    ConfirmationRequired: true,
    // The operation the route would run, never confirmed: should someone confirm it by hand, it does what rekey
    // would do to those objects (or fails harmlessly: S3 refuses encryption updates of unencrypted, SSE-C and
    // DSSE-KMS objects).
    Operation:
      list.route.kind === "copy" ? copyOperation(run, list.route.storageClass) : updateEncryptionOperation(run),
    Report: { Enabled: false },
    ClientRequestToken: createHash("sha256").update(`${run.runPrefix}\ncandidates\n${list.name}`).digest("hex"),
    Priority: run.options.jobPriority,
    RoleArn: roleArn,
    Description: `rekey ${run.bucket} list ${list.name} ${run.runPrefix} (${run.runId})`.slice(0, 256),
    ManifestGenerator: {
      S3JobManifestGenerator: {
        SourceBucket: bucketArn(run.bucket),
        EnableManifestOutput: true,
        ManifestOutputLocation: {
          Bucket: bucketArn(run.workBucket),
          ManifestPrefix: candidatePrefix(run, list),
          ManifestFormat: "S3InventoryReport_CSV_20211130" as const,
          ManifestEncryption: { SSES3: {} },
        },
        Filter: list.filter,
      },
    },
  };
}

function generatedManifestOf(job: JobDescriptor): { bucket: string; manifestKey: string } | undefined {
  const arn = job.GeneratedManifestDescriptor?.Location?.ObjectArn;
  const m = arn ? /^arn:[^:]+:s3:::([^/]+)\/(.+)$/.exec(arn) : null;
  return m?.[1] && m[2] ? { bucket: m[1], manifestKey: m[2] } : undefined;
}
