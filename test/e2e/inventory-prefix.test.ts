import { PutBucketInventoryConfigurationCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { startSandbox } from "../../sandbox/server.ts";
import { inventoryBases } from "../../steps/handlers/find-inventory.ts";
import { runOnScenario } from "../support/run-scenario.ts";

describe("inventory destination prefixes", () => {
  it("are joined as AWS documents, with both readings of a trailing slash searched", () => {
    expect(inventoryBases(undefined, "b", "c")).toEqual(["b/c/"]);
    expect(inventoryBases("inv", "b", "c")).toEqual(["inv/b/c/"]);
    expect(inventoryBases("inv/", "b", "c")).toEqual(["inv/b/c/", "inv//b/c/"]);
  });

  it("a run finds an inventory delivered under a prefix that ends in a slash", async () => {
    const sandbox = await startSandbox();
    try {
      const clients = rekeyClients(sandbox);
      const scenario = await seedMixedBucket(clients, new SandboxAdmin(sandbox.endpoint), {
        bucket: "slash-data",
        workBucket: "slash-work",
        objects: 20,
      });
      await clients.s3.send(
        new PutBucketInventoryConfigurationCommand({
          Bucket: scenario.bucket,
          Id: scenario.inventoryConfigurationId,
          InventoryConfiguration: {
            Id: scenario.inventoryConfigurationId,
            IsEnabled: true,
            IncludedObjectVersions: "All",
            Destination: {
              S3BucketDestination: {
                Bucket: `arn:aws:s3:::${scenario.workBucket}`,
                Format: "CSV",
                Prefix: "reports/inventory/",
              },
            },
            Schedule: { Frequency: "Daily" },
            OptionalFields: [
              "Size",
              "StorageClass",
              "EncryptionStatus",
              "BucketKeyStatus",
              "IntelligentTieringAccessTier",
              "ObjectLockMode",
              "ObjectLockRetainUntilDate",
              "ObjectLockLegalHoldStatus",
            ],
          },
        }),
      );
      const result = await runOnScenario({ sandbox, scenario, name: "slash-run" });
      expect(result.status === "FAILED" ? result.cause : result.status).toBe("SUCCEEDED");
    } finally {
      await sandbox.close();
    }
  }, 60_000);
});
