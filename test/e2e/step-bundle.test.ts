import { execFile } from "node:child_process";
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { unzipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StepBundle, stepBundle } from "../../local/step-bundle.ts";
import { STEP_FUNCTIONS } from "../../steps/runtime/functions.ts";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const STEP_BUNDLE_MODULE = fileURLToPath(new URL("../../local/step-bundle.ts", import.meta.url));

/**
 * The sandbox's step bundle (local/step-bundle.ts), built from a copy of this working tree so the test can change
 * step code without touching the tree other tests run: one bundle per content, shared through the disk cache.
 */
describe("the step bundle the sandbox deploys", () => {
  let root: string;
  let cacheDir: string;
  let first: StepBundle;

  beforeAll(async () => {
    const scratch = await mkdtemp(path.join(tmpdir(), "rekey-step-bundle-"));
    root = path.join(scratch, "tree");
    cacheDir = path.join(scratch, "cache");
    for (const entry of ["steps", "contract", "iam-policy", "package-lock.json", "tsconfig.json"]) {
      await cp(path.join(REPO, entry), path.join(root, entry), { recursive: true });
    }
    await symlink(path.join(REPO, "node_modules"), path.join(root, "node_modules"));
    first = await stepBundle({ root, cacheDir });
  }, 120_000);
  afterAll(async () => {
    if (root) await rm(path.dirname(root), { recursive: true, force: true });
  });

  it("is one ESM file and its source map, in the cache and in the deployment package, exporting every handler", async () => {
    expect(path.dirname(first.dir)).toBe(cacheDir);
    expect((await readdir(first.dir)).sort()).toEqual(["code.zip", "index.mjs", "index.mjs.map"]);
    const zipped = unzipSync(first.zip);
    expect(Object.keys(zipped).sort()).toEqual(["index.mjs", "index.mjs.map"]);
    expect(Buffer.from(zipped["index.mjs"] ?? []).equals(await readFile(path.join(first.dir, "index.mjs")))).toBe(true);
    const bundle = (await import(pathToFileURL(path.join(first.dir, "index.mjs")).href)) as Record<string, unknown>;
    for (const spec of Object.values(STEP_FUNCTIONS))
      expect(typeof bundle[spec.handler], spec.handler).toBe("function");
  });

  it("maps stack traces to the step sources in the working tree it was built from", async () => {
    const map = JSON.parse(await readFile(path.join(first.dir, "index.mjs.map"), "utf8")) as { sources: string[] };
    expect(map.sources).toContain(pathToFileURL(path.join(root, "steps/runtime/lambda-handlers.ts")).href);
    expect(map.sources.every((s) => s.startsWith("file:///"))).toBe(true);
  });

  it("is reused while nothing it is built from changes", async () => {
    const written = (await stat(path.join(first.dir, "index.mjs"))).mtimeMs;
    const again = await stepBundle({ root, cacheDir });
    expect(again.dir).toBe(first.dir);
    expect((await stat(path.join(first.dir, "index.mjs"))).mtimeMs).toBe(written);
  });

  it("is built anew when a step's source changes, and the new bundle runs the changed code", async () => {
    const entry = path.join(root, "steps/runtime/lambda-handlers.ts");
    const original = await readFile(entry, "utf8");
    await appendFile(entry, '\nexport const bundleProbe = "changed";\n');
    try {
      const changed = await stepBundle({ root, cacheDir });
      expect(changed.hash).not.toBe(first.hash);
      const bundle = (await import(pathToFileURL(path.join(changed.dir, "index.mjs")).href)) as Record<string, unknown>;
      expect(bundle.bundleProbe).toBe("changed");
    } finally {
      await writeFile(entry, original);
    }
    expect((await stepBundle({ root, cacheDir })).dir).toBe(first.dir);
  }, 120_000);

  it("is built anew when a file of the contract changes, even by a comment", async () => {
    const file = path.join(root, "contract/errors.ts");
    const original = await readFile(file, "utf8");
    await appendFile(file, "\n// a comment\n");
    try {
      expect((await stepBundle({ root, cacheDir })).hash).not.toBe(first.hash);
    } finally {
      await writeFile(file, original);
    }
  }, 120_000);

  it("refuses step code that imports from outside steps/ and contract/, which its cache key does not cover", async () => {
    const entry = path.join(root, "steps/runtime/lambda-handlers.ts");
    const original = await readFile(entry, "utf8");
    await mkdir(path.join(root, "elsewhere"), { recursive: true });
    await writeFile(path.join(root, "elsewhere/value.ts"), "export const elsewhere = 1;\n");
    await appendFile(entry, '\nexport { elsewhere } from "../../elsewhere/value.ts";\n');
    try {
      await expect(stepBundle({ root, cacheDir })).rejects.toMatchObject({
        name: "InvariantViolatedError",
        message: expect.stringContaining("elsewhere/value.ts"),
      });
    } finally {
      await writeFile(entry, original);
    }
  }, 120_000);

  it("processes that build it at the same time all get the same, whole bundle and leave nothing else behind", async () => {
    const shared = path.join(path.dirname(root), "shared-cache");
    const script = path.join(path.dirname(root), "build.mts");
    await writeFile(
      script,
      `const { stepBundle } = await import(${JSON.stringify(pathToFileURL(STEP_BUNDLE_MODULE).href)});\n` +
        `const b = await stepBundle({ root: ${JSON.stringify(root)}, cacheDir: ${JSON.stringify(shared)} });\n` +
        "console.log(JSON.stringify({ dir: b.dir, size: b.zip.length }));\n",
    );
    const builds = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ["--import", "tsx", script], { cwd: REPO, timeout: 120_000 })),
    );
    const answers = builds.map((b) => JSON.parse(b.stdout.trim()) as { dir: string; size: number });
    expect(new Set(answers.map((a) => a.dir)).size).toBe(1);
    expect(answers.every((a) => a.size === first.zip.length)).toBe(true);
    // No half-written or leftover directories: only the bundle itself.
    expect(await readdir(shared)).toEqual([path.basename(first.dir)]);
    expect((await readdir(path.join(shared, path.basename(first.dir)))).sort()).toEqual([
      "code.zip",
      "index.mjs",
      "index.mjs.map",
    ]);
  }, 180_000);
});
