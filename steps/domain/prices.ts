/**
 * Every price rekey's estimate uses, in one place, for US East (N. Virginia), with where each number comes from and how
 * far to trust it. The official S3 pricing page could not be retrieved when these were collected (it is rendered by
 * JavaScript), so several numbers are secondary; each entry's `source` says where it comes from. The official pages:
 * https://aws.amazon.com/s3/pricing/ and https://aws.amazon.com/kms/pricing/.
 *
 * Confidence:
 * - `official`: from an AWS pricing page or AWS documentation text.
 * - `3p`: from a secondary source (blog, guide) quoting AWS's list price.
 * - `unverified`: a widely published list price that no source retrieved here confirms; treat as indicative.
 * - `assumed`: no price found at all; the estimate uses a stand-in and says which.
 *
 * Not priced anywhere (the estimate lists them as not included): data-retrieval charges for copying STANDARD_IA,
 * ONEZONE_IA and GLACIER_IR sources, early-deletion charges, CloudTrail data events, Lambda and Step Functions.
 */

export const PRICES_AS_OF = "2026-11-22";
export const PRICES_REGION = "us-east-1";

export type PriceConfidence = "official" | "3p" | "unverified" | "assumed";

export interface Price {
  /** US dollars per `per` units. */
  readonly usd: number;
  readonly per: number;
  readonly unit: string;
  readonly confidence: PriceConfidence;
  readonly source: string;
}

/** Dollars for `quantity` units at `price`. */
export function costOf(price: Price, quantity: number): number {
  return (price.usd * quantity) / price.per;
}

/** Storage classes whose old versions the estimate can price; the copyable classes plus the archive ones. */
export type PricedStorageClass =
  | "STANDARD"
  | "STANDARD_IA"
  | "ONEZONE_IA"
  | "INTELLIGENT_TIERING"
  | "GLACIER_IR"
  | "GLACIER"
  | "DEEP_ARCHIVE";

const LIST_PRICE_UNRETRIEVED =
  "widely published S3 list price (first 50 TB tier); not confirmed by a source retrieved here";

export const PRICES = {
  /** Secondary: "Yelp post via sysdesign-wiki ('Flat $0.25 per bucket per job')". */
  batchOperationsJob: {
    usd: 0.25,
    per: 1,
    unit: "job",
    confidence: "3p",
    source: "Yelp 2025-09-26 post via sysdesign-wiki; the AWS blog's pricing paragraph was not retrievable",
  },
  /** "$1.00 per million object operations performed": widely cited, unverified. */
  batchOperationsObject: {
    usd: 1.0,
    per: 1_000_000,
    unit: "object operation",
    confidence: "unverified",
    source: "widely cited, not found in retrievable official text",
  },
  /** Secondary: "athena.guide ('... $5 per million')". COPY is billed at the destination class's PUT tier. */
  standardPutCopyRequest: {
    usd: 0.005,
    per: 1_000,
    unit: "PUT/COPY/POST request (S3 Standard)",
    confidence: "3p",
    source: "athena.guide; COPY tier by destination class (SDK-S3 CopyObject 'Charge')",
  },
  /** Secondary: athena.guide ("get ... $0.4 per million"). HEAD is billed as GET. */
  standardGetRequest: {
    usd: 0.0004,
    per: 1_000,
    unit: "GET/HEAD request (S3 Standard)",
    confidence: "3p",
    source: "athena.guide",
  },
  /**
   * UpdateObjectEncryption "is priced the same as PUT, COPY, POST, and LIST requests (per 1,000 requests) and is always
   * charged as an S3 Standard storage class request regardless of the underlying object's storage class"
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/update-sse-encryption.html): official. The PUT price it
   * points to is the secondary one above, so the line is as sure as that: `3p`.
   */
  updateObjectEncryptionRequest: {
    usd: 0.005,
    per: 1_000,
    unit: "UpdateObjectEncryption request",
    confidence: "3p",
    source:
      "update-sse-encryption.html: priced as a PUT request of S3 Standard, whatever the object's class (official); the PUT price from athena.guide (3P)",
  },
  /** "$0.03 per 10,000 symmetric requests" (https://aws.amazon.com/kms/pricing/; also wring.co, factualminds). Free tier not deducted. */
  kmsRequest: {
    usd: 0.03,
    per: 10_000,
    unit: "KMS symmetric request",
    confidence: "3p",
    source:
      "kms/pricing (free tier text, official) and wring.co / factualminds ($0.03, 3P); the 20,000 free requests a month are not deducted",
  },
  /** "$0.0025 per million objects listed" (AWS Storage Blog, and https://aws.amazon.com/s3/pricing/ under Management). */
  inventoryObjectListed: {
    usd: 0.0025,
    per: 1_000_000,
    unit: "object listed by S3 Inventory",
    confidence: "official",
    source: "AWS Storage Blog 'Encrypting objects with Amazon S3 Batch Operations'",
  },
  /**
   * "$5 per TB of data scanned", 10 MB minimum per query: widely quoted list price (athena-express's COST_PER_MB,
   * athena-cost-guard, https://github.com/troylar/aws-pricing-importer); https://aws.amazon.com/athena/pricing/ was
   * not retrievable here.
   */
  athenaTerabyteScanned: {
    usd: 5,
    per: 1,
    unit: "TB scanned by Athena (10 MB minimum per query)",
    confidence: "3p",
    source: "widely quoted list price (athena-express, athena-cost-guard); athena/pricing not retrieved",
  },
} as const satisfies Record<string, Price>;

