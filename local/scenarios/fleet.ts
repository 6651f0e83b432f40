import { CreateKeyCommand } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { UnexpectedResponseError } from "../../contract/errors.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { type MixedBucket, seedMixedBucket } from "./mixed-bucket.ts";

/** What each bucket of the fleet scenario is, and so what `rekey scan` should say of it. */
export interface FleetScenario {
  targetKeyArn: string;
  /** Buckets with objects to re-encrypt (the mixed bucket's cases), largest first. */
  mixed: MixedBucket[];
  /** Empty, with no default encryption: a run only sets the default. */
  emptyWithoutDefault: string;
  /** Empty, defaulting to the target key with Bucket Key: nothing to do. */
  compliant: string;
  /** Never versioned, holding objects: preflight refuses a run (versioning-disabled). */
  unversioned: string;
  /** Every bucket of the scenario, by name. */
  buckets: string[];
}

/**
 * An account with several buckets in different states, for `rekey demo --fleet` and the fleet's tests: two mixed
 * buckets of different sizes (every case a run routes or skips), an empty one without default encryption, an empty
 * compliant one and an unversioned one a run would refuse. Every name starts with `prefix`, so a scan can pick them.
 */
export async function seedFleet(
  clients: AwsClients,
  admin: SandboxAdmin,
  options: { prefix: string; workBucket: string; objects: number },
): Promise<FleetScenario> {
  const key = async (description: string) => {
    const arn = (await clients.kms.send(new CreateKeyCommand({ Description: description }))).KeyMetadata?.Arn;
    if (!arn) {
      throw new UnexpectedResponseError("KMS CreateKey returned no key ARN.", {
        fix: "Check the KMS endpoint the clients point at: CreateKey always answers KeyMetadata.Arn.",
      });
    }
    return arn;
  };
  const keys = { targetKeyArn: await key("rekey fleet target key"), otherKeyArn: await key("an older key") };
  const name = (n: string) => `${options.prefix}${n}`;
  const mixed: MixedBucket[] = [];
  for (const [bucket, objects] of [
    [name("photos"), options.objects],
    [name("logs"), Math.max(8, Math.floor(options.objects / 4))],
  ] as const) {
    // Generated lists cannot see Object Lock (steps/domain/candidates.ts): a fleet's runs list their buckets.
    mixed.push(
      await seedMixedBucket(clients, admin, {
        bucket,
        workBucket: options.workBucket,
        objects,
        objectLock: false,
        keys,
      }),
    );
  }
  const versioned = async (bucket: string) => {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await clients.s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
  };
  const emptyWithoutDefault = name("new-empty");
  await versioned(emptyWithoutDefault);
  const compliant = name("compliant");
  await versioned(compliant);
  await clients.s3.send(
    new PutBucketEncryptionCommand({
      Bucket: compliant,
      ServerSideEncryptionConfiguration: {
        Rules: [
          {
            ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keys.targetKeyArn },
            BucketKeyEnabled: true,
          },
        ],
      },
    }),
  );
  const unversioned = name("unversioned");
  await clients.s3.send(new CreateBucketCommand({ Bucket: unversioned }));
  await clients.s3.send(new PutObjectCommand({ Bucket: unversioned, Key: "old/report.csv", Body: "a,b\n1,2\n" }));
  return {
    targetKeyArn: keys.targetKeyArn,
    mixed,
    emptyWithoutDefault,
    compliant,
    unversioned,
    buckets: [...mixed.map((m) => m.bucket), emptyWithoutDefault, compliant, unversioned],
  };
}
