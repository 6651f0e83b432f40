/** Where a command writes: the process's streams in the CLI, buffers in tests. */
export interface Io {
  out: { write(text: string): unknown; isTTY?: boolean; columns?: number; rows?: number };
  err: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
  /** Sleeps between polls of `--watch`; tests pass a fast one. */
  sleep(ms: number): Promise<void>;
  now(): Date;
}

export const processIo: Io = {
  out: process.stdout,
  err: process.stderr,
  env: process.env,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => new Date(),
};
