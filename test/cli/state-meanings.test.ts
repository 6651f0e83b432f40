import { describe, expect, it } from "vitest";
import { STATE_MEANINGS } from "../../cli/runs.ts";
import { rekeyDefinition } from "../../workflow/definition.ts";

describe("rekey status", () => {
  it("can say what every state of the state machine means", () => {
    const states = Object.keys(rekeyDefinition().States as Record<string, unknown>);
    expect(states.filter((s) => !STATE_MEANINGS[s])).toEqual([]);
  });
});
