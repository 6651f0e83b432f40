import { describe, expect, it } from "vitest";
import { jobSlotWait } from "../../steps/domain/job-slots.ts";

describe("jobSlotWait", () => {
  it("lets a run create its jobs when no bound is set, however many run", () => {
    expect(jobSlotWait({ active: 500, needed: 3 }, undefined, 30)).toBeUndefined();
  });

  it("lets a run create its jobs when they fit under the bound, to the last slot", () => {
    expect(jobSlotWait({ active: 2, needed: 2 }, 4, 30)).toBeUndefined();
    expect(jobSlotWait({ active: 0, needed: 1 }, 1, 30)).toBeUndefined();
  });

  it("makes a run wait when its jobs would pass the bound, saying why and for how long", () => {
    expect(jobSlotWait({ active: 3, needed: 2 }, 4, 45)).toEqual({ active: 3, needed: 2, bound: 4, waitSeconds: 45 });
    expect(jobSlotWait({ active: 4, needed: 1 }, 4, 30)).toMatchObject({ active: 4, needed: 1 });
  });

  it("never makes a run wait forever: more jobs than the bound start once no other job runs", () => {
    expect(jobSlotWait({ active: 0, needed: 7 }, 2, 30)).toBeUndefined();
    expect(jobSlotWait({ active: 1, needed: 7 }, 2, 30)).toBeDefined();
  });

  it("has nothing to wait for when every job of the plan already exists", () => {
    expect(jobSlotWait({ active: 9, needed: 0 }, 2, 30)).toBeUndefined();
  });
});
