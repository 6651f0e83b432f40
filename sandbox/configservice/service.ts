import type { SandboxIdentity } from "../config.ts";
import { header, type SandboxRequest, type SandboxResponse, ServiceError, type ServiceHandler } from "../http.ts";
import type { S3Store } from "../s3/store.ts";
import {
  ConfigRules,
  invalidParameter,
  type RuleInput,
  S3_BUCKET,
  type StoredResult,
  type StoredRule,
  validationError,
} from "./rules.ts";
import type { RuleCompliance } from "./s3-default-encryption-kms.ts";

const TARGET_PREFIX = "StarlingDoveService.";
/** Rules DescribeConfigRules and DescribeComplianceByConfigRule answer a page. */
const RULES_PAGE = 25;
/** GetComplianceDetailsByConfigRule's Limit: default 10, at most 100 (the API reference). */
const RESULTS_DEFAULT_LIMIT = 10;
const RESULTS_MAX_LIMIT = 100;
/** DescribeComplianceByConfigRule caps the count of noncompliant resources at 100 (ComplianceContributorCount). */
const CONTRIBUTOR_CAP = 100;
const FILTERABLE: readonly RuleCompliance[] = ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"];

export interface ConfigSandbox {
  handler: ServiceHandler;
  rules: ConfigRules;
}

/**
 * AWS Config over its JSON 1.1 protocol (`x-amz-target: StarlingDoveService.<Operation>`, signed for `config`): the
 * rules and evaluation results of the managed rule S3_DEFAULT_ENCRYPTION_KMS over the sandbox's S3 buckets.
 * Behaviour: sandbox/CONFIG.md.
 */
export function createConfigService(deps: {
  identity: SandboxIdentity;
  store: S3Store;
  now?: () => Date;
}): ConfigSandbox {
  const rules = new ConfigRules(deps.identity, deps.store, deps.now);
  const handler: ServiceHandler = async (req) => {
    const target = header(req, "x-amz-target");
    if (req.method !== "POST" || !target?.startsWith(TARGET_PREFIX)) return undefined;
    const operation = target.slice(TARGET_PREFIX.length);
    try {
      const body = req.body.length ? (JSON.parse(req.body.toString("utf8")) as unknown) : {};
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new ServiceError("SerializationException", 400, "The request body is not a JSON object.");
      }
      return json(200, dispatch(rules, operation, body as Record<string, unknown>, regionOf(req, deps.identity)));
    } catch (err) {
      if (err instanceof SyntaxError) return json(400, { __type: "SerializationException", message: "Not JSON." });
      if (err instanceof ServiceError) return json(err.status, { __type: err.code, message: err.message });
      throw err;
    }
  };
  return { handler, rules };
}

function dispatch(rules: ConfigRules, operation: string, input: Record<string, unknown>, region: string): unknown {
  switch (operation) {
    case "PutConfigRule": {
      const rule = input.ConfigRule;
      if (typeof rule !== "object" || rule === null) {
        throw validationError("Value null at 'configRule' failed to satisfy constraint: Member must not be null");
      }
      rules.put(region, rule as RuleInput);
      return {};
    }
    case "DescribeConfigRules": {
      const names = nameList(input.ConfigRuleNames, "configRuleNames", 0);
      const page = paged(rules.describe(region, names), input.NextToken, RULES_PAGE);
      return { ConfigRules: page.items, ...nextToken(page.next) };
    }
    case "DeleteConfigRule":
      rules.delete(region, ruleName(input.ConfigRuleName));
      return {};
    case "StartConfigRulesEvaluation": {
      const names = nameList(input.ConfigRuleNames, "configRuleNames", 1);
      if (names === undefined) {
        throw validationError(
          "Value null at 'configRuleNames' failed to satisfy constraint: Member must have length greater than or equal to 1",
        );
      }
      rules.startEvaluation(region, names);
      return {};
    }
    case "GetComplianceDetailsByConfigRule": {
      const name = ruleName(input.ConfigRuleName);
      const types = complianceFilter(input.ComplianceTypes);
      const limit = resultsLimit(input.Limit);
      const { results } = rules.results(region, name);
      const page = paged(
        results.filter((r) => types.includes(r.compliance)),
        input.NextToken,
        limit,
      );
      return { EvaluationResults: page.items.map((r) => resultView(name, r)), ...nextToken(page.next) };
    }
    case "DescribeComplianceByConfigRule": {
      const names = nameList(input.ConfigRuleNames, "configRuleNames", 0);
      const wanted = input.ComplianceTypes === undefined ? undefined : complianceTypes(input.ComplianceTypes);
      const summaries = rules
        .describe(region, names)
        .map((rule) => complianceOf(rule, rules.results(region, rule.ConfigRuleName).results))
        .filter((c) => wanted === undefined || wanted.includes(c.Compliance.ComplianceType));
      const page = paged(summaries, input.NextToken, RULES_PAGE);
      return { ComplianceByConfigRules: page.items, ...nextToken(page.next) };
    }
    default:
      throw new ServiceError(
        "UnknownOperationException",
        400,
        `The sandbox does not implement AWS Config ${operation}.`,
      );
  }
}

