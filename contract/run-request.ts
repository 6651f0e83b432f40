import { z } from "zod";
import { FILTER_ENGINE_CHOICES } from "./engines.ts";
import { RunOptionsSchema } from "./run-context.ts";
import { strictObject } from "./strict-object.ts";

/**
 * S3 general purpose bucket naming rules. Each rule has its own message so the operator learns which one the
 * name breaks, not just that it is invalid.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `must be 3 to 63 characters long (it has ${name.length})`;
  if (!/^[a-z0-9.-]+$/.test(name)) return "may contain only lowercase letters, digits, dots and hyphens";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return "must begin and end with a letter or digit";
  if (name.includes("..")) return "must not contain two adjacent dots";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "must not be formatted as an IP address";
  for (const prefix of ["xn--", "sthree-", "amzn-s3-demo-"])
    if (name.startsWith(prefix)) return `must not start with "${prefix}"`;
  for (const suffix of ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]) {
    if (name.endsWith(suffix)) return `must not end with "${suffix}"`;
  }
  return undefined;
}

const bucketName = (what: string) =>
  z.string().superRefine((name, ctx) => {
    const problem = bucketNameProblem(name);
    if (problem)
      ctx.addIssue({ code: "custom", message: `${what} "${name}" is not a valid S3 bucket name: it ${problem}.` });
  });

export interface KmsKeyArnParts {
  partition: string;
  region: string;
  accountId: string;
  keyId: string;
}

const KEY_ARN = /^arn:(aws|aws-cn|aws-us-gov):kms:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):key\/((?:mrk-)?[0-9a-f-]{32,36})$/;

export function parseKmsKeyArn(value: string): KmsKeyArnParts | undefined {
  const m = KEY_ARN.exec(value);
  if (!m) return undefined;
  const [, partition = "", region = "", accountId = "", keyId = ""] = m;
  return { partition, region, accountId, keyId };
}

/** Explains why a KMS key reference is not a full key ARN and how to get one. */
export function kmsKeyArnProblem(value: string): string | undefined {
  if (parseKmsKeyArn(value)) return undefined;
  const lookup = `aws kms describe-key --key-id '${value}' --query KeyMetadata.Arn --output text`;
  if (/^arn:[^:]+:kms:[^:]*:[^:]*:alias\//.test(value) || value.startsWith("alias/")) {
    return `"${value}" is a key alias; rekey needs the full key ARN, because S3 records the key ARN on each object. Find it with: ${lookup}`;
  }
  if (/^(mrk-)?[0-9a-f-]{32,36}$/.test(value)) {
    return `"${value}" is a key id; rekey needs the full key ARN (arn:aws:kms:<region>:<account>:key/<id>). Find it with: ${lookup}`;
  }
  return `"${value}" is not a KMS key ARN; expected arn:aws:kms:<region>:<account-id>:key/<key-id>.`;
}

/** What an operator (or `rekey start`) passes to one execution. */
export const RunRequestSchema = strictObject({
  bucket: bucketName("bucket"),
  kmsKeyArn: z.string().superRefine((value, ctx) => {
    const problem = kmsKeyArnProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: `kmsKeyArn: ${problem}` });
  }),
  /**
   * Where the candidate objects come from: "inventory" (an S3 Inventory delivered after default encryption, up to
   * 48 hours away; needs inventoryConfigurationId) or "generate" (Batch Operations' manifest generator, now).
   * Defaults to "inventory" when inventoryConfigurationId is given, "generate" otherwise.
   */
  source: z.enum(["inventory", "generate"]).optional(),
  /**
   * How an inventory is filtered into the plan (contract/engines.ts): "stream" reads every data file in the step,
   * "select" has S3 Select filter each CSV data file, "athena" queries the inventory with Athena; "auto" (the
   * default) chooses by the inventory's format and size, and the plan says which and why.
   */
  engine: z.enum(FILTER_ENGINE_CHOICES).optional(),
  inventoryConfigurationId: z
    .string()
    .regex(
      /^[A-Za-z0-9._-]{1,64}$/,
      "inventoryConfigurationId must be 1 to 64 letters, digits, dots, hyphens or underscores",
    )
    .optional(),
  /** Where manifests, reports and summaries go; the deployment's work bucket when omitted. */
  workBucket: bucketName("workBucket").optional(),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "region must look like us-east-1")
    .optional(),
  options: RunOptionsSchema.optional(),
}).superRefine((r, ctx) => {
  if (r.source === "inventory" && r.inventoryConfigurationId === undefined) {
    ctx.addIssue({
      code: "custom",
      message:
        'source "inventory" needs inventoryConfigurationId (the id of the bucket\'s S3 Inventory configuration); or use source "generate", which needs none.',
    });
  }
  if (r.source === "generate" && r.inventoryConfigurationId !== undefined) {
    ctx.addIssue({
      code: "custom",
      message:
        'source "generate" does not read an inventory: drop inventoryConfigurationId, or use source "inventory".',
    });
  }
  if (r.engine !== undefined && r.engine !== "auto" && r.engine !== "stream" && sourceOf(r) === "generate") {
    ctx.addIssue({
      code: "custom",
      message: `engine "${r.engine}" filters an S3 Inventory, but this run has no inventory (source "generate"): pass inventoryConfigurationId, or drop engine.`,
    });
  }
  if (r.workBucket === r.bucket) {
    ctx.addIssue({
      code: "custom",
      message:
        "workBucket must differ from bucket: manifests and reports written into the bucket being re-encrypted would become part of the run.",
    });
  }
  const key = parseKmsKeyArn(r.kmsKeyArn);
  if (key && r.region && key.region !== r.region) {
    ctx.addIssue({
      code: "custom",
      message: `kmsKeyArn is in ${key.region} but region is ${r.region}: S3 can only use a KMS key in the bucket's own region. Use a key in ${r.region} (or a multi-Region replica there).`,
    });
  }
});
export type RunRequest = z.infer<typeof RunRequestSchema>;

/** The source a request asks for, with the default applied. */
export function sourceOf(request: Pick<RunRequest, "source" | "inventoryConfigurationId">): "inventory" | "generate" {
  return request.source ?? (request.inventoryConfigurationId === undefined ? "generate" : "inventory");
}

/** Turns zod issues into one message an operator can act on, one line per problem. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.code === "custom" || i.path.length === 0 ? i.message : `${i.path.join(".")}: ${i.message}`))
    .join("\n");
}
