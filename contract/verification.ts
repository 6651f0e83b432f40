import { z } from "zod";
import { tallyStateSchema } from "./tally.ts";

/** verification.json in the run prefix: what "Verify results" found, for "Write final report". */

/** How the spot check records a sampled object that no longer exists. */
export const NOT_FOUND = "not found (404)";

export const VerificationFileSchema = z.object({
  tally: tallyStateSchema,
  spotCheck: z.object({ checked: z.number(), mismatches: z.array(z.object({ key: z.string(), found: z.string() })) }),
  jobs: z.array(z.object({ jobId: z.string(), status: z.string(), failureReasons: z.array(z.string()) })),
});
export type VerificationFile = z.infer<typeof VerificationFileSchema>;

/** What "Verify results" hands on: where the file is, and the spot check's counts. */
export interface Verification {
  verificationKey: string;
  spotChecked: number;
  mismatches: number;
}
