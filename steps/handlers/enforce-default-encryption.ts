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

/**
 * `runs/<bucket>/default-encryption.json`: the bucket's configuration before rekey changed it (what a rollback
 * restores) and, once the change is made, when. Written "pending" before PutBucketEncryption and completed after,
 * so a step that crashes between the two finds, on retry, the original configuration rather than its own rule.
 * Records written before the pending state existed carry no `state` and an `enforcedAt`: they are complete.
 */
const Record = z.object({
  kmsKeyArn: z.string(),
  state: z.enum(["pending", "enforced"]).optional(),
  enforcedAt: z.string().optional(),
  previous: z.unknown(),
  runId: z.string(),
});
type Record = z.infer<typeof Record>;

export const enforceDefaultEncryption = defineStep({
  state: StateNames.enforceDefaultEncryption,
  input: z.object({ run: RunContextSchema }),
  async run({ run }, { clients, now, log }): Promise<DefaultEncryptionResult> {
    const current = await currentRules(clients.s3, run.bucket);
    const alreadyEnforced = current?.length === 1 && isTargetRule(current[0], run.kmsKeyArn);
    const recordKey = defaultEncryptionRecordKey(run.bucket);
    const text = await getTextIfExists(clients.s3, run.workBucket, recordKey);
    const record = text === undefined ? undefined : Record.safeParse(JSON.parse(text)).data;
    const forTarget = record?.kmsKeyArn === run.kmsKeyArn ? record : undefined;
    const enforcedBefore = forTarget && forTarget.state !== "pending" ? forTarget.enforcedAt : undefined;

    if (alreadyEnforced && enforcedBefore !== undefined) {
      log.info("default encryption already enforced", { bucket: run.bucket, enforcedAt: enforcedBefore });
      return { enforcedAt: enforcedBefore, changed: false, previous: rulesOf(forTarget) };
    }
    // The bucket shows the target rule and a pending record names it: an earlier attempt changed the bucket and
    // stopped before completing the record, so the configuration it found, not the one now, is the original.
    const resumed = alreadyEnforced && forTarget?.state === "pending";
    const previous = resumed ? rulesOf(forTarget) : current;
    if (!alreadyEnforced) {
      // Before the bucket changes: whatever happens next, a retry (which then finds the target rule) reads this.
      await putJson(clients.s3, run.workBucket, recordKey, {
        kmsKeyArn: run.kmsKeyArn,
        state: "pending",
        previous,
        runId: run.runId,
      } satisfies Record);
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
    // Someone else, or a crashed attempt, may have set the same configuration earlier, but when is unknown: only
    // writes after now are certain.
    const enforcedAt = now().toISOString();
    await putJson(clients.s3, run.workBucket, recordKey, {
      kmsKeyArn: run.kmsKeyArn,
      state: "enforced",
      enforcedAt,
      previous,
      runId: run.runId,
    } satisfies Record);
    log.info("default encryption enforced", { bucket: run.bucket, enforcedAt, kmsKeyArn: run.kmsKeyArn });
    return { enforcedAt, changed: !alreadyEnforced || resumed, previous };
  },
});

function rulesOf(record: Record | undefined): ServerSideEncryptionRule[] | null {
  return (record?.previous as ServerSideEncryptionRule[] | null | undefined) ?? null;
}

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
