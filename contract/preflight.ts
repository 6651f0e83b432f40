import { z } from "zod";
import { ACKNOWLEDGEABLE_BLOCKERS, type AcknowledgeableCode, type FindingCode } from "./findings.ts";
import { RunContextSchema } from "./run-context.ts";

/** Input of the preflight state: the validated run and the blockers the operator acknowledged. */
export const PreflightInputSchema = z.object({
  run: RunContextSchema,
  acknowledge: z.array(z.enum(ACKNOWLEDGEABLE_BLOCKERS)).default([]),
});
export type PreflightInput = z.infer<typeof PreflightInputSchema>;

/** One thing preflight found, with what to do about it. */
export interface Finding {
  code: FindingCode;
  message: string;
  fix: string;
  /** Set on a blocker the run acknowledged, which is therefore reported as a warning. */
  acknowledged?: true;
}

/** The facts preflight read, one line each, for the plan and the report. */
export interface PreflightFactsSummary {
  versioning: string;
  objectLock: string;
  replication: string;
  notifications: string;
  lifecycle: string;
  noncurrentExpirationDays?: number;
  objectOwnership: string;
  defaultEncryption: string;
  bucketPolicy: string;
  key: string;
  keyPolicy: string;
}

/** What preflight hands on when nothing blocks: the warnings for the report and a compact summary of the facts. */
export interface PreflightResult {
  warnings: Finding[];
  facts: PreflightFactsSummary;
  acknowledged: AcknowledgeableCode[];
}
