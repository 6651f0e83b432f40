import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketLifecycleCommand,
  DeleteBucketOwnershipControlsCommand,
  DeleteBucketPolicyCommand,
  DeleteBucketReplicationCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketAclCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketReplicationCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectAclCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketReplicationCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  type S3ServiceException,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { SandboxAdminError } from "../../sandbox/admin-client.ts";
import { newTestBucket, s3Error, useSandbox } from "../support/sandbox.ts";

let n = 0;

const env = useSandbox();

const newBucket = (opts: { versioned?: boolean; objectLock?: boolean } = {}) => newTestBucket(env.s3, "cfg", opts);

async function expectError(p: Promise<unknown>, code: string, status: number): Promise<S3ServiceException> {
  const e = await s3Error(p);
  expect([e.name, e.$metadata.httpStatusCode]).toEqual([code, status]);
  return e;
}

const inDays = (d: number) => new Date(Date.now() + d * 86_400_000);

describe("Object Lock configuration", () => {
  it("CreateBucket with Object Lock enables versioning and answers the configuration; others have none", async () => {
    const locked = await newBucket({ objectLock: true });
    expect((await env.s3.send(new GetBucketVersioningCommand({ Bucket: locked }))).Status).toBe("Enabled");
    const config = await env.s3.send(new GetObjectLockConfigurationCommand({ Bucket: locked }));
    expect(config.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: "Enabled" });

    await env.s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: locked,
        ObjectLockConfiguration: {
          ObjectLockEnabled: "Enabled",
          Rule: { DefaultRetention: { Mode: "GOVERNANCE", Days: 3 } },
        },
      }),
    );
    expect(
      (await env.s3.send(new GetObjectLockConfigurationCommand({ Bucket: locked }))).ObjectLockConfiguration,
    ).toEqual({
      ObjectLockEnabled: "Enabled",
      Rule: { DefaultRetention: { Mode: "GOVERNANCE", Days: 3 } },
    });
    await expectError(
      env.s3.send(new PutBucketVersioningCommand({ Bucket: locked, VersioningConfiguration: { Status: "Suspended" } })),
      "InvalidBucketState",
      409,
    );

    const plain = await newBucket();
    await expectError(
      env.s3.send(new GetObjectLockConfigurationCommand({ Bucket: plain })),
      "ObjectLockConfigurationNotFoundError",
      404,
    );
    const enable = () =>
      env.s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: plain,
          ObjectLockConfiguration: { ObjectLockEnabled: "Enabled" },
        }),
      );
    await expectError(enable(), "InvalidBucketState", 409);
    await env.s3.send(
      new PutBucketVersioningCommand({ Bucket: plain, VersioningConfiguration: { Status: "Enabled" } }),
    );
    await enable();
    expect(
      (await env.s3.send(new GetObjectLockConfigurationCommand({ Bucket: plain }))).ObjectLockConfiguration,
    ).toEqual({
      ObjectLockEnabled: "Enabled",
    });
  });

  it("gives new versions (PutObject and CopyObject onto a key) the bucket's default retention", async () => {
    const bucket = await newBucket({ objectLock: true });
    await env.s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: "Enabled",
          Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 2 } },
        },
      }),
    );
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "a", Body: "x" }));
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "a" }));
    expect(head.ObjectLockMode).toBe("COMPLIANCE");
    expect(Math.abs((head.ObjectLockRetainUntilDate?.getTime() ?? 0) - inDays(2).getTime())).toBeLessThan(60_000);

    const other = await newBucket();
    await env.s3.send(new PutObjectCommand({ Bucket: other, Key: "src", Body: "y" }));
    const copy = await env.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "b", CopySource: `${other}/src` }));
    const retention = await env.s3.send(
      new GetObjectRetentionCommand({ Bucket: bucket, Key: "b", VersionId: copy.VersionId }),
    );
    expect(retention.Retention?.Mode).toBe("COMPLIANCE");
    await expectError(
      env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "b", VersionId: copy.VersionId })),
      "AccessDenied",
      403,
    );
  });
});

