import { CreateBucketCommand, PutBucketVersioningCommand, type S3Client } from "@aws-sdk/client-s3";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { type Sandbox, type SandboxOptions, startSandbox } from "../../sandbox/server.ts";
import { type AwsClients, createAwsClients } from "../../steps/runtime/clients.ts";

/** Starts a sandbox on a free loopback port and real SDK clients pointed at it. */
export async function sandboxWithClients(
  options: SandboxOptions = {},
): Promise<{ sandbox: Sandbox; clients: AwsClients }> {
  const sandbox = await startSandbox({ port: 0, ...options });
  const clients = createAwsClients({
    region: sandbox.identity.region,
    endpoint: sandbox.endpoint,
    credentials: SANDBOX_CREDENTIALS,
    maxAttempts: 1,
  });
  return { sandbox, clients };
}

let bucketCount = 0;

/** A fresh, uniquely named bucket; versioned (or with Object Lock, which implies versioning) when asked. */
export async function newTestBucket(
  s3: S3Client,
  prefix: string,
  opts: { versioned?: boolean; objectLock?: boolean } = {},
): Promise<string> {
  const bucket = `${prefix}-${++bucketCount}-${Date.now()}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: opts.objectLock ?? false }));
  if (opts.versioned) {
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
  }
  return bucket;
}
