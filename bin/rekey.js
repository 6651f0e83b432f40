#!/usr/bin/env node
// `rekey`: the compiled CLI in dist/ (built by `npm ci` or `npm run build`, scripts/build-cli.ts), which starts in a
// fraction of the time the TypeScript sources take. It falls back to the sources, through tsx, when dist/ is missing
// or older than them, and for `demo` and `sandbox`, which run the sandbox from its source files.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const compiled = `${root}dist/rekey.js`;
const SOURCE_ONLY = new Set(["demo", "sandbox"]);
const SOURCES = ["cli", "contract", "steps", "iam-policy", "package.json", "package-lock.json"];

/** The newest modification time under a path: cheap enough to check on every call (a few hundred files). */
function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(`${path}/${entry}`));
  return latest;
}

const command = process.argv[2];
const fresh =
  existsSync(compiled) && statSync(compiled).mtimeMs >= Math.max(...SOURCES.map((p) => newest(`${root}${p}`)));
if (fresh && !SOURCE_ONLY.has(command ?? "")) {
  await import(compiled);
} else {
  if (!SOURCE_ONLY.has(command ?? "") && process.env.REKEY_QUIET_SOURCES !== "1") {
    process.stderr.write(
      "rekey: dist/ is missing or older than the sources; running the sources (npm run build makes rekey start fast again).\n",
    );
  }
  const { register } = await import("tsx/esm/api");
  register();
  await import("../cli/main.ts");
}
