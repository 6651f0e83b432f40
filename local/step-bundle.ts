import { createHash, randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, version as esbuildVersion } from "esbuild";
import { zipSync } from "fflate";
import { InvariantViolatedError } from "../contract/errors.ts";
import { PROJECT_ROOT, STEP_HANDLERS_ENTRY_RELATIVE, StepBundling } from "../infra/step-bundling.ts";

/** Where the step code and everything it imports of the repository live; the rest comes from node_modules. */
const SOURCE_DIRS = ["steps", "contract", "iam-policy"];
/** Besides the sources: the locked dependency versions, and the compiler settings esbuild reads. */
const SOURCE_FILES = ["package-lock.json", "tsconfig.json"];

/** The step code bundled for the sandbox, as CDK bundles it for AWS: one ESM file and its source map. */
export interface StepBundle {
  /** Hash of everything the bundle is built from; names its cache directory. */
  hash: string;
  /** The cache directory holding `index.mjs`, `index.mjs.map` and `code.zip`. */
  dir: string;
  /** The deployment package every step function gets: `index.mjs` and `index.mjs.map` at its root. */
  zip: Uint8Array;
}

export interface StepBundleOptions {
  /** The working tree to bundle; this one by default. */
  root?: string;
  /** Where bundles are kept, one directory per hash; `<root>/node_modules/.cache/rekey` by default. */
  cacheDir?: string;
}

/** How the bundle is built: this module and the shared options; a change to either must give a new bundle. */
const BUILDERS = [fileURLToPath(import.meta.url), fileURLToPath(new URL("../infra/step-bundling.ts", import.meta.url))];

const built = new Map<string, Promise<StepBundle>>();

/**
 * The step code of the working tree, bundled with the options infra/ gives CDK (infra/step-bundling.ts), for the
 * Node.js version running this process. Built once per content: the bundle is cached on disk under a hash of its
 * inputs, so every sandbox deployment in every process (parallel test workers included) reuses it, and any change
 * to a step's source, the contract or the lockfile gives a new one.
 */
export async function stepBundle(options: StepBundleOptions = {}): Promise<StepBundle> {
  const root = path.resolve(options.root ?? PROJECT_ROOT);
  const cacheDir = path.resolve(options.cacheDir ?? path.join(root, "node_modules", ".cache", "rekey"));
  const hash = await inputsHash(root);
  const dir = path.join(cacheDir, `steps-${hash}`);
  let bundle = built.get(dir);
  if (!bundle) {
    bundle = loadOrBuild(root, dir, hash);
    built.set(dir, bundle);
    // A failed build is not cached: the next deployment tries again.
    bundle.catch(() => built.delete(dir));
  }
  return bundle;
}

/** The esbuild target for this process's Node.js, which the sandbox's Lambda workers run on. */
const sandboxTarget = () => `node${process.versions.node}`;

/**
 * SHA-256 over the bundle's inputs: the files under SOURCE_DIRS (tests aside) and SOURCE_FILES, the code that
 * builds it, the esbuild version, the target, and the working tree's path (the source map points into it).
 */
async function inputsHash(root: string): Promise<string> {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ root, esbuildVersion, target: sandboxTarget() }));
  for (const file of BUILDERS) hash.update(await readFile(file));
  const files = [...SOURCE_FILES];
  for (const dir of SOURCE_DIRS) {
    const entries = await readdir(path.join(root, dir), { recursive: true, withFileTypes: true });
    for (const e of entries) {
      if (!e.isFile() || e.name.endsWith(".test.ts")) continue;
      files.push(path.relative(root, path.join(e.parentPath, e.name)));
    }
  }
  for (const file of files.sort()) {
    const content = await readFile(path.join(root, file));
    hash.update(`${file}\0${content.length}\0`).update(content);
  }
  return hash.digest("hex").slice(0, 16);
}

async function loadOrBuild(root: string, dir: string, hash: string): Promise<StepBundle> {
  const zipFile = path.join(dir, "code.zip");
  if (await exists(zipFile)) return { hash, dir, zip: new Uint8Array(await readFile(zipFile)) };

  const files = await bundleFiles(root, dir);
  const zip = zipSync(files);
  // Written to a private directory, then renamed into place in one step: a reader sees a complete bundle or none,
  // and of two processes building the same bundle at once, the second finds the first's in place and drops its own.
  const tmp = `${dir}.tmp-${process.pid}-${randomUUID()}`;
  await mkdir(tmp, { recursive: true });
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(path.join(tmp, name), content);
    await writeFile(path.join(tmp, "code.zip"), zip);
    await rename(tmp, dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { hash, dir, zip };
}

/** Runs esbuild; answers `index.mjs` and `index.mjs.map`, the map's sources pointing into the working tree. */
async function bundleFiles(root: string, dir: string): Promise<Record<string, Uint8Array>> {
  const outfile = path.join(dir, StepBundling.outFile);
  const result = await build({
    absWorkingDir: root,
    entryPoints: [path.join(root, STEP_HANDLERS_ENTRY_RELATIVE)],
    bundle: true,
    platform: "node",
    format: StepBundling.format,
    target: sandboxTarget(),
    mainFields: [...StepBundling.mainFields],
    banner: { js: StepBundling.banner },
    // Unminified: a faster build and readable stack traces; AWS gets the minified one (StepBundling.aws).
    minify: false,
    // The sandbox's Lambda runtime registers a TypeScript loader (tsx) that rewrites every `import()` of an ES
    // module, with a source map: seconds on this bundle. The few the SDK makes (of Node built-ins) become
    // `require()` through the banner's `require`, which loads the same modules.
    supported: { "dynamic-import": false },
    sourcemap: StepBundling.sourceMap,
    sourcesContent: StepBundling.sourcesContent,
    external: [...StepBundling.externalModules],
    outfile,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  // The hash covers SOURCE_DIRS only; an import from elsewhere in the repository would not change it.
  const outside = Object.keys(result.metafile.inputs).filter(
    (input) => !input.split("/").includes("node_modules") && !SOURCE_DIRS.some((d) => input.startsWith(`${d}/`)),
  );
  if (outside.length > 0) {
    throw new InvariantViolatedError(`The step bundle imports ${outside.join(", ")}, outside ${SOURCE_DIRS}.`, {
      fix: "Keep step code in steps/ and contract/ (ARCHITECTURE.md), or add the folder to SOURCE_DIRS in local/step-bundle.ts.",
    });
  }
  const files: Record<string, Uint8Array> = {};
  for (const output of result.outputFiles) {
    const name = path.basename(output.path);
    if (name.endsWith(".map")) {
      // Absolute sources: the map then resolves to the working tree from wherever the function's package is unzipped.
      const map = JSON.parse(output.text) as { sources: string[] };
      map.sources = map.sources.map((s) => pathToFileURL(path.resolve(dir, s)).href);
      files[name] = Buffer.from(JSON.stringify(map));
    } else {
      files[name] = output.contents;
    }
  }
  return files;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
