import { AthenaClient } from "@aws-sdk/client-athena";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { ConfigServiceClient } from "@aws-sdk/client-config-service";
import { IAMClient } from "@aws-sdk/client-iam";
import { KMSClient } from "@aws-sdk/client-kms";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { S3ControlClient } from "@aws-sdk/client-s3-control";
import { SFNClient } from "@aws-sdk/client-sfn";
import { STSClient } from "@aws-sdk/client-sts";

export interface AwsClients {
  s3: S3Client;
  s3control: S3ControlClient;
  kms: KMSClient;
  sts: STSClient;
  sfn: SFNClient;
  athena: AthenaClient;
  /** IAM is global: the SDK resolves its endpoint (and signing region) from any region. */
  iam: IAMClient;
}

/**
 * Attempts of an IAM call: preflight simulates every role and user of the account (steps/aws/reader-impact.ts), and
 * IAM throttles an account's calls as a whole; the adaptive mode also slows the client down while it is throttled
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
 */
const IAM_ATTEMPTS = 10;

/** Sockets of the S3 client: as many as planning's HeadObject calls in flight (HEADS_IN_FLIGHT). */
const S3_SOCKETS = 256;

export interface ClientSettings {
  region: string;
  /** A custom endpoint such as the sandbox's `http://127.0.0.1:4599`; unset means AWS. */
  endpoint?: string;
  /** Keys, or a provider (the CLI's, for a profile); unset: the SDK's default chain. */
  credentials?: S3ClientConfig["credentials"];
  maxAttempts?: number;
}

/**
 * The one place SDK clients are configured. Domain code receives these clients; it never builds its own.
 * With a custom endpoint, S3 goes path-style, and S3 Control skips the `{AccountId}.` host prefix its
 * endpoint rules add (an IP or `localhost` endpoint cannot take it; the account still travels in
 * `x-amz-account-id`).
 */
export function createAwsClients(settings: ClientSettings): AwsClients {
  const common = commonConfig(settings);
  const endpoint = settings.endpoint;
  return {
    s3: new S3Client({
      ...common,
      // Planning keeps a few hundred HeadObject calls in flight (steps/aws/head-pipeline.ts); the SDK's default of 50
      // sockets would queue them.
      requestHandler: { httpAgent: { maxSockets: S3_SOCKETS }, httpsAgent: { maxSockets: S3_SOCKETS } },
      // Resolving the middleware stack anew for every command cost a fifth of a plan's CPU time, one HeadObject per
      // SSE-KMS object (https://github.com/aws/aws-sdk-js-v3/issues/6423). Middleware added to the client after its
      // first command of a kind is not applied to later ones of that kind; rekey adds none.
      cacheMiddleware: true,
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    }),
    s3control: new S3ControlClient({
      ...common,
      ...(endpoint
        ? { endpointProvider: () => ({ url: new URL(endpoint.endsWith("/") ? endpoint : `${endpoint}/`) }) }
        : {}),
    }),
    kms: new KMSClient({ ...common, ...(endpoint ? { endpoint } : {}) }),
    sts: new STSClient({ ...common, ...(endpoint ? { endpoint } : {}) }),
    sfn: new SFNClient({ ...common, ...(endpoint ? { endpoint } : {}) }),
    athena: new AthenaClient({ ...common, ...(endpoint ? { endpoint } : {}) }),
    iam: new IAMClient({
      ...common,
      maxAttempts: settings.maxAttempts ?? IAM_ATTEMPTS,
      retryMode: "adaptive",
      ...(endpoint ? { endpoint } : {}),
    }),
  };
}

/** What every client takes from the settings: region, credentials, retries. */
function commonConfig(settings: ClientSettings) {
  return {
    region: settings.region,
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    ...(settings.maxAttempts ? { maxAttempts: settings.maxAttempts } : {}),
  };
}

/**
 * A Lambda client, for the CLI to read the deployed step functions' settings (cli/deployment.ts). The steps never
 * need one, so the SDK package is loaded only when one is asked for.
 */
export async function createLambdaClient(settings: ClientSettings): Promise<LambdaClient> {
  const { LambdaClient } = await import("@aws-sdk/client-lambda");
  return new LambdaClient({ ...commonConfig(settings), ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) });
}

/** A CloudWatch client, for `rekey scan` to read S3's daily storage metrics; loaded only when one is asked for. */
export async function createCloudWatchClient(settings: ClientSettings): Promise<CloudWatchClient> {
  const { CloudWatchClient } = await import("@aws-sdk/client-cloudwatch");
  return new CloudWatchClient({
    ...commonConfig(settings),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
  });
}

/** An AWS Config client, for `rekey scan` to show Config's compliance results; loaded only when one is asked for. */
export async function createConfigServiceClient(settings: ClientSettings): Promise<ConfigServiceClient> {
  const { ConfigServiceClient } = await import("@aws-sdk/client-config-service");
  return new ConfigServiceClient({
    ...commonConfig(settings),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
  });
}
