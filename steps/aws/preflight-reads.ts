import { DescribeCustomKeyStoresCommand, DescribeKeyCommand, GetKeyPolicyCommand } from "@aws-sdk/client-kms";
import {
  GetBucketEncryptionCommand,
  GetBucketInventoryConfigurationCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketReplicationCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  type LifecycleRule,
} from "@aws-sdk/client-s3";
import type { RunContext } from "../../contract/run-context.ts";
import {
  type CandidateSourceFacts,
  type CustomKeyStoreFacts,
  cannotTell,
  type DefaultEncryptionFacts,
  type Fact,
  type KeyFacts,
  type KeyStoreDetails,
  type LifecycleRuleFacts,
  type NotificationFacts,
  type ObjectLockFacts,
  type ObjectOwnership,
  type PreflightFacts,
  type ReaderFacts,
  type ReplicationFacts,
  type VersioningStatus,
} from "../domain/preflight-facts.ts";
import type { AwsClients } from "../runtime/clients.ts";
import { type ReaderImpactCache, readReaderImpact } from "./reader-impact.ts";
import { httpStatusOf } from "./s3-io.ts";

/** The run as preflight needs it. */
export type PreflightRun = Pick<RunContext, "bucket" | "kmsKeyArn" | "region" | "accountId"> &
  Partial<Pick<RunContext, "source" | "inventoryConfigurationId">>;

/** Fields an inventory needs for the plan to see Object Lock (steps/domain/classify.ts). */
const LOCK_FIELDS = ["ObjectLockMode", "ObjectLockLegalHoldStatus"] as const;

/** Where the plan's candidates come from, and whether that source shows Object Lock retention and legal holds. */
async function candidateFacts(
  run: PreflightRun,
  s3: AwsClients["s3"],
): Promise<Fact<CandidateSourceFacts> | undefined> {
  if (run.source === "generate") return { kind: "generate" };
  if (run.inventoryConfigurationId === undefined) return undefined;
  const Id = run.inventoryConfigurationId;
  return read<CandidateSourceFacts>("GetBucketInventoryConfiguration", async () => {
    const c = (await s3.send(new GetBucketInventoryConfigurationCommand({ Bucket: run.bucket, Id })))
      .InventoryConfiguration;
    const fields = new Set<string>(c?.OptionalFields ?? []);
    return { kind: "inventory", showsObjectLock: LOCK_FIELDS.every((f) => fields.has(f)) };
  });
}

/** Error names S3 and KMS answer when the caller may not read a setting. */
const ACCESS_DENIED = new Set(["AccessDenied", "AccessDeniedException", "Forbidden"]);
/**
 * Error names for "this endpoint does not offer the operation": the sandbox's KMS answers
 * UnsupportedOperationException for GetKeyPolicy (not implemented there yet), its S3 NotImplemented (501) for
 * settings it does not serve.
 */
const NOT_OFFERED = new Set([
  "NotImplemented",
  "UnsupportedOperationException",
  "UnknownOperationException",
  "InvalidAction",
]);

/**
 * One read-only call. `notConfigured` maps the error names AWS documents for "this setting is not configured" to
 * the fact that means; access denied and unavailable operations become CannotTell; anything else propagates
 * (throttling and 5xx are retried by the workflow via invokeStep's TransientAwsError).
 */
async function read<T>(
  what: string,
  call: () => Promise<Fact<T>>,
  notConfigured: Readonly<Record<string, T>> = {},
): Promise<Fact<T>> {
  try {
    return await call();
  } catch (err) {
    const e = err as { name?: string; message?: string };
    const name = e.name ?? "";
    if (Object.hasOwn(notConfigured, name)) return notConfigured[name] as T;
    if (ACCESS_DENIED.has(name) || httpStatusOf(err) === 403) return cannotTell(`${what}: access denied`);
    if (NOT_OFFERED.has(name) || httpStatusOf(err) === 501) {
      return cannotTell(`${what} is not available at this endpoint (${name}: ${e.message ?? ""})`);
    }
    throw err;
  }
}

export interface GatherOptions {
  /** Shared by the buckets of one scan: the account's principals and their kms:Decrypt answers (reader-impact.ts). */
  readers?: ReaderImpactCache;
}

/**
 * Every fact preflight judges, by read-only calls only: the step runs them inside the run, and `rekey start` before
 * it starts one. `batchRoleArn` is the role Batch Operations copies as, whose use of the key the key policy must allow.
 * Without an IAM client the readers of the bucket are not read (and not judged).
 */
