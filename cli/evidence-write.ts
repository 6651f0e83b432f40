import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { deleteKeys, listSizes } from "../steps/aws/s3-io.ts";
import type { AwsClients } from "../steps/runtime/clients.ts";
import { CommandFailedError } from "./errors.ts";
import { readRunEvidence } from "./evidence-bundle.ts";
import { type FleetEntry, renderFleetPage } from "./evidence-fleet.ts";
import {
  type BundleFile,
  bundleFile,
  MANIFEST_NAME,
  renderManifest,
  renderSums,
  SUMS_NAME,
} from "./evidence-manifest.ts";
import type { RunEvidence } from "./evidence-model.ts";
import { renderRunPage } from "./evidence-page.ts";

/**
 * Writes evidence bundles: a run's locally (a folder named after the run, written whole in a temporary folder and
 * renamed into place, so that no reader ever sees half a bundle) and in the work bucket (the run's evidence/ folder:
 * the old manifest removed first, the files, the manifest last, then what the old bundle had and the new one has
 * not), and the fleet page over several runs.
 */

export const PAGE_NAME = "index.html";
export const EVIDENCE_NAME = "evidence.json";

export interface WrittenBundle {
  evidence: RunEvidence;
  /** The run's bundle on this machine. */
  folder: string;
  /** Its copy in the work bucket; absent when the run has no folder there. */
  s3Folder?: string;
  /** Every file of the bundle but the manifest and SHA256SUMS, with its digest. */
  files: BundleFile[];
}

/**
 * The execution name an ARN ends with: the bundle's folder name. rekey names executions with [A-Za-z0-9_-]; one
 * started by hand may hold dots too. A name that would hide the folder, or take the fleet page's files, is refused.
 */
export function runFolderName(executionArn: string): string {
  const name = executionArn.split(":").at(-1) ?? "";
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}$/.test(name) || [PAGE_NAME, MANIFEST_NAME, SUMS_NAME].includes(name)) {
    throw new CommandFailedError(`${executionArn} does not end with an execution name rekey can name a folder after.`);
  }
  return name;
}

/** Replaces `target` by the complete folder `ready`: the old one is moved aside first and removed after. */
async function swapInto(ready: string, target: string, parent: string, name: string): Promise<void> {
  const aside = join(parent, `.${name}.old-${randomBytes(4).toString("hex")}`);
  let moved = false;
  try {
    await rename(target, aside);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await rename(ready, target);
  if (moved) await rm(aside, { recursive: true, force: true });
}

/** Writes `text` to `path` through a temporary file renamed over it. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp-${randomBytes(4).toString("hex")}`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

function parseS3Folder(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/(.+\/)$/.exec(uri);
  if (!m?.[1] || !m[2]) throw new CommandFailedError(`Not an s3:// folder: ${uri}`);
  return { bucket: m[1], prefix: m[2] };
}

/** The S3 copy of a bundle: the manifest is removed first and written last, so a bundle with one is complete. */
async function upload(clients: AwsClients, folder: string, s3Folder: string, files: BundleFile[]): Promise<void> {
  const { bucket, prefix } = parseS3Folder(s3Folder);
  const put = async (path: string, sha256: string, bytes: number) => {
    // S3 checks the bytes against the SHA-256 sent with them and keeps it: HeadObject --checksum-mode ENABLED shows
    // the bundle manifest's digest (in base64) without downloading the file.
    await clients.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}${path}`,
        Body: createReadStream(join(folder, path)),
        ContentLength: bytes,
        ChecksumSHA256: Buffer.from(sha256, "hex").toString("base64"),
        ContentType: path.endsWith(".html")
          ? "text/html; charset=utf-8"
          : path.endsWith(".json")
            ? "application/json"
            : "text/plain; charset=utf-8",
      }),
    );
  };
  await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}${MANIFEST_NAME}` }));
  for (const f of files) await put(f.path, f.sha256, f.bytes);
  const sums = bundleFile(SUMS_NAME, await readFile(join(folder, SUMS_NAME)));
  await put(sums.path, sums.sha256, sums.bytes);
  const manifest = bundleFile(MANIFEST_NAME, await readFile(join(folder, MANIFEST_NAME)));
  await put(manifest.path, manifest.sha256, manifest.bytes);
  const keep = new Set([...files.map((f) => f.path), SUMS_NAME, MANIFEST_NAME].map((p) => `${prefix}${p}`));
  const stale = [...(await listSizes(clients.s3, bucket, prefix)).keys()].filter((k) => !keep.has(k));
  await deleteKeys(clients.s3, bucket, stale);
}

