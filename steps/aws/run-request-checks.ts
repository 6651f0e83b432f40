import { DescribeKeyCommand, type KeyMetadata, type KMSClient } from "@aws-sdk/client-kms";
import {
  GetBucketInventoryConfigurationCommand,
  HeadBucketCommand,
  type InventoryConfiguration,
  type S3Client,
} from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { FilterEngineChoice } from "../../contract/engines.ts";
import { InvalidInputError, InventoryConfigurationError } from "../../contract/errors.ts";
import type { RunContext } from "../../contract/run-context.ts";
import {
  describeIssues,
  parseKmsKeyArn,
  type RunRequest,
  RunRequestSchema,
  sourceOf,
} from "../../contract/run-request.ts";
import { inventoryConfigurationProblems } from "../domain/inventory-configuration.ts";
import { REQUIRED_INVENTORY_FIELDS } from "../domain/inventory-manifest.ts";
import type { AwsClients } from "../runtime/clients.ts";
import { httpStatusOf } from "./s3-io.ts";

/** A run request that passed every check, with what the checks learned. */
export interface CheckedRequest extends Pick<RunContext, "accountId" | "region" | "workBucket" | "source"> {
  request: RunRequest;
}

/**
 * Every check of a run request, by read-only calls only: the request's form, the work bucket, the account, the
 * bucket's and the key's regions, the key's state, the inventory configuration. "Validate input" runs them inside
 * the run; `rekey start` runs them before it starts one, so a bad request starts nothing. Each failure is an
 * InvalidInputError or InventoryConfigurationError naming the problem and its fix.
 */
export async function checkRunRequest(
  clients: Pick<AwsClients, "s3" | "sts" | "kms">,
  request: unknown,
  deployment: { workBucket?: string | undefined; athenaDeployed: boolean },
): Promise<CheckedRequest> {
  const parsed = RunRequestSchema.safeParse(request);
  if (!parsed.success) {
    throw new InvalidInputError(`The run request is invalid:\n${describeIssues(parsed.error)}`, {
      fix: "Correct the input and start a new execution.",
    });
  }
  const req = parsed.data;
  const workBucket = req.workBucket ?? deployment.workBucket;
  if (!workBucket) {
    throw new InvalidInputError("The request names no workBucket and the deployment has no default work bucket.", {
      fix: "Pass workBucket in the input (rekey start --work-bucket), or deploy rekey's stack, which creates one.",
    });
  }
  if (workBucket === req.bucket) {
    throw new InvalidInputError(`The work bucket ${workBucket} is the bucket being re-encrypted.`, {
      fix: "Use a separate work bucket: manifests and reports written into the bucket being re-encrypted would become part of the run.",
    });
  }
  const { Account: accountId } = await clients.sts.send(new GetCallerIdentityCommand({}));
  if (!accountId)
    throw new InvalidInputError("STS did not return an account id.", {
      fix: "Check the credentials the step runs with.",
    });

  const bucketRegion = await regionOf(clients.s3, req.bucket, "bucket");
  await regionOf(clients.s3, workBucket, "workBucket");
  const region = req.region ?? bucketRegion;
  if (region !== bucketRegion) {
    throw new InvalidInputError(`Bucket ${req.bucket} is in ${bucketRegion}, not in the requested region ${region}.`, {
      fix: `Run rekey in ${bucketRegion}, where the bucket is.`,
    });
  }
  const keyParts = parseKmsKeyArn(req.kmsKeyArn);
  if (keyParts && keyParts.region !== bucketRegion) {
    throw new InvalidInputError(
      `KMS key ${req.kmsKeyArn} is in ${keyParts.region}, but bucket ${req.bucket} is in ${bucketRegion}.`,
      {
        fix: `S3 can only use a key in the bucket's region: create a customer managed key in ${bucketRegion} (or a multi-Region replica there) and pass its ARN.`,
      },
    );
  }
  await checkKey(clients.kms, req.kmsKeyArn);
  const source = sourceOf(req);
  if (req.inventoryConfigurationId !== undefined) {
    await checkInventoryConfiguration(clients.s3, req.bucket, req.inventoryConfigurationId, {
      engine: req.engine ?? "auto",
      athenaDeployed: deployment.athenaDeployed,
    });
  }
  return { request: req, accountId, region, workBucket, source };
}

async function regionOf(s3: S3Client, bucket: string, what: string): Promise<string> {
  try {
    const head = await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return head.BucketRegion ?? (await s3.config.region());
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 404) {
      throw new InvalidInputError(`${what} ${bucket} does not exist.`, {
        fix: `Check the name, or create the bucket first.`,
        cause: err,
      });
    }
    if (status === 403) {
      throw new InvalidInputError(`Access to ${what} ${bucket} is denied (HeadBucket returned 403).`, {
        fix: "Grant the rekey step role s3:ListBucket on the bucket, and check the bucket policy.",
        cause: err,
      });
    }
    throw err;
  }
}

async function checkKey(kms: KMSClient, keyArn: string): Promise<void> {
  let meta: KeyMetadata | undefined;
  try {
    meta = (await kms.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata;
  } catch (err) {
    if ((err as Error).name === "NotFoundException") {
      throw new InvalidInputError(`KMS key ${keyArn} does not exist.`, {
        fix: "Check the key ARN (account, region, key id).",
        cause: err,
      });
    }
    throw err;
  }
  if (meta?.KeyState !== "Enabled") {
    throw new InvalidInputError(`KMS key ${keyArn} is ${meta?.KeyState ?? "in an unknown state"}, not Enabled.`, {
      fix: "Enable the key (aws kms enable-key) or choose another key.",
    });
  }
  if (meta.KeyManager !== "CUSTOMER") {
    throw new InvalidInputError(`KMS key ${keyArn} is an AWS managed key.`, {
      fix: "Use a customer managed key: the point of the migration is a key whose policy you control.",
    });
  }
  if (meta.KeySpec && meta.KeySpec !== "SYMMETRIC_DEFAULT") {
    throw new InvalidInputError(
      `KMS key ${keyArn} has key spec ${meta.KeySpec}; S3 needs a symmetric encryption key.`,
      {
        fix: "Use a SYMMETRIC_DEFAULT customer managed key.",
      },
    );
  }
}

async function checkInventoryConfiguration(
  s3: S3Client,
  bucket: string,
  id: string,
  engine: { engine: FilterEngineChoice; athenaDeployed: boolean },
): Promise<void> {
  let config: InventoryConfiguration | undefined;
  try {
    config = (await s3.send(new GetBucketInventoryConfigurationCommand({ Bucket: bucket, Id: id })))
      .InventoryConfiguration;
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 404) {
      throw new InventoryConfigurationError(`Bucket ${bucket} has no inventory configuration "${id}".`, {
        fix: `Create one (CSV, whole bucket, all versions, with fields ${REQUIRED_INVENTORY_FIELDS.join(", ")}; BucketKeyStatus recommended) or pass the id of an existing one.`,
        cause: err,
      });
    }
    throw err;
  }
  const problems = inventoryConfigurationProblems(config, engine);
  if (problems.length) {
    throw new InventoryConfigurationError(
      `Inventory configuration "${id}" of bucket ${bucket} cannot be used: ${problems.join("; ")}.`,
      {
        fix: `Update it (aws s3api put-bucket-inventory-configuration): enabled, CSV, no prefix filter, with ${REQUIRED_INVENTORY_FIELDS.join(", ")} (BucketKeyStatus recommended); then wait for a delivery and start a new run.`,
      },
    );
  }
}
