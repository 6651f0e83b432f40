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

/** Output that replaces the previous screen on a terminal, and follows it after a blank line anywhere else. */
export class Screen {
  private lines = 0;
  constructor(
    private readonly out: { write(text: string): unknown; isTTY?: boolean; columns?: number; rows?: number },
  ) {}

  show(text: string, again: boolean): void {
    const height = this.out.rows && this.out.rows > 0 ? this.out.rows : Number.POSITIVE_INFINITY;
    if (this.out.isTTY && this.lines >= height) {
      // Taller than the terminal: its top scrolled away, out of the cursor's reach; clear the display instead.
      this.out.write("\x1b[H\x1b[2J");
    } else if (this.out.isTTY && this.lines > 0) {
      // Up to the first line of the previous screen, then clear to the end of the display.
      this.out.write(`\x1b[${this.lines}F\x1b[J`);
    } else if (this.lines > 0) {
      this.out.write("\n");
    }
    this.out.write(text);
    // Rows on the terminal, not lines: a line wider than the terminal wraps onto the next row.
    const width = this.out.columns && this.out.columns > 0 ? this.out.columns : Number.POSITIVE_INFINITY;
    const rows = text
      .split("\n")
      .slice(0, -1)
      .reduce((n, line) => n + Math.max(1, Math.ceil(line.length / width)), 0);
    this.lines = again ? rows : 0;
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
