/**
 * The configuration file: what one rekey stack may touch (infra/config.ts), kept in the repository, so that adding or
 * removing a bucket is a reviewed commit and a `cdk deploy` (runbooks/deploy.md). It is `rekey.config.json` at the
 * repository root, or the file `-c rekey:configFile=PATH` names (a second stack: another region, account or name).
 * CDK context carries no other rekey setting: one given there would be silently ignored, so it stops the synth.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseRekeyConfig, type RekeyConfig, RekeyConfigError } from "./config.ts";

/** The one rekey context key: which configuration file to read. */
export const CONFIG_FILE_CONTEXT_KEY = "rekey:configFile";
export const DEFAULT_CONFIG_FILE = "rekey.config.json";

/** Relative paths are taken from here, wherever cdk or a test runs (cdk runs the app beside cdk.json: the same). */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The file to read: `given` (the context value) relative to the repository root, else rekey.config.json there. */
export function configFilePath(given: unknown): string {
  if (given === undefined) return resolve(REPO_ROOT, DEFAULT_CONFIG_FILE);
  if (typeof given !== "string" || given.trim() === "") {
    throw new RekeyConfigError(
      `${CONFIG_FILE_CONTEXT_KEY} must be the path of a JSON file, got ${JSON.stringify(given)}.`,
    );
  }
  return isAbsolute(given) ? given : resolve(REPO_ROOT, given);
}

/** Reads and validates the configuration file; every error names the file, and the field when one is wrong. */
export function rekeyConfigFromFile(path: string, region: string): RekeyConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RekeyConfigError(
      code === "ENOENT"
        ? `No rekey configuration at ${path}. Create it with at least "buckets" and "kmsKeyArns" ` +
            `(runbooks/deploy.md, "Configure"), or name another file with -c ${CONFIG_FILE_CONTEXT_KEY}=PATH.`
        : `Cannot read the rekey configuration ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RekeyConfigError(`${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new RekeyConfigError(`${path} must hold one JSON object, { "buckets": [...], "kmsKeyArns": [...], ... }.`);
  }
  return parseRekeyConfig(raw, region, path);
}

/**
 * Stops the synth when CDK context (cdk.json or `-c`) holds a rekey setting other than the file's path: rekey would
 * not read it, and a deployment that looks configured one way would be configured another.
 */
export function refuseContextSettings(context: Record<string, unknown>, path: string): void {
  const stray = Object.keys(context).filter((k) => k.startsWith("rekey:") && k !== CONFIG_FILE_CONTEXT_KEY);
  if (stray.length === 0) return;
  const fields = stray.map((k) => `"${k.slice("rekey:".length)}"`).join(", ");
  throw new RekeyConfigError(
    `rekey does not read its settings from CDK context (${stray.join(", ")}): set ${fields} in ${path} and remove ` +
      'them from cdk.json or the -c options (runbooks/deploy.md, "Configure").',
  );
}