/** Athena's billing unit: a terabyte of 10^12 bytes, at least 10 MB per query (PRICES.athenaTerabyteScanned). */
export const ATHENA_BYTES_PER_TB = 1e12;
export const ATHENA_MIN_BYTES_PER_QUERY = 10 * 1024 ** 2;

/**
 * Storage per GB-month by class, for the old versions a copy in place leaves behind (they keep their class). Only
 * S3 Standard and Deep Archive have a secondary source here; the rest are list prices marked `unverified`.
 * INTELLIGENT_TIERING is priced at its Frequent Access tier, an upper bound for objects in cheaper tiers.
 */
export const STORAGE_PRICES: Readonly<Record<PricedStorageClass, Price>> = {
  STANDARD: {
    usd: 0.023,
    per: 1,
    unit: "GB-month (S3 Standard, first 50 TB)",
    confidence: "3p",
    source: "go-cloud.io S3 pricing guide ('Standard S3 storage ... costs $0.023/GB')",
  },
  STANDARD_IA: {
    usd: 0.0125,
    per: 1,
    unit: "GB-month (S3 Standard-IA)",
    confidence: "unverified",
    source: LIST_PRICE_UNRETRIEVED,
  },
  ONEZONE_IA: {
    usd: 0.01,
    per: 1,
    unit: "GB-month (S3 One Zone-IA)",
    confidence: "unverified",
    source: LIST_PRICE_UNRETRIEVED,
  },
  INTELLIGENT_TIERING: {
    usd: 0.023,
    per: 1,
    unit: "GB-month (S3 Intelligent-Tiering, Frequent Access tier)",
    confidence: "unverified",
    source: `${LIST_PRICE_UNRETRIEVED}; Frequent Access tier, an upper bound`,
  },
  GLACIER_IR: {
    usd: 0.004,
    per: 1,
    unit: "GB-month (S3 Glacier Instant Retrieval)",
    confidence: "unverified",
    source: LIST_PRICE_UNRETRIEVED,
  },
  GLACIER: {
    usd: 0.0036,
    per: 1,
    unit: "GB-month (S3 Glacier Flexible Retrieval)",
    confidence: "unverified",
    source: LIST_PRICE_UNRETRIEVED,
  },
  DEEP_ARCHIVE: {
    usd: 0.00099,
    per: 1,
    unit: "GB-month (S3 Glacier Deep Archive)",
    confidence: "3p",
    source: "go-cloud.io S3 pricing guide ('$0.00099/GB-month for Glacier Deep Archive')",
  },
};

/**
 * PUT/COPY request price by destination class. Only S3 Standard's is known here (see PRICES); every other class
 * uses it as a stand-in, marked `assumed` (AWS bills COPY at the destination class's tier, which for the IA and
 * Glacier IR classes is higher than Standard's, so these lines are likely underestimates).
 */
export function putCopyRequestPrice(storageClass: string): Price {
  if (storageClass === "STANDARD") return PRICES.standardPutCopyRequest;
  return {
    ...PRICES.standardPutCopyRequest,
    unit: `PUT/COPY request (${storageClass}, priced as S3 Standard)`,
    confidence: "assumed",
    source: `${storageClass}'s request price was not found; S3 Standard's is used (likely an underestimate)`,
  };
}

/** Bytes in the "GB" of a GB-month. Taken as 2^30, as S3 usage reports count it; not confirmed by a source here. */
export const BYTES_PER_GB = 1024 ** 3;
