import { randomBytes } from "node:crypto";
import type { SandboxIdentity } from "../config.ts";
import { ServiceError } from "../http.ts";
import type { S3Bucket, S3Store } from "../s3/store.ts";
import {
  evaluateDefaultEncryption,
  kmsKeyArnsOf,
  type RuleCompliance,
  S3_DEFAULT_ENCRYPTION_KMS,
} from "./s3-default-encryption-kms.ts";

/**
 * AWS Config rules of one account, per region, and their latest evaluation results (sandbox/CONFIG.md). A rule is
 * evaluated when it is put and when StartConfigRulesEvaluation asks; between evaluations its results say what they
 * said, as AWS's lag behind the resources they judge.
 */

export const S3_BUCKET = "AWS::S3::Bucket";

export interface RuleScope {
  ComplianceResourceTypes?: string[];
  TagKey?: string;
  TagValue?: string;
  ComplianceResourceId?: string;
}

export interface StoredRule {
  ConfigRuleName: string;
  ConfigRuleArn: string;
  ConfigRuleId: string;
  Description?: string;
  Scope?: RuleScope;
  Source: { Owner: string; SourceIdentifier: string };
  InputParameters?: string;
  ConfigRuleState: "ACTIVE";
  EvaluationModes: { Mode: "DETECTIVE" }[];
}

export interface StoredResult {
  resourceId: string;
  compliance: RuleCompliance;
  annotation?: string;
  /** When the evaluation ran (ConfigRuleInvokedTime), recorded its result (ResultRecordedTime) and of what state. */
  invokedAt: Date;
  recordedAt: Date;
  orderingTimestamp: Date;
}

interface RuleEntry {
  rule: StoredRule;
  kmsKeyArns: string[] | undefined;
  results: Map<string, StoredResult>;
}

/** What PutConfigRule's ConfigRule member may carry, as the JSON protocol decodes it. */
export interface RuleInput {
  ConfigRuleName?: unknown;
  ConfigRuleArn?: unknown;
  ConfigRuleId?: unknown;
  Description?: unknown;
  Scope?: unknown;
  Source?: unknown;
  InputParameters?: unknown;
  MaximumExecutionFrequency?: unknown;
}

export const invalidParameter = (message: string) => new ServiceError("InvalidParameterValueException", 400, message);
export const validationError = (message: string) =>
  new ServiceError("ValidationException", 400, `1 validation error detected: ${message}`);
export const noSuchRule = (name: string) =>
  new ServiceError(
    "NoSuchConfigRuleException",
    400,
    `The ConfigRule '${name}' provided in the request is invalid. Please check the configRule name.`,
  );

export class ConfigRules {
  private readonly regions = new Map<string, Map<string, RuleEntry>>();

