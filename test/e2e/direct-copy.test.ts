import { GetObjectTaggingCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../contract/final-report.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { finalReport, runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * Keys a Batch Operations manifest cannot carry (over 1,024 characters once percent-encoded; S3 takes keys of up to
 * 1,024 bytes of UTF-8) are not left behind in skipped.csv: "Copy objects directly" re-encrypts them with one
 * CopyObject guarded by the ETag, keeping metadata, tags and storage class, and the report says they were copied
 * directly. The rest of the mixed bucket goes through Batch Operations as usual.
 */
describe("a bucket with keys no manifest line can carry", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  /** 1,024 bytes of UTF-8: the longest key S3 allows, 3,072 characters once encoded for a manifest. */
  const UNENCRYPTED = "é".repeat(512);
  /** 1,023 bytes: an SSE-S3 object, which Batch Operations would have given an encryption update. */
  const SSE_S3 = `${"ü".repeat(511)}x`;

  beforeAll(async () => {
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "direct-data",
      workBucket: "direct-work",
      objects: 12,
      objectLock: false,
    }));
    await admin.seed(scenario.bucket, [
      {
        key: UNENCRYPTED,
        body: "unencrypted payload",
        contentType: "application/json",
        metadata: { owner: "team-a" },
        tags: { project: "atlas" },
        storageClass: "STANDARD_IA",
        encryption: { type: "NOT-SSE" },
      },
      {
        key: SSE_S3,
        body: "sse-s3 payload",
        contentType: "text/plain",
        metadata: { stage: "raw" },
        tags: { tier: "2" },
        storageClass: "ONEZONE_IA",
        encryption: { type: "SSE-S3" },
      },
    ]);
  });
  afterAll(() => sandbox?.close());

  it("re-encrypts them directly, keeps their attributes, and reports them as copied directly", async () => {
    const result = await runOnScenario({ sandbox, scenario, name: "direct-run" });

    const output = finalReport(result);
    expect(output.outcome).toBe("succeeded");
    for (const [key, expected] of [
      [UNENCRYPTED, { ContentType: "application/json", Metadata: { owner: "team-a" }, StorageClass: "STANDARD_IA" }],
      [SSE_S3, { ContentType: "text/plain", Metadata: { stage: "raw" }, StorageClass: "ONEZONE_IA" }],
    ] as const) {
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: scenario.bucket, Key: key }));
      expect(head).toMatchObject({
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: scenario.targetKeyArn,
        BucketKeyEnabled: true,
        ...expected,
      });
    }
    const tags = async (key: string) =>
      (await clients.s3.send(new GetObjectTaggingCommand({ Bucket: scenario.bucket, Key: key }))).TagSet;
    expect(await tags(UNENCRYPTED)).toEqual([{ Key: "project", Value: "atlas" }]);
    expect(await tags(SSE_S3)).toEqual([{ Key: "tier", Value: "2" }]);

    const report: RunReport = JSON.parse(
      await getText(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/direct-run/report.json`),
    );
    expect(report.skipped.map((s) => s.reason)).not.toContain("key-too-long-for-manifest");
    expect(report.copiedDirectly?.copyObject).toBe(2);
    expect(report.copiedDirectly?.copyObjectKeys.sort()).toEqual([SSE_S3, UNENCRYPTED].sort());
    expect(report.independentCheck).toMatchObject({
      method: "head-planned-objects",
      failing: 0,
      counts: { "left-non-compliant": 0, "written-after-planning": 0 },
    });
    expect(output.summary).toMatch(/Copied directly by rekey: 2 with one CopyObject/);
  }, 240_000);
});
