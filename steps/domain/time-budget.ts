/**
 * When a step that works file by file and saves its progress between files should stop: files are read whole once
 * begun, so it stops before one that, taking as long as the longest read so far, would end past the budget.
 */
export class FileTimeBudget {
  private fileStarted: number;
  private longestFileMs = 0;

  constructor(
    private readonly budgetMs: number | undefined,
    private readonly startedAt: number,
  ) {
    this.fileStarted = startedAt;
  }

  /** Called as each file ends, at `now`: whether to stop before the next one. Without a budget, never. */
  stopAfterFile(now: number): boolean {
    this.longestFileMs = Math.max(this.longestFileMs, now - this.fileStarted);
    this.fileStarted = now;
    return this.budgetMs !== undefined && now - this.startedAt + this.longestFileMs >= this.budgetMs;
  }
}
