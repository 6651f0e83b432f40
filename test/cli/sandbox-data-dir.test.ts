import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateBucketCommand, HeadBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { sandboxClients } from "../../sandbox/sdk-clients.ts";

const BIN = new URL("../../bin/rekey.js", import.meta.url).pathname;
const children: ChildProcess[] = [];
const dir = mkdtempSync(path.join(tmpdir(), "rekey-sandbox-data-"));

/** `rekey sandbox` in a child process, and what it printed up to its closing line. */
async function serve(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, "sandbox", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  children.push(child);
  const out = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (text.includes("Ctrl-C stops it.")) resolve(text);
    });
    child.once("exit", (code) => reject(new Error(`rekey sandbox exited (${code}):\n${text}`)));
  });
  const endpoint = /listening on (\S+)/.exec(out)?.[1] ?? "";
  const stop = async () => {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  return { out, endpoint, stop };
}

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("rekey sandbox --data-dir", () => {
  it("keeps buckets across a restart, and deploys rekey again onto the restored state", async () => {
    const first = await serve(["--data-dir", dir]);
    expect(first.out).toContain(`State is kept in ${dir}`);
    const s3 = sandboxClients({ endpoint: first.endpoint, region: "us-east-1" }).s3;
    await s3.send(new CreateBucketCommand({ Bucket: "kept-across-restarts" }));
    await first.stop();

    // The second start names the directory through the environment instead of the flag.
    const second = await serve([], { REKEY_SANDBOX_DATA_DIR: dir });
    expect(second.out).toMatch(/rekey deployed: arn:aws:states:/);
    const again = sandboxClients({ endpoint: second.endpoint, region: "us-east-1" }).s3;
    await expect(again.send(new HeadBucketCommand({ Bucket: "kept-across-restarts" }))).resolves.toBeDefined();
    await second.stop();
  });
});
