import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { awsCliEnv, cliWorks, useSandbox } from "../support/sandbox.ts";

const run = promisify(execFile);

const hasCli = await cliWorks();

describe.runIf(hasCli)("aws CLI against the sandbox (skipped: `aws` is not on PATH)", () => {
  const env = useSandbox();

  async function aws(...args: string[]): Promise<Record<string, unknown>> {
    const { stdout } = await run("aws", ["--endpoint-url", env.sandbox.endpoint, "--output", "json", ...args], {
      env: awsCliEnv(env.sandbox),
    });
    return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
  }

  it("create-bucket, put-object with SSE-KMS + Bucket Key, head-object, list-objects-v2", async () => {
    const key = env.sandbox.kms.create("cli").arn;
    const file = join(tmpdir(), `rekey-cli-${Date.now()}.txt`);
    writeFileSync(file, "hello from the cli\n");
    await aws("s3api", "create-bucket", "--bucket", "cli-bucket");
    const put = await aws(
      "s3api",
      "put-object",
      "--bucket",
      "cli-bucket",
      "--key",
      "dir/a b+c ✓.txt",
      "--body",
      file,
      "--server-side-encryption",
      "aws:kms",
      "--ssekms-key-id",
      key,
      "--bucket-key-enabled",
    );
    expect(put).toMatchObject({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: key, BucketKeyEnabled: true });
    const head = await aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "dir/a b+c ✓.txt");
    expect(head).toMatchObject({
      ContentLength: 19,
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: key,
      BucketKeyEnabled: true,
    });
    const list = await aws("s3api", "list-objects-v2", "--bucket", "cli-bucket");
    expect((list.Contents as { Key: string }[]).map((c) => c.Key)).toEqual(["dir/a b+c ✓.txt"]);
  });
});
