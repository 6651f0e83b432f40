import { CopyObjectCommand, DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateNames } from "../../contract/states.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText, putText } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * "Verify results" is the run's own evidence (README "How a run works"): it must refuse a completion report whose
 * bytes are not the ones Batch Operations listed, and its HeadObject sample must notice objects under another key,
 * without Bucket Key, or missing in numbers that make the check meaningless. Each test changes the bucket or the
 * work bucket just before verification starts ("Slice the completion reports"), as a damaged file or a concurrent
 * writer would.
 */
describe("Verify results", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let scenario: MixedBucket;

  beforeEach(async () => {
    ({ sandbox, clients, scenario } = await sandboxWithScenario({
      bucket: "verify-data",
      workBucket: "verify-work",
      objects: 40,
      objectLock: false,
    }));
  });
  afterEach(async () => {
    await sandbox.close();
  });

  const NAME = "verify-run";
  const runWithBeforeVerify = (hook: () => Promise<void>) => {
    let done = false;
    return runOnScenario({
      sandbox,
      scenario,
      name: NAME,
      beforeStep: {
        [StateNames.sliceReports]: async () => {
          if (done) return;
          done = true;
          await hook();
        },
      },
    });
  };
  const runFile = async (name: string) =>
    JSON.parse(await getText(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/${NAME}/${name}`));
  const reencrypted = () => scenario.keys.filter((k) => k.expectation === "reencrypt");

  it("refuses a completion report whose bytes differ from the MD5 its report manifest lists", async () => {
    let damaged: string | undefined;
    const result = await runWithBeforeVerify(async () => {
      const listed = await clients.s3.send(
        new ListObjectsV2Command({ Bucket: scenario.workBucket, Prefix: `plans/${scenario.bucket}/` }),
      );
      const reports = (listed.Contents ?? [])
        .map((o) => o.Key ?? "")
        .filter((k) => k.includes("/batch-reports/") && k.endsWith(".csv"));
      let most = { key: "", lines: [] as string[] };
      for (const key of reports) {
        const lines = (await getText(clients.s3, scenario.workBucket, key)).trimEnd().split("\n");
        if (lines.length > most.lines.length) most = { key, lines };
      }
      expect(most.lines.length).toBeGreaterThan(1);
      // The same rows in another order: every count still reconciles, only the MD5 tells the file was changed.
      await putText(clients.s3, scenario.workBucket, most.key, `${[...most.lines].reverse().join("\n")}\n`, "text/csv");
      damaged = most.key;
    });
    expect(result).toMatchObject({ status: "FAILED", error: "CompletionReportError" });
    expect(result.status === "FAILED" && result.cause).toMatch(
      /the file's MD5 is [0-9a-f]{32}, but the report manifest/,
    );
    expect(result.status === "FAILED" && result.cause).toContain(damaged);
  });

  it("finds a re-encrypted object under another key, and one without Bucket Key", async () => {
    const [underOtherKey, withoutBucketKey] = reencrypted();
    if (!underOtherKey || !withoutBucketKey) throw new Error("the scenario has too few objects to re-encrypt");
    const result = await runWithBeforeVerify(async () => {
      const rewrite = (key: string, storageClass: string, kmsKeyArn: string, bucketKey: boolean) =>
        clients.s3.send(
          new CopyObjectCommand({
            Bucket: scenario.bucket,
            Key: key,
            CopySource: `${scenario.bucket}/${encodeURIComponent(key)}`,
            ServerSideEncryption: "aws:kms",
            SSEKMSKeyId: kmsKeyArn,
            BucketKeyEnabled: bucketKey,
            StorageClass: storageClass as "STANDARD",
          }),
        );
      await rewrite(underOtherKey.key, underOtherKey.storageClass, scenario.otherKeyArn, true);
      await rewrite(withoutBucketKey.key, withoutBucketKey.storageClass, scenario.targetKeyArn, false);
    });
    expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
    const { spotCheck } = await runFile("verification.json");
    expect(spotCheck.mismatches).toEqual(
      expect.arrayContaining([
        { key: underOtherKey.key, found: expect.stringContaining(`key=${scenario.otherKeyArn} bucketKey=true`) },
        { key: withoutBucketKey.key, found: expect.stringContaining(`key=${scenario.targetKeyArn} bucketKey=false`) },
      ]),
    );
    expect(spotCheck.mismatches).toHaveLength(2);
  });

  it("fails the run when so many sampled objects are missing that the check proves nothing", async () => {
    const deleted = reencrypted();
    expect(deleted.length).toBeGreaterThan(5);
    const result = await runWithBeforeVerify(async () => {
      for (const k of deleted) await clients.s3.send(new DeleteObjectCommand({ Bucket: scenario.bucket, Key: k.key }));
    });
    expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
    const report = await runFile("report.json");
    expect(report.warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/no longer exist .*so many that the check cannot be trusted/)]),
    );
  });
});
