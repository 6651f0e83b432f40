import { CreateKeyCommand, DisableKeyCommand } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  GetBucketPolicyCommand,
  GetBucketReplicationCommand,
  GetBucketVersioningCommand,
  type InventoryOptionalField,
  PutBucketInventoryConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketReplicationCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PreflightBlockedError } from "../../contract/errors.ts";
import { PreflightInputSchema } from "../../contract/preflight.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { gatherPreflightFacts, type PreflightRun } from "../../steps/aws/preflight-reads.ts";
import { evaluatePreflight } from "../../steps/domain/preflight.ts";
import { runPreflight } from "../../steps/handlers/preflight-checks.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { sandboxWithClients } from "../support/sandbox.ts";

describe("runPreflight against the sandbox", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let keyArn: string;
  let disabledKeyArn: string;
  /** Methods of the requests the sandbox served while `recording` was on. */
  const served: string[] = [];
  let recording = false;

  beforeAll(async () => {
    ({ sandbox, clients } = await sandboxWithClients({
      onRequest: (req) => {
        // IAM's query protocol names its action in the form body.
        const action = req.headers["x-amz-target"] ?? new URLSearchParams(req.body.toString("utf8")).get("Action");
        if (recording) served.push(`${req.method} ${req.rawPath}?${req.rawQuery} ${action ?? ""}`);
      },
    }));
    keyArn = (await clients.kms.send(new CreateKeyCommand({ Description: "target" }))).KeyMetadata?.Arn ?? "";
    disabledKeyArn = (await clients.kms.send(new CreateKeyCommand({ Description: "disabled" }))).KeyMetadata?.Arn ?? "";
    await clients.kms.send(new DisableKeyCommand({ KeyId: disabledKeyArn }));
    await clients.s3.send(new CreateBucketCommand({ Bucket: "unversioned" }));
    await clients.s3.send(new CreateBucketCommand({ Bucket: "healthy" }));
    await clients.s3.send(
      new PutBucketVersioningCommand({ Bucket: "healthy", VersioningConfiguration: { Status: "Enabled" } }),
    );
  });
  afterAll(async () => {
    await sandbox.close();
  });

  const run = (bucket: string, kmsKeyArn = keyArn): PreflightRun => ({
    bucket,
    kmsKeyArn,
    region: sandbox.identity.region,
    accountId: sandbox.identity.accountId,
  });
  const deps = (overrides: Partial<AwsClients> = {}) => ({
    clients: { ...clients, ...overrides },
    config: { batchRoleArn: `arn:aws:iam::${sandbox.identity.accountId}:role/rekey-batch` },
    log: silentLogger,
  });

  it("blocks an Object Lock bucket whose candidates cannot show locks: generated lists, or an inventory without the fields", async () => {
    const Bucket = "locked-candidates";
    await clients.s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
    const inventory = (id: string, fields: string[]) =>
      clients.s3.send(
        new PutBucketInventoryConfigurationCommand({
          Bucket,
          Id: id,
          InventoryConfiguration: {
            Id: id,
            IsEnabled: true,
            IncludedObjectVersions: "All",
            Destination: { S3BucketDestination: { Bucket: "arn:aws:s3:::healthy", Format: "CSV" } },
            Schedule: { Frequency: "Daily" },
            OptionalFields: fields as InventoryOptionalField[],
          },
        }),
      );
    await inventory("blind", ["Size", "StorageClass", "EncryptionStatus"]);
    await inventory("seeing", [
      "Size",
      "StorageClass",
      "EncryptionStatus",
      "ObjectLockMode",
      "ObjectLockLegalHoldStatus",
    ]);
    const codes = async (extra: Partial<PreflightRun>) => {
      const outcome = await runPreflight({ ...run(Bucket), ...extra }, deps()).catch((e: unknown) => e);
      return outcome instanceof PreflightBlockedError ? outcome.blockers.map((b) => b.code) : [];
    };
    expect(await codes({ source: "generate" })).toEqual(["object-lock-unseen"]);
    expect(await codes({ source: "inventory", inventoryConfigurationId: "blind" })).toEqual(["object-lock-unseen"]);
    expect(await codes({ source: "inventory", inventoryConfigurationId: "seeing" })).toEqual([]);
  });

  it("blocks an unversioned bucket with a named error that carries the fix", async () => {
    const err = await runPreflight(run("unversioned"), deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightBlockedError);
    const blocked = err as PreflightBlockedError;
    expect(blocked.name).toBe("PreflightBlockedError");
    expect(blocked.blockers.map((b) => b.code)).toEqual(["versioning-disabled"]);
    expect(blocked.message).toContain("[versioning-disabled]");
    expect(blocked.message).toContain("put-bucket-versioning --bucket unversioned");
    expect(blocked.message).toContain("(or accept it: rekey start --acknowledge versioning-disabled)");
  });

  it("passes a versioned bucket whose key has the default key policy, reading only", async () => {
    served.length = 0;
    recording = true;
    const result = await runPreflight(run("healthy"), deps()).finally(() => {
      recording = false;
    });

    expect(result.warnings.map((w) => w.code).sort()).toEqual(["noncurrent-versions-never-expire"]);
    expect(result.facts).toMatchObject({
      versioning: "Enabled",
      objectLock: "disabled",
      replication: "none",
      notifications: "0 target(s)",
      lifecycle: "0 enabled rule(s)",
      objectOwnership: "BucketOwnerEnforced",
      defaultEncryption: "AES256",
      bucketPolicy: "none",
      key: "Enabled, CUSTOMER",
    });
    expect(result.acknowledged).toEqual([]);
    // Read-only: S3 GETs of bucket settings, the two KMS reads and IAM's two listings (the account has no roles or
    // users to simulate), nothing else.
    expect(served).toHaveLength(12);
    for (const line of served) {
      expect(line).toMatch(
        /^(GET \/healthy\/?\?\S+ $|POST \/\? TrentService\.(DescribeKey|GetKeyPolicy)$|POST \/\? List(Roles|Users)$)/,
      );
    }
  });

  it("lets an acknowledged blocker through as a warning", async () => {
    const result = await runPreflight(run("unversioned"), deps(), { acknowledge: ["versioning-disabled"] });
    expect(result.acknowledged).toEqual(["versioning-disabled"]);
    expect(result.warnings.find((w) => w.code === "versioning-disabled")).toMatchObject({ acknowledged: true });
  });

  it("blocks a disabled key (no acknowledgement possible)", async () => {
    const err = (await runPreflight(run("healthy", disabledKeyArn), deps()).catch((e: unknown) => e)) as
      | PreflightBlockedError
      | undefined;
    expect(err?.blockers.map((b) => b.code)).toEqual(["key-not-enabled"]);
    expect(err?.message).not.toContain('acknowledge "key-not-enabled"');
  });

  it("reports what access denied hides: a warning for the policy, a blocker for versioning", async () => {
    const denied = (names: readonly string[]) =>
      ({
        send: (command: { constructor: { name: string } }) => {
          if (names.includes(command.constructor.name)) {
            return Promise.reject(
              Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } }),
            );
          }
          return (clients.s3.send as (c: unknown) => Promise<unknown>)(command);
        },
      }) as unknown as S3Client;

    const result = await runPreflight(run("healthy"), deps({ s3: denied([GetBucketPolicyCommand.name]) }));
    expect(result.warnings.find((w) => w.code === "bucket-policy-unknown")?.message).toContain(
      "GetBucketPolicy: access denied",
    );

    const err = (await runPreflight(run("healthy"), deps({ s3: denied([GetBucketVersioningCommand.name]) })).catch(
      (e: unknown) => e,
    )) as PreflightBlockedError;
    expect(err.blockers.map((b) => b.code)).toEqual(["versioning-unknown"]);
  });

  it("treats an operation the endpoint does not implement (501 NotImplemented) as cannot tell", async () => {
    const s3 = {
      send: (command: { constructor: { name: string } }) =>
        command.constructor.name === GetBucketReplicationCommand.name
          ? Promise.reject(
              Object.assign(new Error("The sandbox does not implement this S3 request"), {
                name: "NotImplemented",
                $metadata: { httpStatusCode: 501 },
              }),
            )
          : (clients.s3.send as (c: unknown) => Promise<unknown>)(command),
    } as unknown as S3Client;
    const result = await runPreflight(run("healthy"), deps({ s3 }));
    expect(result.warnings.find((w) => w.code === "replication-unknown")?.message).toContain(
      "GetBucketReplication is not available at this endpoint (NotImplemented",
    );
    expect(result.facts.replication).toMatch(/^cannot tell: /);
  });

  it("reads configurations written through the SDK (the sandbox's bucket-configuration APIs) into findings", async () => {
    const Bucket = "configured";
    await clients.s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
    await clients.s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: "Enabled",
          Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 30 } },
        },
      }),
    );
    await clients.s3.send(
      new PutBucketReplicationCommand({
        Bucket,
        ReplicationConfiguration: {
          Role: `arn:aws:iam::${sandbox.identity.accountId}:role/replication`,
          Rules: [
            {
              ID: "to-dr",
              Status: "Enabled",
              Priority: 1,
              Filter: { Prefix: "" },
              DeleteMarkerReplication: { Status: "Disabled" },
              Destination: { Bucket: "arn:aws:s3:::dr-bucket" },
            },
          ],
        },
      }),
    );
    await clients.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: `arn:aws:sqs:${sandbox.identity.region}:${sandbox.identity.accountId}:ingest`,
              Events: ["s3:ObjectCreated:*"],
            },
          ],
          EventBridgeConfiguration: {},
        },
      }),
    );
    await clients.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: "tiering",
              Status: "Enabled",
              Filter: { Prefix: "" },
              Transitions: [{ Days: 30, StorageClass: "STANDARD_IA" }],
              NoncurrentVersionExpiration: { NoncurrentDays: 45 },
            },
          ],
        },
      }),
    );
    await clients.s3.send(
      new PutBucketOwnershipControlsCommand({
        Bucket,
        OwnershipControls: { Rules: [{ ObjectOwnership: "ObjectWriter" }] },
      }),
    );
    await clients.s3.send(
      new PutBucketPolicyCommand({
        Bucket,
        Policy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "OnlyAES256",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:PutObject",
              Resource: `arn:aws:s3:::${Bucket}/*`,
              Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption": "AES256" } },
            },
          ],
        }),
      }),
    );

    const err = (await runPreflight(run(Bucket), deps()).catch((e: unknown) => e)) as PreflightBlockedError;
    expect(err).toBeInstanceOf(PreflightBlockedError);
    expect(err.blockers.map((b) => b.code)).toEqual([
      "object-lock-compliance-default",
      "replication-without-sse-kms",
      "notifications-on-copy",
      "acls-enabled",
      "policy-denies-copy",
    ]);

    const acknowledged = await runPreflight(run(Bucket), deps(), {
      acknowledge: [
        "object-lock-compliance-default",
        "replication-without-sse-kms",
        "notifications-on-copy",
        "acls-enabled",
      ],
    }).catch((e: unknown) => e as PreflightBlockedError);
    expect(acknowledged).toBeInstanceOf(PreflightBlockedError);
    const remaining = acknowledged as PreflightBlockedError;
    expect(remaining.blockers.map((b) => b.code)).toEqual(["policy-denies-copy"]);

    const facts = await gatherPreflightFacts(run(Bucket), clients, deps().config.batchRoleArn);
    expect(facts.lifecycle).toEqual([
      {
        id: "tiering",
        enabled: true,
        wholeBucket: true,
        transitions: [{ days: 30, storageClass: "STANDARD_IA" }],
        noncurrentExpirationDays: 45,
      },
    ]);
    expect(facts.objectLock).toEqual({ enabled: true, defaultRetention: { mode: "COMPLIANCE", days: 30 } });
    expect(evaluatePreflight(facts).warnings.map((w) => w.code)).toEqual([
      "eventbridge-enabled",
      "lifecycle-keyed-on-age",
    ]);
  });

  it("lets other errors through (here a missing bucket), for the workflow's retry and catch", async () => {
    await expect(runPreflight(run("no-such-bucket"), deps())).rejects.toMatchObject({ name: "NoSuchBucket" });
  });

  it("validates its input: acknowledge defaults to none and takes only acknowledgeable codes", () => {
    const runContext = {
      runId: "r",
      executionId: "arn:aws:states:us-east-1:123456789012:execution:rekey:r",
      bucket: "healthy",
      kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/k",
      region: "us-east-1",
      accountId: "123456789012",
      workBucket: "work",
      inventoryConfigurationId: "inv",
      runPrefix: "runs/healthy/r/",
      startedAt: "2026-11-22T00:00:00Z",
      options: {},
    };
    expect(PreflightInputSchema.parse({ run: runContext }).acknowledge).toEqual([]);
    expect(PreflightInputSchema.safeParse({ run: runContext, acknowledge: ["acls-enabled"] }).success).toBe(true);
    expect(PreflightInputSchema.safeParse({ run: runContext, acknowledge: ["key-not-enabled"] }).success).toBe(false);
  });
});
