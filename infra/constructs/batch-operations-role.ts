import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import type { RekeyTargets } from "../targets.ts";
import { type WorkBucket, WorkBucketPrefixes } from "./work-bucket.ts";

export interface BatchOperationsRoleProps {
  targets: RekeyTargets;
  workBucket: WorkBucket;
}

/**
 * The one role rekey's S3 Batch Operations jobs run as: the copy jobs, the encryption-update jobs and the manifest
 * generator jobs. It may write the target keys only; source keys (if configured) only to re-encrypt from. A Role
 * itself, so that its logical ID, and with it every job's role ARN, stays as deployed.
 */
export class BatchOperationsRole extends Role {
  constructor(scope: Construct, id: string, props: BatchOperationsRoleProps) {
    super(scope, id, {
      assumedBy: new ServicePrincipal("batchoperations.s3.amazonaws.com"),
      description: "rekey: S3 Batch Operations copies objects in place to SSE-KMS with Bucket Key",
    });
    const { targets, workBucket } = props;
    // Copy in place (S3PutObjectCopy, MetadataDirective COPY, tags kept): read the object and its tags, write it
    // back. No *Version actions on the data: manifests never carry a VersionId (steps/domain/batch-manifest.ts),
    // and version-specific permissions are only needed when one is given
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html). No ACL actions: the
    // jobs set no ACL. ListBucket makes a key deleted since planning fail with 404 (reported "gone") instead of 403
    // (which verification must treat as an access problem).
    this.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "CopyObjectsInPlace",
        actions: ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"],
        resources: targets.objects,
      }),
    );
    this.addToPrincipalPolicy(
      new PolicyStatement({ sid: "ListTargetBuckets", actions: ["s3:ListBucket"], resources: targets.buckets }),
    );
    this.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadManifests",
        actions: ["s3:GetObject", "s3:GetObjectVersion"],
        resources: [workBucket.arnForObjects(WorkBucketPrefixes.manifests)],
      }),
    );
    this.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "WriteCandidateLists",
        actions: ["s3:PutObject"],
        resources: [workBucket.arnForObjects(WorkBucketPrefixes.candidates)],
      }),
    );
    this.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "WriteCompletionReports",
        actions: ["s3:PutObject"],
        resources: [workBucket.arnForObjects(WorkBucketPrefixes.reports)],
      }),
    );
    // S3UpdateObjectEncryption
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-update-encryption.html):
    // s3:UpdateObjectEncryption on the objects, and on the keys kms:Encrypt, kms:Decrypt, kms:GenerateDataKey and
    // kms:ReEncrypt* (ReEncryptFrom/ReEncryptTo spelled out).
    this.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "UpdateEncryptionInPlace",
        actions: ["s3:UpdateObjectEncryption"],
        resources: targets.objects,
      }),
    );
    // Writing SSE-KMS needs GenerateDataKey; CopyObject's documented permissions add Decrypt; the encryption
    // update adds Encrypt and ReEncrypt*. Copies read only unencrypted objects, so no other key is needed for them.
    this.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "EncryptUnderTargetKeys",
        actions: ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
        resources: targets.keys,
      }),
    );
    // SSE-KMS objects under an older key: the update decrypts (re-encrypts from) their data keys under that key.
    if (targets.sourceKeys.length > 0) {
      this.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "ReEncryptFromSourceKeys",
          actions: ["kms:Decrypt", "kms:ReEncryptFrom"],
          resources: targets.sourceKeys,
        }),
      );
    }
  }
}
