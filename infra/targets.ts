/**
 * What one rekey stack may touch, as IAM resource ARNs: every grant on data, keys and jobs is built from these, so
 * no policy can name a bucket or key the configuration (infra/config.ts) does not.
 */
import type { Stack } from "aws-cdk-lib";
import type { RekeyConfig } from "./config.ts";

export interface RekeyTargets {
  /** The buckets rekey may re-encrypt; a pattern "data-*" becomes arn:…:s3:::data-*. */
  buckets: string[];
  /** Their objects: arn:…:s3:::<bucket>/*. */
  objects: string[];
  /** The keys objects may be re-encrypted under. */
  keys: string[];
  /** The keys SSE-KMS objects are under today, other than the targets (may be empty). */
  sourceKeys: string[];
  /** Batch Operations jobs: their ids are only known at run time, so this account's and region's jobs. */
  jobs: string;
}

export function rekeyTargets(stack: Stack, config: RekeyConfig): RekeyTargets {
  const buckets = config.buckets.map((b) => `arn:${stack.partition}:s3:::${b}`);
  return {
    buckets,
    objects: buckets.map((arn) => `${arn}/*`),
    keys: config.kmsKeyArns,
    sourceKeys: config.sourceKmsKeyArns,
    jobs: `arn:${stack.partition}:s3:${stack.region}:${stack.account}:job/*`,
  };
}
