/**
 * The error names below are API: Step Functions `Retry` and `Catch` match on `error.name`, and the Lambda
 * runtime reports `error.name` as the `errorType`. Each name is therefore a literal constant, not
 * `new.target.name`, because a minifying bundler may rename classes and the workflow would silently stop
 * matching. A test keeps each literal equal to its class name.
 */
export const ErrorNames = {
  InvalidInput: "InvalidInputError",
  InventoryFormat: "InventoryFormatError",
  InventoryNotReady: "InventoryNotReadyError",
  InventoryConfiguration: "InventoryConfigurationError",
  ManifestWrite: "ManifestWriteError",
  BatchJobFailed: "BatchJobFailedError",
  SystemicTaskFailure: "SystemicTaskFailureError",
  CompletionReport: "CompletionReportError",
  VerificationFailed: "VerificationFailedError",
  TransientAws: "TransientAwsError",
  PreflightBlocked: "PreflightBlockedError",
  ObjectChangedDuringCopy: "ObjectChangedDuringCopyError",
  ApprovalNotPossible: "ApprovalNotPossibleError",
  UnexpectedResponse: "UnexpectedResponseError",
  InvariantViolated: "InvariantViolatedError",
  BucketBusy: "BucketBusyError",
  EngineUnavailable: "EngineUnavailableError",
} as const;

export type RekeyErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

export interface RekeyErrorOptions extends ErrorOptions {
  /** What the operator should do about it. Shown in the Step Functions console and the CLI. */
  fix: string;
}

/**
 * Base of every error rekey raises on purpose. The message carries the fix as well, because Step Functions
 * keeps only `errorType` and `errorMessage` of a failed Lambda; `problem` and `fix` stay separate for the CLI.
 */
export abstract class RekeyError extends Error {
  abstract override readonly name: RekeyErrorName;
  readonly problem: string;
  readonly fix: string;

