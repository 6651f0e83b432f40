import type { RunReport } from "../contract/final-report.ts";
import type { BucketCheckMethod, FindingVerdict } from "../contract/verification.ts";

/**
 * What `rekey evidence` records of one bucket run (evidence.json in the bundle), and what its page and the fleet page
 * are rendered from: read by cli/evidence-bundle.ts, counted by cli/evidence-counts.ts, rendered by
 * cli/evidence-page.ts and cli/evidence-fleet.ts. Plain JSON, and nothing in it depends on when it was written, so
 * that writing a bundle twice gives the same bytes (the manifest alone carries the time, cli/evidence-manifest.ts).
 */
export const EVIDENCE_VERSION = 1;

/** What an encryption status row is, for the tables and the chart's colours. */
export type EncryptionStatus = "compliant" | "not-compliant" | "left-as-is" | "not-examined";

export interface EncryptionRow {
  status: EncryptionStatus;
  /** What the objects were (or were found to be), in words a reviewer reads. */
  label: string;
  count: number;
  /** Known for inventory counts; the independent check counts objects only. */
  bytes?: number;
}

/** The bucket's current objects before the run, as rekey read them: the plan's tally of the inventory (or lists). */
export interface BeforeCounts {
  /** "inventory": an S3 Inventory delivery; "generated-lists": Batch Operations' manifest generator's listing. */
  source: "inventory" | "generated-lists";
  /** The inventory manifest (or the generated lists' folder) the plan was made from, in the work bucket. */
  manifestKey: string;
  /** When the inventory (or listing) was taken: the "as of" of every count below. */
  asOf: string;
  rows: EncryptionRow[];
  currentObjects: number;
  currentBytes: number;
  /** Noncurrent versions and delete markers: seen, never changed, not part of the chart. */
  notCurrent: { label: string; count: number; bytes: number }[];
}

/** What the bucket itself answered after the jobs: the independent check ("Look for non-compliant objects"). */
export interface AfterCounts {
  method: BucketCheckMethod;
  /** BUCKET_CHECK_METHODS' words for the method: which objects were looked at, and how. */
  description: string;
  startedAt: string;
  finishedAt: string;
  examined: number;
  rows: EncryptionRow[];
  /** Non-compliant objects rekey could have fixed, or could not examine: any keeps the run from succeeding. */
  failing: number;
  counts: Record<FindingVerdict, number>;
  unexamined: number;
  /** The first non-compliant objects found, each with what HeadObject showed and why it counts. */
  findings: { key: string; verdict: FindingVerdict; found: string; reason: string }[];
  findingsOmitted: number;
}

/** How a file's checksum in the evidence was obtained; each entry says which, and `basis` says why. */
export type ChecksumSource = "sha256-while-reading" | "s3-etag" | "batch-report-md5";

export interface ChecksumEntry {
  /** What the file is, e.g. "copy manifest (STANDARD)", "final report". */
  role: string;
  uri: string;
  /** Where it is in this bundle, when it was copied in. */
  bundlePath?: string;
  bytes?: number;
  /** As S3 answered it (quoted). */
  etag?: string;
  /** The ETag the plan recorded when it wrote a manifest, and so the one its Batch Operations job was created with. */
  plannedEtag?: string;
  /** S3's own additional checksum of the object, when it keeps one (HeadObject/GetObject with ChecksumMode). */
  s3Checksum?: { algorithm: string; value: string; type?: string };
  sha256?: string;
  md5?: string;
  source: ChecksumSource;
  basis: string;
}

/** One Batch Operations job of the run, as S3 Control describes it now. */
export interface EvidenceJob {
  jobId: string;
  work: string;
  status?: string;
  /** The role Batch Operations ran the job's tasks as: who changed the objects. */
  roleArn?: string;
  statusUpdateReason?: string;
  attempt?: number;
  redriveOf?: string;
  /** Completion report: its manifest and result files with Batch's MD5s, or why there is none. */
  report?: { manifestUri: string; files: number } | { missing: string };
}

export interface Approval {
  /** The run's requireApproval option: its copy jobs waited for `rekey approve`. */
  required: boolean;
  /** The history event in which the run began to wait ("Waiting for approval" entered). */
  waitingFrom?: { eventId: number; at: string };
  /** The history event in which it last left the wait: the jobs had been confirmed (or the run was stopped). */
  resumedAt?: { eventId: number; at: string };
  /** In words: approved, still waiting, stopped while waiting, or no approval asked. */
  summary: string;
}

export interface RunEvidence {
  evidenceVersion: typeof EVIDENCE_VERSION;
  run: {
    executionArn: string;
    name: string;
    /** Step Functions' status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE. */
    status: string;
    startedAt?: string;
    stoppedAt?: string;
    currentState?: string;
    /** The step whose error ended the run, when "Record failure" recorded one. */
    failedIn?: string;
    error?: string;
    cause?: string;
    /** The role the execution ran as (ExecutionStarted's roleArn): the state machine's, which invokes every step. */
    executionRoleArn?: string;
  };
  /** One of the kinds of ending a reviewer must tell apart, from the status and the final report. */
  outcome: "succeeded" | "finished-with-failures" | "failed" | "stopped" | "timed-out" | "running";
  bucket: string;
  kmsKeyArn: string;
  region?: string;
  accountId?: string;
  /** The run's folder in the work bucket and the bundle's beside it; absent when the run failed before it had one. */
  runFolder?: string;
  evidenceFolder?: string;
  /** The execution's input, as it was started. */
  input: Record<string, unknown>;
  approval: Approval;
  /** Preflight's warnings, acknowledged blockers among them. */
  preflightWarnings: { code: string; message: string; fix: string }[];
  /** The bucket's and key's configuration as preflight read it before anything was changed, one line each. */
  preflightFacts?: Record<string, string | number>;
  plannedFrom?: { manifestKey: string; createdAt: string; engine?: string };
  before?: BeforeCounts;
  after?: AfterCounts;
  /** Where every object ended, from the final report. */
  totals?: RunReport["totals"];
  verification?: {
    spotCheck?: { checked: number; mismatches: number };
    reconciliation?: RunReport["reconciliation"];
    warnings: string[];
  };
  skipped: { reason: string; summary: string; count: number; bytes: number; whatToDo: string; sampleKeys: string[] }[];
  failed: { category: string; summary: string; count: number; whatToDo: string }[];
  jobs: EvidenceJob[];
  checksums: ChecksumEntry[];
  /** Evidence the run does not have (yet), and why: said rather than left out silently. */
  absent: { what: string; why: string }[];
}
