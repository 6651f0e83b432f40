/** A condition the operator can fix: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The command ran and what it checked failed (a run that did not succeed): exit code 1. */
export class CommandFailedError extends Error {
  override readonly name = "CommandFailedError";
}

export const ExitCodes = { ok: 0, failed: 1, usage: 2, internal: 70 } as const;
