/** Characters of output kept per function; older output is dropped first. */
export const MAX_LOG_CHARS = 1_000_000;

/**
 * Each function's output (its containers' stdout and stderr, and the runtime's START/END/REPORT lines), kept in
 * memory instead of CloudWatch Logs, bounded per function.
 */
export class FunctionLogs {
  private readonly byFunction = new Map<string, { chunks: string[]; chars: number }>();

  append(functionName: string, text: string): void {
    const log = this.byFunction.get(functionName) ?? { chunks: [], chars: 0 };
    this.byFunction.set(functionName, log);
    log.chunks.push(text);
    log.chars += text.length;
    while (log.chars > MAX_LOG_CHARS && log.chunks.length > 1) {
      log.chars -= log.chunks.shift()?.length ?? 0;
    }
  }

  /** Everything kept for the function, oldest first; "" for a function that never wrote anything. */
  text(functionName: string): string {
    return this.byFunction.get(functionName)?.chunks.join("") ?? "";
  }
}