describe("object retention and legal hold", () => {
  it("round-trips retention and legal hold; absent ones are NoSuchObjectLockConfiguration; HEAD reports them", async () => {
    const bucket = await newBucket({ objectLock: true });
    const put = await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x" }));
    await expectError(
      env.s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: "k" })),
      "NoSuchObjectLockConfiguration",
      404,
    );
    await expectError(
      env.s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: "k" })),
      "NoSuchObjectLockConfiguration",
      404,
    );

    const until = new Date(Math.floor(inDays(5).getTime() / 1000) * 1000);
    await env.s3.send(
      new PutObjectRetentionCommand({
        Bucket: bucket,
        Key: "k",
        VersionId: put.VersionId,
        Retention: { Mode: "GOVERNANCE", RetainUntilDate: until },
      }),
    );
    await env.s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: "k", LegalHold: { Status: "ON" } }));
    expect((await env.s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: "k" }))).Retention).toEqual({
      Mode: "GOVERNANCE",
      RetainUntilDate: until,
    });
    expect((await env.s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: "k" }))).LegalHold).toEqual({
      Status: "ON",
    });
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" }));
    expect([head.ObjectLockMode, head.ObjectLockRetainUntilDate, head.ObjectLockLegalHoldStatus]).toEqual([
      "GOVERNANCE",
      until,
      "ON",
    ]);

    const plain = await newBucket();
    await env.s3.send(new PutObjectCommand({ Bucket: plain, Key: "k", Body: "x" }));
    await expectError(env.s3.send(new GetObjectRetentionCommand({ Bucket: plain, Key: "k" })), "InvalidRequest", 400);
    await expectError(
      env.s3.send(new PutObjectLegalHoldCommand({ Bucket: plain, Key: "k", LegalHold: { Status: "ON" } })),
      "InvalidRequest",
      400,
    );
  });

  it("blocks version deletes: compliance always, governance unless bypassed, legal hold until OFF", async () => {
    const bucket = await newBucket({ objectLock: true });
    const seeded = await env.admin.seed(bucket, [
      { key: "c", body: "1", objectLock: { mode: "COMPLIANCE", retainUntil: inDays(1).toISOString() } },
      { key: "g", body: "2", objectLock: { mode: "GOVERNANCE", retainUntil: inDays(1).toISOString() } },
      { key: "h", body: "3", objectLock: { mode: "GOVERNANCE", retainUntil: "2020-01-01T00:00:00Z", legalHold: true } },
    ]);
    const [c, g, h] = seeded.versions.map((v) => v.versionId);
    const del = (key: string, versionId: string | undefined, bypass = false) =>
      env.s3.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId, BypassGovernanceRetention: bypass }),
      );

    await expectError(del("c", c), "AccessDenied", 403);
    await expectError(del("c", c, true), "AccessDenied", 403);
    await expectError(
      env.s3.send(
        new PutObjectRetentionCommand({
          Bucket: bucket,
          Key: "c",
          Retention: { Mode: "COMPLIANCE", RetainUntilDate: new Date(Date.now() + 3_600_000) },
          BypassGovernanceRetention: true,
        }),
      ),
      "AccessDenied",
      403,
    );
    // A delete without a version id only adds a delete marker, which Object Lock allows.
    expect((await del("c", undefined)).DeleteMarker).toBe(true);

    await expectError(del("g", g), "AccessDenied", 403);
    const multi = await env.s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: "g", VersionId: g }] } }),
    );
    expect(multi.Errors?.map((e) => [e.Key, e.Code])).toEqual([["g", "AccessDenied"]]);
    await del("g", g, true);

    await expectError(del("h", h, true), "AccessDenied", 403);
    await env.s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: "h", LegalHold: { Status: "OFF" } }));
    await del("h", h);
    expect((await env.admin.versions(bucket)).map((v) => [v.key, v.isDeleteMarker])).toEqual([
      ["c", true],
      ["c", false],
    ]);
  });

  it("seeding objectLock needs an Object Lock bucket", async () => {
    const bucket = await newBucket({ versioned: true });
    const err = await env.admin
      .seed(bucket, [{ key: "k", body: "x", objectLock: { mode: "GOVERNANCE", retainUntil: inDays(1).toISOString() } }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxAdminError);
    expect((err as SandboxAdminError).code).toBe("InvalidRequest");
  });
});

