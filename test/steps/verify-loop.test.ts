import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Jobs, Plan, PlanSlice } from "../../contract/plan.ts";
import { type RunContext, runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { type ReportSlicing, type Verification, VerificationFileSchema } from "../../contract/verification.ts";
import { sandboxBatchRoleArn } from "../../local/deploy.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { reportSliceItems, verifyInProcess } from "../../local/verify-in-process.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { ReportFilesSchema, SliceProgressSchema, SliceResultSchema } from "../../steps/aws/verify-slices.ts";
import { readReports } from "../../steps/handlers/read-completion-reports.ts";
import { sliceReports } from "../../steps/handlers/slice-the-completion-reports.ts";
import { verifyResults } from "../../steps/handlers/verify-results.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * Verification fanned out, on the completion reports of a real run in the sandbox: "Slice the completion reports",
 * each slice's "Read completion reports" called again while it stops at its time budget, then "Verify results". One
 * slice read in one invocation, and one slice per result file read one row per invocation (a budget of 0 ms and one
 * row per segment), end with the same verification.json, failed.csv (byte for byte) and tally, also when invocations
 * fail before saving their progress and run again, and when a slice is run again after it was verified. The run's
 * reports hold succeeded rows, denied rows (failed.csv), and 404 rows that wait for HeadObject: one of an object
 * deleted after planning (gone), one of an object that is still there (a failure).
 */
describe("verification in slices, across invocations", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let input: { run: RunContext; plan: Plan; jobs: Jobs; largeCopy?: { done: true; batchKey?: string } };
  let single: Verified;

  interface Verified {
    out: Verification;
    file: unknown;
    failedCsv: string;
    invocations: number;
    slicing: ReportSlicing;
  }

  const deps = () => ({
    clients,
    config: { batchRoleArn: sandboxBatchRoleArn(sandbox.identity) },
    log: silentLogger,
    now: () => new Date(),
  });
  const runAt = (name: string): RunContext => ({ ...input.run, runPrefix: `runs/${scenario.bucket}/${name}/` });
  const read = async (run: RunContext, out: Verification, slicing: ReportSlicing, invocations: number) => {
    const file = VerificationFileSchema.parse(
      JSON.parse(await getText(clients.s3, run.workBucket, out.verificationKey)),
    );
    const failedCsv = await getText(clients.s3, run.workBucket, runKeys(run).failed);
    return { out, file, failedCsv, invocations, slicing };
  };
  const verify = async (name: string, options: Parameters<typeof verifyInProcess>[2] = {}): Promise<Verified> => {
    const run = runAt(name);
    const { verification, reportSlicing, invocations } = await verifyInProcess({ ...input, run }, deps(), options);
    return read(run, verification, reportSlicing, invocations);
  };
  /** The verification without its key (each run's own prefix). */
  const comparable = ({ out, file, failedCsv }: Verified) => ({
    out: { ...out, verificationKey: "" },
    file,
    failedCsv,
  });
  const keysUnder = async (prefix: string) =>
    (await clients.s3.send(new ListObjectsV2Command({ Bucket: input.run.workBucket, Prefix: prefix }))).Contents ?? [];

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
        if (e.type === "StateEntered" && e.state.name === StateNames.sliceReports) {
          const s = e.state.input as typeof input & Record<string, unknown>;
          input = { run: s.run, plan: s.plan, jobs: s.jobs, ...(s.largeCopy ? { largeCopy: s.largeCopy } : {}) };
        }
      },
      beforeStep: {
        [StateNames.createCopyJobs]: async () => {
          await clients.s3.send(new DeleteObjectCommand({ Bucket: scenario.bucket, Key: deleted }));
        },
      },
    });
    single = await verify("single");
  }, 180_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  it("reads every row in one slice and one invocation without a budget, failures and checked rows included", async () => {
    expect(single.slicing.slices).toBe(1);
    expect(single.slicing.files).toBeGreaterThan(2);
    expect(single.invocations).toBe(1);
    const tally = VerificationFileSchema.parse(single.file).tally;
    expect(tally.jobs.length).toBeGreaterThan(1);
    expect(tally.jobs.every((j) => j.reported)).toBe(true);
    expect(tally.jobs.reduce((n, j) => n + j.gone, 0)).toBe(1);
    expect(single.failedCsv.trimEnd().split("\n")).toHaveLength(4);
    expect(single.failedCsv).toMatch(/missing-but-present/);
    // The slices' files are gone once verification.json holds them.
    expect(await keysUnder(runKeys(runAt("single")).verifyPrefix)).toEqual([]);
  });

  it("ends with the same verification, failed.csv and tally with one slice per result file, each read one row an invocation", async () => {
    const looped = await verify("one-row-each", { sliceTargetBytes: 1, timeBudgetMs: 0, segmentBytes: 1 });
    expect(looped.slicing.slices).toBe(single.slicing.files);
    const tally = VerificationFileSchema.parse(single.file).tally;
    const rows = tally.jobs.reduce((n, j) => n + j.manifestRows, 0);
    // One invocation per row: each reads its row and stops before the next, the last of a slice ends it.
    expect(looped.invocations).toBe(rows);
    expect(comparable(looped)).toEqual(comparable(single));
  });

  it("counts no row twice when invocations fail after reading rows and before saving, and are run again", async () => {
    const run = runAt("failing");
    const slicing = await invokeStep(sliceReports, { ...input, run, sliceTargetBytes: 1 }, deps());
    const slices = await reportSliceItems(slicing, run, deps());
    expect(slices.length).toBeGreaterThan(2);
    let invocations = 0;
    let failures = 0;
    for (const slice of slices) {
      const keys = runKeys(run).reportSlice(slice.index);
      for (let n = 0; n < 1_000; n++) {
        invocations += 1;
        const failing = invocations % 3 === 0;
        // The invocation reads its row, writes its part of failed.csv, and cannot save its progress.
        if (failing) {
          await admin.addFaults({
            service: "s3",
            operation: "PutObject",
            bucket: run.workBucket,
            key: keys.progress,
            count: 1,
            error: "accessDenied",
          });
        }
        const attempt = invokeStep(
          readReports,
          { run, reportSlicing: slicing, slice, timeBudgetMs: 0, segmentBytes: 1 },
          deps(),
        );
        if (failing) {
          const outcome = await attempt.then(
            (result) => ({ result }),
            (error: unknown) => ({ error }),
          );
          const injected = (await admin.faults()).some((f) => f.key === keys.progress && f.injected > 0);
          await admin.clearFaults();
          if (injected) {
            expect(outcome).toHaveProperty("error");
            failures += 1;
            continue;
          }
          // The slice ended without saving progress again: nothing was injected, and the invocation succeeded.
          if (!("result" in outcome)) throw outcome.error;
          if (!("verifying" in outcome.result)) break;
          continue;
        }
        if (!("verifying" in (await attempt))) break;
      }
      await admin.clearFaults();
    }
    expect(failures).toBeGreaterThan(5);
    const out = await invokeStep(verifyResults, { ...input, run, reportSlicing: slicing }, deps());
    const looped = await read(run, out, slicing, invocations);
    expect(comparable(looped)).toEqual(comparable(single));
  });

  it("counts a slice verified twice once, and hands on the same verification when Verify results runs again", async () => {
    const run = runAt("twice");
    const slicing = await invokeStep(sliceReports, { ...input, run, sliceTargetBytes: 1 }, deps());
    const slices: PlanSlice[] = await reportSliceItems(slicing, run, deps());
    const readSlice = (slice: PlanSlice) => invokeStep(readReports, { run, reportSlicing: slicing, slice }, deps());
    for (const slice of slices) expect(await readSlice(slice)).toMatchObject({ slice: slice.index });
    const first = slices[0] as PlanSlice;
    const resultKey = runKeys(run).reportSlice(first.index).result;
    const before = await getText(clients.s3, run.workBucket, resultKey);
    // A Map Run retried starts the slice's execution again: it returns at once, counting nothing again and reading
    // none of its report files (a read would fail here).
    const listed = ReportFilesSchema.parse(JSON.parse(await getText(clients.s3, run.workBucket, slicing.filesKey)));
    for (const f of listed.files.slice(first.from, first.to)) {
      await admin.addFaults({
        service: "s3",
        operation: "GetObject",
        bucket: f.bucket,
        key: f.key,
        count: 1,
        error: "accessDenied",
      });
    }
    expect(await readSlice(first)).toEqual({
      slice: first.index,
      rows: SliceResultSchema.parse(JSON.parse(before)).rows,
    });
    expect(await getText(clients.s3, run.workBucket, resultKey)).toBe(before);
    expect((await admin.faults()).every((f) => f.injected === 0)).toBe(true);
    await admin.clearFaults();
    expect(
      (await keysUnder(runKeys(run).reportSlice(first.index).failedPart(2))).map((o) => o.Key),
      "a second failed.csv part",
    ).toEqual([]);
    const out = await invokeStep(verifyResults, { ...input, run, reportSlicing: slicing }, deps());
    expect(comparable(await read(run, out, slicing, 0))).toEqual(comparable(single));
    const again = await invokeStep(verifyResults, { ...input, run, reportSlicing: slicing }, deps());
    expect(again).toEqual(out);
    expect(comparable(await read(run, again, slicing, 0))).toEqual(comparable(single));
  });

  it("refuses a report file that changed between two invocations reading it", async () => {
    const run = runAt("changed");
    const slicing = await invokeStep(sliceReports, { ...input, run, sliceTargetBytes: 1 }, deps());
    const listed = ReportFilesSchema.parse(JSON.parse(await getText(clients.s3, run.workBucket, slicing.filesKey)));
    // The slice of the file with the most rows.
    let index = 0;
    for (const [i, f] of listed.files.entries()) if (f.size > (listed.files[index]?.size ?? 0)) index = i;
    const slice = (await reportSliceItems(slicing, run, deps())).find((s) => s.from <= index && index < s.to);
    if (!slice) throw new Error("no slice holds the largest file");
    const step = () =>
      invokeStep(readReports, { run, reportSlicing: slicing, slice, timeBudgetMs: 0, segmentBytes: 1 }, deps());
    // A few rows into the file.
    for (let i = 0; i < 2; i++) expect(await step()).toHaveProperty("verifying");
    const progress = SliceProgressSchema.parse(
      JSON.parse(await getText(clients.s3, run.workBucket, runKeys(run).reportSlice(slice.index).progress)),
    );
    expect(progress.cursor.offset).toBeGreaterThan(0);
    const file = listed.files[slice.from + progress.cursor.file];
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
          if (!("verifying" in (await step()))) break;
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
