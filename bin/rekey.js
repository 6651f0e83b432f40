#!/usr/bin/env node
// `rekey`: the compiled CLI in dist/ (built by `npm ci` or `npm run build`, scripts/build-cli.ts), which starts in a
// fraction of the time the TypeScript sources take. It falls back to the sources, through tsx, when dist/ is missing
// or older than them, and for `demo` and `sandbox`, which run the sandbox from its source files.
import { fileURLToPath } from "node:url";
import { distIsFresh } from "./dist-fresh.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const compiled = `${root}dist/rekey.js`;
const SOURCE_ONLY = new Set(["demo", "sandbox"]);

const command = process.argv[2];
const fresh = distIsFresh(root);
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
