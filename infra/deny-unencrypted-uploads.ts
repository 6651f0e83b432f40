/**
 * The bucket-policy statements that refuse a write to a bucket unless it ends SSE-KMS under the bucket's target key,
 * for a bucket whose run is done (runbooks/deploy.md, "Keep default encryption enforced"). The stack does not deploy
 * them: rekey does not own the buckets' policies, and the statements break writers that ask for other encryption,
 * so the owner of each bucket adds them when its writers are known.
 *
 * A write that asks for no encryption is not refused: the bucket's default encryption (SSE-KMS, the target key, the
 * Bucket Key) applies to it. Refused are the writes that would end otherwise: SSE-S3 or DSSE-KMS asked for, another
 * key named, `aws:kms` with no key named (S3 then uses the AWS managed key aws/s3, see PutObject's
 * x-amz-server-side-encryption-aws-kms-key-id in https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html),
 * and SSE-C. PutObject, CopyObject and CreateMultipartUpload are all authorized as s3:PutObject
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html). Each statement that compares a header
 * also requires it present (`Null: false`): a negated operator, or an `...IfExists` one, is true when the key is
 * absent (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html),
 * which would refuse every write relying on default encryption, and requests that carry no encryption headers at all
 * such as UploadPart.
 */

export interface PolicyStatementJson {
  Sid: string;
  Effect: "Deny";
  Principal: "*";
  Action: "s3:PutObject";
  Resource: string;
  Condition: Record<string, Record<string, string>>;
}

/** The statements for `bucket` and its target key (a full key ARN), in the order the runbook lists them. */
export function denyUnencryptedUploadsStatements(
  bucket: string,
  kmsKeyArn: string,
  partition = "aws",
): PolicyStatementJson[] {
  const deny = (Sid: string, Condition: PolicyStatementJson["Condition"]): PolicyStatementJson => ({
    Sid,
    Effect: "Deny",
    Principal: "*",
    Action: "s3:PutObject",
    Resource: `arn:${partition}:s3:::${bucket}/*`,
    Condition,
  });
  return [
    deny("RekeyDenyOtherEncryption", {
      StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
      Null: { "s3:x-amz-server-side-encryption": "false" },
    }),
    deny("RekeyDenyOtherKeys", {
      StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": kmsKeyArn },
      Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
    }),
    deny("RekeyDenyAwsManagedKey", {
      StringEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
      Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "true" },
    }),
    deny("RekeyDenyCustomerKeys", {
      Null: { "s3:x-amz-server-side-encryption-customer-algorithm": "false" },
    }),
  ];
}
