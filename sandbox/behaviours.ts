/**
 * The sandbox's switches for AWS behaviour that AWS does not document: one place, each with the values a careful
 * reading leaves open and the default the sandbox runs with. sandbox/ASSUMPTIONS.md ("Switchable behaviours") says
 * why each exists and what evidence there is. A sandbox starts with `startSandbox({ behaviours })`, or
 * `SANDBOX_BEHAVIOURS` (JSON) for `rekey sandbox`, and a running one is switched through
 * `GET`/`POST /_sandbox/behaviours`. The services read the one shared object at the moment they act, so a switch
 * applies to everything that happens after it.
 */

export const EMPTY_GENERATOR_JOB = ["EmptyList", "Failed", "CompleteWithoutManifest"] as const;
export const UNKNOWN_JOB_ERRORS = ["NotFoundException", "NoSuchJobException"] as const;
export const NEW_OBJECT_METADATA = ["IgnoredWithoutDirective", "Replaces"] as const;
export const GENERATED_MANIFEST_KEYS = ["UrlEncoded", "Raw"] as const;
export const RUNTIME_FAILURE_ERRORS = ["Lambda.Unknown", "ErrorType"] as const;
export const S3_SELECT = ["Available", "NotAvailable"] as const;
export const NEW_BUCKET_STORAGE_METRICS = ["NextDay", "SameDay"] as const;
export const NESTED_EXECUTION_ON_ABORT = ["Stopped", "LeftRunning"] as const;

export interface Behaviours {
  /**
   * What a ManifestGenerator job whose filter matches nothing does: writes an empty list and goes on as any job
   * does (Suspended when it needs confirmation), fails saying there is nothing to process, or completes without
   * writing a manifest.
   */
  emptyGeneratorJob: (typeof EMPTY_GENERATOR_JOB)[number];
  /** For how long after CreateJob DescribeJob, UpdateJobStatus and ListJobs do not know the job (0: never). */
  jobRegistrationLagMs: number;
  /** The error DescribeJob and UpdateJobStatus answer during that lag. */
  jobRegistrationError: (typeof UNKNOWN_JOB_ERRORS)[number];
  /** How long a CreateJob ClientRequestToken is honoured (null: for ever); after it the token makes a new job. */
  clientRequestTokenLifetimeSeconds: number | null;
  /**
   * How S3PutObjectCopy reads NewObjectMetadata: passed to CopyObject as headers, so without
   * `MetadataDirective: REPLACE` S3 keeps the source's metadata; or Batch Operations replaces the metadata with
   * NewObjectMetadata whenever it is given (an empty one leaves no user metadata and no content type).
   */
  newObjectMetadata: (typeof NEW_OBJECT_METADATA)[number];
  /** How the generated manifest's CSV writes keys: percent-encoded (as S3 Inventory does) or as they are. */
  generatedManifestKeys: (typeof GENERATED_MANIFEST_KEYS)[number];
  /**
   * Whether UpdateObjectEncryption writes a new version: false, the addressed version's encryption changes in place;
   * true, in a versioning-enabled bucket a new current version supersedes the current one (same data, attributes
   * and LastModified).
   */
  updateObjectEncryptionCreatesVersion: boolean;
  /**
   * The Error a Step Functions Task state gets when the function's runtime failed (its process exited, or the
   * invocation timed out) rather than its handler throwing: `Lambda.Unknown`, as the Step Functions guide names
   * out-of-memory errors and function timeouts; or the error document's errorType (`Runtime.ExitError`,
   * `Sandbox.Timedout`). A handler's error keeps its errorType either way.
   */
  runtimeFailureError: (typeof RUNTIME_FAILURE_ERRORS)[number];
  /**
   * Whether the account may use S3 Select: closed to new customers since 2024-07-25, so an account that never used
   * it is refused (NotAvailable: SelectObjectContent answers 405 MethodNotAllowed, sandbox/ASSUMPTIONS.md).
   */
  s3Select: (typeof S3_SELECT)[number];
  /**
   * How many rows Athena's UNLOAD writes to one file before it starts the next (null: a file per 64 MiB of text). AWS
   * writes an UNLOAD's output as several files, as many as its workers choose, and documents neither how many nor
   * how rows are split among them.
   */
  athenaUnloadRowsPerFile: number | null;
  /**
   * Whether a bucket created since the last midnight UTC has that day's CloudWatch storage data point
   * (BucketSizeBytes, NumberOfObjects): `NextDay`, as on AWS, where a new bucket's first daily data point comes the
   * next day; or `SameDay`, computed from the bucket's state like every other bucket's.
   */
  newBucketStorageMetrics: (typeof NEW_BUCKET_STORAGE_METRICS)[number];
  /**
   * What becomes of a child execution a Step Functions `states:startExecution.sync` (or `.sync:2`) Task started when
   * that Task is aborted (its execution stopped, failed or timed out, or its TimeoutSeconds ran out): `Stopped`, by
   * the StopExecution AWS documents it attempts; or `LeftRunning`, as when that best-effort attempt fails (the role
   * lacks `states:StopExecution`, a service outage), and the child runs on to its own end.
   */
  nestedExecutionOnAbort: (typeof NESTED_EXECUTION_ON_ABORT)[number];
}