  constructor(
    private readonly identity: SandboxIdentity,
    private readonly store: S3Store,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private rulesIn(region: string): Map<string, RuleEntry> {
    let rules = this.regions.get(region);
    if (!rules) {
      rules = new Map();
      this.regions.set(region, rules);
    }
    return rules;
  }

  /** PutConfigRule: a new rule (by name), or an existing one changed (found by name, ARN or id); then evaluated. */
  put(region: string, input: RuleInput): void {
    const rules = this.rulesIn(region);
    const existing = [...rules.values()].find(
      (e) =>
        (typeof input.ConfigRuleArn === "string" && e.rule.ConfigRuleArn === input.ConfigRuleArn) ||
        (typeof input.ConfigRuleId === "string" && e.rule.ConfigRuleId === input.ConfigRuleId) ||
        (typeof input.ConfigRuleName === "string" && e.rule.ConfigRuleName === input.ConfigRuleName),
    );
    const name = typeof input.ConfigRuleName === "string" ? input.ConfigRuleName : existing?.rule.ConfigRuleName;
    if (name === undefined) {
      throw invalidParameter("The ConfigRuleName is required to create a Config rule.");
    }
    if (name.length < 1 || name.length > 128 || !/\S/.test(name)) {
      throw validationError(
        `Value '${name}' at 'configRule.configRuleName' failed to satisfy constraint: Member must have length between 1 and 128 and not be blank`,
      );
    }
    if (existing && existing.rule.ConfigRuleName !== name) {
      throw invalidParameter("A Config rule's name cannot be changed; delete the rule and put a new one.");
    }
    if (!existing && rules.has(name)) throw invalidParameter(`A Config rule named ${name} already exists.`);
    const source = sourceOf(input.Source);
    const parameters = parametersOf(input.InputParameters);
    const kmsKeyArns = kmsKeyArnsOf(parameters);
    if (input.MaximumExecutionFrequency !== undefined) {
      throw invalidParameter(
        `A maximum execution frequency is not allowed for ${S3_DEFAULT_ENCRYPTION_KMS}, which is triggered by configuration changes.`,
      );
    }
    const scope = scopeOf(input.Scope);
    const id = existing?.rule.ConfigRuleId ?? `config-rule-${randomId()}`;
    const rule: StoredRule = {
      ConfigRuleName: name,
      ConfigRuleArn:
        existing?.rule.ConfigRuleArn ?? `arn:aws:config:${region}:${this.identity.accountId}:config-rule/${id}`,
      ConfigRuleId: id,
      ...(typeof input.Description === "string" ? { Description: input.Description } : {}),
      ...(scope ? { Scope: scope } : {}),
      Source: source,
      ...(typeof input.InputParameters === "string" ? { InputParameters: input.InputParameters } : {}),
      ConfigRuleState: "ACTIVE",
      EvaluationModes: [{ Mode: "DETECTIVE" }],
    };
    const entry: RuleEntry = { rule, kmsKeyArns, results: existing?.results ?? new Map() };
    rules.set(name, entry);
    this.evaluate(region, entry);
  }

  /** The rules by name, in the order asked; every rule sorted by name when none are named. */
  describe(region: string, names: readonly string[] | undefined): StoredRule[] {
    const rules = this.rulesIn(region);
    if (names === undefined || names.length === 0) {
      return [...rules.values()].map((e) => e.rule).sort((a, b) => compare(a.ConfigRuleName, b.ConfigRuleName));
    }
    return names.map((n) => {
      const entry = rules.get(n);
      if (!entry) throw noSuchRule(n);
      return entry.rule;
    });
  }

  delete(region: string, name: string): void {
    if (!this.rulesIn(region).delete(name)) throw noSuchRule(name);
  }

  /** StartConfigRulesEvaluation: each named rule evaluated now (all names are checked first). */
  startEvaluation(region: string, names: readonly string[]): void {
    const rules = this.rulesIn(region);
    const entries = names.map((n) => {
      const entry = rules.get(n);
      if (!entry) throw noSuchRule(n);
      return entry;
    });
    for (const entry of entries) this.evaluate(region, entry);
  }

  /** The rule's latest result per resource, sorted by resource id. */
  results(region: string, name: string): { rule: StoredRule; results: StoredResult[] } {
    const entry = this.rulesIn(region).get(name);
    if (!entry) throw noSuchRule(name);
    return {
      rule: entry.rule,
      results: [...entry.results.values()].sort((a, b) => compare(a.resourceId, b.resourceId)),
    };
  }

  /**
   * One evaluation: every bucket of the region in the rule's scope judged from its default encryption now; a bucket
   * evaluated before that is gone or out of scope now is NOT_APPLICABLE, as Config records for deleted resources.
   */
  private evaluate(region: string, entry: RuleEntry): void {
    const at = this.now();
    const buckets = region === this.identity.region ? this.store.listBuckets() : [];
    const inScope = buckets.filter((b) => inRuleScope(entry.rule.Scope, b));
    const seen = new Set<string>();
    for (const bucket of inScope) {
      seen.add(bucket.name);
      const judged = evaluateDefaultEncryption(bucket.defaultEncryption, entry.kmsKeyArns);
      entry.results.set(bucket.name, {
        resourceId: bucket.name,
        compliance: judged.compliance,
        ...(judged.annotation ? { annotation: judged.annotation } : {}),
        invokedAt: at,
        recordedAt: at,
        orderingTimestamp: at,
      });
    }
    for (const [id, result] of entry.results) {
      if (seen.has(id) || result.compliance === "NOT_APPLICABLE") continue;
      const gone = !buckets.some((b) => b.name === id);
      entry.results.set(id, {
        resourceId: id,
        compliance: "NOT_APPLICABLE",
        annotation: gone ? "The bucket no longer exists." : "The bucket is no longer in the rule's scope.",
        invokedAt: at,
        recordedAt: at,
        orderingTimestamp: at,
      });
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function randomId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join("");
}

function sourceOf(v: unknown): StoredRule["Source"] {
  if (typeof v !== "object" || v === null) {
    throw validationError("Value null at 'configRule.source' failed to satisfy constraint: Member must not be null");
  }
  const { Owner, SourceIdentifier } = v as { Owner?: unknown; SourceIdentifier?: unknown };
  if (typeof Owner !== "string") {
    throw validationError(
      "Value null at 'configRule.source.owner' failed to satisfy constraint: Member must not be null",
    );
  }
  if (Owner !== "AWS" || SourceIdentifier !== S3_DEFAULT_ENCRYPTION_KMS) {
    throw invalidParameter(
      `The sandbox evaluates only the AWS managed rule ${S3_DEFAULT_ENCRYPTION_KMS} (Owner AWS), not ${Owner} ${String(SourceIdentifier ?? "")}.`.trimEnd(),
    );
  }
  return { Owner, SourceIdentifier };
}

/** InputParameters: a JSON object whose values are strings (at most 1024 characters in all). */
function parametersOf(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== "string" || v.length < 1 || v.length > 1024) {
    throw validationError(
      "Value at 'configRule.inputParameters' failed to satisfy constraint: Member must have length between 1 and 1024",
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw invalidParameter("The input parameters of the rule are not valid JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalidParameter("The input parameters of the rule must be a JSON object.");
  }
  for (const [k, value] of Object.entries(parsed)) {
    if (typeof value !== "string") throw invalidParameter(`The input parameter ${k} must be a string.`);
  }
  return parsed as Record<string, string>;
}

function scopeOf(v: unknown): RuleScope | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "object" || v === null) throw invalidParameter("The rule's Scope must be a structure.");
  const s = v as Record<string, unknown>;
  const types = s.ComplianceResourceTypes;
  if (types !== undefined && (!Array.isArray(types) || types.some((t) => typeof t !== "string"))) {
    throw invalidParameter("Scope.ComplianceResourceTypes must be a list of resource types.");
  }
  const scope: RuleScope = {
    ...(types !== undefined ? { ComplianceResourceTypes: types as string[] } : {}),
    ...(typeof s.TagKey === "string" ? { TagKey: s.TagKey } : {}),
    ...(typeof s.TagValue === "string" ? { TagValue: s.TagValue } : {}),
    ...(typeof s.ComplianceResourceId === "string" ? { ComplianceResourceId: s.ComplianceResourceId } : {}),
  };
  if (scope.ComplianceResourceId !== undefined && scope.ComplianceResourceTypes?.length !== 1) {
    throw invalidParameter("A Scope with a ComplianceResourceId must name exactly one ComplianceResourceTypes.");
  }
  if (scope.TagValue !== undefined && scope.TagKey === undefined) {
    throw invalidParameter("A Scope with a TagValue must name its TagKey.");
  }
  return scope;
}

/** Whether the rule's Scope takes the bucket: its resource types, resource id and tag, each when given. */
function inRuleScope(scope: RuleScope | undefined, bucket: S3Bucket): boolean {
  if (!scope) return true;
  const types = scope.ComplianceResourceTypes;
  if (types !== undefined && types.length > 0 && !types.includes(S3_BUCKET)) return false;
  if (scope.ComplianceResourceId !== undefined && scope.ComplianceResourceId !== bucket.name) return false;
  if (scope.TagKey !== undefined) {
    const tag = bucket.tags?.find((t) => t.key === scope.TagKey);
    if (!tag || (scope.TagValue !== undefined && tag.value !== scope.TagValue)) return false;
  }
  return true;
}
