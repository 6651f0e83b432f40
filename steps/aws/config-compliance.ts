import {
  type ConfigRule,
  type ConfigServiceClient,
  DescribeConfigRulesCommand,
  type EvaluationResult,
  GetComplianceDetailsByConfigRuleCommand,
  type GetComplianceDetailsByConfigRuleCommandOutput,
} from "@aws-sdk/client-config-service";

/**
 * AWS Config's own judgement of the buckets, for `rekey scan` to show beside rekey's: the results of every rule of
 * the managed rule S3_DEFAULT_ENCRYPTION_KMS in the region (the one infra/constructs/encryption-enforcement.ts
 * deploys, account-wide and per remediated bucket; CloudFormation names them, so they are found by their source).
 * The rule reads a bucket's default encryption only, not its objects nor its Bucket Key
 * (https://docs.aws.amazon.com/config/latest/developerguide/s3-default-encryption-kms.html), and its results are as
 * of its last evaluation.
 */

export const S3_DEFAULT_ENCRYPTION_KMS = "S3_DEFAULT_ENCRYPTION_KMS";

export type ConfigComplianceType = "COMPLIANT" | "NON_COMPLIANT" | "NOT_APPLICABLE";

export interface ConfigRuleResult {
  rule: string;
  compliance: ConfigComplianceType;
  annotation?: string;
  /** When Config recorded the result (ISO). */
  recordedAt?: string;
}

/** What AWS Config says of one bucket: the worst of its rules' results, or "no result" when none evaluated it. */
export interface BucketConfigCompliance {
  compliance: ConfigComplianceType | "no result";
  results: ConfigRuleResult[];
}

export type ConfigView =
  /** No S3_DEFAULT_ENCRYPTION_KMS rule in the region. */
  | { status: "no-rule" }
  /** Config could not be read (no permission, say): why. */
  | { status: "unknown"; reason: string }
  | {
      status: "read";
      rules: { name: string; kmsKeyArns: string | undefined }[];
      byBucket: Map<string, BucketConfigCompliance>;
    };

/** Results per page: the API's maximum. */
const RESULTS_PAGE = 100;
const COMPLIANCE_TYPES: ConfigComplianceType[] = ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"];
/** Worst first: one rule's NON_COMPLIANT is the bucket's, whatever another says. */
const ORDER: readonly ConfigComplianceType[] = ["NON_COMPLIANT", "COMPLIANT", "NOT_APPLICABLE"];

export async function readConfigCompliance(config: ConfigServiceClient): Promise<ConfigView> {
  try {
    const rules: ConfigRule[] = [];
    let token: string | undefined;
    do {
      const page = await config.send(new DescribeConfigRulesCommand({ NextToken: token }));
      rules.push(
        ...(page.ConfigRules ?? []).filter(
          (r) =>
            r.Source?.Owner === "AWS" &&
            r.Source.SourceIdentifier === S3_DEFAULT_ENCRYPTION_KMS &&
            r.ConfigRuleState !== "DELETING",
        ),
      );
      token = page.NextToken;
    } while (token);
    if (rules.length === 0) return { status: "no-rule" };
    const byBucket = new Map<string, BucketConfigCompliance>();
    for (const rule of rules) {
      const name = rule.ConfigRuleName ?? "";
      for (const result of await resultsOf(config, name)) {
        const q = result.EvaluationResultIdentifier?.EvaluationResultQualifier;
        const compliance = result.ComplianceType as ConfigComplianceType | undefined;
        if (q?.ResourceType !== "AWS::S3::Bucket" || !q.ResourceId || !compliance || !ORDER.includes(compliance)) {
          continue;
        }
        const entry = byBucket.get(q.ResourceId) ?? { compliance: "no result", results: [] };
        entry.results.push({
          rule: name,
          compliance,
          ...(result.Annotation ? { annotation: result.Annotation } : {}),
          ...(result.ResultRecordedTime ? { recordedAt: result.ResultRecordedTime.toISOString() } : {}),
        });
        entry.compliance = worst(entry.results.map((r) => r.compliance));
        byBucket.set(q.ResourceId, entry);
      }
    }
    return {
      status: "read",
      rules: rules.map((r) => ({ name: r.ConfigRuleName ?? "", kmsKeyArns: kmsKeyArnsOf(r.InputParameters) })),
      byBucket,
    };
  } catch (err) {
    // Config answered with an error (AccessDeniedException without config:DescribeConfigRules, say): the column
    // says unknown and why; the scan itself goes on.
    if ((err as { $metadata?: unknown }).$metadata !== undefined) {
      return { status: "unknown", reason: `${(err as Error).name}: ${(err as Error).message}` };
    }
    throw err;
  }
}

/** What Config says of one bucket in this view: "-" when there is no rule, "unknown" when it could not be read. */
export function bucketCompliance(
  view: ConfigView,
  bucket: string,
): BucketConfigCompliance | { compliance: "unknown"; reason: string } | undefined {
  if (view.status === "no-rule") return undefined;
  if (view.status === "unknown") return { compliance: "unknown", reason: view.reason };
  return view.byBucket.get(bucket) ?? { compliance: "no result", results: [] };
}

async function resultsOf(config: ConfigServiceClient, rule: string): Promise<EvaluationResult[]> {
  const results: EvaluationResult[] = [];
  let token: string | undefined;
  do {
    let page: GetComplianceDetailsByConfigRuleCommandOutput;
    try {
      page = await config.send(
        new GetComplianceDetailsByConfigRuleCommand({
          ConfigRuleName: rule,
          ComplianceTypes: COMPLIANCE_TYPES,
          Limit: RESULTS_PAGE,
          NextToken: token,
        }),
      );
    } catch (err) {
      // Deleted since it was listed: it says nothing any more.
      if ((err as Error).name === "NoSuchConfigRuleException") return [];
      throw err;
    }
    results.push(...(page.EvaluationResults ?? []));
    token = page.NextToken;
  } while (token);
  return results;
}

function worst(types: readonly ConfigComplianceType[]): ConfigComplianceType {
  return ORDER.find((t) => types.includes(t)) ?? "NOT_APPLICABLE";
}

function kmsKeyArnsOf(inputParameters: string | undefined): string | undefined {
  if (!inputParameters) return undefined;
  try {
    const value = (JSON.parse(inputParameters) as Record<string, unknown>).kmsKeyArns;
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}
