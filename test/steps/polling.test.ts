import { describe, expect, it } from "vitest";
import { nextJobPollSeconds } from "../../steps/polling.ts";

describe("nextJobPollSeconds", () => {
  const base = {
    elapsedSeconds: 0,
    totalTasks: 1000,
    finishedTasks: 0,
    tasksPerSecond: undefined,
    minSeconds: 30,
    maxSeconds: 1800,
  };

  it("waits the minimum before any task ran", () => {
    expect(nextJobPollSeconds(base)).toBe(30);
  });

  it("waits a quarter of the estimated remaining time", () => {
    expect(nextJobPollSeconds({ ...base, finishedTasks: 200, tasksPerSecond: 1 })).toBe(200);
  });

  it("stays within its bounds", () => {
    expect(nextJobPollSeconds({ ...base, totalTasks: 1e9, tasksPerSecond: 1 })).toBe(1800);
    expect(nextJobPollSeconds({ ...base, finishedTasks: 999, tasksPerSecond: 1000 })).toBe(30);
  });

  it("never polls faster than 1/50 of the time already spent", () => {
    expect(nextJobPollSeconds({ ...base, elapsedSeconds: 5000, finishedTasks: 999, tasksPerSecond: 1000 })).toBe(100);
  });

  it("keeps a 30-day job far below the 25,000-event execution history limit", () => {
    // A job that runs at a steady rate for 30 days, polled with the tightest bounds the options allow.
    const total = 30 * 24 * 3600;
    let elapsed = 0;
    let polls = 0;
    while (elapsed < total) {
      elapsed += nextJobPollSeconds({
        elapsedSeconds: elapsed,
        totalTasks: total,
        finishedTasks: elapsed,
        tasksPerSecond: 1,
        minSeconds: 1,
        maxSeconds: 86_400,
      });
      polls += 1;
    }
    const eventsPerPoll = 9; // Task (5) + Choice (2) + Wait (2), aws-facts 8
    expect(polls * eventsPerPoll).toBeLessThan(25_000 / 4);
  });
});
