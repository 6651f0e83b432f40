/**
 * What a deployment of rekey may touch, as the configuration file holds it (infra/config-file.ts reads it), checked
 * at synth. Every bucket and key ARN in every policy the stack writes comes from here; nothing wider.
 */
import { z } from "zod";
import { FLEET_MACHINE_SUFFIX } from "../contract/fleet.ts";
import { DEFAULT_BYTES_SCANNED_CUTOFF_PER_QUERY, MIN_BYTES_SCANNED_CUTOFF_PER_QUERY } from "./athena.ts";

/** A bucket name (S3 naming rules), or a prefix of one followed by a single trailing `*`. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const BUCKET_PREFIX = /^[a-z0-9][a-z0-9.-]{2,61}\*$/;

const BucketPattern = z.string().refine((s) => BUCKET_NAME.test(s) || BUCKET_PREFIX.test(s), {
  error: (issue) =>
    `"${String(issue.input)}" is neither a bucket name nor a prefix pattern. ` +
    'Use a bucket name (3-63 characters: a-z, 0-9, ".", "-") or a prefix of at least 3 such characters ending in one "*", e.g. "data-prod-*". ' +
    'A lone "*" (every bucket in the account) is not allowed.',
});

const PositiveDays = z.number().int().min(1).max(3650);

/**
 * The fleet state machine is named `<stack name>-fleet` (infra/constructs/fleet-state-machine.ts), and a state
 * machine's name is at most 80 characters
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html).
 */
const MAX_STACK_NAME = 80 - FLEET_MACHINE_SUFFIX.length;

/**
 * At most this many buckets under automatic remediation: each is an AWS Config rule and a remediation
 * configuration of its own (infra/constructs/encryption-enforcement.ts), and a CloudFormation stack holds at most
 * 500 resources (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
 */
export const MAX_REMEDIATED_BUCKETS = 100;

/** The stack's name when the configuration names none. */
export const DEFAULT_STACK_NAME = "Rekey";

/** Configuration of one rekey stack: the fields of the configuration file. */
export interface RekeyConfig {
  /**
   * The CloudFormation stack name; the Athena workgroup takes it too, the Glue database it in lower case. Two
   * stacks in one account and region need two names (and two configuration files).
   */
  stackName: string;
  /** Buckets rekey may re-encrypt: names, or prefix patterns ending in `*`. */
  buckets: string[];
  /** Full ARNs of the KMS keys objects may be re-encrypted under; all in the stack's region. */
  kmsKeyArns: string[];
  /**
   * Full ARNs of the KMS keys SSE-KMS objects are under today (other than the targets): S3UpdateObjectEncryption
   * decrypts their data keys. Without them, encryption updates of such objects fail with AccessDenied (reported).
   */
  sourceKmsKeyArns: string[];
  /** Retention of the state machine's and the step functions' log groups. */
  logRetentionDays: number;
  /** Days after which run artifacts (runs/…: manifests, reports, summaries) expire in the work bucket. */
  runArtifactExpirationDays: number;
  /** Days after which inventory deliveries (inventory/…) expire in the work bucket. */
  inventoryExpirationDays: number;
  /** An SNS topic to notify when an alarm fires; unset, the alarms only show in CloudWatch. */
  alarmTopicArn?: string | undefined;
  /** The Athena workgroup's per-query cost guard, in bytes (infra/athena.ts explains the default, 1 TiB). */
  athenaBytesScannedCutoffPerQuery: number;
  /** Keeping default encryption enforced with AWS Config (infra/constructs/encryption-enforcement.ts); off by default. */
  enforcement: EnforcementConfig;
}

/** What AWS Config does about the buckets' default encryption (runbooks/deploy.md, "Keep default encryption enforced"). */
export interface EnforcementConfig {
  /**
   * The managed rule s3-default-encryption-kms with the target keys, detect only: every bucket of the account whose
   * default encryption is not SSE-KMS under one of `kmsKeyArns` shows as noncompliant. Nothing is changed.
   */
  configRule: boolean;
  /**
   * Bucket name → the target key its default encryption is kept on: a rule of its own scoped to that bucket, whose
   * noncompliance AWS Config remediates automatically (SSE-KMS with that key and the Bucket Key). Each bucket must be
   * one `buckets` allows, each key one of `kmsKeyArns`. Empty: no remediation.
   */
  automaticRemediation: Record<string, string>;
}

