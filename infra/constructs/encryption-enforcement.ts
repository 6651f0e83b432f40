/**
 * Keeping the buckets' default encryption on the target keys after rekey has set it, with AWS Config: the managed
 * rule s3-default-encryption-kms (https://docs.aws.amazon.com/config/latest/developerguide/s3-default-encryption-kms.html)
 * and, for the buckets named, an automatic remediation through an Automation document of the stack's own that sets
 * SSE-KMS with the bucket's key *and* the Bucket Key, which the usual AWS-EnableS3BucketEncryption recipe does not.
 *
 * AWS Config needs a configuration recorder in the account and region that records AWS::S3::Bucket. This construct
 * creates none, nor a delivery channel: accounts usually have one, often managed by the organization
 * (runbooks/deploy.md, "Keep default encryption enforced", says how to check).
 */
import { Stack } from "aws-cdk-lib";
import {
  CfnRemediationConfiguration,
  ManagedRule,
  ManagedRuleIdentifiers,
  ResourceType,
  RuleScope,
} from "aws-cdk-lib/aws-config";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnDocument } from "aws-cdk-lib/aws-ssm";
import { Construct } from "constructs";
import type { EnforcementConfig } from "../config.ts";

export interface EncryptionEnforcementProps extends EnforcementConfig {
  /** The target keys (RekeyConfig.kmsKeyArns): the account-wide rule accepts a bucket under any of them. */
  kmsKeyArns: string[];
}

/** Whether the configuration asks for anything of AWS Config; without, the stack creates none of it. */
export function enforcementEnabled(config: EnforcementConfig): boolean {
  return config.configRule || Object.keys(config.automaticRemediation).length > 0;
}

/**
 * How often AWS Config tries a failing remediation of one bucket before it records a remediation exception and
 * stops: 3 attempts within 10 minutes (a throttled or racing PutBucketEncryption gets a second chance; a refused one
 * waits for a person, runbooks/deploy.md).
 */
export const REMEDIATION_ATTEMPTS = { maximumAutomaticAttempts: 3, retryAttemptSeconds: 600 } as const;

export class EncryptionEnforcement extends Construct {
  /** The account-wide, detect-only rule (`configRule`), if asked for. */
  readonly detectRule: ManagedRule | undefined;
  /** Per remediated bucket: its own rule, scoped to it, and the remediation that runs the document. */
  readonly remediated: Record<string, { rule: ManagedRule; remediation: CfnRemediationConfiguration }> = {};
  readonly document: CfnDocument | undefined;
  readonly remediationRole: Role | undefined;

  constructor(scope: Construct, id: string, props: EncryptionEnforcementProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.detectRule = props.configRule
      ? new ManagedRule(this, "DetectRule", {
          identifier: ManagedRuleIdentifiers.S3_DEFAULT_ENCRYPTION_KMS,
          inputParameters: { kmsKeyArns: props.kmsKeyArns.join(",") },
          // Config scopes a rule to one resource id at most (Scope.ComplianceResourceId), so a rule over several
          // buckets covers every bucket of the account: this one reports, and changes nothing.
          ruleScope: RuleScope.fromResources([ResourceType.S3_BUCKET]),
          description:
            "rekey: every S3 bucket of the account whose default encryption is not SSE-KMS under a target key " +
            "(detect only)",
        })
      : undefined;

    const buckets = Object.keys(props.automaticRemediation).sort();
    if (buckets.length === 0) return;

    const bucketArns = buckets.map((b) => `arn:${stack.partition}:s3:::${b}`);
    // Config's remediation (its service-linked role, AWSConfigRemediationServiceRolePolicy: iam:PassRole to
    // ssm.amazonaws.com) passes this role to Systems Manager, which runs the document as it. Only Automation
    // executions of this account may assume it.
    const role = new Role(this, "RemediationRole", {
      assumedBy: new ServicePrincipal("ssm.amazonaws.com", {
        conditions: {
          StringEquals: { "aws:SourceAccount": stack.account },
          ArnLike: {
            "aws:SourceArn": `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:automation-execution/*`,
          },
        },
      }),
      description: "rekey: AWS Config remediation of the named buckets' default encryption (SSE-KMS with Bucket Key)",
    });
    // PutBucketEncryption needs no KMS permission: S3 neither validates nor uses the key then
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html).
    role.addToPolicy(
      new PolicyStatement({
        sid: "SetDefaultEncryption",
        actions: ["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"],
        resources: bucketArns,
      }),
    );
    this.remediationRole = role;

