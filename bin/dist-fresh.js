// Whether dist/ (scripts/build-cli.ts) is at least as new as the sources it is built from: bin/rekey.js runs it only
// then, and the tests that run the compiled CLI build it only when it is not.
import { existsSync, readdirSync, statSync } from "node:fs";

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

/** `root` ends with "/". */
export function distIsFresh(root) {
  const compiled = `${root}dist/rekey.js`;
  return existsSync(compiled) && statSync(compiled).mtimeMs >= Math.max(...SOURCES.map((p) => newest(`${root}${p}`)));
}
