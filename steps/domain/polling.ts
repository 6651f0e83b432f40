/**
 * How long to wait before checking the copy jobs again.
 *
 * The wait follows the jobs' estimated remaining time (a quarter of it, so progress is seen a few times before the
 * end), within the operator's bounds, and never drops below 1/50 of the time already spent, even when that exceeds
 * the upper bound: the floor makes the number of polls grow with the logarithm of the run's length (about
 * 50·ln(T/min)), so a job that runs until the execution's three-week timeout stays below ~750 polls of ~9 events,
 * far from Step Functions' 25,000-event history limit, whatever bounds were chosen.
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
  const bounded = Math.min(p.maxSeconds, Math.max(p.minSeconds, etaShare));
  return Math.ceil(Math.max(bounded, historyFloor(p.elapsedSeconds)));
}

/** 1/50 of the time already spent waiting: see nextJobPollSeconds. */
export function historyFloor(elapsedSeconds: number): number {
  return elapsedSeconds / 50;
}

/**
 * How long to wait before looking for an inventory again: the operator's interval, or 1/50 of the time already
 * waited if that is longer (same reasoning as for jobs), and never past the deadline.
 */
export function nextInventoryPollSeconds(p: {
  waitedSeconds: number;
  pollSeconds: number;
  secondsToDeadline: number;
}): number {
  const wait = Math.max(p.pollSeconds, historyFloor(p.waitedSeconds));
  return Math.max(1, Math.ceil(Math.min(wait, p.secondsToDeadline)));
}
