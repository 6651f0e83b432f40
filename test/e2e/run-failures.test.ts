import { gunzipSync, gzipSync } from "node:zlib";
import { DisableKeyCommand } from "@aws-sdk/client-kms";
import {
  GetBucketEncryptionCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketInventoryConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { ListJobsCommand } from "@aws-sdk/client-s3-control";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateNames } from "../../contract/states.ts";
import { startSandboxExecution } from "../../local/sandbox-run.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText, getTextIfExists, putJson, putText } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/** Runs that must stop with a named error, a message that says what to do, and nothing half-written. */
describe("a run that cannot proceed", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let scenario: MixedBucket;

  beforeEach(async () => {
    ({ sandbox, clients, scenario } = await sandboxWithScenario({
      bucket: "fail-data",
      workBucket: "fail-work",
      objects: 40,
      objectLock: false,
    }));
  });
  afterEach(async () => {
    await sandbox.close();
  });

  /** The data files of the delivered inventory, in key order. */
  const inventoryDataKeys = async () => {
    const listed = await clients.s3.send(
      new ListObjectsV2Command({
        Bucket: scenario.workBucket,
        Prefix: `inventory/${scenario.bucket}/${scenario.inventoryConfigurationId}/data/`,
      }),
    );
    return (listed.Contents ?? []).map((o) => o.Key ?? "").sort();
  };

  const run = (input: Record<string, unknown>, extra: Partial<Parameters<typeof startSandboxExecution>[0]> = {}) =>
    startSandboxExecution({
      sandbox,
      name: "failing-run",
      input: {
        bucket: scenario.bucket,
        kmsKeyArn: scenario.targetKeyArn,
        inventoryConfigurationId: scenario.inventoryConfigurationId,
        workBucket: scenario.workBucket,
        ...input,
      },
      ...extra,
    }).result;

  const bytesOf = async (key: string) => {
    const out = await clients.s3.send(new GetObjectCommand({ Bucket: scenario.workBucket, Key: key }));
    return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
  };

  const defaultAlgorithm = async () =>
    (await clients.s3.send(new GetBucketEncryptionCommand({ Bucket: scenario.bucket })))
      .ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm;

  it("rejects a key alias before writing anything, and says how to find the key ARN", async () => {
    const result = await run({ kmsKeyArn: "alias/data-key" });
    expect(result).toMatchObject({ status: "FAILED", error: "InvalidInputError" });
    expect(result.status === "FAILED" && result.cause).toMatch(/alias.*aws kms describe-key/s);
    expect(await defaultAlgorithm()).toBe("AES256");
  });

  it("rejects a misspelt option before writing anything, and names the option it resembles", async () => {
    const result = await run({ options: { inventoryWaitSecond: 3600 } });
    expect(result).toMatchObject({ status: "FAILED", error: "InvalidInputError" });
    expect(result.status === "FAILED" && result.cause).toMatch(
      /options: unknown key "inventoryWaitSecond" \(did you mean inventoryWaitSeconds\?\); known keys: inventoryWaitSeconds, /,
    );
    expect(await defaultAlgorithm()).toBe("AES256");
    const written = await clients.s3.send(new ListObjectsV2Command({ Bucket: scenario.workBucket, Prefix: "runs/" }));
    expect(written.Contents ?? []).toEqual([]);
  });

  it("rejects a malformed bucket name with the rule it breaks", async () => {
    const result = await run({ bucket: "Fail_Data" });
    expect(result).toMatchObject({ status: "FAILED", error: "InvalidInputError" });
    expect(result.status === "FAILED" && result.cause).toMatch(
      /"Fail_Data" is not a valid S3 bucket name: it may contain only lowercase/,
    );
  });

  it("rejects a key from another region than the bucket's", async () => {
    const foreign = scenario.targetKeyArn.replace(":us-east-1:", ":eu-west-1:");
    const result = await run({ kmsKeyArn: foreign });
    expect(result).toMatchObject({ status: "FAILED", error: "InvalidInputError" });
    expect(result.status === "FAILED" && result.cause).toMatch(/is in eu-west-1, but bucket fail-data is in us-east-1/);
    expect(await defaultAlgorithm()).toBe("AES256");
  });

  it("rejects a disabled key", async () => {
    await clients.kms.send(new DisableKeyCommand({ KeyId: scenario.targetKeyArn }));
    const result = await run({});
    expect(result).toMatchObject({ status: "FAILED", error: "InvalidInputError" });
    expect(result.status === "FAILED" && result.cause).toMatch(/is Disabled, not Enabled.*enable-key/s);
  });

  it("rejects an inventory configuration that covers part of the bucket or lacks the fields rekey routes by", async () => {
    await clients.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: scenario.bucket,
        Id: scenario.inventoryConfigurationId,
        InventoryConfiguration: {
          Id: scenario.inventoryConfigurationId,
          IsEnabled: true,
          IncludedObjectVersions: "Current",
          Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${scenario.workBucket}`, Format: "CSV" } },
          Schedule: { Frequency: "Daily" },
          OptionalFields: ["Size"],
          Filter: { Prefix: "data/" },
        },
      }),
    );
    const result = await run({});
    expect(result).toMatchObject({ status: "FAILED", error: "InventoryConfigurationError" });
    expect(result.status === "FAILED" && result.cause).toMatch(
      /lists only keys under "data\/".*lacks the fields StorageClass, EncryptionStatus/s,
    );
  });

  it("rejects a Parquet inventory for an engine that reads CSV only, naming the one that reads it", async () => {
    await clients.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: scenario.bucket,
        Id: scenario.inventoryConfigurationId,
        InventoryConfiguration: {
          Id: scenario.inventoryConfigurationId,
          IsEnabled: true,
          IncludedObjectVersions: "All",
          Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${scenario.workBucket}`, Format: "Parquet" } },
          Schedule: { Frequency: "Daily" },
          OptionalFields: ["Size", "StorageClass", "EncryptionStatus"],
        },
      }),
    );
    const result = await run({ engine: "select" });
    expect(result).toMatchObject({ status: "FAILED", error: "InventoryConfigurationError" });
    expect(result.status === "FAILED" && result.cause).toMatch(
      /its format is Parquet, and the select engine reads CSV inventories \(the stream and athena engines read Parquet\)/,
    );
    expect(await defaultAlgorithm()).toBe("AES256");
  });

  it("gives up waiting for an inventory after the deadline, records why, and creates no job", async () => {
    // An earlier run enforced default encryption two hours ago and recorded when; this run reuses that moment, so
    // with a one-hour wait the deadline has already passed and no inventory delivered since exists.
    await clients.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: scenario.bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: scenario.targetKeyArn },
              BucketKeyEnabled: true,
            },
          ],
        },
      }),
    );
    await putJson(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/default-encryption.json`, {
      kmsKeyArn: scenario.targetKeyArn,
      enforcedAt: new Date(Date.now() - 2 * 3600_000).toISOString(),
      previous: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" }, BucketKeyEnabled: false }],
      runId: "an-earlier-run",
    });
    const result = await run({ options: { inventoryWaitSeconds: 3600, inventoryPollSeconds: 600 } });
    expect(result).toMatchObject({ status: "FAILED", error: "InventoryNotReadyError" });
    expect(result.status === "FAILED" && result.cause).toMatch(
      /No inventory of fail-data delivered after .* arrived within 1 hours.*Fix:/s,
    );
    const failure = await getTextIfExists(clients.s3, scenario.workBucket, "runs/fail-data/failing-run/failure.json");
    expect(JSON.parse(failure ?? "{}")).toMatchObject({ error: "InventoryNotReadyError", runId: "failing-run" });
    const jobs = await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }));
    expect(jobs.Jobs ?? []).toEqual([]);
  });

  it("stops on a damaged inventory data file, names the file, and leaves no manifest behind", async () => {
    const damaged: string[] = [];
    const result = await runOnScenario({
      sandbox,
      scenario,
      name: "failing-run",
      maxRowsPerFile: 20,
      beforeStep: {
        [StateNames.writeManifests]: async () => {
          const keys = await inventoryDataKeys();
          expect(keys.length).toBeGreaterThan(2);
          const victim = keys[1] ?? "";
          damaged.push(victim);
          await clients.s3.send(
            new PutObjectCommand({ Bucket: scenario.workBucket, Key: victim, Body: "this is not gzip" }),
          );
        },
      },
    });
    expect(result).toMatchObject({ status: "FAILED", error: "InventoryFormatError" });
    expect(result.status === "FAILED" && result.cause).toContain(damaged[0]);
    const left = await clients.s3.send(
      new ListObjectsV2Command({ Bucket: scenario.workBucket, Prefix: "runs/fail-data/failing-run/" }),
    );
    expect((left.Contents ?? []).map((o) => o.Key)).toEqual(["runs/fail-data/failing-run/failure.json"]);
  });

  it("stops on an inventory data file whose bytes differ from the MD5 in manifest.json, though it reads as CSV", async () => {
    const replaced: string[] = [];
    const result = await runOnScenario({
      sandbox,
      scenario,
      name: "failing-run",
      maxRowsPerFile: 20,
      beforeStep: {
        [StateNames.writeManifests]: async () => {
          if (replaced.length) return;
          const victim = (await inventoryDataKeys())[0] ?? "";
          // A well-formed file that lost its last row: only the MD5 tells it from the delivered one.
          const rows = gunzipSync(await bytesOf(victim))
            .toString("utf8")
            .trimEnd()
            .split("\n");
          const shorter = gzipSync(`${rows.slice(0, -1).join("\n")}\n`);
          await clients.s3.send(new PutObjectCommand({ Bucket: scenario.workBucket, Key: victim, Body: shorter }));
          replaced.push(victim);
        },
      },
    });
    expect(result).toMatchObject({ status: "FAILED", error: "InventoryFormatError" });
    expect(result.status === "FAILED" && result.cause).toMatch(
      /the file's MD5 is [0-9a-f]{32}, but manifest.json says/,
    );
    expect(result.status === "FAILED" && result.cause).toContain(replaced[0]);
  });

  it("stops on an inventory manifest.json that does not match its manifest.checksum", async () => {
    let rewritten: string | undefined;
    const result = await runOnScenario({
      sandbox,
      scenario,
      name: "failing-run",
      beforeStep: {
        [StateNames.findInventory]: async () => {
          if (rewritten) return;
          const listed = await clients.s3.send(
            new ListObjectsV2Command({
              Bucket: scenario.workBucket,
              Prefix: `inventory/${scenario.bucket}/${scenario.inventoryConfigurationId}/`,
            }),
          );
          const manifest = (listed.Contents ?? []).map((o) => o.Key ?? "").find((k) => k.endsWith("/manifest.json"));
          if (!manifest) return; // not delivered yet: the run waits and looks again
          // Same JSON, other bytes: the files it lists still exist, only the checksum tells.
          const text = await getText(clients.s3, scenario.workBucket, manifest);
          await putText(clients.s3, scenario.workBucket, manifest, JSON.stringify(JSON.parse(text), null, 4));
          rewritten = manifest;
        },
      },
    });
    expect(rewritten).toBeDefined();
    expect(result).toMatchObject({ status: "FAILED", error: "InventoryFormatError" });
    expect(result.status === "FAILED" && result.cause).toMatch(
      /manifest.checksum says [0-9a-f]{32} but manifest.json hashes to/,
    );
    const jobs = await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }));
    expect(jobs.Jobs ?? []).toEqual([]);
  });

  it("stops at preflight, before anything is written, when versioning is suspended; acknowledging lets it through", async () => {
    await clients.s3.send(
      new PutBucketVersioningCommand({ Bucket: scenario.bucket, VersioningConfiguration: { Status: "Suspended" } }),
    );
    const blocked = await run({});
    expect(blocked).toMatchObject({ status: "FAILED", error: "PreflightBlockedError" });
    expect(blocked.status === "FAILED" && blocked.cause).toMatch(/versioning-suspended/);
    expect(await defaultAlgorithm()).toBe("AES256");

    const acknowledged = startSandboxExecution({
      sandbox,
      name: "acknowledged-run",
      input: {
        bucket: scenario.bucket,
        kmsKeyArn: scenario.targetKeyArn,
        inventoryConfigurationId: scenario.inventoryConfigurationId,
        workBucket: scenario.workBucket,
        options: { acknowledge: ["versioning-suspended"], inventoryWaitSeconds: 60 },
      },
      onEvent: (e) => {
        if (e.type === "StateEntered" && e.state.name === StateNames.waitForInventory) acknowledged.abort();
      },
    });
    expect((await acknowledged.result).status).toBe("ABORTED");
    expect(await defaultAlgorithm()).toBe("aws:kms");
  });
});
