import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { CreateJobCommand, type JobDescriptor } from "@aws-sdk/client-s3-control";
import { z } from "zod";
import type { CandidatesNotReady, FoundCandidates } from "../../contract/candidates.ts";
import { BatchJobFailedError, InventoryNotReadyError, UnexpectedResponseError } from "../../contract/errors.ts";
import { bucketArn, type RunContext } from "../../contract/run-context.ts";
import { CANDIDATE_LISTS, type CandidateList } from "../domain/candidates.ts";
import { nextInventoryPollSeconds } from "../domain/polling.ts";
import type { StepDeps } from "../runtime/step.ts";
import { copyOperation, updateEncryptionOperation } from "./batch-job-requests.ts";
import {
  CANCELLABLE_STATUSES,
  cancelJob,
  describeCreatedJob,
  describesUnitJob,
  FAILED_JOB_STATUSES,
  failureReasonsOf,
  jobDescription,
  jobsOfPlan,
  jobToken,
  LIST_FINAL_STATUSES,
} from "./batch-jobs.ts";
import { getTextIfExists, httpStatusOf, putJson } from "./s3-io.ts";

/** Where the generator writes a list: under the run prefix, one folder per list. */
export function candidatePrefix(run: Pick<RunContext, "runPrefix">, list: Pick<CandidateList, "name">): string {
  return `${run.runPrefix}candidates/${list.name}`;
}

/** Where the run records its list jobs once they are created, so later polls describe them instead. */
export function candidateJobsKey(run: Pick<RunContext, "runPrefix">): string {
  return `${run.runPrefix}candidates/jobs.json`;
}

const CandidateJobsSchema = z.object({
  /** When the jobs were created (recorded since the registration grace needs it; older records have none). */
  createdAt: z.string().optional(),
  jobs: z.array(z.object({ list: z.string(), jobId: z.string().min(1) })),
});

/**
 * Creates one Batch Operations job per candidate list with a manifest generator and ConfirmationRequired, so each
 * lists its objects and then waits for a confirmation that never comes; once every list is written, cancels the
 * jobs. Nothing in the bucket is touched: the jobs are cancelled before any task runs. The jobs are created once
 * per run (by request token, so a retry after a crash gets the same jobs back) and their ids recorded in the work
 * bucket; every later poll only describes them, because how long AWS honours a ClientRequestToken is not
 * documented and the polls go on for up to inventoryWaitSeconds. The step loops like "Find inventory", with the
 * same growing wait and deadline.
 */
export async function findCandidateLists(
  run: RunContext,
  defaultEncryption: { enforcedAt: string },
  deps: StepDeps,
): Promise<FoundCandidates | CandidatesNotReady> {
  const found = await generateLists(
    run,
    {
      lists: CANDIDATE_LISTS,
      jobsKey: candidateJobsKey(run),
      startedAt: defaultEncryption.enforcedAt,
      enforcedAt: defaultEncryption.enforcedAt,
    },
    deps,
  );
  return found.found ? { found: true, source: "generate", lists: found.lists } : found;
}

/** A set of lists one step has the manifest generator write, and when the step began waiting for them. */
export interface ListSet {
  lists: readonly CandidateList[];
  /** Where the set's job ids are recorded once created. */
  jobsKey: string;
  /** The wait for the lists ends inventoryWaitSeconds after this. */
  startedAt: string;
  /** When default encryption was enforced (the copy operation's unmodified-since guard of a copy list). */
  enforcedAt: string;
}

/**
 * The generated lists of a set (findCandidateLists, or the bucket check after the jobs,
 * steps/aws/bucket-check.ts): each job created once, polled until its list is written, then cancelled.
 */