describe("replication, notification and lifecycle configurations", () => {
  it("replication: not found until put, needs versioning, round-trips, deletes", async () => {
    const bucket = await newBucket();
    const get = () => env.s3.send(new GetBucketReplicationCommand({ Bucket: bucket }));
    await expectError(get(), "ReplicationConfigurationNotFoundError", 404);
    const config = {
      Role: "arn:aws:iam::123456789012:role/replication",
      Rules: [
        {
          ID: "all",
          Priority: 1,
          Filter: { Prefix: "" },
          Status: "Enabled" as const,
          DeleteMarkerReplication: { Status: "Disabled" as const },
          SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: "Enabled" as const } },
          Destination: { Bucket: "arn:aws:s3:::replica-bucket", StorageClass: "STANDARD_IA" as const },
        },
      ],
    };
    const put = () =>
      env.s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: config }));
    await expectError(put(), "InvalidRequest", 400);
    await env.s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
    await put();
    expect((await get()).ReplicationConfiguration).toEqual(config);
    await env.s3.send(new DeleteBucketReplicationCommand({ Bucket: bucket }));
    await expectError(get(), "ReplicationConfigurationNotFoundError", 404);
  });

  it("notification: empty until put, round-trips, an empty configuration removes it", async () => {
    const bucket = await newBucket();
    const get = async () => {
      const { $metadata: _, ...rest } = await env.s3.send(
        new GetBucketNotificationConfigurationCommand({ Bucket: bucket }),
      );
      return rest;
    };
    expect(await get()).toEqual({});
    const config = {
      QueueConfigurations: [
        {
          Id: "new-objects",
          QueueArn: "arn:aws:sqs:us-east-1:123456789012:q",
          Events: ["s3:ObjectCreated:*" as const],
          Filter: { Key: { FilterRules: [{ Name: "prefix" as const, Value: "in/" }] } },
        },
      ],
      EventBridgeConfiguration: {},
    };
    await env.s3.send(
      new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: config }),
    );
    expect(await get()).toEqual(config);
    await env.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: {} }));
    expect(await get()).toEqual({});
  });

  it("lifecycle: NoSuchLifecycleConfiguration until put, round-trips with the minimum-size default, deletes", async () => {
    const bucket = await newBucket();
    const get = () => env.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    await expectError(get(), "NoSuchLifecycleConfiguration", 404);
    const rules = [
      {
        ID: "archive",
        Filter: { Prefix: "logs/" },
        Status: "Enabled" as const,
        Transitions: [{ Days: 30, StorageClass: "GLACIER" as const }],
        Expiration: { Days: 365 },
        NoncurrentVersionExpiration: { NoncurrentDays: 7 },
      },
    ];
    const put = await env.s3.send(
      new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }),
    );
    expect(put.TransitionDefaultMinimumObjectSize).toBe("all_storage_classes_128K");
    const got = await get();
    expect(got.Rules).toEqual(rules);
    expect(got.TransitionDefaultMinimumObjectSize).toBe("all_storage_classes_128K");
    await env.s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
    await expectError(get(), "NoSuchLifecycleConfiguration", 404);
  });
});