export const DEFAULT_BEHAVIOURS: Readonly<Behaviours> = Object.freeze({
  emptyGeneratorJob: "EmptyList",
  jobRegistrationLagMs: 0,
  jobRegistrationError: "NotFoundException",
  clientRequestTokenLifetimeSeconds: null,
  newObjectMetadata: "IgnoredWithoutDirective",
  generatedManifestKeys: "UrlEncoded",
  updateObjectEncryptionCreatesVersion: false,
  runtimeFailureError: "Lambda.Unknown",
  s3Select: "Available",
  athenaUnloadRowsPerFile: null,
  newBucketStorageMetrics: "NextDay",
  nestedExecutionOnAbort: "Stopped",
});

/** The environment variable `rekey sandbox` (and anything starting a sandbox from the environment) reads. */
export const BEHAVIOURS_ENV = "SANDBOX_BEHAVIOURS";

export class BehavioursError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BehavioursError";
  }
}

/** Validates a partial set of switches (from JSON); throws BehavioursError naming the bad member. */
export function parseBehaviours(raw: unknown): Partial<Behaviours> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new BehavioursError("Behaviours must be a JSON object.");
  }
  const input = raw as Record<string, unknown>;
  const out: Partial<Behaviours> = {};
  for (const [name, value] of Object.entries(input)) {
    switch (name) {
      case "emptyGeneratorJob":
        out.emptyGeneratorJob = oneOf(name, value, EMPTY_GENERATOR_JOB);
        break;
      case "jobRegistrationLagMs":
        out.jobRegistrationLagMs = nonNegative(name, value);
        break;
      case "jobRegistrationError":
        out.jobRegistrationError = oneOf(name, value, UNKNOWN_JOB_ERRORS);
        break;
      case "clientRequestTokenLifetimeSeconds":
        out.clientRequestTokenLifetimeSeconds = value === null ? null : nonNegative(name, value);
        break;
      case "newObjectMetadata":
        out.newObjectMetadata = oneOf(name, value, NEW_OBJECT_METADATA);
        break;
      case "generatedManifestKeys":
        out.generatedManifestKeys = oneOf(name, value, GENERATED_MANIFEST_KEYS);
        break;
      case "updateObjectEncryptionCreatesVersion":
        if (typeof value !== "boolean") throw new BehavioursError(`${name} must be true or false.`);
        out.updateObjectEncryptionCreatesVersion = value;
        break;
      case "runtimeFailureError":
        out.runtimeFailureError = oneOf(name, value, RUNTIME_FAILURE_ERRORS);
        break;
      case "s3Select":
        out.s3Select = oneOf(name, value, S3_SELECT);
        break;
      case "athenaUnloadRowsPerFile":
        if (value !== null && (typeof value !== "number" || !Number.isInteger(value) || value < 1)) {
          throw new BehavioursError(`${name} must be a whole number of rows, at least 1, or null.`);
        }
        out.athenaUnloadRowsPerFile = value;
        break;
      case "newBucketStorageMetrics":
        out.newBucketStorageMetrics = oneOf(name, value, NEW_BUCKET_STORAGE_METRICS);
        break;
      case "nestedExecutionOnAbort":
        out.nestedExecutionOnAbort = oneOf(name, value, NESTED_EXECUTION_ON_ABORT);
        break;
      default:
        throw new BehavioursError(
          `Unknown behaviour "${name}" (known: ${Object.keys(DEFAULT_BEHAVIOURS).join(", ")}).`,
        );
    }
  }
  return out;
}

/** The switches a sandbox starts with: the defaults, then the environment's, then the caller's. */
export function initialBehaviours(
  given: Partial<Behaviours> | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Behaviours {
  const text = env[BEHAVIOURS_ENV];
  let fromEnv: Partial<Behaviours> = {};
  if (text) {
    try {
      fromEnv = parseBehaviours(JSON.parse(text));
    } catch (err) {
      throw new BehavioursError(`${BEHAVIOURS_ENV}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { ...DEFAULT_BEHAVIOURS, ...fromEnv, ...parseBehaviours(given ?? {}) };
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new BehavioursError(`${name} must be one of ${allowed.join(", ")}.`);
  return found;
}

function nonNegative(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new BehavioursError(`${name} must be a number of at least 0.`);
  }
  return value;
}
