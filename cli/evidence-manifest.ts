import { createHash } from "node:crypto";

/**
 * The manifest of an evidence bundle (manifest.json): every file of the bundle with its size and SHA-256, so that
 * anyone can check the bundle later without rekey, and SHA256SUMS, the same digests in the format `sha256sum -c`
 * (and `shasum -a 256 -c`) reads. Neither lists itself. `generatedAt` is the one thing that changes when the same
 * bundle is written again: every other byte of the bundle is a function of the run.
 */
export const MANIFEST_NAME = "manifest.json";
export const SUMS_NAME = "SHA256SUMS";
export const MANIFEST_VERSION = 1;

export interface BundleFile {
  /** Relative to the bundle's folder, with "/" between folders. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface BundleManifest {
  manifestVersion: typeof MANIFEST_VERSION;
  generatedAt: string;
  generator: string;
  /** What the bundle is evidence of: one run, or the runs of a fleet page. */
  subject: { executionArn: string; name: string; bucket: string }[];
  algorithm: "SHA-256";
  files: BundleFile[];
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function bundleFile(path: string, bytes: Uint8Array | string): BundleFile {
  return { path, bytes: Buffer.byteLength(bytes), sha256: sha256Hex(bytes) };
}

/** The manifest's bytes: files in path order, so that the same files always give the same manifest. */
export function renderManifest(manifest: Omit<BundleManifest, "manifestVersion" | "algorithm">): string {
  const files = [...manifest.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const full: BundleManifest = {
    manifestVersion: MANIFEST_VERSION,
    generatedAt: manifest.generatedAt,
    generator: manifest.generator,
    subject: manifest.subject,
    algorithm: "SHA-256",
    files,
  };
  return `${JSON.stringify(full, null, 2)}\n`;
}

/** SHA256SUMS: "<digest>  <path>" per file (two spaces: text mode), in path order. */
export function renderSums(files: readonly BundleFile[]): string {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join("");
}