  constructor(problem: string, options: RekeyErrorOptions) {
    super(`${problem} Fix: ${options.fix}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.problem = problem;
    this.fix = options.fix;
  }
}

export function isRekeyError(value: unknown): value is RekeyError {
  return value instanceof RekeyError;
}

/** The execution input or a step's input does not satisfy its schema. Not retryable. */
export class InvalidInputError extends RekeyError {
  override readonly name = ErrorNames.InvalidInput;
}

/** A problem in one file rekey reads; the message starts with where it is. */
abstract class FileProblemError extends RekeyError {
  /** Key of the file the problem is in, relative to its bucket. */
  readonly file: string;
  /** 1-based line in the decompressed file, when the problem is on one line. */
  readonly line: number | undefined;

  constructor(problem: string, options: RekeyErrorOptions & { file: string; line?: number }) {
    const where = options.line === undefined ? options.file : `${options.file} line ${options.line}`;
    super(`${where}: ${problem}`, options);
    this.file = options.file;
    this.line = options.line;
  }
}

/** A delivered inventory file (manifest.json or a CSV data file) cannot be read. Not retryable. */
export class InventoryFormatError extends FileProblemError {
  override readonly name = ErrorNames.InventoryFormat;
}

/** No inventory delivered after `deliveredAfter` arrived before the run's wait deadline; the run stops. */
export class InventoryNotReadyError extends RekeyError {
  override readonly name = ErrorNames.InventoryNotReady;
  readonly deliveredAfter: Date;

  constructor(problem: string, options: RekeyErrorOptions & { deliveredAfter: Date }) {
    super(problem, options);
    this.deliveredAfter = options.deliveredAfter;
  }
}

/** The inventory configuration cannot serve rekey (not CSV, required optional fields missing, …). */
export class InventoryConfigurationError extends RekeyError {
  override readonly name = ErrorNames.InventoryConfiguration;
}

/** A Batch Operations manifest could not be written, or a line would not be valid in one. */
export class ManifestWriteError extends RekeyError {
  override readonly name = ErrorNames.ManifestWrite;
}

/** A Batch Operations job ended Failed or Cancelled, or failed more tasks than the run tolerates. */
export class BatchJobFailedError extends RekeyError {
  override readonly name = ErrorNames.BatchJobFailed;
  readonly jobId: string;

  constructor(problem: string, options: RekeyErrorOptions & { jobId: string }) {
    super(problem, options);
    this.jobId = options.jobId;
  }
}

/**
 * Copy tasks failed for a reason no retry fixes (access denied, the KMS key disabled, missing or in the wrong
 * state), so rekey cancelled their job early; the message says which permission or key state is missing.
 */
export class SystemicTaskFailureError extends RekeyError {
  override readonly name = ErrorNames.SystemicTaskFailure;
  readonly jobId: string;

  constructor(problem: string, options: RekeyErrorOptions & { jobId: string }) {
    super(problem, options);
    this.jobId = options.jobId;
  }
}

/** A completion report (manifest.json or a results CSV) is missing or cannot be read. */
export class CompletionReportError extends FileProblemError {
  override readonly name = ErrorNames.CompletionReport;
}

/** The final check found non-compliant current objects, or the run's counts do not reconcile. */
export class VerificationFailedError extends RekeyError {
  override readonly name = ErrorNames.VerificationFailed;
}

/**
 * An AWS call failed in a way that usually passes (throttling, a 5xx, a dropped connection) and outlived the SDK's
 * own retries. The workflow retries the step on this name; everything else ends the run.
 */
export class TransientAwsError extends RekeyError {
  override readonly name = ErrorNames.TransientAws;
}

/** The run was asked to wait for approval, but none of its work goes through a job the operator could confirm. */
export class ApprovalNotPossibleError extends RekeyError {
  override readonly name = ErrorNames.ApprovalNotPossible;
}

/**
 * Preflight found conditions under which rekey refuses to write (see steps/domain/preflight.ts). The message lists
 * every blocker with its fix; `blockers` carries them for the CLI and the report. Not retryable: the bucket, the key
 * or the run's acknowledgements must change first.
 */
export class PreflightBlockedError extends RekeyError {
  override readonly name = ErrorNames.PreflightBlocked;
  readonly blockers: readonly { code: string; message: string; fix: string }[];

  constructor(
    problem: string,
    options: RekeyErrorOptions & { blockers: readonly { code: string; message: string; fix: string }[] },
  ) {
    super(problem, options);
    this.blockers = options.blockers;
  }
}

/**
 * An object was overwritten or deleted while rekey copied it in parts (UploadPartCopy), so the copy would have
 * replaced newer data with older. The copy is abandoned (its multipart upload aborted) and the newer write kept;
 * a later run re-encrypts the object as it is then.
 */
export class ObjectChangedDuringCopyError extends RekeyError {
  override readonly name = ErrorNames.ObjectChangedDuringCopy;
  readonly bucket: string;
  readonly key: string;

  constructor(problem: string, options: RekeyErrorOptions & { bucket: string; key: string }) {
    super(`s3://${options.bucket}/${options.key}: ${problem}`, options);
    this.bucket = options.bucket;
    this.key = options.key;
  }
}

/**
 * An AWS call succeeded but its answer lacks what the API always returns (a job id, an upload id, an ETag, a body).
 * Not retried by the workflow: the run stops and says which call it was.
 */
export class UnexpectedResponseError extends RekeyError {
  override readonly name = ErrorNames.UnexpectedResponse;
}

/** rekey's own code reached a state it rules out (a bug): for example a list or an upload used after it was closed. */
export class InvariantViolatedError extends RekeyError {
  override readonly name = ErrorNames.InvariantViolated;
}

/**
 * Another execution is running on the same bucket: it holds the bucket's lock in the work bucket
 * (contract/run-context.ts bucketLockKey). Not retried: the other run must end first. `holder` is its execution ARN.
 */
export class BucketBusyError extends RekeyError {
  override readonly name = ErrorNames.BucketBusy;
  readonly holder: string;

  constructor(problem: string, options: RekeyErrorOptions & { holder: string }) {
    super(problem, options);
    this.holder = options.holder;
  }
}

/**
 * The filter engine a run asked for cannot be used here (S3 Select refused for the account, no Athena workgroup
 * deployed, an inventory format the engine does not read). Not retryable: the fix names the engines that can.
 */
export class EngineUnavailableError extends RekeyError {
  override readonly name = ErrorNames.EngineUnavailable;
}
