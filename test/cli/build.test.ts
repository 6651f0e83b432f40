import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli } from "../../scripts/build-cli.ts";

/**
 * The compiled CLI (scripts/build-cli.ts, what `npm ci` builds into dist/): each command's code is loaded when the
 * command runs, so help and --version load no SDK client, and it runs as plain JavaScript.
 */
const OUT = fileURLToPath(new URL(`../../node_modules/.cache/rekey/cli-build-test-${process.pid}/`, import.meta.url));

/** The modules a file imports statically (`import … from "x"`, not `import("x")`), and theirs, transitively. */
function staticImports(file: string, seen = new Set<string>()): Set<string> {
  const text = readFileSync(file, "utf8");
  for (const [, spec = ""] of text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s*"([^"]+)";?$/gm)) {
    if (seen.has(spec)) continue;
    seen.add(spec);
    if (spec.startsWith(".")) staticImports(join(dirname(file), spec), seen);
  }
  for (const [, spec = ""] of text.matchAll(/^import\s*"([^"]+)";?$/gm)) seen.add(spec);
  return seen;
}

const node = (...argv: string[]) =>
  spawnSync(process.execPath, [join(OUT, "rekey.js"), ...argv], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH ?? "",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIAX",
      AWS_SECRET_ACCESS_KEY: "x",
    },
  });

describe("the compiled CLI", () => {
  beforeAll(async () => {
    await buildCli(OUT);
  });
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));

  it("loads no SDK client, sandbox or command module before a command runs", () => {
    const loaded = [...staticImports(join(OUT, "rekey.js"))];
    expect(loaded).toContain("commander");
    expect(loaded.filter((m) => m.startsWith("@aws-sdk/") || m.startsWith("@duckdb/") || m === "lmdb")).toEqual([]);
    const entry = readFileSync(join(OUT, "rekey.js"), "utf8");
    // Each command is a dynamic import of its own chunk.
    expect(entry.match(/import\("\.\/chunks\/[a-z]+-[A-Z0-9]+\.js"\)/g)?.length).toBeGreaterThanOrEqual(6);
  });

  it("runs as plain JavaScript: version, help, and a command that talks to AWS", () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(node("--version")).toMatchObject({ status: 0, stdout: `rekey/${version} node/${process.version}\n` });
    expect(node("runs", "--help").stdout).toMatch(/^Usage: rekey runs \[options\]/);
    const unreachable = node("runs", "--endpoint", "http://127.0.0.1:9");
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toMatch(/^rekey: connection refused to 127\.0\.0\.1:9/);
  });

  it("leaves demo and sandbox to the sources, which bin/rekey.js runs them from", () => {
    const entry = readFileSync(join(OUT, "rekey.js"), "utf8");
    expect(entry).toContain('import("./demo.ts")');
    expect(entry).toContain('import("./sandbox-command.ts")');
    const bin = readFileSync(new URL("../../bin/rekey.js", import.meta.url), "utf8");
    expect(bin).toMatch(/SOURCE_ONLY = new Set\(\["demo", "sandbox"\]\)/);
  });
});
