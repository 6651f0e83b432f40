import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The repository's folder: the runbooks' commands run from it, as they tell the operator to. */
export const REPO_ROOT = new URL("../..", import.meta.url).pathname;

export const has = (command: string) => spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;

/** A runbook's `sh` and `sh sandbox-only` blocks, in the order a person pastes them. */
export function rehearsalScript(markdown: string): string {
  const blocks = [...markdown.matchAll(/```(sh[^\n]*)\n([\s\S]*?)```/g)]
    .filter(([, info]) => info === "sh" || info === "sh sandbox-only")
    .map(([, , body]) => body);
  return ["set -euo pipefail", ...blocks].join("\n");
}

/** A folder holding only an `aws` that runs Debian's v2, to put first on a shell's PATH. */
export function v2Path(): string {
  const dir = mkdtempSync(join(tmpdir(), "aws-v2-"));
  symlinkSync("/usr/bin/aws", join(dir, "aws"));
  return dir;
}

/** Runs a script in bash from the repository's folder; stdout and stderr interleaved, as a terminal shows them. */
export function run(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", script], { env, cwd: REPO_ROOT });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}
