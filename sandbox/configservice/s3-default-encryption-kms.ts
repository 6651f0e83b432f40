import { ServiceError } from "../http.ts";
import type { DefaultEncryption } from "../s3/store.ts";

/**
 * The AWS managed rule s3-default-encryption-kms (identifier S3_DEFAULT_ENCRYPTION_KMS,
 * https://docs.aws.amazon.com/config/latest/developerguide/s3-default-encryption-kms.html): "Checks if the S3 buckets
 * are encrypted with AWS Key Management Service (AWS KMS). The rule is NON_COMPLIANT if the S3 bucket is not encrypted
 * with an AWS KMS key." Its one parameter, kmsKeyArns (optional, CSV), lists the keys allowed. It reads the bucket's
 * default encryption only: not the Bucket Key, not the objects.
 */
export const S3_DEFAULT_ENCRYPTION_KMS = "S3_DEFAULT_ENCRYPTION_KMS";

/** The rule's parameter, as the documentation spells it. */
export const KMS_KEY_ARNS_PARAMETER = "kmsKeyArns";

export type RuleCompliance = "COMPLIANT" | "NON_COMPLIANT" | "NOT_APPLICABLE";

export interface RuleEvaluation {
  compliance: RuleCompliance;
  annotation?: string;
}

/**
 * The rule's parameters from PutConfigRule's InputParameters (a JSON object of strings): the allowed keys, or
 * undefined when none are named (then any KMS key is allowed). Whitespace around the commas is dropped; an entry that
 * is not a KMS key ARN, or a parameter the rule does not take, is refused (sandbox/ASSUMPTIONS.md, "AWS Config").
 */
export function kmsKeyArnsOf(inputParameters: Record<string, string>): string[] | undefined {
  for (const name of Object.keys(inputParameters)) {
    if (name !== KMS_KEY_ARNS_PARAMETER) {
      throw new ServiceError(
        "InvalidParameterValueException",
        400,
        `Unknown parameters provided in the input parameters for the rule ${S3_DEFAULT_ENCRYPTION_KMS}: ${name}.`,
      );
    }
  }
  const raw = inputParameters[KMS_KEY_ARNS_PARAMETER];
  if (raw === undefined) return undefined;
  const arns = raw
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  if (arns.length === 0) return undefined;
  for (const arn of arns) {
    if (!/^arn:[a-z0-9-]+:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/.test(arn)) {
      throw new ServiceError(
        "InvalidParameterValueException",
        400,
        `The value '${arn}' of parameter ${KMS_KEY_ARNS_PARAMETER} is not a KMS key ARN.`,
      );
    }
  }
  return arns;
}

/**
 * One bucket judged by the rule: SSE-KMS (`aws:kms`) as the default encryption, under one of `kmsKeyArns` when the
 * rule lists any. The key the bucket names is compared with the list as written (an ARN matches only the same ARN).
 * DSSE-KMS is not SSE-KMS; SSE-S3 (every bucket's baseline since January 2023) is not either.
 */
export function evaluateDefaultEncryption(
  encryption: DefaultEncryption,
  kmsKeyArns: readonly string[] | undefined,
): RuleEvaluation {
  if (encryption.sseAlgorithm !== "aws:kms") {
    return {
      compliance: "NON_COMPLIANT",
      annotation: `The bucket's default encryption is ${encryption.sseAlgorithm}, not SSE-KMS (aws:kms).`,
    };
  }
  if (kmsKeyArns === undefined) return { compliance: "COMPLIANT" };
  const key = encryption.kmsMasterKeyId;
  if (key !== undefined && kmsKeyArns.includes(key)) return { compliance: "COMPLIANT" };
  return {
    compliance: "NON_COMPLIANT",
    annotation: `The bucket's default KMS key ${key ?? "(the AWS managed key aws/s3)"} is not in the rule's ${KMS_KEY_ARNS_PARAMETER}.`,
  };
}