/** CloudWatch Logs accepts only these retention values (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export function configSchema(region: string) {
  const keyArn = z.string().refine((s) => kmsKeyArnPattern(region).test(s), {
    error: (issue) =>
      `"${String(issue.input)}" is not the full ARN of a KMS key in ${region}. ` +
      `Use arn:aws:kms:${region}:<account>:key/<key-id>; aliases, key ids and keys in other regions are not accepted ` +
      "(S3 can only use a key in the bucket's region, and IAM policies need the key ARN).",
  });
  const enforcement = z
    .strictObject({
      configRule: z.boolean().default(false),
      automaticRemediation: z
        .record(z.string(), keyArn)
        .superRefine((remediated, ctx) => {
          for (const bucket of Object.keys(remediated).filter((b) => !BUCKET_NAME.test(b))) {
            ctx.addIssue({
              code: "custom",
              path: [bucket],
              message:
                `"${bucket}" is not a bucket name: automatic remediation names each bucket ` +
                "(a Config rule is scoped to one bucket), never a prefix pattern.",
            });
          }
          if (Object.keys(remediated).length > MAX_REMEDIATED_BUCKETS) {
            ctx.addIssue({
              code: "custom",
              message: `at most ${MAX_REMEDIATED_BUCKETS} buckets (each is a Config rule and a remediation in the stack).`,
            });
          }
        })
        .default({}),
    })
    .default({ configRule: false, automaticRemediation: {} });
  // Strict: a misspelt field ("bucket") is an error, not a setting silently left at its default.
  return z
    .strictObject({
      stackName: z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, {
          error: "must be a CloudFormation stack name: a letter, then up to 127 letters, digits and hyphens.",
        })
        .max(MAX_STACK_NAME, {
          error: `must be at most ${MAX_STACK_NAME} characters: the fleet state machine is named <stackName>${FLEET_MACHINE_SUFFIX}, and a state machine name at most 80.`,
        })
        .default(DEFAULT_STACK_NAME),
      buckets: z.array(BucketPattern).min(1, { error: "name at least one bucket rekey may re-encrypt." }),
      kmsKeyArns: z.array(keyArn).min(1, { error: "name at least one KMS key ARN objects may be re-encrypted under." }),
      sourceKmsKeyArns: z.array(keyArn).default([]),
      logRetentionDays: z
        .number()
        .refine((n) => (LOG_RETENTION_DAYS as readonly number[]).includes(n), {
          error: `must be one of the values CloudWatch Logs accepts: ${LOG_RETENTION_DAYS.join(", ")}.`,
        })
        .default(90),
      runArtifactExpirationDays: PositiveDays.default(90),
      inventoryExpirationDays: PositiveDays.default(30),
      alarmTopicArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, {
          error: "must be the full ARN of an SNS topic.",
        })
        .optional(),
      athenaBytesScannedCutoffPerQuery: z
        .number()
        .int()
        .min(MIN_BYTES_SCANNED_CUTOFF_PER_QUERY, {
          error: `must be at least ${MIN_BYTES_SCANNED_CUTOFF_PER_QUERY} bytes, Athena's smallest cutoff.`,
        })
        .default(DEFAULT_BYTES_SCANNED_CUTOFF_PER_QUERY),
      enforcement,
    })
    .superRefine((config, ctx) => {
      // What Config remediates must be what the stack may touch: a bucket `buckets` allows, under a target key.
      for (const [bucket, key] of Object.entries(config.enforcement.automaticRemediation)) {
        const path = ["enforcement", "automaticRemediation", bucket];
        if (!config.buckets.some((b) => bucketAllowedBy(b, bucket))) {
          ctx.addIssue({
            code: "custom",
            path,
            message: `"${bucket}" is not among "buckets" (${config.buckets.join(", ")}): add it there first.`,
          });
        }
        if (!config.kmsKeyArns.includes(key)) {
          ctx.addIssue({
            code: "custom",
            path,
            message: `${key} is not one of "kmsKeyArns": default encryption is only kept on a target key.`,
          });
        }
      }
    });
}

/** Whether a `buckets` entry (a name, or a prefix pattern ending in `*`) allows the bucket `name`. */
export function bucketAllowedBy(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/** `arn:<partition>:kms:<region>:<account>:key/<id>`: a key (not an alias) in the given region. */
export function kmsKeyArnPattern(region: string): RegExp {
  const r = region.replace(/[^a-z0-9-]/g, "");
  return new RegExp(`^arn:aws[a-z-]*:kms:${r}:\\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f-]{36})$`);
}

export class RekeyConfigError extends Error {
  override name = "RekeyConfigError";
}

/** The fields of `enforcement`, for messages. */
const ENFORCEMENT_FIELDS: (keyof EnforcementConfig)[] = ["configRule", "automaticRemediation"];

/** The fields a configuration may hold, for messages and the runbook's table (test/infra/deploy-runbook.test.ts). */
export const CONFIG_FIELDS = Object.keys(configSchema("us-east-1").shape) as (keyof RekeyConfig)[];

/**
 * Validates raw configuration (the parsed configuration file). The error names `source` (the file) and every
 * problem with its field, e.g. `buckets[0]`. `region` must be concrete: key ARNs are checked against it.
 */
export function parseRekeyConfig(raw: unknown, region: string, source = "the rekey configuration"): RekeyConfig {
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    throw new RekeyConfigError(
      `rekey needs a concrete region to check key ARNs against, got "${region}". Set CDK_DEFAULT_REGION or AWS_REGION.`,
    );
  }
  const parsed = configSchema(region).safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const where = (path: PropertyKey[]) => {
        const [field, ...rest] = path;
        return `${String(field)}${rest.map((p) => `[${String(p)}]`).join("")}`;
      };
      if (i.code === "unrecognized_keys") {
        if (i.path.length === 0) {
          return `  - ${i.keys.join(", ")}: not a rekey setting; the settings are ${CONFIG_FIELDS.join(", ")}.`;
        }
        const known =
          i.path.map(String).join(".") === "enforcement" ? `; its settings are ${ENFORCEMENT_FIELDS.join(", ")}` : "";
        return `  - ${where(i.path)}: ${i.keys.join(", ")} is not one of its settings${known}.`;
      }
      if (i.path.length === 0) return `  - ${i.message}`;
      return `  - ${where(i.path)}: ${i.message}`;
    });
    throw new RekeyConfigError(`Invalid rekey configuration in ${source}:\n${lines.join("\n")}`);
  }
  return parsed.data;
}
