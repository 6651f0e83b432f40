import type { Finding } from "../../contract/preflight.ts";
import { formatCount } from "./format.ts";
import { sameKey } from "./preflight.ts";
import { type DefaultEncryptionFacts, type Fact, isCannotTell } from "./preflight-facts.ts";

/** What `rekey scan` says a bucket needs, against the target key. */
export const BUCKET_VERDICTS = ["compliant", "needs-default-encryption", "needs-run", "blocked", "unknown"] as const;
export type BucketVerdict = (typeof BUCKET_VERDICTS)[number];

export interface BucketVerdictInput {
  targetKeyArn: string;
  defaultEncryption: Fact<DefaultEncryptionFacts>;
  /** Preflight's blockers with no acknowledgement: a run would be refused until each is resolved. */
  blockers: readonly Finding[];
  /** Current objects, when a source tells (storage metrics, an inventory); undefined when nothing does. */
  objects: number | undefined;
  /**
   * Current objects an inventory (and HeadObject) shows are not SSE-KMS under the target key with Bucket Key; undefined
   * when no inventory was counted. A floor while `unverifiedObjects` remain.
   */
  nonCompliantObjects: number | undefined;
  /** SSE-KMS objects with a Bucket Key whose key the inventory does not list and no HeadObject told. */
  unverifiedObjects?: number;
  /** When the counted inventory was listed (its delivery's date), for the why. */
  countsAsOf?: string;
}

/** Whether the bucket's default encryption is what a run enforces: SSE-KMS, the target key, the Bucket Key. */
export function defaultEncryptionCompliant(d: Fact<DefaultEncryptionFacts>, targetKeyArn: string): boolean | undefined {
  if (isCannotTell(d)) return undefined;
  return (
    d.algorithm === "aws:kms" && d.kmsKeyId !== undefined && sameKey(d.kmsKeyId, targetKeyArn) && d.bucketKeyEnabled
  );
}

/**
 * The verdict, and why in words. Blocked first (a run would be refused); then, with no object to re-encrypt (an empty
 * bucket, or an inventory that finds none non-compliant), the default encryption decides; otherwise, or when nothing
 * tells how many objects need it, a run: rekey never calls a bucket compliant on the strength of its default alone,
 * which covers only new writes.
 */
export function judgeBucket(input: BucketVerdictInput): { verdict: BucketVerdict; why: string } {
  const defaultOk = defaultEncryptionCompliant(input.defaultEncryption, input.targetKeyArn);
  if (input.blockers.length) {
    return {
      verdict: "blocked",
      why: `preflight would refuse a run: ${input.blockers.map((b) => b.code).join(", ")}`,
    };
  }
  const unverified = input.unverifiedObjects ?? 0;
  const nothingToCopy = input.objects === 0 || (input.nonCompliantObjects === 0 && unverified === 0);
  const asOf = input.countsAsOf ? ` (inventory of ${input.countsAsOf})` : "";
  if (defaultOk === undefined) {
    return { verdict: "unknown", why: "the default encryption cannot be read" };
  }
  if (nothingToCopy) {
    return defaultOk
      ? {
          verdict: "compliant",
          why:
            input.objects === 0
              ? "empty, and new writes default to the target key with Bucket Key"
              : `every current object${asOf} and the default are under the target key with Bucket Key`,
        }
      : {
          verdict: "needs-default-encryption",
          why: "no object to re-encrypt, but new writes would not use the target key with Bucket Key",
        };
  }
  if (input.nonCompliantObjects !== undefined && input.nonCompliantObjects > 0) {
    return {
      verdict: "needs-run",
      why:
        `${unverified ? "at least " : ""}${formatCount(input.nonCompliantObjects)} current object(s)${asOf} not under the target key with Bucket Key` +
        (unverified
          ? `, and ${formatCount(unverified)} SSE-KMS with Bucket Key whose key the inventory does not list`
          : ""),
    };
  }
  if (input.nonCompliantObjects !== undefined) {
    return {
      verdict: "needs-run",
      why: `${formatCount(unverified)} SSE-KMS object(s)${asOf} with Bucket Key whose key the inventory does not list: a run checks each and updates those under another key`,
    };
  }
  return {
    verdict: "needs-run",
    why: defaultOk
      ? "the default is compliant, but nothing tells whether the existing objects are (no usable inventory yet)"
      : "existing objects are not known to be under the target key, and the default encryption is not",
  };
}
