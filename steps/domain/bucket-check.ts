import { COPYABLE_STORAGE_CLASSES, isArchiveStorageClass } from "../../contract/storage-classes.ts";
import type { BucketCheckFinding, BucketCheckMethod, FindingVerdict } from "../../contract/verification.ts";
import type { CandidateList } from "./candidates.ts";
import { isCompliant } from "./spot-check.ts";

/**
 * The independent check after the jobs: rekey proves that no non-compliant current object remains from a source
 * other than its plan. Small plans: HeadObject of every planned key. Large ones: the manifest generator lists the
 * bucket afresh with filters that select non-compliant objects, and each listed object is checked with HeadObject.
 *
 * The generator's filters (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobManifestGeneratorFilter.html)
 * can select an encryption type, a Bucket Key status and a key ARN, but not "any key but this one": an object
 * under another KMS key with a Bucket Key is not listed. Such an object is found by HeadObject (small plans) and by
 * the spot check; the README states this limit.
 */

/** Which method a plan of `plannedObjects` gets, below or above the headCheckMaxObjects option. */
export function bucketCheckMethod(plannedObjects: number, headCheckMaxObjects: number): BucketCheckMethod {
  return plannedObjects <= headCheckMaxObjects ? "head-planned-objects" : "manifest-generator";
}

/**
 * The lists of the manifest-generator method. Unencrypted objects only in the classes a copy can read (archived ones
 * are skipped by the plan and stay so); SSE-S3 and SSE-KMS without Bucket Key in any class. The operation is the
 * encryption update, never confirmed: confirmed by hand it would only do what rekey does (S3 refuses it for
 * unencrypted objects).
 */
export const AFTER_RUN_LISTS: readonly CandidateList[] = [
  {
    name: "after-run-unencrypted",
    filter: { MatchAnyObjectEncryption: [{ NOTSSE: {} }], MatchAnyStorageClass: [...COPYABLE_STORAGE_CLASSES] },
    route: { kind: "update-encryption", from: "SSE-S3" },
  },
  {
    name: "after-run-sse-s3-or-no-bucket-key",
    filter: { MatchAnyObjectEncryption: [{ SSES3: {} }, { SSEKMS: { BucketKeyEnabled: false } }] },
    route: { kind: "update-encryption", from: "SSE-KMS" },
  },
];

/** What HeadObject told of one current object (or that there is none, or that it is SSE-C: a 400 on HEAD). */
export type ObjectFacts =
  | { kind: "missing" }
  | { kind: "sse-c" }
  | {
      kind: "found";
      ServerSideEncryption?: string | undefined;
      SSEKMSKeyId?: string | undefined;
      BucketKeyEnabled?: boolean | undefined;
      StorageClass?: string | undefined;
      ArchiveStatus?: string | undefined;
      LastModified?: Date | undefined;
      ObjectLockMode?: string | undefined;
      ObjectLockRetainUntilDate?: Date | undefined;
      ObjectLockLegalHoldStatus?: string | undefined;
    };

export interface JudgeContext {
  kmsKeyArn: string;
  /**
   * When default encryption was enforced: a non-compliant object written since was given another encryption by its
   * writer (the bucket default would have made it compliant), so rekey's plan, made after, is not what left it.
   */
  enforcedAt: Date;
  now: Date;
}

function encryptionOf(f: ObjectFacts & { kind: "found" }): string {
  const type = f.ServerSideEncryption === "AES256" ? "SSE-S3" : (f.ServerSideEncryption ?? "unencrypted");
  return f.ServerSideEncryption === "aws:kms"
    ? `SSE-KMS key=${f.SSEKMSKeyId ?? "-"} bucketKey=${f.BucketKeyEnabled ?? false}`
    : type;
}

/** Undefined when the object is compliant or gone; otherwise the finding, with its verdict and reason. */
export function judgeObject(key: string, facts: ObjectFacts, ctx: JudgeContext): BucketCheckFinding | undefined {
  if (facts.kind === "missing") return undefined;
  const finding = (verdict: FindingVerdict, found: string, reason: string) => ({ key, verdict, found, reason });
  if (facts.kind === "sse-c") {
    return finding("not-fixable", "SSE-C", "Encrypted with a customer-provided key: rekey cannot read it (skipped).");
  }
  if (isCompliant(ctx.kmsKeyArn, facts)) return undefined;
  const found = `${encryptionOf(facts)} class=${facts.StorageClass ?? "STANDARD"}${facts.LastModified ? ` lastModified=${facts.LastModified.toISOString()}` : ""}`;
  if (facts.ServerSideEncryption === "aws:kms:dsse") {
    return finding("not-fixable", found, "DSSE-KMS: rekey leaves dual-layer encryption as it is (skipped).");
  }
  const archived =
    (facts.StorageClass !== undefined && isArchiveStorageClass(facts.StorageClass)) ||
    facts.ArchiveStatus !== undefined;
  if (archived && facts.ServerSideEncryption === undefined) {
    return finding("not-fixable", found, "Unencrypted and archived: restore it, then run rekey again (skipped).");
  }
  const retained =
    facts.ObjectLockMode !== undefined &&
    (facts.ObjectLockRetainUntilDate === undefined || facts.ObjectLockRetainUntilDate.getTime() > ctx.now.getTime());
  if (retained || facts.ObjectLockLegalHoldStatus === "ON") {
    return finding("not-fixable", found, "Under Object Lock retention or legal hold (skipped).");
  }
  if (facts.LastModified !== undefined && facts.LastModified.getTime() > ctx.enforcedAt.getTime()) {
    return finding(
      "written-after-planning",
      found,
      `Written at ${facts.LastModified.toISOString()}, after default encryption was enforced (${ctx.enforcedAt.toISOString()}), by a writer that asked for ${encryptionOf(facts)} instead of the bucket default. Find that writer and make it use the default, then run rekey again.`,
    );
  }
  return finding(
    "left-non-compliant",
    found,
    `Current since before default encryption was enforced (${ctx.enforcedAt.toISOString()}) and still ${encryptionOf(facts)}: rekey could have re-encrypted it and did not (see failed.csv and the report's failures). Run rekey again.`,
  );
}

/** Findings that keep a run from ending "succeeded": everything rekey could have fixed, and unchecked objects. */
export function failingFindings(counts: Record<FindingVerdict, number>, unexamined: number): number {
  return counts["left-non-compliant"] + counts["written-after-planning"] + unexamined;
}

/** Findings kept by key in bucket-check.json (all are counted). */
export const FINDINGS_KEPT = 1000;

/** Tallies findings as they come: counts of every verdict, the first FINDINGS_KEPT by key (failing ones first). */
export class FindingTally {
  readonly counts: Record<FindingVerdict, number> = {
    "left-non-compliant": 0,
    "written-after-planning": 0,
    "not-fixable": 0,
  };
  private readonly kept: BucketCheckFinding[] = [];
  examined = 0;

  add(finding: BucketCheckFinding | undefined): void {
    this.examined += 1;
    if (!finding) return;
    this.counts[finding.verdict] += 1;
    if (this.kept.length < FINDINGS_KEPT) this.kept.push(finding);
  }

  get findings(): BucketCheckFinding[] {
    const rank = (f: BucketCheckFinding) => (f.verdict === "not-fixable" ? 1 : 0);
    return [...this.kept].sort((a, b) => rank(a) - rank(b));
  }
}
