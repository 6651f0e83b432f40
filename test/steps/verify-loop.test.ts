import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunContext, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { VerificationFileSchema, type VerificationStep } from "../../contract/verification.ts";
import { sandboxBatchRoleArn } from "../../local/deploy.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { planReportManifestKey } from "../../steps/aws/completion-reports.ts";
import { getText, getTextIfExists } from "../../steps/aws/s3-io.ts";
import { VerifyProgressSchema } from "../../steps/aws/verify-progress.ts";
import { parseReportManifest } from "../../steps/domain/completion-report.ts";
import { verifyResults } from "../../steps/handlers/verify-results.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * "Verify results" as a resumable loop, on the completion reports of a real run in the sandbox: with a budget of
 * 0 ms and one row per segment, every invocation reads one row (or starts one job) and saves its progress; the
 * verification it ends with is the one a single invocation gives, also when invocations fail before saving.
 * The run's reports hold succeeded rows, denied rows (failed.csv), and 404 rows that wait for HeadObject: one of an
 * object deleted after planning (gone), one of an object that is still there (a failure).
 */
describe('"Verify results" across invocations', () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let input: { run: RunContext; plan: { planPrefix: string }; jobs: { jobs: { jobId: string }[] } };
  let single: Verified;

  interface Verified {
    out: Extract<VerificationStep, { done: true }>;
    file: unknown;
    failedCsv: string;
    invocations: number;
  }

  const deps = () => ({
    clients,
    config: { batchRoleArn: sandboxBatchRoleArn(sandbox.identity) },
    log: silentLogger,
    now: () => new Date(),
  });
  const runAt = (name: string): RunContext => ({ ...input.run, runPrefix: `runs/${scenario.bucket}/${name}/` });

  /** Invokes the step until done; `beforeEach(i)` may arrange a failure of invocation i (then true). */
  async function verify(
    name: string,
    extra: Record<string, unknown>,
    failing: (i: number) => Promise<boolean> = async () => false,
  ): Promise<Verified> {
    const run = runAt(name);
    let failures = 0;
    for (let i = 1; i < 1_000; i++) {
      const fails = await failing(i);
      const attempt = invokeStep(verifyResults, { ...input, run, ...extra }, deps());
      if (fails) {
        await expect(attempt).rejects.toThrow();
        failures += 1;
        continue;
      }
      const out = await attempt;
      if (!out.done) continue;
      const file = VerificationFileSchema.parse(
        JSON.parse(await getText(clients.s3, run.workBucket, out.verificationKey)),
      );
      const failedCsv = await getText(clients.s3, run.workBucket, runKeys(run).failed);
      return { out, file, failedCsv, invocations: i - failures };
    }
    throw new Error("Verify results never finished");
  }

  /** The verification without what is random (the spot check's sample is drawn anew each time). */
  const comparable = ({ out, file, failedCsv }: Verified) => ({
    out: { ...out, verificationKey: "" },
    file,
    failedCsv,
  });

  beforeAll(async () => {
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "loop-data",
      workBucket: "loop-work",
      objects: 40,
    }));
    const candidates = scenario.keys.filter((k) => k.expectation === "reencrypt").map((k) => k.key);
    const [denied1 = "", denied2 = "", present = "", deleted = ""] = candidates;
    await admin.setBatchTaskFaults([
      ...[denied1, denied2].map((key) => ({
        key,
        httpStatus: 403,
        errorCode: "AccessDenied",
        message: "Access Denied",
      })),
      { key: present, httpStatus: 404, errorCode: "NoSuchKey", message: "The specified key does not exist." },
    ]);
    await runOnScenario({
      sandbox,
      scenario,
      name: "loop-run",
      onEvent: (e) => {
        if (e.type === "StateEntered" && e.state.name === StateNames.verifyResults) {
          const s = e.state.input as typeof input & Record<string, unknown>;
          input = { run: s.run, plan: s.plan, jobs: s.jobs, largeCopy: s.largeCopy } as typeof input;
        }
      },
      beforeStep: {
        [StateNames.createCopyJobs]: async () => {
          await clients.s3.send(new DeleteObjectCommand({ Bucket: scenario.bucket, Key: deleted }));
        },
      },
    });
    single = await verify("single", {});
  }, 180_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  it("reads every row in one invocation without a budget, failures and checked rows included", () => {
    expect(single.invocations).toBe(1);
    const tally = VerificationFileSchema.parse(single.file).tally;
    expect(tally.jobs.length).toBeGreaterThan(1);
    expect(tally.jobs.every((j) => j.reported)).toBe(true);
    expect(tally.jobs.reduce((n, j) => n + j.gone, 0)).toBe(1);
    expect(single.failedCsv.trimEnd().split("\n")).toHaveLength(4);
    expect(single.failedCsv).toMatch(/missing-but-present/);
  });

  it("ends with the same verification and failed.csv when every invocation reads one row", async () => {
    const looped = await verify("one-row-each", { timeBudgetMs: 0, segmentBytes: 1 });
    const tally = VerificationFileSchema.parse(single.file).tally;
    const rows = tally.jobs.reduce((n, j) => n + j.manifestRows, 0);
    // One invocation per job started, per row, and one for the last part.
    expect(looped.invocations).toBeGreaterThanOrEqual(rows + tally.jobs.length + 1);
    expect(comparable(looped)).toEqual(comparable(single));
    const progress = VerifyProgressSchema.parse(
      JSON.parse(await getText(clients.s3, input.run.workBucket, runKeys(runAt("one-row-each")).verifyProgress)),
    );
    expect(progress.invocations).toBe(looped.invocations - 1);
    expect(progress.rows).toBe(rows);
    // Every row that succeeded was offered to the spot check's sample once.
    expect(progress.sample.seen).toBe(tally.jobs.reduce((n, j) => n + j.succeeded, 0));
  });

  it("counts no row twice when invocations fail after reading rows and before saving, and are run again", async () => {
    const run = runAt("failing");
    const failed: number[] = [];
    const looped = await verify("failing", { timeBudgetMs: 0, segmentBytes: 1 }, async (i) => {
      if (i % 3 !== 0) return false;
      // The invocation reads its row, writes its part of failed.csv, and cannot save its progress.
      await admin.addFaults({
        service: "s3",
        operation: "PutObject",
        bucket: run.workBucket,
        key: runKeys(run).verifyProgress,
        count: 1,
        error: "accessDenied",
      });
      failed.push(i);
      return true;
    });
    const faults = await admin.faults();
    expect(faults.filter((f) => f.key === runKeys(run).verifyProgress).map((f) => f.injected)).toEqual(
      failed.map(() => 1),
    );
    expect(failed.length).toBeGreaterThan(5);
    expect(comparable(looped)).toEqual(comparable(single));
    await admin.clearFaults();
  });

  it("refuses a report file that changed between two invocations reading it", async () => {
    const run = runAt("changed");
    const step = () => invokeStep(verifyResults, { ...input, run, timeBudgetMs: 0, segmentBytes: 1 }, deps());
    // Into the first job's report, a few rows in.
    for (let i = 0; i < 4; i++) expect((await step()).done).toBe(false);
    const progress = VerifyProgressSchema.parse(
      JSON.parse((await getTextIfExists(clients.s3, run.workBucket, runKeys(run).verifyProgress)) ?? "{}"),
    );
    expect(progress.cursor.offset).toBeGreaterThan(0);
    const jobId = input.jobs.jobs[progress.cursor.job]?.jobId ?? "";
    const reportKey = planReportManifestKey(input.plan.planPrefix, jobId);
    const report = parseReportManifest(await getText(clients.s3, run.workBucket, reportKey));
    const file = report.results[progress.cursor.file];
    if (!file) throw new Error("no report file at the cursor");
    const original = await getText(clients.s3, file.bucket, file.key);
    try {
      // The rows not read yet are rewritten (same length, same shape): only the MD5 of the whole file can tell.
      const bytes = Buffer.from(original);
      const rest = bytes.subarray(progress.cursor.offset).toString("utf8");
      const changed = Buffer.concat([
        bytes.subarray(0, progress.cursor.offset),
        Buffer.from(rest.replace(/Successful|Denied|exist/g, (m) => m.toUpperCase())),
      ]);
      expect(changed.equals(bytes)).toBe(false);
      expect(changed.length).toBe(bytes.length);
      await clients.s3.send(new PutObjectCommand({ Bucket: file.bucket, Key: file.key, Body: changed }));
      let error: unknown;
      for (let i = 0; i < 1_000 && error === undefined; i++) {
        try {
          if ((await step()).done) break;
        } catch (err) {
          error = err;
        }
      }
      expect(error).toMatchObject({ name: "CompletionReportError", message: expect.stringMatching(/MD5/) });
    } finally {
      await clients.s3.send(new PutObjectCommand({ Bucket: file.bucket, Key: file.key, Body: original }));
    }
  });
});
