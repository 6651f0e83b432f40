import { fileURLToPath } from "node:url";

/**
 * How the step code is bundled, in one place for both targets: infra/constructs/step-function.ts maps it to CDK's
 * BundlingOptions for AWS, and local/step-bundle.ts passes it to esbuild for the sandbox, so the sandbox runs the
 * same kind of artefact AWS runs. No esbuild or CDK types here: each side translates these plain values.
 */

/** The one Lambda entry for every step: it exports one handler per Task state (steps/runtime/lambda-handlers.ts). */
export const STEP_HANDLERS_ENTRY_RELATIVE = "steps/runtime/lambda-handlers.ts";
/** The repository root, where package-lock.json is: the bundle is built from the locked versions. */
export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const STEP_HANDLERS_ENTRY = fileURLToPath(new URL(`../${STEP_HANDLERS_ENTRY_RELATIVE}`, import.meta.url));
export const LOCKFILE = fileURLToPath(new URL("../package-lock.json", import.meta.url));

/**
 * Bundled as ESM, which the steps are written as. Some bundled dependencies are CommonJS and `require()` Node
 * built-ins, which an ESM bundle cannot do without a `require` in scope: the banner provides one.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __rekeyCreateRequire } from 'node:module'; const require = __rekeyCreateRequire(import.meta.url);";

export const StepBundling = {
  format: "esm",
  /** The file Lambda's Node.js runtime imports for an ESM bundle (handler `index.<export>`). */
  outFile: "index.mjs",
  /** ESM builds of dependencies first, so the bundle needs no CommonJS interop where a package offers ESM. */
  mainFields: ["module", "main"],
  banner: ESM_REQUIRE_BANNER,
  sourceMap: true,
  // The source map is for stack traces; the sources themselves are in the repository.
  sourcesContent: false,
  // Bundle everything, the AWS SDK included: the deployed steps run the SDK versions package-lock.json pins
  // and the tests ran, not whichever SDK the Lambda runtime ships this month.
  externalModules: [] as string[],
  /** The Node.js version AWS runs the steps on (infra/ pins the nodejs22.x runtime); minified there. */
  aws: { target: "node22", minify: true },
} as const;
