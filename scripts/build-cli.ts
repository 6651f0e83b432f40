import { mkdir, rename, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { distIsFresh } from "../bin/dist-fresh.js";

/**
 * Builds the rekey CLI into dist/: one ES module per command, loaded when the command runs, with the npm packages left
 * to Node. `npm ci` runs it (the `prepare` script), so `rekey` starts from compiled JavaScript instead of compiling
 * TypeScript on every call. `demo` and `sandbox` stay out: they run the sandbox, which finds its Lambda runtime and
 * the step code next to its own source files, so bin/rekey.js runs them from the sources.
 */

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DIST = `${ROOT}dist/`;
/** The commands bin/rekey.js runs from the sources; the bundle leaves their modules out. */
export const SOURCE_ONLY_MODULES = ["./demo.ts", "./sandbox-command.ts"];

const sourceOnly: Plugin = {
  name: "rekey-source-only-commands",
  setup(b) {
    b.onResolve({ filter: /^\.\/(demo|sandbox-command)\.ts$/ }, (args) =>
      SOURCE_ONLY_MODULES.includes(args.path) && args.importer.endsWith("program.ts")
        ? { path: args.path, external: true }
        : undefined,
    );
  },
};

/**
 * Builds into a fresh folder and then swaps it in for `outdir` (dist/ by default), so a `rekey` running meanwhile
 * never sees half a build.
 */
export async function buildCli(outdir = DIST): Promise<void> {
  const staging = `${outdir.replace(/\/$/, "")}.${process.pid}.tmp/`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await build({
    entryPoints: { rekey: `${ROOT}cli/main.ts` },
    outdir: staging,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: "linked",
    logLevel: "warning",
    plugins: [sourceOnly],
  });
  const old = `${outdir.replace(/\/$/, "")}.old.${process.pid}.tmp/`;
  await rename(outdir, old).catch(() => undefined);
  try {
    await rename(staging, outdir);
  } catch (err) {
    // Another build of the same sources (a parallel test file) swapped its folder in first: keep that one.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    await rm(staging, { recursive: true, force: true });
  }
  await rm(old, { recursive: true, force: true });
}

/**
 * What the tests that run the compiled CLI call: a build unless `npm ci` (or `npm run build`) left one as new as the
 * sources, so that test files running side by side do not swap dist/ under each other's feet.
 */
export async function buildCliIfStale(): Promise<void> {
  if (!distIsFresh(ROOT)) await buildCli();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildCli();
