/** A condition the operator can fix: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The command ran and what it checked failed (a run that did not succeed): exit code 1. */
export class CommandFailedError extends Error {
  override readonly name = "CommandFailedError";
}

export const ExitCodes = { ok: 0, failed: 1, usage: 2, internal: 70 } as const;

/**
 * The message for a request that never reached a server (nothing listens at the endpoint, or its host does not
 * resolve), which the SDK reports as the socket error with request metadata attached; undefined for other errors.
 * Such an error says nothing about credentials, so the message names the endpoint and the likely cause instead.
 */
export function unreachableEndpoint(err: unknown): string | undefined {
  const e = err as { code?: string; address?: string; port?: number; hostname?: string; errors?: unknown[] };
  const first = (e?.errors?.[0] ?? {}) as typeof e;
  const code = e?.code ?? first.code;
  if (code === "ECONNREFUSED") {
    const address = e.address ?? first.address;
    const port = e.port ?? first.port;
    const where = address && port !== undefined ? `${address}:${port}` : "the endpoint";
    return `connection refused to ${where}: nothing is listening there. Is the sandbox running? Start it with \`rekey sandbox\`, or check --endpoint / AWS_ENDPOINT_URL.`;
  }
  if (code === "ENOTFOUND") {
    return `the endpoint's host ${e.hostname ?? first.hostname ?? ""} does not resolve: check --endpoint / AWS_ENDPOINT_URL and the region.`;
  }
  return undefined;
}
