/** Progress output that redraws one line on a terminal and prints plain lines elsewhere (CI logs, pipes). */
export class ProgressPrinter {
  private lineOpen = false;
  constructor(private readonly out: { write(text: string): unknown; isTTY?: boolean } = process.stdout) {}

  line(text: string): void {
    this.closeLine();
    this.out.write(`${text}\n`);
  }

  /** A line that the next update replaces, when the output is a terminal. */
  update(text: string): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text}`);
      this.lineOpen = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  closeLine(): void {
    if (this.lineOpen) {
      this.out.write("\n");
      this.lineOpen = false;
    }
  }
}

export function bar(done: number, total: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "unknown";
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))}s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}
