import { describe, expect, it } from "vitest";
import { UsageError } from "../../cli/errors.ts";
import type { Io } from "../../cli/io.ts";
import { formatData, outputChoiceOf, printError, printResult } from "../../cli/output.ts";
import { Screen } from "../../cli/progress.ts";

function capture(isTTY = false, columns?: number) {
  let out = "";
  let err = "";
  const io: Io = {
    out: { write: (t: string) => (out += t), isTTY, ...(columns ? { columns } : {}) },
    err: { write: (t: string) => (err += t) },
    env: {},
    sleep: async () => {},
    now: () => new Date(),
  };
  return { io, out: () => out, err: () => err };
}

const RUNS = [
  { name: "a-20261203", status: "SUCCEEDED", totals: { reencrypted: 3, skipped: 1 }, done: true, error: null },
  { name: "b-20261203", status: "FAILED", error: "InvalidInputError" },
];

describe("--output and --query, as the aws CLI prints data", () => {
  it("prints rekey's own view when neither is given, and the data when either is", () => {
    const people = capture();
    printResult(people.io, {}, "Runs", RUNS, () => "two runs\n");
    expect(people.out()).toBe("two runs\n");

    const json = capture();
    printResult(
      json.io,
      { format: "json" },
      "Runs",
      { when: new Date("2026-12-03T10:00:00Z"), gone: undefined },
      () => "",
    );
    expect(json.out()).toBe('{\n    "when": "2026-12-03T10:00:00.000Z"\n}\n');

    const queried = capture();
    printResult(queried.io, { query: "[?status=='FAILED'].name | [0]" }, "Runs", RUNS, () => "");
    expect(queried.out()).toBe('"b-20261203"\n');
  });

  it("text: a dictionary's scalars on one line in key order, nested values after under their key in capitals", () => {
    expect(formatData({ b: 2, a: "x", c: true, d: null }, "text", "T")).toBe("x\t2\tTrue\tNone\n");
    expect(formatData(RUNS, "text", "T")).toBe(
      "True\tNone\ta-20261203\tSUCCEEDED\nTOTALS\t3\t1\n\tInvalidInputError\tb-20261203\tFAILED\n",
    );
    expect(formatData(["x", "y"], "text", "T")).toBe("x\ty\n");
    expect(formatData([["k1"], ["k2"]], "text", "T")).toBe("k1\nk2\n");
    expect(formatData({ tags: ["a", "b"] }, "text", "T")).toBe("TAGS\ta\nTAGS\tb\n");
    expect(formatData("arn:aws:states:x", "text", "T")).toBe("arn:aws:states:x\n");
    expect(formatData([], "text", "T")).toBe("");
  });

  it("table: a titled box, with a row per dictionary under the keys", () => {
    const table = formatData(
      [
        { name: "a", status: "SUCCEEDED" },
        { name: "bb", status: "FAILED" },
      ],
      "table",
      "Runs",
    );
    expect(table).toBe(
      [
        "--------------------",
        "|       Runs       |",
        "+------+-----------+",
        "| name |  status   |",
        "+------+-----------+",
        "| a    | SUCCEEDED |",
        "| bb   | FAILED    |",
        "+------+-----------+",
        "",
      ].join("\n"),
    );
    expect(
      formatData(
        [
          ["a", 1],
          ["bb", true],
        ],
        "table",
        "T",
      ),
    ).toBe(
      ["-------------", "|     T     |", "+----+------+", "| a  | 1    |", "| bb | True |", "+----+------+", ""].join(
        "\n",
      ),
    );
    const nested = formatData({ name: "a", totals: { reencrypted: 3 } }, "table", "Status");
    expect(nested).toMatch(/\|\s+name\s+\|\n\+-+\+\n\| a\s+\|/);
    expect(nested).toMatch(/\|\s+totals\s+\|\n\+-+\+\n\| reencrypted \|/);
  });

  it("refuses a query that is not JMESPath, naming it", () => {
    const { io } = capture();
    expect(() => printResult(io, { query: "[?name==" }, "Runs", RUNS, () => "")).toThrow(UsageError);
    expect(() => printResult(io, { query: "[?name==" }, "Runs", RUNS, () => "")).toThrow(
      /--query "\[\?name==" is not a valid JMESPath/,
    );
  });

  it("reads the choice from the command line before it is parsed, for errors", () => {
    expect(outputChoiceOf(["runs", "--output", "json"])).toEqual({ format: "json" });
    expect(outputChoiceOf(["runs", "--output=table", "--query=x"])).toEqual({ format: "table", query: "x" });
    expect(outputChoiceOf(["runs", "--output", "yaml"])).toEqual({});
  });

  it("prints errors as one JSON object with JSON output, as a plain line otherwise", () => {
    const json = capture();
    printError(json.io, { query: "name" }, { name: "UsageError", message: "bad" }, 2);
    expect(JSON.parse(json.err())).toEqual({ error: { name: "UsageError", message: "bad" }, exitCode: 2 });
    const text = capture();
    printError(text.io, { format: "text" }, { name: "UsageError", message: "bad" }, 2);
    expect(text.err()).toBe("rekey: bad\n");
  });
});

describe("status --watch screens", () => {
  it("redraws in place on a terminal, counting wrapped rows", () => {
    const tty = capture(true, 10);
    const screen = new Screen(tty.io.out);
    screen.show("one\ntwelve chars\n", true);
    screen.show("two\n", true);
    // "twelve chars" wraps onto a second row of a 10-column terminal: 3 rows up, then clear.
    expect(tty.out()).toBe("one\ntwelve chars\n\x1b[3F\x1b[Jtwo\n");
  });

  it("clears the display when the previous screen was taller than the terminal, and ignores a size of 0", () => {
    const tall = capture(true, 80);
    (tall.io.out as { rows?: number }).rows = 3;
    const screen = new Screen(tall.io.out);
    screen.show("1\n2\n3\n4\n", true);
    screen.show("two\n", true);
    expect(tall.out()).toBe("1\n2\n3\n4\n\x1b[H\x1b[2Jtwo\n");
    const unsized = capture(true, 0);
    const again = new Screen(unsized.io.out);
    again.show("one\n", true);
    again.show("two\n", true);
    expect(unsized.out()).toBe("one\n\x1b[1F\x1b[Jtwo\n");
  });

  it("prints one block after another, a blank line between, when piped", () => {
    const piped = capture(false);
    const screen = new Screen(piped.io.out);
    screen.show("one\n", true);
    screen.show("two\n", true);
    expect(piped.out()).toBe("one\n\ntwo\n");
  });
});
