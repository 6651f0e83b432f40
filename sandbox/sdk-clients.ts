import { AthenaClient } from "@aws-sdk/client-athena";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { IAMClient } from "@aws-sdk/client-iam";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { S3ControlClient } from "@aws-sdk/client-s3-control";
import { SFNClient } from "@aws-sdk/client-sfn";
import { STSClient } from "@aws-sdk/client-sts";
import { SANDBOX_CREDENTIALS } from "./config.ts";

/** Real AWS SDK v3 clients for every service the sandbox speaks. */
export interface SandboxClients {
  s3: S3Client;
  s3control: S3ControlClient;
  kms: KMSClient;
  sts: STSClient;
  sfn: SFNClient;
  athena: AthenaClient;
  /** IAM is global: its client signs for us-east-1 whatever the sandbox's region. */
  iam: IAMClient;
  cloudwatch: CloudWatchClient;
}

/**
 * What the sandbox's own Batch Operations engine appends to its S3 client's user agent, so fault rules can tell its
 * calls (tasks, manifests, reports) from a client's, as AWS tells a service's calls from a caller's.
 */
export const BATCH_OPERATIONS_USER_AGENT = "sandbox-batch-operations";

/** Where the clients go: the sandbox's `http://127.0.0.1:<port>` endpoint and its region. */
export interface SandboxEndpoint {
  endpoint: string;
  region: string;
}

/**
 * The settings every client shares: the sandbox's static credentials and, unless told otherwise, a single attempt
 * (no retries), so a test sees every error the sandbox answers.
 */
function common(region: string, maxAttempts = 1) {
  return { region, credentials: SANDBOX_CREDENTIALS, maxAttempts };
}

/**
 * An S3 client for the sandbox: path-style, since a loopback endpoint cannot take `{bucket}.` host names.
 * `maxAttempts` above 1 lets the SDK retry what it deems transient (a kept-alive connection the server closed).
 */
export function sandboxS3Client(
  { endpoint, region }: SandboxEndpoint,
  options: { maxAttempts?: number; customUserAgent?: string } = {},
): S3Client {
  return new S3Client({
    ...common(region, options.maxAttempts),
    endpoint,
    forcePathStyle: true,
    ...(options.customUserAgent !== undefined ? { customUserAgent: options.customUserAgent } : {}),
  });
}

/**
 * Clients for every sandbox service. S3 Control skips the `{AccountId}.` host prefix its endpoint rules add
 * (a loopback endpoint cannot take it); the account still travels in `x-amz-account-id`.
 */
export function sandboxClients(at: SandboxEndpoint): SandboxClients {
  const base = at.endpoint.endsWith("/") ? at.endpoint : `${at.endpoint}/`;
  return {
    s3: sandboxS3Client(at),
    s3control: new S3ControlClient({ ...common(at.region), endpointProvider: () => ({ url: new URL(base) }) }),
    kms: new KMSClient({ ...common(at.region), endpoint: at.endpoint }),
    sts: new STSClient({ ...common(at.region), endpoint: at.endpoint }),
    sfn: new SFNClient({ ...common(at.region), endpoint: at.endpoint }),
    athena: new AthenaClient({ ...common(at.region), endpoint: at.endpoint }),
    iam: new IAMClient({ ...common("us-east-1"), endpoint: at.endpoint }),
    cloudwatch: new CloudWatchClient({ ...common(at.region), endpoint: at.endpoint }),
  };
}
