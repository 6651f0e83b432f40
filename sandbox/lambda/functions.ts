import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { unzipSync } from "fflate";
import type { SandboxIdentity } from "../config.ts";
import { ServiceError } from "../http.ts";

/** The runtimes the sandbox can run: its containers are Node.js worker threads. */
export const SUPPORTED_RUNTIMES = ["nodejs20.x", "nodejs22.x"] as const;
/** The only version the sandbox has: it publishes none (sandbox/ASSUMPTIONS.md, "Lambda"). */
export const LATEST = "$LATEST";

/**
 * Environment variable names Lambda reserves for its runtime; a function may not set them
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
 */
export const RESERVED_VARIABLES = new Set([
  "_HANDLER",
  "_X_AMZN_TRACE_ID",
  "AWS_DEFAULT_REGION",
  "AWS_REGION",
  "AWS_EXECUTION_ENV",
  "AWS_LAMBDA_FUNCTION_NAME",
  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
  "AWS_LAMBDA_FUNCTION_VERSION",
  "AWS_LAMBDA_INITIALIZATION_TYPE",
  "AWS_LAMBDA_LOG_GROUP_NAME",
  "AWS_LAMBDA_LOG_STREAM_NAME",
  "AWS_ACCESS_KEY",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_LAMBDA_RUNTIME_API",
  "LAMBDA_TASK_ROOT",
  "LAMBDA_RUNTIME_DIR",
]);

/** One uploaded zip, unpacked into its own directory: the task root of the containers that run it. */
export interface CodeVersion {
  dir: string;
  zip: Buffer;
  sha256: string;
  size: number;
}

/** A function as the API describes it; `generation` changes with every code or configuration update. */
export interface LambdaFunction {
  name: string;
  arn: string;
  runtime: string;
  role: string;
  handler: string;
  description: string;
  timeout: number;
  memorySize: number;
  environment: Record<string, string>;
  code: CodeVersion;
  lastModified: number;
  revisionId: string;
  generation: number;
}

/** A function as a data directory keeps it: its configuration and the zip it was given. */
export type SavedFunction = Omit<LambdaFunction, "code"> & { zip: Buffer };

/** Lambda's REST-JSON errors: the code travels in `x-amzn-errortype` (and the body), with the HTTP status AWS uses. */
export function lambdaError(code: string, status: number, message: string): ServiceError {
  return new ServiceError(code, status, message);
}
export const notFound = (arn: string) => lambdaError("ResourceNotFoundException", 404, `Function not found: ${arn}`);
export const invalidParameter = (message: string) => lambdaError("InvalidParameterValueException", 400, message);
export const validation = (detail: string) =>
  lambdaError("ValidationException", 400, `1 validation error detected: ${detail}`);

const FUNCTION_NAME =
  /^(?:arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):function:|(\d{12}):function:)?([a-zA-Z0-9_-]+)(?::(\$LATEST|[a-zA-Z0-9_-]+))?$/;

export interface FunctionRef {
  name: string;
  qualifier?: string;
  /** False when the name is an ARN of another account or region: such a function never exists here. */
  here: boolean;
}

/** A FunctionName as Lambda accepts it: a name, `name:qualifier`, a partial ARN or a full ARN. */
export function parseFunctionName(value: string, identity: SandboxIdentity): FunctionRef {
  const m = FUNCTION_NAME.exec(value);
  if (!m || value.length > 170) {
    throw validation(
      `Value '${value}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ` +
        "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
    );
  }
  const [, region, account, partialAccount, name = "", qualifier] = m;
  const here =
    (region === undefined || region === identity.region) &&
    (account ?? partialAccount ?? identity.accountId) === identity.accountId;
  return { name, here, ...(qualifier !== undefined ? { qualifier } : {}) };
}

export const functionArn = (identity: SandboxIdentity, name: string) =>
  `arn:aws:lambda:${identity.region}:${identity.accountId}:function:${name}`;

/**
 * Unpacks a zip into a fresh directory under the OS temp dir. Entries that would land outside it (absolute paths,
 * `..`) are refused, as is anything that is not a zip.
 */
