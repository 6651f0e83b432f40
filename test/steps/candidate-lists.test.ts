import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { DescribeJobCommand, ListJobsCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CandidatesNotReady, FoundCandidates } from "../../contract/candidates.ts";
import { BatchJobFailedError } from "../../contract/errors.ts";
import { type RunContext, RunOptionsSchema } from "../../contract/run-context.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { sandboxClients } from "../../sandbox/sdk-clients.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { findCandidateLists } from "../../steps/aws/candidate-lists.ts";
import { CANDIDATE_LISTS } from "../../steps/domain/candidates.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import type { StepDeps } from "../../steps/runtime/step.ts";
import { newTestBucket, sandboxWithClients } from "../support/sandbox.ts";

let sandbox: Sandbox;
let clients: AwsClients;
let admin: SandboxAdmin;
let keyArn: string;
const WORK = "candidates-work";

beforeAll(async () => {
  ({ sandbox, clients } = await sandboxWithClients());
  admin = new SandboxAdmin(sandbox.endpoint);
  await clients.s3.send(new CreateBucketCommand({ Bucket: WORK }));
  keyArn = (await clients.kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? "";
});
afterAll(() => sandbox?.close());

function runFor(bucket: string, runId: string): RunContext {
  return {
    runId,
    executionId: `arn:aws:states:us-east-1:${sandbox.identity.accountId}:execution:rekey:${runId}`,
    bucket,
    kmsKeyArn: keyArn,
    region: sandbox.identity.region,
    accountId: sandbox.identity.accountId,
    workBucket: WORK,
    source: "generate",
    runPrefix: `runs/${bucket}/${runId}/`,
    startedAt: new Date().toISOString(),
    options: RunOptionsSchema.parse({ jobPollMinSeconds: 1 }),
  };
}

const deps = (): StepDeps => ({
  clients,
  config: { batchRoleArn: `arn:aws:iam::${sandbox.identity.accountId}:role/rekey-batch` },
  log: silentLogger,
  now: () => new Date(),
});

/**
 * One moment per run, as "Enforce default encryption" gives every call of the run: the list jobs' copy operation
 * carries it, so another moment with the same request token is another request.
 */
const enforcedAt = new Map<string, { enforcedAt: string }>();
function enforcedFor(run: RunContext): { enforcedAt: string } {
  const known = enforcedAt.get(run.runId) ?? { enforcedAt: new Date(Date.now() - 1000).toISOString() };
  enforcedAt.set(run.runId, known);
  return known;
}

/** Calls the step as the state machine's loop does, until it has the lists (or throws). */
async function untilFound(run: RunContext): Promise<{ found: FoundCandidates; polls: CandidatesNotReady[] }> {
  const enforced = enforcedFor(run);
  const polls: CandidatesNotReady[] = [];
  for (let i = 0; i < 200; i++) {
    const r = await findCandidateLists(run, enforced, deps());
    if (r.found) return { found: r, polls };
    polls.push(r);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("the lists never became ready");
}

describe("findCandidateLists", () => {
  it("creates one list job per route, cancels them unrun, and answers the same on every later call", async () => {
    const bucket = await newTestBucket(clients.s3, "cand", { versioned: true });
    await admin.seed(bucket, [
      { key: "plain.txt", body: "p", encryption: { type: "NOT-SSE" } },
      { key: "s3.txt", body: "s", encryption: { type: "SSE-S3" } },
    ]);
    const run = runFor(bucket, "run-1");
    const { found, polls } = await untilFound(run);
    for (const p of polls) expect(p.waitSeconds).toBeGreaterThanOrEqual(1);
    const byName = new Map(found.lists.map((l) => [l.name, l]));
    expect([...byName.keys()].every((n) => CANDIDATE_LISTS.some((l) => l.name === n))).toBe(true);
    expect(byName.get("copy-STANDARD")?.manifestKey).toMatch(
      new RegExp(`^runs/${bucket}/run-1/candidates/copy-STANDARD/`),
    );
    for (const l of found.lists) {
      const { Job: job } = await clients.s3control.send(
        new DescribeJobCommand({ AccountId: run.accountId, JobId: l.jobId }),
      );
      expect(job?.Status, l.name).toMatch(/^Cancell(ing|ed)$/);
      expect(job?.ProgressSummary?.NumberOfTasksSucceeded ?? 0).toBe(0);
    }
    const again = await findCandidateLists(run, enforcedFor(run), deps());
    expect(again).toEqual(found);
    const jobs = (await clients.s3control.send(new ListJobsCommand({ AccountId: run.accountId }))).Jobs ?? [];
    expect(
      jobs.filter((j) => j.Description?.includes(`(${run.runId})`) && j.Description.includes(bucket)),
    ).toHaveLength(CANDIDATE_LISTS.length);
  });

  it("creates the list jobs once per run and only describes them on later polls", async () => {
    const bucket = await newTestBucket(clients.s3, "cand-once", { versioned: true });
    await admin.seed(bucket, [{ key: "plain.txt", body: "p", encryption: { type: "NOT-SSE" } }]);
    const run = runFor(bucket, "run-once");
    const sent: string[] = [];
    const counting: AwsClients = {
      ...clients,
      s3control: sandboxClients({ endpoint: sandbox.endpoint, region: sandbox.identity.region }).s3control,
    };
    counting.s3control.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? "");
        return next(args);
      },
      { step: "initialize" },
    );
    const enforced = { enforcedAt: new Date(Date.now() - 1000).toISOString() };
    const countingDeps = { ...deps(), clients: counting };
    let result = await findCandidateLists(run, enforced, countingDeps);
    for (let i = 0; !result.found && i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      result = await findCandidateLists(run, enforced, countingDeps);
    }
    expect(result.found).toBe(true);
    // The loop may call again after the lists are found (a retried step): still nothing created.
    for (let i = 0; i < 2; i++) expect(await findCandidateLists(run, enforced, countingDeps)).toEqual(result);
    expect(sent.filter((c) => c === "CreateJobCommand")).toHaveLength(CANDIDATE_LISTS.length);
    expect(sent.filter((c) => c === "DescribeJobCommand").length).toBeGreaterThanOrEqual(CANDIDATE_LISTS.length);
  });

  it("fails with BatchJobFailedError naming the lists when the generator cannot list the bucket", async () => {
    const run = runFor("no-such-bucket-for-candidates", "run-missing");
    const error = await untilFound(run).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchJobFailedError);
    // Which lists have failed by the time one is seen depends on timing; the message names each one that has.
    const named = /manifest generator could not list the bucket: ([\w-]+) \(job /.exec((error as Error).message);
    expect(CANDIDATE_LISTS.map((l) => l.name)).toContain(named?.[1]);
    expect((error as Error).message).toMatch(/start a new run; or give an inventory configuration/);
  });

  it.each(["EmptyList", "Failed", "CompleteWithoutManifest"] as const)(
    "takes a list job that matched nothing as an empty list when the generator answers %s",
    async (emptyGeneratorJob) => {
      sandbox.setBehaviours({ emptyGeneratorJob });
      try {
        const bucket = await newTestBucket(clients.s3, "cand-empty", { versioned: true });
        await admin.seed(bucket, [{ key: "plain.txt", body: "p", encryption: { type: "NOT-SSE" } }]);
        const { found } = await untilFound(runFor(bucket, `run-empty-${emptyGeneratorJob}`));
        // One object: every list but the STANDARD copies matched nothing; each reading ends with the same lists.
        const named = found.lists.map((l) => l.name);
        expect(named).toContain("copy-STANDARD");
        if (emptyGeneratorJob !== "EmptyList") expect(named).toEqual(["copy-STANDARD"]);
      } finally {
        sandbox.setBehaviours({ emptyGeneratorJob: "EmptyList" });
      }
    },
  );

  it("waits for a list job S3 Control does not know yet, then fails the run once the grace is over", async () => {
    sandbox.setBehaviours({ jobRegistrationLagMs: 3_600_000, jobRegistrationError: "NoSuchJobException" });
    try {
      const bucket = await newTestBucket(clients.s3, "cand-lag", { versioned: true });
      const run = runFor(bucket, "run-lag");
      const first = await findCandidateLists(run, enforcedFor(run), deps());
      expect(first.found).toBe(false);
      const later = { ...deps(), now: () => new Date(Date.now() + 6 * 60 * 1000) };
      const error = await findCandidateLists(run, enforcedFor(run), later).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BatchJobFailedError);
      expect((error as Error).message).toMatch(/still does not know job .* \(NoSuchJobException\)/);
    } finally {
      sandbox.setBehaviours({ jobRegistrationLagMs: 0 });
    }
  });
});
