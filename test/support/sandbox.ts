import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { KMSClient } from "@aws-sdk/client-kms";
import { CreateBucketCommand, PutBucketVersioningCommand, type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import type { S3ControlClient } from "@aws-sdk/client-s3-control";
import type { SFNClient } from "@aws-sdk/client-sfn";
import type { STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll } from "vitest";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { type SandboxClients, sandboxClients } from "../../sandbox/sdk-clients.ts";
import { type Sandbox, type SandboxOptions, startSandbox } from "../../sandbox/server.ts";

/** Starts a sandbox on a free loopback port and real SDK clients pointed at it. */
export async function sandboxWithClients(
  options: SandboxOptions = {},
): Promise<{ sandbox: Sandbox; clients: SandboxClients }> {
  const sandbox = await startSandbox({ port: 0, ...options });
  const clients = sandboxClients({ endpoint: sandbox.endpoint, region: sandbox.identity.region });
  return { sandbox, clients };
}

/** What `useSandbox` gives a test file: readable from the first `beforeAll` that follows it on. */
export interface SandboxUnderTest {
  readonly sandbox: Sandbox;
  readonly clients: SandboxClients;
  readonly s3: S3Client;
  readonly s3control: S3ControlClient;
  readonly kms: KMSClient;
  readonly sts: STSClient;
  readonly sfn: SFNClient;
  /** The sandbox's own `/_sandbox/` API (seeding, inventory delivery, versions). */
  readonly admin: SandboxAdmin;
}

/**
 * Registers the hooks of the enclosing file or `describe`: `beforeAll` starts a sandbox with clients (and an
 * admin client), `afterAll` closes it. The accessors throw when read before the sandbox has started.
 */
export function useSandbox(options: SandboxOptions = {}): SandboxUnderTest {
  let started: { sandbox: Sandbox; clients: SandboxClients; admin: SandboxAdmin } | undefined;
  beforeAll(async () => {
    const { sandbox, clients } = await sandboxWithClients(options);
    started = { sandbox, clients, admin: new SandboxAdmin(sandbox.endpoint) };
  });
  afterAll(async () => {
    await started?.sandbox.close();
  });
  const get = () => {
    if (!started) throw new Error("useSandbox: the sandbox starts in beforeAll; read it from a hook or a test");
    return started;
  };
  return {
    get sandbox() {
      return get().sandbox;
    },
    get clients() {
      return get().clients;
    },
    get s3() {
      return get().clients.s3;
    },
    get s3control() {
      return get().clients.s3control;
    },
    get kms() {
      return get().clients.kms;
    },
    get sts() {
      return get().clients.sts;
    },
    get sfn() {
      return get().clients.sfn;
    },
    get admin() {
      return get().admin;
    },
  };
}

/** The environment for the aws CLI against a sandbox: its credentials and region, no instance metadata, no pager. */
export function awsCliEnv(sandbox: Sandbox, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...extra,
    AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
    AWS_DEFAULT_REGION: sandbox.identity.region,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_PAGER: "",
  };
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

/** The S3 error a call fails with; fails the test when the call succeeds or fails with something else. */
export async function s3Error(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (e) {
    if (e instanceof S3ServiceException) return e;
    throw e;
  }
  throw new Error("expected the S3 call to fail");
}

/** Whether an aws CLI (`cli`: a command on PATH or a path) runs here; it is optional on developer machines. */
export async function cliWorks(cli = "aws"): Promise<boolean> {
  try {
    await promisify(execFile)(cli, ["--version"]);
    return true;
  } catch {
    return false;
  }
}
