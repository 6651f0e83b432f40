import { describe, expect, it } from "vitest";
import { FileTimeBudget } from "../../steps/domain/time-budget.ts";

describe("FileTimeBudget", () => {
  it("stops before a file that, as long as the longest so far, would end past the budget", () => {
    const budget = new FileTimeBudget(100, 1_000);
    expect(budget.stopAfterFile(1_030)).toBe(false); // 30 ms spent, longest 30: the next would end at 60
    expect(budget.stopAfterFile(1_040)).toBe(false); // 40 spent, longest 30: 70
    expect(budget.stopAfterFile(1_069)).toBe(false); // 69 spent, longest 30: 99, just inside
    expect(budget.stopAfterFile(1_070)).toBe(true); // 70 spent, longest 30: 100, at the budget
  });

  it("learns from a long file even after short ones", () => {
    const budget = new FileTimeBudget(100, 0);
    expect(budget.stopAfterFile(5)).toBe(false);
    expect(budget.stopAfterFile(55)).toBe(true); // 55 spent, longest 50: 105
  });

  it("stops after every file with a budget of 0, and never without a budget", () => {
    const none = new FileTimeBudget(0, 0);
    expect(none.stopAfterFile(0)).toBe(true);
    const unbounded = new FileTimeBudget(undefined, 0);
    expect(unbounded.stopAfterFile(10 ** 9)).toBe(false);
  });
});
