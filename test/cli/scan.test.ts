import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxWorkBucket } from "../../local/deploy.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { rekey } from "../support/cli.ts";

/** `rekey scan` against a sandbox account holding buckets in each state, checked against what each one needs. */
describe("rekey scan", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let mixed: MixedBucket;

  const versioned = async (bucket: string) => {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await clients.s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
  };
  const defaultTo = (bucket: string, key: string, bucketKey: boolean) =>
    clients.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: key },
              BucketKeyEnabled: bucketKey,
            },
          ],
        },
      }),
    );

  beforeAll(async () => {
    sandbox = await startSandbox();
    await rekeyDeployment(sandbox);
    clients = rekeyClients(sandbox);
    mixed = await seedMixedBucket(clients, new SandboxAdmin(sandbox.endpoint), {
      bucket: "fleet-mixed",
      workBucket: sandboxWorkBucket(sandbox.identity),
      objects: 20,
    });
    // Empty, already defaulting to the target key with Bucket Key: nothing to do.
    await versioned("fleet-done-empty");
    await defaultTo("fleet-done-empty", mixed.targetKeyArn, true);
    // Empty, but its default is the target key without Bucket Key.
    await versioned("fleet-empty-no-bucket-key");
    await defaultTo("fleet-empty-no-bucket-key", mixed.targetKeyArn, false);
    // Objects, the right default, no inventory: a run is needed, and nothing tells how many objects need it.
    await versioned("fleet-default-only");
    await defaultTo("fleet-default-only", mixed.targetKeyArn, true);
    await clients.s3.send(new PutObjectCommand({ Bucket: "fleet-default-only", Key: "old.txt", Body: "x" }));
    // Never versioned, with objects: preflight would refuse a run.
    await clients.s3.send(new CreateBucketCommand({ Bucket: "fleet-unversioned" }));
    await clients.s3.send(new PutObjectCommand({ Bucket: "fleet-unversioned", Key: "a.txt", Body: "x" }));
    await clients.s3.send(
      new PutBucketTaggingCommand({
        Bucket: "fleet-unversioned",
        Tagging: { TagSet: [{ Key: "team", Value: "data" }] },
      }),
    );
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("judges every bucket of the region, leaving out the work bucket", async () => {
    const scan = await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--output", "json");
    expect(scan.err).toBe("");
    expect(scan.code).toBe(0);
    const rows = JSON.parse(scan.out) as {
      bucket: string;
      verdict: string;
      inventoryConfiguration: string | null;
      objects?: number;
      blockers: { code: string }[];
    }[];
    const byBucket = Object.fromEntries(rows.map((r) => [r.bucket, r]));
    expect(Object.keys(byBucket).sort()).toEqual([
      "fleet-default-only",
      "fleet-done-empty",
      "fleet-empty-no-bucket-key",
      "fleet-mixed",
      "fleet-unversioned",
    ]);
    expect(byBucket["fleet-done-empty"]).toMatchObject({ verdict: "compliant", objects: 0 });
    expect(byBucket["fleet-empty-no-bucket-key"]).toMatchObject({ verdict: "needs-default-encryption", objects: 0 });
    expect(byBucket["fleet-default-only"]).toMatchObject({ verdict: "needs-run", inventoryConfiguration: null });
    expect(byBucket["fleet-default-only"]?.objects).toBeUndefined();
    expect(byBucket["fleet-mixed"]).toMatchObject({
      verdict: "needs-run",
      inventoryConfiguration: mixed.inventoryConfigurationId,
    });
    expect(byBucket["fleet-unversioned"]?.verdict).toBe("blocked");
    expect(byBucket["fleet-unversioned"]?.blockers.map((b) => b.code)).toContain("versioning-disabled");
  });

  it("prints a table for people, and filters by prefix, tag and name", async () => {
    const table = await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--prefix", "fleet-done");
    expect(table.out).toMatch(/^BUCKET +VERDICT +DEFAULT ENCRYPTION/);
    expect(table.out).toMatch(
      /^fleet-done-empty +compliant +aws:kms .* 0 \(0 B\) +empty, and new writes default to the target key/m,
    );
    expect(table.out).toMatch(/1 bucket\(s\): 1 compliant/);

    const tagged = await rekey(
      sandbox,
      "scan",
      "--kms-key",
      mixed.targetKeyArn,
      "--tag",
      "team=data",
      "--query",
      "[].bucket",
      "--output",
      "text",
    );
    expect(tagged.out).toBe("fleet-unversioned\n");

    const named = await rekey(
      sandbox,
      "scan",
      "--kms-key",
      mixed.targetKeyArn,
      "--bucket",
      "fleet-mixed",
      "--bucket",
      "no-such-bucket",
    );
    expect(named.out).toMatch(/^fleet-mixed +needs-run/m);
    expect(named.out).toMatch(/Not found in us-east-1: no-such-bucket/);
  });

  it("shows how much each non-empty bucket holds from S3's daily storage metrics, once S3 has reported them", async () => {
    const versions = async () =>
      (
        JSON.parse(
          (
            await rekey(
              sandbox,
              "scan",
              "--kms-key",
              mixed.targetKeyArn,
              "--bucket",
              "fleet-default-only",
              "--output",
              "json",
            )
          ).out,
        ) as { objects?: number; bytes?: number; storageAsOf?: string; verdict: string }[]
      )[0];
    // As on AWS, a bucket created today has no data point until tomorrow: nothing tells.
    expect(await versions()).toMatchObject({ verdict: "needs-run" });
    expect((await versions())?.objects).toBeUndefined();
    sandbox.setBehaviours({ newBucketStorageMetrics: "SameDay" });
    try {
      const reported = await versions();
      expect(reported).toMatchObject({ verdict: "needs-run", objects: 1 });
      expect(reported?.bytes).toBeGreaterThanOrEqual(1);
      expect(reported?.storageAsOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      const table = await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--bucket", "fleet-default-only");
      expect(table.out).toMatch(
        /^fleet-default-only +needs-run .* 1 \(\d+ B\) on \d{4}-\d{2}-\d{2} +the default is compliant/m,
      );
    } finally {
      sandbox.setBehaviours({ newBucketStorageMetrics: "NextDay" });
    }
  });

  it("refuses a key that is not a key ARN, and a tag without a value", async () => {
    expect((await rekey(sandbox, "scan", "--kms-key", "alias/data")).err).toMatch(
      /is a key alias; rekey needs the full key ARN/,
    );
    expect((await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--tag", "team")).err).toMatch(
      /--tag must be key=value/,
    );
  });
});