export interface BundleSettings {
  /** The local folder the bundles go into, one folder per run. */
  out: string;
  generatedAt: Date;
  /** Who wrote the bundle, e.g. "rekey 0.1.0". */
  generator: string;
}

/** One run's bundle, locally and in the work bucket. */
export async function writeRunBundle(
  clients: AwsClients,
  executionArn: string,
  settings: BundleSettings,
): Promise<WrittenBundle> {
  const name = runFolderName(executionArn);
  await mkdir(settings.out, { recursive: true });
  const building = await mkdtemp(join(settings.out, `.${name}.tmp-`));
  const folder = join(settings.out, name);
  let evidence: RunEvidence;
  let files: BundleFile[];
  try {
    const read = await readRunEvidence(clients, executionArn, building);
    evidence = read.evidence;
    const json = `${JSON.stringify(evidence, null, 2)}\n`;
    const html = renderRunPage(evidence);
    await writeFile(join(building, EVIDENCE_NAME), json);
    await writeFile(join(building, PAGE_NAME), html);
    files = [...read.copied, bundleFile(EVIDENCE_NAME, json), bundleFile(PAGE_NAME, html)].sort((a, b) =>
      a.path < b.path ? -1 : 1,
    );
    await writeFile(join(building, SUMS_NAME), renderSums(files));
    await writeFile(
      join(building, MANIFEST_NAME),
      renderManifest({
        generatedAt: settings.generatedAt.toISOString(),
        generator: settings.generator,
        subject: [{ executionArn, name: evidence.run.name, bucket: evidence.bucket }],
        files,
      }),
    );
    await swapInto(building, folder, settings.out, name);
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    throw err;
  }
  if (evidence.evidenceFolder) {
    try {
      await upload(clients, folder, evidence.evidenceFolder, files);
    } catch (err) {
      const e = err as { name?: string; message?: string };
      throw new CommandFailedError(
        `The evidence of ${evidence.run.name} is written to ${folder}, but not to ${evidence.evidenceFolder}: ${e.name ?? "Error"}: ${e.message ?? String(err)}\nThe operator needs s3:PutObject and s3:DeleteObject on the work bucket's runs/*/evidence/* (runbooks/change-window.md, "Hand the evidence to the reviewer").`,
      );
    }
  }
  return {
    evidence,
    folder,
    ...(evidence.evidenceFolder ? { s3Folder: evidence.evidenceFolder } : {}),
    files,
  };
}

/** The fleet page over runs already written in `settings.out`, with its manifest covering every run's files. */
export async function writeFleetPage(
  bundles: readonly WrittenBundle[],
  settings: BundleSettings,
): Promise<{ page: string; files: BundleFile[] }> {
  const entries: FleetEntry[] = bundles.map((b) => ({
    evidence: b.evidence,
    href: `${runFolderName(b.evidence.run.executionArn)}/${PAGE_NAME}`,
  }));
  const html = renderFleetPage(entries);
  const files: BundleFile[] = [bundleFile(PAGE_NAME, html)];
  for (const b of bundles) {
    const dir = runFolderName(b.evidence.run.executionArn);
    for (const f of b.files) files.push({ ...f, path: `${dir}/${f.path}` });
    for (const own of [SUMS_NAME, MANIFEST_NAME]) {
      files.push({ ...bundleFile(own, await readFile(join(b.folder, own))), path: `${dir}/${own}` });
    }
  }
  await mkdir(settings.out, { recursive: true });
  await writeAtomically(join(settings.out, PAGE_NAME), html);
  await writeAtomically(join(settings.out, SUMS_NAME), renderSums(files));
  await writeAtomically(
    join(settings.out, MANIFEST_NAME),
    renderManifest({
      generatedAt: settings.generatedAt.toISOString(),
      generator: settings.generator,
      subject: bundles.map((b) => ({
        executionArn: b.evidence.run.executionArn,
        name: b.evidence.run.name,
        bucket: b.evidence.bucket,
      })),
      files,
    }),
  );
  return { page: join(settings.out, PAGE_NAME), files };
}