export function unpackCode(zipFile: Buffer): CodeVersion {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(new Uint8Array(zipFile));
  } catch {
    throw invalidParameter("Could not unzip uploaded file. Please check your file, then try to upload again.");
  }
  const dir = mkdtempSync(path.join(tmpdir(), "sandbox-lambda-"));
  try {
    for (const [name, data] of Object.entries(entries)) {
      const target = path.resolve(dir, name);
      if (!target.startsWith(`${dir}${path.sep}`)) {
        throw invalidParameter(`Could not unzip uploaded file: the entry '${name}' is outside the package.`);
      }
      if (name.endsWith("/")) {
        mkdirSync(target, { recursive: true });
        continue;
      }
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, data);
    }
  } catch (err) {
    removeCode(dir);
    throw err;
  }
  return {
    dir,
    zip: zipFile,
    sha256: createHash("sha256").update(zipFile).digest("base64"),
    size: zipFile.length,
  };
}

export function removeCode(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The configuration members CreateFunction and UpdateFunctionConfiguration share, checked as Lambda checks them. */
export interface ConfigurationInput {
  runtime?: string;
  role?: string;
  handler?: string;
  description?: string;
  timeout?: number;
  memorySize?: number;
  environment?: Record<string, string>;
}

export function checkConfiguration(c: ConfigurationInput): void {
  if (c.runtime !== undefined && !(SUPPORTED_RUNTIMES as readonly string[]).includes(c.runtime)) {
    throw invalidParameter(
      `The runtime parameter of ${c.runtime} is not supported by the sandbox; use one of ${SUPPORTED_RUNTIMES.join(", ")}.`,
    );
  }
  if (c.role !== undefined && !/^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-/]+$/.test(c.role)) {
    throw validation(
      `Value '${c.role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+`,
    );
  }
  if (c.handler !== undefined && (c.handler.length > 128 || !/^\S+$/.test(c.handler))) {
    throw validation(
      `Value '${c.handler}' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+`,
    );
  }
  if (c.description !== undefined && c.description.length > 256) {
    throw validation(
      "Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256",
    );
  }
  if (c.timeout !== undefined) checkRange("timeout", c.timeout, 1, 900);
  if (c.memorySize !== undefined) checkRange("memorySize", c.memorySize, 128, 10240);
  if (c.environment !== undefined) checkEnvironment(c.environment);
}

function checkRange(member: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw validation(
      `Value '${value}' at '${member}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`,
    );
  }
  if (value > max) {
    throw validation(
      `Value '${value}' at '${member}' failed to satisfy constraint: Member must have value less than or equal to ${max}`,
    );
  }
}

function checkEnvironment(variables: Record<string, string>): void {
  const reserved = Object.keys(variables).filter((k) => RESERVED_VARIABLES.has(k));
  if (reserved.length > 0) {
    throw invalidParameter(
      "Lambda was unable to configure your environment variables because the environment variables you have provided " +
        `contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(", ")}`,
    );
  }
  for (const [key, value] of Object.entries(variables)) {
    if (!/^[a-zA-Z]([a-zA-Z0-9_])+$/.test(key) || typeof value !== "string") {
      throw validation(
        `Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]`,
      );
    }
  }
  // "The total size of all environment variables doesn't exceed 4 KB" (Lambda quotas).
  if (Buffer.byteLength(JSON.stringify(variables), "utf8") > 4096) {
    throw invalidParameter(
      "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.",
    );
  }
}

/** FunctionConfiguration as GetFunctionConfiguration, CreateFunction and the update calls return it. */
export function configurationOf(fn: LambdaFunction): Record<string, unknown> {
  return {
    FunctionName: fn.name,
    FunctionArn: fn.arn,
    Runtime: fn.runtime,
    Role: fn.role,
    Handler: fn.handler,
    CodeSize: fn.code.size,
    Description: fn.description,
    Timeout: fn.timeout,
    MemorySize: fn.memorySize,
    LastModified: lambdaTimestamp(fn.lastModified),
    CodeSha256: fn.code.sha256,
    Version: LATEST,
    ...(Object.keys(fn.environment).length > 0 ? { Environment: { Variables: fn.environment } } : {}),
    TracingConfig: { Mode: "PassThrough" },
    RevisionId: fn.revisionId,
    State: "Active",
    LastUpdateStatus: "Successful",
    PackageType: "Zip",
    Architectures: ["x86_64"],
    EphemeralStorage: { Size: 512 },
    LoggingConfig: { LogFormat: "Text", LogGroup: `/aws/lambda/${fn.name}` },
  };
}

/** Lambda's LastModified format: ISO 8601 with milliseconds and a `+0000` offset. */
function lambdaTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "+0000");
}

export const newRevisionId = () => randomUUID();
