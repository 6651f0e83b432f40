import { describe, expect, it } from "vitest";
import { historyFloor, nextInventoryPollSeconds, nextJobPollSeconds } from "../../steps/domain/polling.ts";

const job = {
  elapsedSeconds: 0,
  totalTasks: 1000,
  finishedTasks: 200,
  tasksPerSecond: 2 as number | undefined,
  minSeconds: 10,
  maxSeconds: 600,
};

describe("nextJobPollSeconds", () => {
  it("waits a quarter of the estimated remaining time, rounded up", () => {
    expect(nextJobPollSeconds(job)).toBe(100); // 800 tasks left at 2/s is 400 s
    expect(nextJobPollSeconds({ ...job, finishedTasks: 199 })).toBe(101); // 100.125 s
  });

  it("keeps within the operator's bounds", () => {
    expect(nextJobPollSeconds({ ...job, tasksPerSecond: 0.01 })).toBe(600);
    expect(nextJobPollSeconds({ ...job, tasksPerSecond: 1000 })).toBe(10);
    expect(nextJobPollSeconds({ ...job, finishedTasks: 1000 })).toBe(10);
    expect(nextJobPollSeconds({ ...job, finishedTasks: 1200 })).toBe(10);
  });

  it("uses the lower bound while no rate is known", () => {
    expect(nextJobPollSeconds({ ...job, tasksPerSecond: undefined })).toBe(10);
    expect(nextJobPollSeconds({ ...job, tasksPerSecond: 0 })).toBe(10);
  });

  it("never waits less than 1/50 of the time already spent, even above the upper bound", () => {
    expect(nextJobPollSeconds({ ...job, elapsedSeconds: 100_000 })).toBe(2000);
    expect(nextJobPollSeconds({ ...job, elapsedSeconds: 100_010 })).toBe(2001);
    expect(nextJobPollSeconds({ ...job, elapsedSeconds: 1000 })).toBe(100);
  });
});

describe("historyFloor", () => {
  it("is 1/50 of the elapsed time", () => {
    expect(historyFloor(100)).toBe(2);
  });
});

describe("nextInventoryPollSeconds", () => {
  const p = { waitedSeconds: 0, pollSeconds: 60, secondsToDeadline: 3600 };

  it("waits the operator's interval, or 1/50 of the time waited if longer", () => {
    expect(nextInventoryPollSeconds(p)).toBe(60);
    expect(nextInventoryPollSeconds({ ...p, waitedSeconds: 10_000 })).toBe(200);
    expect(nextInventoryPollSeconds({ ...p, waitedSeconds: 10_010 })).toBe(201);
  });

  it("never waits past the deadline, nor less than a second", () => {
    expect(nextInventoryPollSeconds({ ...p, secondsToDeadline: 30.5 })).toBe(31);
    expect(nextInventoryPollSeconds({ ...p, secondsToDeadline: 0 })).toBe(1);
    expect(nextInventoryPollSeconds({ ...p, secondsToDeadline: -5 })).toBe(1);
  });
});
