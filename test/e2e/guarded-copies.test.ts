import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FinalReportOutput } from "../../contract/final-report.ts";
import { runReportSchema } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { finalReport, runOnScenario } from "../support/run-scenario.ts";

/**
 * An object written again between planning and its copy is never copied over: every copy is conditional on the
 * object being unmodified since default encryption was enforced (steps/aws/batch-job-requests.ts). The newer write
 * stays exactly as its writer made it, and verification says whether it is compliant.
 */
describe("a planned object written again before the copy jobs run", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;

  beforeAll(async () => {
    sandbox = await startSandbox();
    clients = rekeyClients(sandbox);
    admin = new SandboxAdmin(sandbox.endpoint);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  /** Seeds a bucket and runs rekey on it, writing `victim` again (as `write` says) right before "Create copy jobs". */
  async function runWithLateWrite(
    name: string,
    write: (scenario: MixedBucket, victim: string) => PutObjectCommand,
  ): Promise<{ scenario: MixedBucket; victim: string; result: ExecutionResult; newVersionId: string }> {
    const scenario = await seedMixedBucket(clients, admin, {
      bucket: `${name}-data`,
      workBucket: `${name}-work`,
      objects: 40,
    });
    const victim = scenario.keys.find((k) => k.expectation === "reencrypt" && k.storageClass === "STANDARD")?.key;
    if (victim === undefined) throw new Error("the scenario has no unencrypted STANDARD object");
    let newVersionId = "";
    const result = await runOnScenario({
      sandbox,
      scenario,
      name,
      beforeStep: {
        [StateNames.createCopyJobs]: async () => {
          newVersionId = (await clients.s3.send(write(scenario, victim))).VersionId ?? "";
        },
      },
    });
    return { scenario, victim, result, newVersionId };
  }

  describe("with the bucket default encryption", () => {
    let scenario: MixedBucket;
    let victim: string;
    let result: ExecutionResult;
    let newVersionId: string;

    beforeAll(async () => {
      ({ scenario, victim, result, newVersionId } = await runWithLateWrite("late-default", (s, key) => {
        return new PutObjectCommand({
          Bucket: s.bucket,
          Key: key,
          Body: "the newer write",
          ContentType: "application/x-newer",
          Metadata: { written: "after-planning" },
          Tagging: "state=newer",
          StorageClass: "STANDARD_IA",
        });
      }));
    }, 120_000);

    it("leaves the newer write exactly as written: body, metadata, content type, tags and class", async () => {
      const got = await clients.s3.send(new GetObjectCommand({ Bucket: scenario.bucket, Key: victim }));
      expect(await got.Body?.transformToString("utf8")).toBe("the newer write");
      expect(got.Metadata).toEqual({ written: "after-planning" });
      expect(got.ContentType).toBe("application/x-newer");
      expect(got.StorageClass).toBe("STANDARD_IA");
      const tags = await clients.s3.send(new GetObjectTaggingCommand({ Bucket: scenario.bucket, Key: victim }));
      expect(tags.TagSet).toEqual([{ Key: "state", Value: "newer" }]);
    });

    it("is compliant through the bucket default encryption, and rekey made no version of it", async () => {
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: scenario.bucket, Key: victim }));
      expect(head.ServerSideEncryption).toBe("aws:kms");
      expect(head.SSEKMSKeyId).toBe(scenario.targetKeyArn);
      expect(head.BucketKeyEnabled).toBe(true);
      expect(head.VersionId).toBe(newVersionId);
      const listed = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: scenario.bucket, Prefix: victim }));
      const versions = (listed.Versions ?? []).filter((v) => v.Key === victim);
      expect(versions.find((v) => v.IsLatest)?.VersionId).toBe(newVersionId);
      // The seeded version and the newer write; a copy over it would have added a third.
      expect(versions).toHaveLength(2);
    });

    it("succeeds and counts the object as changed since planning, not re-encrypted", async () => {
      const output: FinalReportOutput = finalReport(result);
      expect(output.outcome).toBe("succeeded");
      expect(output.totals.changed).toBe(1);
      expect(output.totals.failed).toBe(0);
      expect(output.summary).toMatch(/Changed since planning, compliant through default encryption\s+1\n/);
      const report = runReportSchema.parse(
        JSON.parse(await getText(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/late-default/report.json`)),
      );
      const planned = scenario.keys.filter((k) => k.expectation === "reencrypt").length;
      const copy = report.routes.find((r) => r.route === "copy");
      expect(copy).toMatchObject({ planned, reencrypted: planned - 1, changed: 1, failed: 0, gone: 0 });
      expect(report.reconciliation).toEqual({ ok: true, problems: [] });
    });
  });

  describe("with SSE-S3 asked for by its writer", () => {
    let scenario: MixedBucket;
    let victim: string;
    let result: ExecutionResult;

    beforeAll(async () => {
      ({ scenario, victim, result } = await runWithLateWrite("late-sse-s3", (s, key) => {
        return new PutObjectCommand({
          Bucket: s.bucket,
          Key: key,
          Body: "sse-s3 write",
          ServerSideEncryption: "AES256",
        });
      }));
    }, 120_000);

    it("does not copy over it", async () => {
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: scenario.bucket, Key: victim }));
      expect(head.ServerSideEncryption).toBe("AES256");
    });

    it("does not end succeeded, and the report names the key with what to do", async () => {
      expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
      expect(result.status === "FAILED" && result.cause).toMatch(/1 changed-not-compliant: .*run rekey again/);
      const report = runReportSchema.parse(
        JSON.parse(await getText(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/late-sse-s3/report.json`)),
      );
      expect(report.failed).toMatchObject([
        { category: "changed-not-compliant", count: 1, samples: [{ key: victim, httpStatus: 412 }] },
      ]);
      expect(report.totals.changed).toBe(0);
      const failed = await getText(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/late-sse-s3/failed.csv`);
      expect(failed).toContain(",changed-not-compliant,412,");
    });
  });
});
