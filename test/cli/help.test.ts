import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../cli/program.ts";
import { rekeyWithEnv } from "../support/cli.ts";

/** `rekey <command> --help` (and `-h`, and `rekey help <command>`) shows that command's usage; `--version` the version. */

const cli = (...argv: string[]) => rekeyWithEnv({}, ...argv);

const silentIo = {
  out: { write: () => true },
  err: { write: () => true },
  env: {},
  sleep: async () => {},
  now: () => new Date(),
};

/** Every command as typed (`sandbox seed` included), from the program itself. */
function commandsOf(command: Command, prefix: string[] = []): string[][] {
  return command.commands.flatMap((c) =>
    (c as unknown as { _hidden: boolean })._hidden || c.name() === "help"
      ? []
      : [[...prefix, c.name()], ...commandsOf(c, [...prefix, c.name()])],
  );
}
const COMMANDS = commandsOf(buildProgram(silentIo, { code: 0 }));
const AWS_COMMANDS = [
  "start",
  "status",
  "report",
  "scan",
  "approve",
  "stop",
  "runs",
  "evidence",
  "fleet start",
  "fleet status",
  "fleet stop",
];

describe("help for one command", () => {
  it("covers every command", () => {
    expect(COMMANDS.map((c) => c.join(" "))).toEqual(
      expect.arrayContaining([
        ...AWS_COMMANDS,
        "fleet",
        "demo",
        "sandbox",
        "sandbox seed",
        "sandbox deliver-inventory",
      ]),
    );
  });

  it.each(COMMANDS.map((c) => [c.join(" "), c]))(
    "rekey %s --help and -h (and rekey help) print its usage, and nothing runs",
    async (name, command) => {
      for (const argv of [
        [...command, "--help"],
        [...command, "-h"],
        // `rekey help <command>` takes one word; `rekey sandbox seed --help` covers the nested ones.
        ...(command.length === 1 ? [["help", ...command]] : []),
      ]) {
        const { code, out, err } = await cli(...argv);
        expect({ code, err }).toEqual({ code: 0, err: "" });
        expect(out.split("\n")[0]).toMatch(new RegExp(`^Usage: rekey ${name} \\[options\\]`));
        // A command that talks to AWS says how it finds the region and credentials, and how it prints data.
        const aws = AWS_COMMANDS.includes(name);
        expect(out.includes("AWS_DEFAULT_REGION")).toBe(aws);
        expect(out.includes("--output <format>")).toBe(aws);
        expect(out.includes("--query <jmespath>")).toBe(aws);
      }
    },
  );

  it("lists the commands with the exit codes when no command is given", async () => {
    for (const argv of [[], ["help"], ["--help"]]) {
      const { code, out } = await cli(...argv);
      expect(code).toBe(0);
      expect(out).toMatch(/^Usage: rekey \[options\] \[command\]/);
      for (const c of AWS_COMMANDS.filter((c) => !c.includes(" "))) {
        expect(out).toMatch(new RegExp(`^ {2}${c} \\[options\\]`, "m"));
      }
      expect(out).toMatch(/^ {2}fleet {2,}run many buckets/m);
      expect(out).toMatch(/Exit codes: 0 done/);
    }
  });

  it("refuses a command that does not exist, suggesting the nearest, with exit code 2", async () => {
    const { code, err } = await cli("strat", "--help");
    expect(code).toBe(2);
    expect(err).toContain("unknown command 'strat'");
    expect(err).toContain("Did you mean start?");
  });

  it("prints the version from package.json and the Node version, as aws --version does", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    for (const argv of [["--version"], ["version"]]) {
      const { code, out } = await cli(...argv);
      expect(code).toBe(0);
      expect(out).toBe(`rekey/${version} node/${process.version}\n`);
    }
  });
});
