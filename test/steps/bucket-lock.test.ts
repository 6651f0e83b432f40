import { ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { StopExecutionCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BucketBusyError } from "../../contract/errors.ts";
import { type BucketLock, bucketLockKey, RunOptionsSchema } from "../../contract/run-context.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { currentBucketLock, releaseBucketLock, takeBucketLock } from "../../steps/aws/bucket-lock.ts";
import { recordFailure } from "../../steps/handlers/record-failure.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { invokeStep } from "../../steps/runtime/invoke.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { runningExecution } from "../support/running-execution.ts";
import { newTestBucket, sandboxWithClients } from "../support/sandbox.ts";

/** The bucket lock (steps/aws/bucket-lock.ts) against the sandbox's S3 and Step Functions, with the real SDK. */
describe("the bucket lock", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let work: string;
  let n = 0;

  beforeAll(async () => {
    ({ sandbox, clients } = await sandboxWithClients());
    // Versioned, like the deployed work bucket (infra/constructs/work-bucket.ts): a released lock is a delete marker.
    work = await newTestBucket(clients.s3, "lock-work", { versioned: true });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  /** A RUNNING execution to hold the lock. */
  async function running(): Promise<BucketLock> {
    const name = `run-${++n}`;
    const { executionArn, startDate } = await runningExecution(clients.sfn, name);
    return { executionArn, runId: name, startedAt: startDate.toISOString() };
  }
  const stop = (holder: BucketLock) =>
    clients.sfn.send(new StopExecutionCommand({ executionArn: holder.executionArn }));
  const take = (bucket: string, holder: BucketLock) => takeBucketLock(clients, work, bucket, holder);
  const lockOf = (bucket: string) => currentBucketLock(clients.s3, work, bucket);
  const lockWrites = async (bucket: string) =>
    (await clients.s3.send(new ListObjectVersionsCommand({ Bucket: work, Prefix: bucketLockKey(bucket) }))).Versions
      ?.length ?? 0;

  async function busyError(p: Promise<unknown>): Promise<BucketBusyError> {
    try {
      await p;
    } catch (err) {
      if (err instanceof BucketBusyError) return err;
      throw err;
    }
    throw new Error("expected BucketBusyError");
  }

  it("is taken once by an execution; the same execution retrying its step has it already", async () => {
    const a = await running();
    await take("retried", a);
    await take("retried", a);
    expect(await lockOf("retried")).toEqual(a);
    expect(await lockWrites("retried")).toBe(1);
  });

  it("refuses another execution while its holder runs, naming the holder and what to do", async () => {
    const a = await running();
    const b = await running();
    await take("busy", a);
    const err = await busyError(take("busy", b));
    expect(err.name).toBe("BucketBusyError");
    expect(err.holder).toBe(a.executionArn);
    expect(err.message).toContain(a.executionArn);
    expect(err.fix).toMatch(/rekey stop/);
    expect(await lockOf("busy")).toEqual(a);
  });

  it("of two executions taking it at once, exactly one wins and the other is told who", async () => {
    const [a, b] = [await running(), await running()];
    const results = await Promise.allSettled([take("race", a), take("race", b)]);
    const winners = results.filter((r) => r.status === "fulfilled");
    expect(winners).toHaveLength(1);
    const holder = await lockOf("race");
    const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(loser.reason).toBeInstanceOf(BucketBusyError);
    expect((loser.reason as BucketBusyError).holder).toBe(holder?.executionArn);
  });

  it("is taken over from a holder that was stopped, or that Step Functions does not know", async () => {
    const a = await running();
    const b = await running();
    await take("stale", a);
    await stop(a);
    await take("stale", b);
    expect(await lockOf("stale")).toEqual(b);

    const ghost = { ...a, executionArn: a.executionArn.replace(/:[^:]+$/, ":never-started") };
    await take("ghost", ghost);
    const c = await running();
    await take("ghost", c);
    expect(await lockOf("ghost")).toEqual(c);
  });

  it("of two executions taking over the same stale lock, exactly one wins", async () => {
    const a = await running();
    await take("stale-race", a);
    await stop(a);
    const [b, c] = [await running(), await running()];
    const results = await Promise.allSettled([take("stale-race", b), take("stale-race", c)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect([b.executionArn, c.executionArn]).toContain((await lockOf("stale-race"))?.executionArn);
  });

  it("is released only by its holder, and can then be taken again", async () => {
    const a = await running();
    const b = await running();
    await take("release", a);
    expect(await releaseBucketLock(clients.s3, work, "release", b.executionArn)).toBe(false);
    expect(await lockOf("release")).toEqual(a);
    expect(await releaseBucketLock(clients.s3, work, "release", a.executionArn)).toBe(true);
    expect(await lockOf("release")).toBeUndefined();
    expect(await releaseBucketLock(clients.s3, work, "release", a.executionArn)).toBe(false);
    await take("release", b);
    expect(await lockOf("release")).toEqual(b);
  });

  it("is released by Record failure of its holder, and left alone by Record failure of another execution", async () => {
    const a = await running();
    const b = await running();
    await take("failing", a);
    const fail = (holder: BucketLock) =>
      invokeStep(
        recordFailure,
        {
          state: {
            run: {
              runId: holder.runId,
              executionId: holder.executionArn,
              bucket: "failing",
              kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
              region: "us-east-1",
              accountId: "123456789012",
              workBucket: work,
              source: "generate",
              runPrefix: `runs/failing/${holder.runId}/`,
              startedAt: holder.startedAt,
              options: RunOptionsSchema.parse({}),
            },
            failure: { Error: "PreflightBlockedError", Cause: "blocked" },
          },
        },
        {
          clients,
          config: { batchRoleArn: "arn:aws:iam::123456789012:role/r" },
          log: silentLogger,
          now: () => new Date(),
        },
      );
    await fail(b);
    expect(await lockOf("failing")).toEqual(a);
    await fail(a);
    expect(await lockOf("failing")).toBeUndefined();
  });
});