export async function gatherPreflightFacts(
  run: PreflightRun,
  clients: Pick<AwsClients, "s3" | "kms"> & Partial<Pick<AwsClients, "iam">>,
  batchRoleArn: string,
  options: GatherOptions = {},
): Promise<PreflightFacts> {
  const { s3, kms, iam } = clients;
  const Bucket = run.bucket;
  const [versioning, objectLock, replication, notifications, lifecycle, ownership, defaultEncryption, bucketPolicy] =
    await Promise.all([
      read<VersioningStatus>("GetBucketVersioning", async () => {
        const out = await s3.send(new GetBucketVersioningCommand({ Bucket }));
        return out.Status === "Enabled" || out.Status === "Suspended" ? out.Status : "Unversioned";
      }),
      read<ObjectLockFacts>(
        "GetObjectLockConfiguration",
        async () => {
          const c = (await s3.send(new GetObjectLockConfigurationCommand({ Bucket }))).ObjectLockConfiguration;
          const r = c?.Rule?.DefaultRetention;
          const mode = r?.Mode === "COMPLIANCE" || r?.Mode === "GOVERNANCE" ? r.Mode : undefined;
          return {
            enabled: c?.ObjectLockEnabled === "Enabled",
            ...(mode
              ? {
                  defaultRetention: {
                    mode,
                    ...(r?.Days !== undefined ? { days: r.Days } : {}),
                    ...(r?.Years !== undefined ? { years: r.Years } : {}),
                  },
                }
              : {}),
          };
        },
        { ObjectLockConfigurationNotFoundError: { enabled: false } },
      ),
      read<ReplicationFacts | null>(
        "GetBucketReplication",
        async () => {
          const rules = (await s3.send(new GetBucketReplicationCommand({ Bucket }))).ReplicationConfiguration?.Rules;
          return {
            rules: (rules ?? []).map((r) => ({
              ...(r.ID ? { id: r.ID } : {}),
              enabled: r.Status === "Enabled",
              sseKmsEncryptedObjects: r.SourceSelectionCriteria?.SseKmsEncryptedObjects?.Status === "Enabled",
              ...(r.Destination?.Bucket ? { destinationBucket: r.Destination.Bucket } : {}),
            })),
          };
        },
        { ReplicationConfigurationNotFoundError: null },
      ),
      read<NotificationFacts>("GetBucketNotificationConfiguration", async () => {
        const n = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }));
        return {
          targets: [
            ...(n.TopicConfigurations ?? []).map((t) => ({
              kind: "topic" as const,
              arn: t.TopicArn ?? "",
              events: t.Events ?? [],
            })),
            ...(n.QueueConfigurations ?? []).map((q) => ({
              kind: "queue" as const,
              arn: q.QueueArn ?? "",
              events: q.Events ?? [],
            })),
            ...(n.LambdaFunctionConfigurations ?? []).map((l) => ({
              kind: "lambda" as const,
              arn: l.LambdaFunctionArn ?? "",
              events: l.Events ?? [],
            })),
          ],
          eventBridge: n.EventBridgeConfiguration !== undefined,
        };
      }),
      read<readonly LifecycleRuleFacts[]>(
        "GetBucketLifecycleConfiguration",
        async () =>
          (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))).Rules?.map(lifecycleRule) ?? [],
        { NoSuchLifecycleConfiguration: [] },
      ),
      read<ObjectOwnership>(
        "GetBucketOwnershipControls",
        async () => {
          const o = (await s3.send(new GetBucketOwnershipControlsCommand({ Bucket }))).OwnershipControls?.Rules?.[0]
            ?.ObjectOwnership;
          return o === "BucketOwnerEnforced" || o === "BucketOwnerPreferred" || o === "ObjectWriter" ? o : "none";
        },
        { OwnershipControlsNotFoundError: "none" },
      ),
      read<DefaultEncryptionFacts>(
        "GetBucketEncryption",
        async () => {
          const rule = (await s3.send(new GetBucketEncryptionCommand({ Bucket }))).ServerSideEncryptionConfiguration
            ?.Rules?.[0];
          const d = rule?.ApplyServerSideEncryptionByDefault;
          const algorithm =
            d?.SSEAlgorithm === "AES256" || d?.SSEAlgorithm === "aws:kms" || d?.SSEAlgorithm === "aws:kms:dsse"
              ? d.SSEAlgorithm
              : "none";
          return {
            algorithm,
            ...(d?.KMSMasterKeyID ? { kmsKeyId: d.KMSMasterKeyID } : {}),
            bucketKeyEnabled: rule?.BucketKeyEnabled === true,
          };
        },
        { ServerSideEncryptionConfigurationNotFoundError: { algorithm: "none", bucketKeyEnabled: false } },
      ),
      read<string | null>(
        "GetBucketPolicy",
        async () => (await s3.send(new GetBucketPolicyCommand({ Bucket }))).Policy ?? null,
        { NoSuchBucketPolicy: null },
      ),
    ]);
  const candidates = await candidateFacts(run, s3);
  const [key, keyPolicy, readers] = await Promise.all([
    read<KeyFacts>("KMS DescribeKey", async () => {
      const m = (await kms.send(new DescribeKeyCommand({ KeyId: run.kmsKeyArn }))).KeyMetadata;
      return {
        arn: m?.Arn ?? run.kmsKeyArn,
        state: m?.KeyState ?? "unknown",
        keyManager: m?.KeyManager ?? "unknown",
        ...(m?.CustomKeyStoreId ? { customKeyStore: await keyStoreFacts(kms, m.CustomKeyStoreId) } : {}),
      };
    }),
    read<string>("KMS GetKeyPolicy", async () => {
      const out = await kms.send(new GetKeyPolicyCommand({ KeyId: run.kmsKeyArn, PolicyName: "default" }));
      return out.Policy ?? cannotTell("KMS GetKeyPolicy returned no policy");
    }),
    iam === undefined
      ? undefined
      : read<ReaderFacts>("IAM", () =>
          readReaderImpact(
            iam,
            {
              bucket: run.bucket,
              bucketAccountId: run.accountId,
              region: run.region,
              targetKeyArn: run.kmsKeyArn,
              batchRoleArn,
              bucketPolicy,
            },
            options.readers,
          ),
        ),
  ]);

  return {
    bucket: run.bucket,
    bucketRegion: run.region,
    bucketAccountId: run.accountId,
    targetKeyArn: run.kmsKeyArn,
    batchRoleArn,
    versioning,
    objectLock,
    ...(candidates === undefined ? {} : { candidates }),
    replication,
    notifications,
    lifecycle,
    ownership,
    defaultEncryption,
    bucketPolicy,
    key,
    keyPolicy,
    ...(readers === undefined ? {} : { readers }),
  };
}