export async function generateLists(
  run: RunContext,
  set: ListSet,
  deps: StepDeps,
): Promise<{ found: true; lists: FoundCandidates["lists"] } | CandidatesNotReady> {
  const { log, now } = deps;
  const jobs: { list: CandidateList; jobId: string; job: JobDescriptor | undefined }[] = [];
  const { ids, createdAt } = await listJobIds(run, set, deps);
  for (const list of set.lists) {
    const jobId = ids.get(list.name) ?? "";
    const job = await describeCreatedJob(deps.clients.s3control, run.accountId, jobId, createdAt, now());
    jobs.push({ list, jobId, job });
  }

  const failed = jobs.filter(({ job }) => FAILED_JOB_STATUSES.has(job?.Status ?? "") && !listedNothing(job));
  if (failed.length > 0) {
    // The other lists are useless without this one; none of their jobs may be left for someone to confirm.
    await cancelAll(run, jobs, deps);
    const reasons = failed.map(
      ({ list, jobId, job }) => `${list.name} (job ${jobId}): ${failureReasonsOf(job).join("; ")}`,
    );
    throw new BatchJobFailedError(`The manifest generator could not list the bucket: ${reasons.join(" | ")}`, {
      jobId: failed[0]?.jobId ?? "",
      fix: "Check that the Batch Operations role may list the bucket (s3:ListBucket) and write to the work bucket's runs/ prefix, then start a new run; or give an inventory configuration instead (source: inventory).",
    });
  }
  const pending = jobs.filter(
    ({ job }) =>
      !(job && (generatedManifestOf(job) || LIST_FINAL_STATUSES.has(job.Status ?? "") || listedNothing(job))),
  );
  if (pending.length > 0) {
    const enforcedAt = Date.parse(set.startedAt);
    const deadline = enforcedAt + run.options.inventoryWaitSeconds * 1000;
    const checkedAt = now().getTime();
    if (checkedAt >= deadline) {
      await cancelAll(run, jobs, deps);
      throw new InventoryNotReadyError(
        `Batch Operations had not finished listing ${run.bucket} after ${run.options.inventoryWaitSeconds / 3600} hours (still listing: ${pending.map((p) => p.list.name).join(", ")}).`,
        {
          deliveredAfter: new Date(enforcedAt),
          fix: "Check the list jobs in the S3 console (Batch Operations); start a new run, or plan from an S3 Inventory instead (source: inventory).",
        },
      );
    }
    const waitSeconds = nextInventoryPollSeconds({
      waitedSeconds: (checkedAt - enforcedAt) / 1000,
      pollSeconds: run.options.jobPollMinSeconds,
      secondsToDeadline: (deadline - checkedAt) / 1000,
    });
    log.info("candidate lists being generated", {
      bucket: run.bucket,
      pending: pending.map((p) => p.list.name),
      waitSeconds,
    });
    return { found: false, waitSeconds, pending: pending.map((p) => p.list.name) };
  }

  await cancelAll(run, jobs, deps);
  const lists: FoundCandidates["lists"] = [];
  for (const { list, jobId, job } of jobs) {
    const manifest = job && generatedManifestOf(job);
    // A job that matched nothing may write an empty list, write none and complete, or fail saying there is nothing
    // to process (AWS does not document which; listedNothing): an empty list each time.
    if (manifest) lists.push({ name: list.name, jobId, ...manifest });
    else log.info("candidate list is empty", { bucket: run.bucket, list: list.name, jobId, status: job?.Status });
  }
  log.info("candidate lists generated", { bucket: run.bucket, lists: lists.length });
  return { found: true, lists };
}

/**
 * A set's list jobs by list name and when they were created: as recorded, or found by their description
 * (ListJobs) or created now and recorded. A job is looked for before CreateJob is sent, because how long AWS honours
 * a ClientRequestToken is not documented: an expired token would make a second job for the same list.
 */
async function listJobIds(
  run: RunContext,
  set: ListSet,
  deps: StepDeps,
): Promise<{ ids: Map<string, string>; createdAt: string | undefined }> {
  const { clients, config, now, log } = deps;
  const recorded = await getTextIfExists(clients.s3, run.workBucket, set.jobsKey);
  if (recorded !== undefined) {
    const parsed = CandidateJobsSchema.safeParse(JSON.parse(recorded));
    const ids = new Map(parsed.data?.jobs.map((j) => [j.list, j.jobId]));
    if (set.lists.every((list) => ids.has(list.name))) return { ids, createdAt: parsed.data?.createdAt };
  }
  const createdAt = now().toISOString();
  const earlier = await jobsOfPlan(clients.s3control, run.accountId, run.bucket, run.runPrefix);
  const ids = new Map<string, string>();
  for (const list of set.lists) {
    const found = earlier.find((j) => describesUnitJob(j.Description, run.bucket, run.runPrefix, listUnit(list)));
    if (found?.JobId) {
      log.info("list job found", { bucket: run.bucket, list: list.name, jobId: found.JobId, status: found.Status });
      ids.set(list.name, found.JobId);
      continue;
    }
    const created = await clients.s3control.send(
      new CreateJobCommand(listJobRequest(run, list, config.batchRoleArn, set.enforcedAt)),
    );
    if (!created.JobId) {
      throw new UnexpectedResponseError(`CreateJob for candidate list ${list.name} returned no JobId.`, {
        fix: "Start the run again: CreateJob is idempotent by its request token, so no second list job is made.",
      });
    }
    ids.set(list.name, created.JobId);
  }
  await putJson(clients.s3, run.workBucket, set.jobsKey, {
    createdAt,
    jobs: [...ids].map(([list, jobId]) => ({ list, jobId })),
  });
  return { ids, createdAt };
}

/**
 * A list job that failed because its filter matched nothing, which AWS may report as a failure (a public report,
 * https://github.com/aws/aws-cli/issues/7830, shows such a job Failed at 0 tasks; AWS documents neither that nor
 * the wording). Only a failure that ran no task and whose every reason says there was nothing to list or process
 * counts; any other failure (access, a missing bucket) fails the run.
 */