describe("ownership controls, ACLs and bucket policy", () => {
  it("new buckets enforce bucket-owner ownership: ACL writes refused, ACL reads show the owner only", async () => {
    const bucket = await newBucket();
    const ownership = await env.s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }));
    expect(ownership.OwnershipControls?.Rules).toEqual([{ ObjectOwnership: "BucketOwnerEnforced" }]);
    await expectError(
      env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x", ACL: "public-read" })),
      "AccessControlListNotSupported",
      400,
    );
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x", ACL: "bucket-owner-full-control" }));
    await expectError(
      env.s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: "k", ACL: "public-read" })),
      "AccessControlListNotSupported",
      400,
    );
    const acl = await env.s3.send(new GetBucketAclCommand({ Bucket: bucket }));
    expect(acl.Grants).toEqual([{ Grantee: { Type: "CanonicalUser", ID: acl.Owner?.ID }, Permission: "FULL_CONTROL" }]);
    expect((await env.s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: "k" }))).Grants).toHaveLength(1);
    await expectError(
      env.s3.send(new CreateBucketCommand({ Bucket: `cfg-acl-${++n}-${Date.now()}`, ACL: "public-read" })),
      "InvalidBucketAclWithObjectOwnership",
      400,
    );
  });

  it("ownership controls round-trip; with ACLs enabled object ACLs are honoured; deleted controls are not found", async () => {
    const bucket = await newBucket();
    await env.s3.send(
      new PutBucketOwnershipControlsCommand({
        Bucket: bucket,
        OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerPreferred" }] },
      }),
    );
    expect(
      (await env.s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }))).OwnershipControls?.Rules,
    ).toEqual([{ ObjectOwnership: "BucketOwnerPreferred" }]);
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x", ACL: "public-read" }));
    const allUsers = "http://acs.amazonaws.com/groups/global/AllUsers";
    const grants = async () => (await env.s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: "k" }))).Grants ?? [];
    expect((await grants()).map((g) => [g.Grantee?.Type, g.Grantee?.URI ?? "owner", g.Permission])).toEqual([
      ["CanonicalUser", "owner", "FULL_CONTROL"],
      ["Group", allUsers, "READ"],
    ]);
    await env.s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: "k", ACL: "private" }));
    expect(await grants()).toHaveLength(1);
    // A copy does not keep the source's ACL.
    await env.s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: "k", ACL: "authenticated-read" }));
    await env.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "copy", CopySource: `${bucket}/k` }));
    expect((await env.s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: "copy" }))).Grants).toHaveLength(1);

    await env.s3.send(new DeleteBucketOwnershipControlsCommand({ Bucket: bucket }));
    await expectError(
      env.s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket })),
      "OwnershipControlsNotFoundError",
      404,
    );

    const writer = `cfg-ow-${++n}-${Date.now()}`;
    await env.s3.send(new CreateBucketCommand({ Bucket: writer, ObjectOwnership: "ObjectWriter", ACL: "public-read" }));
    const bucketAcl = await env.s3.send(new GetBucketAclCommand({ Bucket: writer }));
    expect(bucketAcl.Grants?.map((g) => g.Grantee?.URI ?? g.Permission)).toEqual(["FULL_CONTROL", allUsers]);
  });

  it("bucket policy: NoSuchBucketPolicy until put, the JSON text round-trips, invalid JSON is MalformedPolicy", async () => {
    const bucket = await newBucket();
    const get = () => env.s3.send(new GetBucketPolicyCommand({ Bucket: bucket }));
    await expectError(get(), "NoSuchBucketPolicy", 404);
    const policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "DenyUnencrypted",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:PutObject",
          Resource: `arn:aws:s3:::${bucket}/*`,
          Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" } },
        },
      ],
    });
    await env.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy }));
    expect((await get()).Policy).toBe(policy);
    await expectError(
      env.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: "not json" })),
      "MalformedPolicy",
      400,
    );
    await env.s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    await expectError(get(), "NoSuchBucketPolicy", 404);
  });
});

describe("bucket tagging", () => {
  it("has none until put; put replaces the set; invalid sets are refused; delete removes them", async () => {
    const Bucket = await newBucket();
    await expectError(env.s3.send(new GetBucketTaggingCommand({ Bucket })), "NoSuchTagSet", 404);
    await env.s3.send(
      new PutBucketTaggingCommand({
        Bucket,
        Tagging: {
          TagSet: [
            { Key: "team", Value: "data" },
            { Key: "tier", Value: "" },
          ],
        },
      }),
    );
    expect((await env.s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet).toEqual([
      { Key: "team", Value: "data" },
      { Key: "tier", Value: "" },
    ]);
    await env.s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: "owner", Value: "ops" }] } }));
    expect((await env.s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet).toEqual([
      { Key: "owner", Value: "ops" },
    ]);
    const twice = {
      TagSet: [
        { Key: "a", Value: "1" },
        { Key: "a", Value: "2" },
      ],
    };
    await expectError(env.s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: twice })), "InvalidTag", 400);
    const tooMany = { TagSet: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: "v" })) };
    await expectError(env.s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: tooMany })), "InvalidTag", 400);
    const longKey = { TagSet: [{ Key: "k".repeat(129), Value: "v" }] };
    await expectError(env.s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: longKey })), "InvalidTag", 400);
    await env.s3.send(new DeleteBucketTaggingCommand({ Bucket }));
    await expectError(env.s3.send(new GetBucketTaggingCommand({ Bucket })), "NoSuchTagSet", 404);
  });
});
