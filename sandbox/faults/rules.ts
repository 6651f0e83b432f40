import { z } from "zod";

/** The services a fault rule can target, by the names `/_sandbox/faults` takes (S3 Control apart from S3). */
export const FAULT_SERVICES = ["s3", "s3control", "kms", "sts", "lambda", "states", "athena"] as const;
export type FaultService = (typeof FAULT_SERVICES)[number];

/** An AWS error as a service answers it: code, HTTP status, message. */
export interface AwsErrorSpec {
  code: string;
  status: number;
  message: string;
}

/**
 * Throttling as each service answers it. S3: 503 SlowDown (S3 API reference, "Error responses"). KMS: 400
 * ThrottlingException with the text of https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html.
 * S3 Control: its job operations model TooManyRequestsException without a status; 429 is the sandbox's choice
 * (sandbox/ASSUMPTIONS.md, "Fault injection"). STS, Lambda, Step Functions: their modelled throttling errors.
 * Athena: the API rate quotas' ThrottlingException.
 */
export const THROTTLING: Record<FaultService, AwsErrorSpec> = {
  s3: { code: "SlowDown", status: 503, message: "Please reduce your request rate." },
  s3control: { code: "TooManyRequestsException", status: 429, message: "Please reduce your request rate." },
  kms: {
    code: "ThrottlingException",
    status: 400,
    message: "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
  },
  sts: { code: "Throttling", status: 400, message: "Rate exceeded" },
  lambda: { code: "TooManyRequestsException", status: 429, message: "Rate Exceeded." },
  states: { code: "ThrottlingException", status: 400, message: "Rate exceeded" },
  // Athena's API rate quotas: "ThrottlingException: Rate exceeded" (https://docs.aws.amazon.com/athena/latest/ug/service-limits.html).
  athena: { code: "ThrottlingException", status: 400, message: "Rate exceeded" },
};

/** Access denied as each service names it: `AccessDenied` (REST-XML and query services) or `AccessDeniedException`. */
export const ACCESS_DENIED: Record<FaultService, AwsErrorSpec> = {
  s3: { code: "AccessDenied", status: 403, message: "Access Denied" },
  s3control: { code: "AccessDenied", status: 403, message: "Access Denied" },
  kms: { code: "AccessDeniedException", status: 400, message: "Access Denied" },
  sts: { code: "AccessDenied", status: 403, message: "Access Denied" },
  lambda: { code: "AccessDeniedException", status: 403, message: "Access Denied" },
  states: { code: "AccessDeniedException", status: 400, message: "Access Denied" },
  athena: { code: "AccessDeniedException", status: 400, message: "Access Denied" },
};

/** Who made the call: a client of the sandbox, the sandbox's own Batch Operations engine, or either. */
export const FAULT_ORIGINS = ["clients", "batch", "any"] as const;
export type FaultOrigin = (typeof FAULT_ORIGINS)[number];

const errorSchema = z.union([
  z.enum(["throttle", "accessDenied"]),
  z.object({
    code: z.string().min(1),
    status: z.number().int().min(400).max(599),
    message: z.string().default(""),
  }),
]);

export const faultRuleSchema = z
  .object({
    service: z.enum(FAULT_SERVICES),
    /** The API operation (`HeadObject`, `GenerateDataKey`, `CreateJob`); absent: every operation. */
    operation: z.string().min(1).optional(),
    /** S3 only: the bucket, and the (decoded) key or key prefix, the call addresses. */
    bucket: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    keyPrefix: z.string().min(1).optional(),
    from: z.enum(FAULT_ORIGINS).default("clients"),
    /** Fail this share of the matching calls (0..1), decided per call by a PRNG seeded with `seed`. */
    share: z.number().min(0).max(1).optional(),
    /** Fail the next `count` matching calls, then stop. */
    count: z.number().int().positive().optional(),
    seed: z.number().int().default(1),
    error: errorSchema.default("throttle"),
  })
  .strict()
  .refine((r) => (r.share === undefined) !== (r.count === undefined), {
    message: "give exactly one of share and count",
  })
  .refine((r) => r.service === "s3" || (r.bucket === undefined && r.key === undefined && r.keyPrefix === undefined), {
    message: "bucket, key and keyPrefix apply to service s3 only",
  });

export type FaultRuleInput = z.input<typeof faultRuleSchema>;
export type FaultRule = z.output<typeof faultRuleSchema>;

/** A rule as the admin API lists it: what was asked, plus what it has done. */
export type FaultRuleState = FaultRule & {
  id: string;
  /** For `count` rules: how many more matching calls fail. */
  remaining?: number;
  /** Calls that matched the rule's filters. */
  matched: number;
  /** Calls that the rule failed. */
  injected: number;
};

export function errorOf(rule: FaultRule): AwsErrorSpec {
  if (rule.error === "throttle") return THROTTLING[rule.service];
  if (rule.error === "accessDenied") return ACCESS_DENIED[rule.service];
  return rule.error;
}