export function listedNothing(job: JobDescriptor | undefined): boolean {
  if (!job || !FAILED_JOB_STATUSES.has(job.Status ?? "")) return false;
  const p = job.ProgressSummary;
  if ((p?.NumberOfTasksSucceeded ?? 0) + (p?.NumberOfTasksFailed ?? 0) > 0) return false;
  const reasons = job.FailureReasons ?? [];
  return (
    reasons.length > 0 &&
    reasons.every((r) => NOTHING_TO_PROCESS.test(`${r.FailureCode ?? ""} ${r.FailureReason ?? ""}`))
  );
}

/** Phrasings of "the list is empty" in a failure reason. */
const NOTHING_TO_PROCESS =
  /\b(no|zero|0) (matching )?(objects|tasks|keys)\b|nothing to (process|list)|(manifest|list) (is|was) empty|empty (manifest|list)|did not match any|matched no\b/i;

/** Cancels every list job that could still run a task; idempotent (cancelled jobs are skipped). */
async function cancelAll(
  run: RunContext,
  jobs: { jobId: string; job: JobDescriptor | undefined }[],
  { clients }: StepDeps,
): Promise<void> {
  for (const { jobId, job } of jobs) {
    if (!job || !CANCELLABLE_STATUSES.has(job.Status ?? "")) continue;
    await cancelJob(
      clients.s3control,
      run.accountId,
      jobId,
      "rekey read the generated list; the job itself is not run",
    );
  }
}

function listJobRequest(run: RunContext, list: CandidateList, roleArn: string, enforcedAt: string) {
  return {
    AccountId: run.accountId,
    ConfirmationRequired: true,
    // The operation the route would run, never confirmed: should someone confirm it by hand, it does what rekey
    // would do to those objects (or fails harmlessly: S3 refuses encryption updates of unencrypted, SSE-C and
    // DSSE-KMS objects).
    Operation:
      list.route.kind === "copy"
        ? copyOperation(run, list.route.storageClass, enforcedAt)
        : updateEncryptionOperation(run),
    Report: { Enabled: false },
    // Keyed by run: every execution lists the bucket afresh; a retry gets the same job back.
    ClientRequestToken: jobToken(run.runPrefix, listUnit(list), 0),
    Priority: run.options.jobPriority,
    RoleArn: roleArn,
    Description: jobDescription(run, run.runPrefix, listUnit(list)),
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

/** How list jobs name their unit of work in tokens and descriptions. */
function listUnit(list: CandidateList): string {
  return `list ${list.name}`;
}

function generatedManifestOf(job: JobDescriptor): { bucket: string; manifestKey: string } | undefined {
  const arn = job.GeneratedManifestDescriptor?.Location?.ObjectArn;
  const m = arn ? /^arn:[^:]+:s3:::([^/]+)\/(.+)$/.exec(arn) : null;
  return m?.[1] && m[2] ? { bucket: m[1], manifestKey: m[2] } : undefined;
}

/**
 * The keys of one generated list. AWS does not say whether the manifest generator's CSV percent-encodes keys, as S3
 * Inventory does, or writes them as they are. A key that reads the same either way needs nothing; one that does
 * not decode was written as it is; for the others (`keyAsWritten` set: `%` or `+` in the text) the bucket decides:
 * the first such key that exists under one reading only settles the list's reading, and until then each is looked
 * up (the decoded key when both or neither exist: a key gone since listing is gone under either reading).
 */
export class GeneratedListKeys {
  private reading: "encoded" | "as-written" | undefined;

  constructor(
    private readonly run: Pick<RunContext, "bucket">,
    private readonly deps: Pick<StepDeps, "clients" | "log">,
  ) {}

  /** Each row's real key, in order. */
  async keysOf(rows: readonly { key: string; keyAsWritten?: string | undefined }[]): Promise<string[]> {
    const keys: string[] = [];
    for (const row of rows) {
      if (row.keyAsWritten === undefined) keys.push(row.key);
      else keys.push(await this.resolve(row.key, row.keyAsWritten));
    }
    return keys;
  }

  private async resolve(decoded: string, asWritten: string): Promise<string> {
    if (this.reading === "encoded") return decoded;
    if (this.reading === "as-written") return asWritten;
    const [decodedExists, writtenExists] = await Promise.all([this.exists(decoded), this.exists(asWritten)]);
    if (decodedExists !== writtenExists) {
      this.reading = decodedExists ? "encoded" : "as-written";
      this.deps.log.info("generated list key encoding", { bucket: this.run.bucket, reading: this.reading });
    }
    return writtenExists && !decodedExists ? asWritten : decoded;
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.deps.clients.s3.send(new HeadObjectCommand({ Bucket: this.run.bucket, Key: key }));
      return true;
    } catch (err) {
      if (httpStatusOf(err) === 404) return false;
      throw err;
    }
  }
}
