/** The change-window rehearsal, one file per aws CLI (change-window*.test.ts) so that the two run side by side. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { buildCliIfStale } from "../../scripts/build-cli.ts";
import { rehearsalScript, run, v2Path } from "./rehearse.ts";

const RUNBOOK = new URL("../../runbooks/change-window.md", import.meta.url);

export function describeChangeWindowRehearsal(cli: { name: string; bin: string }): void {
  const { bin } = cli;
  describe(`runbooks/change-window.md, pasted into a shell against the sandbox, with ${cli.name}`, () => {
    let sandbox: Sandbox;
    beforeAll(async () => {
      // What `npm ci` does (the prepare script): the runbook's `rekey` runs the compiled CLI.
      await buildCliIfStale();
      sandbox = await startSandbox();
      await rekeyDeployment(sandbox);
    });
    afterAll(async () => {
      await sandbox?.close();
    });

    it("goes from go/no-go through start, watch and verification to hand-over", async () => {
      const script = rehearsalScript(readFileSync(RUNBOOK, "utf8"));
      expect(script).toContain("rekey start");
      // Only what the runbook cannot know: where this test's sandbox listens. Region and keys are the runbook's own
      // (its sandbox block), so it must set every variable aws CLI v1 and v2 read. No AWS_* of this process leaks in.
      const shell = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_")));
      expect(sandbox.identity.region).toBe("us-east-1");
      const { code, out } = await run(script, {
        ...shell,
        ...(bin ? { PATH: `${v2Path()}:${shell.PATH ?? ""}` } : {}),
        HOME: mkdtempSync(join(tmpdir(), "runbook-home-")),
        AWS_ENDPOINT_URL: sandbox.endpoint,
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      });
      if (code !== 0) console.error(out);
      expect(code).toBe(0);
      // What the runbook says each step prints.
      expect(out).toContain("Enabled\tCUSTOMER");
      expect(out).toMatch(/^Enabled$/m);
      expect(out).toMatch(/True\tCSV\tAll\tNone/);
      expect(out).toMatch(/No runs for rehearsal-data/);
      expect(out).toMatch(/arn:aws:states:[^\s]+:execution:rekey:rehearsal-data-\d{8}-REHEARSAL/);
      expect(out).toMatch(/Delivered an inventory of \d+ rows/);
      expect(out).toMatch(/SUCCEEDED/);
      expect(out).toMatch(/"status": "SUCCEEDED"/);
      expect(out).toMatch(/Dry run: nothing was started or written/);
      expect(out).toMatch(/Approved rehearsal-data-\d{8}-REHEARSAL: \d+ job\(s\) start copying/);
      expect(out).toMatch(/^bucket,key,reason,storage_class,encryption_status,size$/m);
      expect(out).toMatch(/^bucket,key,category,http_status,error_code,message$/m);
      expect(out).toMatch(/evidence:/);
      expect(out).not.toMatch(/dist\/ is missing or older/);
      expect(out).toMatch(/rekey finished: s3:\/\/rehearsal-data/);
      expect(out).toMatch(/aws:kms\tarn:aws:kms:[^\t]+\tTrue/);
      expect(out).toMatch(/rehearsal-data\s+rehearsal-data-\d{8}-REHEARSAL\s+SUCCEEDED/);
    }, 240_000);
  });
}
