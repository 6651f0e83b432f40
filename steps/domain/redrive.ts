import { classifyTaskFailure, type ReportRow } from "./completion-report.ts";

/**
 * Redrive: what rekey does with the failed tasks of a copy job. A task that failed for a passing reason (throttling,
 * a 5xx, a timeout, KMS throttling) is tried again in a new job of just those objects, a bounded number of times
 * with a growing wait between attempts; a failure the operator must fix (access denied, the key disabled, missing
 * or in a state that refuses it) is systemic: rekey cancels the job early and says which permission or key state
 * is missing; anything else is about one object (gone, changed, archived, ...) and is settled by verification.
 */

/** How a failed task is treated. */
export type FailureKind = "transient" | "systemic" | "object-specific";

/**
 * By the row's category (completion-report.ts classifyTaskFailure, which reads S3's and KMS's error codes as
 * Batch Operations reports them, then the HTTP status): one classification for the tally and for redrive.
 */
export function failureKind(row: Pick<ReportRow, "httpStatus" | "errorCode" | "resultMessage">): FailureKind {
  const category = classifyTaskFailure(row);
  if (category === "throttled-or-transient") return "transient";
  if (category === "access-or-kms") return "systemic";
  return "object-specific";
}

/**
 * What each systemic error code means the Batch Operations role or the key lacks. Codes: S3
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html, KMS (as S3 passes them on with a `KMS.`
 * prefix) https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKey.html#API_GenerateDataKey_Errors.
 */
const SYSTEMIC_CAUSES: readonly { code: RegExp; missing: string }[] = [
  {
    code: /\bKMS\.DisabledException\b/,
    missing: "the target (or source) KMS key is disabled: enable it (aws kms enable-key)",
  },
  {
    code: /\bKMS\.NotFoundException\b/,
    missing: "the KMS key does not exist in this account and region: check the key ARN",
  },
  {
    code: /\bKMS\.KMSInvalidStateException\b/,
    missing:
      "the KMS key is in a state that refuses the request (pending deletion, pending import, or unavailable): cancel its deletion or finish the import",
  },
  {
    code: /\bKMS\.(?:AccessDeniedException|InvalidGrantTokenException)\b/,
    missing:
      "kms:GenerateDataKey and kms:Decrypt on the key for the Batch Operations role, in the key policy (or a grant)",
  },
  {
    code: /\bKMS\.(?:InvalidKeyUsageException|IncorrectKeyException)\b/,
    missing: "a symmetric encryption key (KeyUsage ENCRYPT_DECRYPT): the key given cannot encrypt data keys",
  },
  {
    code: /\bKMS\.[A-Za-z]+\b/,
    missing: "a usable KMS key: check the key's state and its key policy for the Batch Operations role",
  },
  {
    code: /\bAllAccessDisabled\b/,
    missing: "access to the bucket: all access to it has been disabled by AWS; contact AWS Support",
  },
  {
    code: /\b(?:AccessDenied|InvalidAccessKeyId)\b/,
    missing:
      "s3:GetObject, s3:GetObjectVersion, s3:GetObjectTagging, s3:PutObject and s3:PutObjectTagging on the bucket for the Batch Operations role, and nothing denying them (bucket policy, SCP, VPC endpoint policy)",
  },
];

const ACCESS_DENIED = SYSTEMIC_CAUSES[SYSTEMIC_CAUSES.length - 1] as { missing: string };

/** What a systemic failure says is missing; the row's code first, then its message. */
export function missingFor(row: Pick<ReportRow, "errorCode" | "resultMessage">): string {
  const text = `${row.errorCode ?? ""} ${row.resultMessage}`;
  // A bare 403 names nothing: S3 answers AccessDenied with it, so that is what it is read as.
  return (SYSTEMIC_CAUSES.find((c) => c.code.test(text)) ?? ACCESS_DENIED).missing;
}

/** The systemic failures of a job, by what is missing, with a count and a sample key each. */
export interface SystemicCause {
  missing: string;
  errorCode: string;
  count: number;
  sampleKey: string;
}