/** The custom key store a key lives in: its type says which backing (CloudHSM, external) its quota comes with. */
async function keyStoreFacts(kms: AwsClients["kms"], id: string): Promise<CustomKeyStoreFacts> {
  const details = await read<KeyStoreDetails>("KMS DescribeCustomKeyStores", async () => {
    const store = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }))).CustomKeyStores?.[0];
    if (!store) return cannotTell(`KMS DescribeCustomKeyStores does not know ${id}`);
    return {
      // Stores from before external key stores carry no type: they are CloudHSM key stores.
      type: store.CustomKeyStoreType ?? "AWS_CLOUDHSM",
      ...(store.CustomKeyStoreName ? { name: store.CustomKeyStoreName } : {}),
      ...(store.ConnectionState ? { connectionState: store.ConnectionState } : {}),
    };
  });
  return { id, details };
}

function lifecycleRule(r: LifecycleRule): LifecycleRuleFacts {
  const f = r.Filter;
  const wholeBucket =
    !r.Prefix &&
    (f === undefined ||
      (!f.Prefix && !f.Tag && !f.And && f.ObjectSizeGreaterThan === undefined && f.ObjectSizeLessThan === undefined));
  const transitions = (r.Transitions ?? []).flatMap((t) =>
    t.Days !== undefined ? [{ days: t.Days, storageClass: t.StorageClass ?? "?" }] : [],
  );
  return {
    ...(r.ID ? { id: r.ID } : {}),
    enabled: r.Status === "Enabled",
    wholeBucket,
    ...(r.Expiration?.Days !== undefined ? { expirationDays: r.Expiration.Days } : {}),
    ...(transitions.length ? { transitions } : {}),
    ...(r.NoncurrentVersionExpiration?.NoncurrentDays !== undefined
      ? { noncurrentExpirationDays: r.NoncurrentVersionExpiration.NoncurrentDays }
      : {}),
  };
}
