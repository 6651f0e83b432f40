import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { HELP } from "../../cli/run.ts";
import { rekeyWithEnv } from "../support/cli.ts";

/** `rekey <command> --help` (and `-h`) shows that command's usage; `rekey --version` names the version. */

const cli = (...argv: string[]) => rekeyWithEnv({}, ...argv);

/** Every command HELP lists, as typed (`sandbox seed` included). */
const COMMANDS = [...HELP.matchAll(/^ {2}rekey ([a-z]+(?: [a-z][a-z-]+)?)(?= |$)/gm)].map((m) =>
  (m[1] ?? "").replace(/ (--?\w.*|\(.*)$/, ""),
);

describe("help for one command", () => {
  it("lists the commands it covers", () => {
    expect(COMMANDS).toEqual(
      expect.arrayContaining(["start", "status", "approve", "stop", "runs", "demo", "sandbox", "sandbox seed"]),
    );
  });

  it.each(COMMANDS)("rekey %s --help and -h print its usage, and nothing runs", async (command) => {
    for (const flag of ["--help", "-h"]) {
      const { code, out, err } = await cli(...command.split(" "), flag);
      expect({ code, err }).toEqual({ code: 0, err: "" });
      expect(out.split("\n")[0]).toBe("Usage:");
      expect(out.split("\n")[1]).toMatch(new RegExp(`^ {2}rekey ${command}( |$)`));
      // A run command's help says how it finds the region and credentials; the others do not take them.
      expect(out.includes("AWS_DEFAULT_REGION")).toBe(["start", "status", "approve", "stop", "runs"].includes(command));
      expect(out).not.toContain("Local sandbox:");
    }
  });

  it("refuses help for a command that does not exist, with exit code 2", async () => {
    const { code, err } = await cli("strat", "--help");
    expect(code).toBe(2);
    expect(err).toContain('Unknown command "strat"');
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
