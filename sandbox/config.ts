/** The identity and place every sandbox resource lives in. Tests and the demo read these instead of repeating literals. */
export interface SandboxIdentity {
  accountId: string;
  region: string;
}

export const DEFAULT_IDENTITY: SandboxIdentity = { accountId: "123456789012", region: "us-east-1" };

/** Static credentials: the sandbox does not verify SigV4 signatures (see sandbox/ASSUMPTIONS.md). */
export const SANDBOX_CREDENTIALS = {
  accessKeyId: "AKIASANDBOXREKEY0001",
  secretAccessKey: "sandbox-secret-key",
} as const;
