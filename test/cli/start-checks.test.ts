import { CreateKeyCommand, DisableKeyCommand } from "@aws-sdk/client-kms";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxWorkBucket } from "../../local/deploy.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { rekey } from "../support/cli.ts";

/**
 * `rekey start` runs the read-only checks of "Validate input" and "Preflight checks" before StartExecution: a request
 * they refuse starts nothing (exit code 2, the named error and its fix), so the day's execution name stays free.
 */
describe("rekey start checks before it starts", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let scenario: MixedBucket;
  let machine: string;
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");

  beforeAll(async () => {
    sandbox = await startSandbox();
    machine = (await rekeyDeployment(sandbox)).stateMachineArn;
    clients = rekeyClients(sandbox);
    scenario = await seedMixedBucket(clients, new SandboxAdmin(sandbox.endpoint), {
      bucket: "checked-data",
      workBucket: sandboxWorkBucket(sandbox.identity),
      objects: 20,
    });
    // A bucket preflight blocks: never versioned, so a copy in place would leave no earlier version to go back to.
    await clients.s3.send(new CreateBucketCommand({ Bucket: "unversioned-data" }));
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const executions = async () =>
    (await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machine }))).executions ?? [];

  const start = (bucket: string, key: string, ...extra: string[]) =>
    rekey(sandbox, "start", "--bucket", bucket, "--kms-key", key, ...extra);

  it("refuses what Validate input would refuse, starting nothing", async () => {
    const region = sandbox.identity.region;
    const otherRegion = scenario.targetKeyArn.replace(`:${region}:`, ":eu-west-3:");
    const { KeyMetadata } = await clients.kms.send(new CreateKeyCommand({ Description: "disabled" }));
    await clients.kms.send(new DisableKeyCommand({ KeyId: KeyMetadata?.KeyId }));
    const cases: [string[], RegExp][] = [
      [["no-such-bucket", scenario.targetKeyArn], /bucket no-such-bucket does not exist/],
      [[scenario.bucket, otherRegion], /KMS key .* is in eu-west-3, but bucket checked-data is in us-east-1/],
      [[scenario.bucket, KeyMetadata?.Arn ?? ""], /is Disabled, not Enabled[\s\S]*Fix: Enable the key/],
      [
        [scenario.bucket, scenario.targetKeyArn, "--inventory-config", "nope"],
        /Bucket checked-data has no inventory configuration "nope"/,
      ],
    ];
    for (const [[bucket = "", key = "", ...extra], message] of cases) {
      const refused = await start(bucket, key, ...extra);
      expect(refused.code, refused.err).toBe(2);
      expect(refused.err).toMatch(message);
      expect(refused.err).not.toMatch(/\n\s+at /);
      expect(refused.out).toBe("");
    }
    expect(await executions()).toEqual([]);
  });

  it("refuses a preflight blocker unless acknowledged, and the refused start leaves the day's name free", async () => {
    const refused = await start("unversioned-data", scenario.targetKeyArn);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/^rekey: PreflightBlockedError: Preflight refuses to write to bucket unversioned-data/);
    expect(refused.err).toMatch(/\[versioning-disabled\]/);
    expect(refused.err).toMatch(/or accept it: rekey start --acknowledge versioning-disabled/);
    expect(refused.err).toMatch(/Nothing was started/);

    const asJson = await start("unversioned-data", scenario.targetKeyArn, "--output", "json");
    expect(asJson.code).toBe(2);
    expect(JSON.parse(asJson.err)).toMatchObject({ error: { name: "PreflightBlockedError" }, exitCode: 2 });
    expect(await executions()).toEqual([]);

    const acknowledged = await start(
      "unversioned-data",
      scenario.targetKeyArn,
      "--acknowledge",
      "versioning-disabled",
      "--query",
      "[name, warnings[0].code, warnings[0].acknowledged]",
      "--output",
      "text",
    );
    expect(acknowledged.err).toBe("");
    expect(acknowledged.code).toBe(0);
    expect(acknowledged.out).toBe(`unversioned-data-${day}\tversioning-disabled\tTrue\n`);
    const [run] = await executions();
    expect(run?.name).toBe(`unversioned-data-${day}`);
    expect((await rekey(sandbox, "stop", "--execution", run?.executionArn ?? "")).code).toBe(0);
  });

  it("refuses an acknowledgement no blocker allows, before calling AWS", async () => {
    const wrong = await start(scenario.bucket, scenario.targetKeyArn, "--acknowledge", "key-not-enabled");
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/--acknowledge key-not-enabled: not a code that can be acknowledged/);
  });

  it("says with --dry-run what the run would do, and starts nothing", async () => {
    const before = (await executions()).length;
    const dry = await start(
      scenario.bucket,
      scenario.targetKeyArn,
      "--inventory-config",
      scenario.inventoryConfigurationId,
      "--dry-run",
      "--require-approval",
    );
    expect(dry.err).toBe("");
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(
      new RegExp(`^Dry run: nothing was started or written. A start now would run checked-data-${day}\\.`),
    );
    expect(dry.out).toMatch(/Checks passed: account \d{12}, region us-east-1, work bucket rekey-work-/);
    expect(dry.out).toMatch(/versioning: Enabled/);
    expect(dry.out).toMatch(/wait up to 72 h for an S3 Inventory of configuration/);
    expect(dry.out).toMatch(/wait for rekey approve before any object is copied/);
    expect(dry.out).toMatch(/"inventoryConfigurationId": /);

    const blocked = await start("unversioned-data", scenario.targetKeyArn, "--dry-run", "--output", "json");
    expect(blocked.code).toBe(2);
    const plan = JSON.parse(blocked.out) as { executionName: string; preflight: { blockers: { code: string }[] } };
    expect(plan.preflight.blockers.map((b) => b.code)).toContain("versioning-disabled");
    const blockedText = await start("unversioned-data", scenario.targetKeyArn, "--dry-run");
    expect(blockedText.out).toMatch(
      /\[versioning-disabled\][^\n]*\n +fix: .*\(or accept it: --acknowledge versioning-disabled\)/,
    );
    // The first run of the day took unversioned-data-<day>; the next would be -2.
    expect(plan.executionName).toBe(`unversioned-data-${day}-2`);
    expect((await executions()).length).toBe(before);
  });
});