    const keys = [...new Set(buckets.map((b) => props.automaticRemediation[b] as string))].sort();
    this.document = new CfnDocument(this, "Document", {
      documentType: "Automation",
      documentFormat: "JSON",
      content: defaultEncryptionDocument({ buckets, kmsKeyArns: keys, roleArn: role.roleArn }),
    });

    for (const bucket of buckets) {
      const key = props.automaticRemediation[bucket] as string;
      const holder = new Construct(this, bucket);
      const rule = new ManagedRule(holder, "Rule", {
        identifier: ManagedRuleIdentifiers.S3_DEFAULT_ENCRYPTION_KMS,
        inputParameters: { kmsKeyArns: key },
        ruleScope: RuleScope.fromResource(ResourceType.S3_BUCKET, bucket),
        description: `rekey: ${bucket}'s default encryption is SSE-KMS under its target key (remediated automatically)`,
      });
      const remediation = new CfnRemediationConfiguration(holder, "Remediation", {
        configRuleName: rule.configRuleName,
        targetType: "SSM_DOCUMENT",
        targetId: this.document.ref,
        resourceType: "AWS::S3::Bucket",
        automatic: true,
        ...REMEDIATION_ATTEMPTS,
        parameters: {
          AutomationAssumeRole: { StaticValue: { Values: [role.roleArn] } },
          // For AWS::S3::Bucket the resource id Config passes is the bucket's name.
          BucketName: { ResourceValue: { Value: "RESOURCE_ID" } },
          KmsKeyArn: { StaticValue: { Values: [key] } },
        },
      });
      this.remediated[bucket] = { rule, remediation };
    }
  }
}

export interface DefaultEncryptionDocumentOptions {
  /** The only buckets the document accepts (the role may change no other). */
  buckets: string[];
  /** The only keys it sets. */
  kmsKeyArns: string[];
  /** The only role it runs as. */
  roleArn: string;
}

/**
 * The Automation document (schema 0.3) the remediation runs: PutBucketEncryption with SSE-KMS under the given key
 * and the Bucket Key, then reads the configuration back and fails unless it holds all three. Its parameters accept
 * only the configured buckets, keys and role, so the document cannot be started against anything else.
 */
export function defaultEncryptionDocument(options: DefaultEncryptionDocumentOptions): Record<string, unknown> {
  const bucket = "{{ BucketName }}";
  const key = "{{ KmsKeyArn }}";
  const readBack = (name: string, selector: string, desired: string) => ({
    name,
    action: "aws:assertAwsResourceProperty",
    inputs: {
      Service: "s3",
      Api: "GetBucketEncryption",
      Bucket: bucket,
      PropertySelector: `$.ServerSideEncryptionConfiguration.Rules[0].${selector}`,
      DesiredValues: [desired],
    },
  });
  return {
    schemaVersion: "0.3",
    description:
      "rekey: set a bucket's default encryption to SSE-KMS with the given key and the S3 Bucket Key, and check it.",
    assumeRole: "{{ AutomationAssumeRole }}",
    parameters: {
      BucketName: {
        type: "String",
        description: "The bucket whose default encryption is set (AWS Config passes the noncompliant bucket).",
        allowedValues: options.buckets,
      },
      KmsKeyArn: {
        type: "String",
        description: "The full ARN of the KMS key new objects are encrypted under.",
        allowedValues: options.kmsKeyArns,
      },
      AutomationAssumeRole: {
        type: "String",
        description: "The role the automation runs as.",
        allowedValues: [options.roleArn],
      },
    },
    mainSteps: [
      {
        name: "SetDefaultEncryption",
        action: "aws:executeAwsApi",
        inputs: {
          Service: "s3",
          Api: "PutBucketEncryption",
          Bucket: bucket,
          ServerSideEncryptionConfiguration: {
            Rules: [
              {
                ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: key },
                BucketKeyEnabled: true,
              },
            ],
          },
        },
      },
      readBack("CheckAlgorithm", "ApplyServerSideEncryptionByDefault.SSEAlgorithm", "aws:kms"),
      readBack("CheckKey", "ApplyServerSideEncryptionByDefault.KMSMasterKeyID", key),
      // A boolean property compares as its text, "True", as AWS's own AWS-EnableS3BucketKeys checks it
      // (https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-aws-enableS3bucketkeys.html).
      readBack("CheckBucketKey", "BucketKeyEnabled", "True"),
    ],
  };
}
