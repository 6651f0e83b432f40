/**
 * The Athena workgroup the `athena` filter engine queries in, as one description for AWS (infra/constructs/
 * athena-workgroup.ts) and the sandbox (local/deploy.ts). No CDK here: local/ imports it without loading aws-cdk-lib.
 */
import type { WorkGroupConfiguration } from "@aws-sdk/client-athena";

/** Where in the work bucket Athena writes query results (`<id>.csv`, `<id>.csv.metadata`, `<id>.txt` for DDL). */
export const ATHENA_RESULTS_PREFIX = "athena-results/";

/**
 * Athena's smallest per-query cutoff (CreateWorkGroup refuses less:
 * https://docs.aws.amazon.com/athena/latest/APIReference/API_WorkGroupConfiguration.html).
 */
export const MIN_BYTES_SCANNED_CUTOFF_PER_QUERY = 10_000_000;

/**
 * 1 TiB: a guard against a runaway query, not a limit a real inventory reaches. Athena bills $5 per TB scanned
 * (https://aws.amazon.com/athena/pricing/), so one query costs at most about $5.50. An S3 Inventory CSV row is some
 * 200 bytes before gzip and Athena scans the gzipped files whole (about a fifth of that), so 1 TiB is an inventory
 * of tens of billions of versions; a query over a LOCATION that is wrong (a whole bucket, every delivery at once)
 * stops there instead. A query the cutoff stops ends FAILED ("Bytes scanned limit was exceeded",
 * https://docs.aws.amazon.com/athena/latest/ug/workgroups-setting-control-limits-cloudwatch.html); raise it with
 * athenaBytesScannedCutoffPerQuery in the configuration file (infra/config.ts).
 */
export const DEFAULT_BYTES_SCANNED_CUTOFF_PER_QUERY = 1024 ** 4;

export const ATHENA_ENGINE_VERSION = "Athena engine version 3";

export interface AthenaWorkGroupSettings {
  /** The work bucket's name: results go to `s3://<it>/athena-results/`. */
  workBucket: string;
  bytesScannedCutoffPerQuery: number;
  /** The work bucket's KMS key, if it has one: results are then SSE_KMS under it, else SSE_S3. */
  kmsKeyArn?: string | undefined;
}

/**
 * The workgroup's configuration as Athena's API takes it (CreateWorkGroup, and CloudFormation's
 * AWS::Athena::WorkGroup in the same names). Enforced, so a query cannot send its results elsewhere or unencrypted
 * (https://docs.aws.amazon.com/athena/latest/ug/workgroups-settings-override.html); each query's bytes scanned and
 * run time published to CloudWatch, for cost reviews.
 */
export function athenaWorkGroupConfiguration(settings: AthenaWorkGroupSettings) {
  return {
    ResultConfiguration: {
      OutputLocation: `s3://${settings.workBucket}/${ATHENA_RESULTS_PREFIX}`,
      EncryptionConfiguration: settings.kmsKeyArn
        ? { EncryptionOption: "SSE_KMS", KmsKey: settings.kmsKeyArn }
        : { EncryptionOption: "SSE_S3" },
    },
    EnforceWorkGroupConfiguration: true,
    PublishCloudWatchMetricsEnabled: true,
    BytesScannedCutoffPerQuery: settings.bytesScannedCutoffPerQuery,
    EngineVersion: { SelectedEngineVersion: ATHENA_ENGINE_VERSION },
  } satisfies WorkGroupConfiguration;
}