/** The region of the request's SigV4 credential scope; the sandbox's own when unsigned. */
function regionOf(req: SandboxRequest, identity: SandboxIdentity): string {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(header(req, "authorization") ?? "")?.[1] ?? identity.region;
}

function ruleName(v: unknown): string {
  if (typeof v !== "string") {
    throw validationError("Value null at 'configRuleName' failed to satisfy constraint: Member must not be null");
  }
  return v;
}

function nameList(v: unknown, member: string, min: number): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((n) => typeof n !== "string")) {
    throw validationError(`Value at '${member}' failed to satisfy constraint: Member must be a list of rule names`);
  }
  if (v.length < min || v.length > 25) {
    throw validationError(
      `Value '[${v.join(", ")}]' at '${member}' failed to satisfy constraint: Member must have length between ${min} and 25`,
    );
  }
  return v as string[];
}

function complianceTypes(v: unknown): string[] {
  if (!Array.isArray(v) || v.some((t) => typeof t !== "string")) {
    throw validationError("Value at 'complianceTypes' failed to satisfy constraint: Member must be a list");
  }
  const known = ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA"];
  for (const t of v as string[]) {
    if (!known.includes(t)) {
      throw validationError(
        `Value '[${(v as string[]).join(", ")}]' at 'complianceTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [${known.join(", ")}]]`,
      );
    }
  }
  return v as string[];
}

/** GetComplianceDetailsByConfigRule's filter: INSUFFICIENT_DATA cannot filter results; none given means all three. */
function complianceFilter(v: unknown): readonly string[] {
  if (v === undefined) return FILTERABLE;
  const types = complianceTypes(v);
  if (types.includes("INSUFFICIENT_DATA")) {
    throw invalidParameter("INSUFFICIENT_DATA cannot be used as a ComplianceType for filtering results.");
  }
  return types.length === 0 ? FILTERABLE : types;
}

function resultsLimit(v: unknown): number {
  if (v === undefined || v === 0) return RESULTS_DEFAULT_LIMIT;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > RESULTS_MAX_LIMIT) {
    throw validationError(
      `Value '${String(v)}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to ${RESULTS_MAX_LIMIT}`,
    );
  }
  return v;
}

/** A page of `items` from the position a token names; tokens are the sandbox's own (an offset, base64). */
function paged<T>(items: readonly T[], token: unknown, size: number): { items: T[]; next: number | undefined } {
  let from = 0;
  if (token !== undefined && token !== "") {
    const decoded = typeof token === "string" ? /^offset:(\d+)$/.exec(Buffer.from(token, "base64").toString()) : null;
    if (!decoded) throw new ServiceError("InvalidNextTokenException", 400, "The specified next token is invalid.");
    from = Number(decoded[1]);
  }
  const next = from + size < items.length ? from + size : undefined;
  return { items: items.slice(from, from + size), next };
}

function nextToken(next: number | undefined): { NextToken?: string } {
  return next === undefined ? {} : { NextToken: Buffer.from(`offset:${next}`).toString("base64") };
}

const epochSeconds = (d: Date) => d.getTime() / 1000;

function resultView(ruleName: string, r: StoredResult) {
  return {
    EvaluationResultIdentifier: {
      EvaluationResultQualifier: {
        ConfigRuleName: ruleName,
        ResourceType: S3_BUCKET,
        ResourceId: r.resourceId,
        EvaluationMode: "DETECTIVE",
      },
      OrderingTimestamp: epochSeconds(r.orderingTimestamp),
    },
    ComplianceType: r.compliance,
    ResultRecordedTime: epochSeconds(r.recordedAt),
    ConfigRuleInvokedTime: epochSeconds(r.invokedAt),
    ...(r.annotation ? { Annotation: r.annotation } : {}),
  };
}

/**
 * A rule's compliance as DescribeComplianceByConfigRule reads it: NON_COMPLIANT when any resource is (with their
 * count, capped), COMPLIANT when some resource is and none is not, INSUFFICIENT_DATA with no result or only
 * NOT_APPLICABLE ones.
 */
function complianceOf(rule: StoredRule, results: readonly StoredResult[]) {
  const noncompliant = results.filter((r) => r.compliance === "NON_COMPLIANT").length;
  const type =
    noncompliant > 0
      ? "NON_COMPLIANT"
      : results.some((r) => r.compliance === "COMPLIANT")
        ? "COMPLIANT"
        : "INSUFFICIENT_DATA";
  return {
    ConfigRuleName: rule.ConfigRuleName,
    Compliance: {
      ComplianceType: type,
      ...(noncompliant > 0
        ? {
            ComplianceContributorCount: {
              CappedCount: Math.min(noncompliant, CONTRIBUTOR_CAP),
              CapExceeded: noncompliant > CONTRIBUTOR_CAP,
            },
          }
        : {}),
    },
  };
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { "content-type": "application/x-amz-json-1.1" }, body: JSON.stringify(body) };
}
