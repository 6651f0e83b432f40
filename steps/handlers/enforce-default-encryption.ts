import {
  GetBucketEncryptionCommand,
  PutBucketEncryptionCommand,
  type S3Client,
  type ServerSideEncryptionRule,
} from "@aws-sdk/client-s3";
import { z } from "zod";
import type { DefaultEncryptionResult } from "../../contract/default-encryption.ts";
import { defaultEncryptionRecordKey, RunContextSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { getTextIfExists, httpStatusOf, putJson } from "../aws/s3-io.ts";
import { defineStep } from "../runtime/step.ts";

const Record = z.object({ kmsKeyArn: z.string(), enforcedAt: z.string(), previous: z.unknown(), runId: z.string() });

export const enforceDefaultEncryption = defineStep({
  state: StateNames.enforceDefaultEncryption,
  input: z.object({ run: RunContextSchema }),
  async run({ run }, { clients, now, log }): Promise<DefaultEncryptionResult> {
    const previous = await currentRules(clients.s3, run.bucket);
    const alreadyEnforced = previous?.length === 1 && isTargetRule(previous[0], run.kmsKeyArn);
    const recordKey = defaultEncryptionRecordKey(run.bucket);
    if (alreadyEnforced) {
      const text = await getTextIfExists(clients.s3, run.workBucket, recordKey);
      const record = text === undefined ? undefined : Record.safeParse(JSON.parse(text)).data;
      if (record?.kmsKeyArn === run.kmsKeyArn) {
        log.info("default encryption already enforced", { bucket: run.bucket, enforcedAt: record.enforcedAt });
        return {
          enforcedAt: record.enforcedAt,
          changed: false,
          previous: (record.previous as ServerSideEncryptionRule[] | null) ?? null,
        };
      }
    } else {
      await clients.s3.send(
        new PutBucketEncryptionCommand({
          Bucket: run.bucket,
          ServerSideEncryptionConfiguration: {
            Rules: [
              {
                ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: run.kmsKeyArn },
                BucketKeyEnabled: true,
              },
            ],
          },
        }),
      );
    }
    // Someone else may have set the same configuration earlier, but when is unknown: only writes after now are certain.
    const enforcedAt = now().toISOString();
    await putJson(clients.s3, run.workBucket, recordKey, {
      kmsKeyArn: run.kmsKeyArn,
      enforcedAt,
      previous,
      runId: run.runId,
    });
    log.info("default encryption enforced", { bucket: run.bucket, enforcedAt, kmsKeyArn: run.kmsKeyArn });
    return { enforcedAt, changed: !alreadyEnforced, previous };
  },
});

function isTargetRule(rule: ServerSideEncryptionRule | undefined, kmsKeyArn: string): boolean {
  const d = rule?.ApplyServerSideEncryptionByDefault;
  return d?.SSEAlgorithm === "aws:kms" && d.KMSMasterKeyID === kmsKeyArn && rule?.BucketKeyEnabled === true;
}

async function currentRules(s3: S3Client, bucket: string): Promise<ServerSideEncryptionRule[] | null> {
  try {
    const out = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    return out.ServerSideEncryptionConfiguration?.Rules ?? null;
  } catch (err) {
    // Buckets created before 2023 may answer 404 ServerSideEncryptionConfigurationNotFoundError.
    if (httpStatusOf(err) === 404) return null;
    throw err;
  }
}