/**
 * What the failed rows of one job come to: how many failed transiently, and the systemic ones grouped by what they
 * say is missing (a few groups, however many rows: memory stays bounded).
 */
export class FailedRowSummary {
  transient = 0;
  objectSpecific = 0;
  private readonly systemic = new Map<string, SystemicCause>();

  add(row: ReportRow): FailureKind | undefined {
    if (row.taskStatus !== "failed") return undefined;
    const kind = failureKind(row);
    if (kind === "transient") this.transient += 1;
    else if (kind === "object-specific") this.objectSpecific += 1;
    else {
      const missing = missingFor(row);
      const cause = this.systemic.get(missing);
      if (cause) cause.count += 1;
      else {
        const errorCode = row.errorCode ?? `HTTP ${row.httpStatus ?? "?"}`;
        this.systemic.set(missing, { missing, errorCode, count: 1, sampleKey: row.key });
      }
    }
    return kind;
  }

  /** Systemic causes, largest group first. */
  systemicCauses(): SystemicCause[] {
    return [...this.systemic.values()].sort((a, b) => b.count - a.count);
  }
}

/** The operator's sentence for a job's systemic failures: what is missing, with a code, a count and a key each. */
export function describeSystemicCauses(causes: readonly SystemicCause[]): string {
  return causes
    .map(
      (c) =>
        `${c.count} task(s) failed with ${c.errorCode} (e.g. ${JSON.stringify(c.sampleKey)}): missing ${c.missing}`,
    )
    .join("; ");
}

/**
 * When rekey cancels a running job: at least `minFailed` tasks failed and they are at least half of those that ran.
 * Batch Operations itself fails a job only after 1,000 tasks ran with more than half failed
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html);
 * DescribeJob gives counts, not causes, so the causes are read from the cancelled job's completion report, which
 * Batch Operations writes for cancelled jobs too once a task ran
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html).
 */
export function shouldCancelEarly(counts: { succeeded: number; failed: number }, minFailed: number): boolean {
  const ran = counts.succeeded + counts.failed;
  return counts.failed >= minFailed && counts.failed * 2 >= ran;
}

/** The wait before redrive attempt `attempt` (2, 3, ...): the base, doubled for every attempt after the second. */
export function redriveBackoffSeconds(attempt: number, baseSeconds: number): number {
  return baseSeconds * 2 ** Math.max(0, attempt - 2);
}

/** What to do about one ended job's transient failures. */
export type RedriveDecision =
  | { action: "none"; reason: "no-transient-failures" | "attempts-exhausted" | "job-did-not-complete" }
  | { action: "wait"; seconds: number; attempt: number }
  | { action: "redrive"; attempt: number };

/**
 * Decides whether the transient failures of a job (attempt `attempt` of its objects) go into a new job now, later,
 * or not at all. Only a Complete job is redriven: a Failed or Cancelled one stopped before running all its tasks,
 * so its failed rows are not all that is left of its work.
 */
export function decideRedrive(params: {
  status: string;
  attempt: number;
  transientFailures: number;
  maxAttempts: number;
  endedAt: Date | undefined;
  now: Date;
  backoffBaseSeconds: number;
}): RedriveDecision {
  const { status, attempt, transientFailures, maxAttempts } = params;
  if (transientFailures === 0) return { action: "none", reason: "no-transient-failures" };
  if (status !== "Complete") return { action: "none", reason: "job-did-not-complete" };
  if (attempt >= maxAttempts) return { action: "none", reason: "attempts-exhausted" };
  const next = attempt + 1;
  const wait = redriveBackoffSeconds(next, params.backoffBaseSeconds);
  const since = params.endedAt ? (params.now.getTime() - params.endedAt.getTime()) / 1000 : wait;
  if (since < wait) return { action: "wait", seconds: Math.max(1, Math.ceil(wait - since)), attempt: next };
  return { action: "redrive", attempt: next };
}
