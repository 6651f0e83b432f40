/**
 * How long to wait before checking the copy jobs again.
 *
 * The wait follows the jobs' estimated remaining time (a quarter of it, so progress is seen a few times before the
 * end), and never drops below 1/50 of the time already spent: that floor makes the number of polls grow with the
 * logarithm of the run's length (about 50·ln(T/min) iterations), so even a month-long job stays far below Step
 * Functions' 25,000-event history limit (each poll costs about 9 events).
 */
export function nextJobPollSeconds(p: {
  elapsedSeconds: number;
  totalTasks: number;
  finishedTasks: number;
  /** Tasks finished per second while active; undefined before any task ran. */
  tasksPerSecond: number | undefined;
  minSeconds: number;
  maxSeconds: number;
}): number {
  const remaining = Math.max(0, p.totalTasks - p.finishedTasks);
  const etaShare = p.tasksPerSecond && p.tasksPerSecond > 0 ? remaining / p.tasksPerSecond / 4 : p.minSeconds;
  const historyFloor = p.elapsedSeconds / 50;
  const wait = Math.max(etaShare, historyFloor);
  return Math.ceil(Math.min(p.maxSeconds, Math.max(p.minSeconds, wait)));
}
