import { HeadObjectCommand, PutBucketEncryptionCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { Plan } from "../../contract/plan.ts";
import { StateNames } from "../../contract/states.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { startSandbox } from "../../sandbox/server.ts";
import { runOnScenario } from "../support/run-scenario.ts";

/** Batch Operations refuses KMS-encrypted CSV manifests; a work bucket that defaults to SSE-KMS must still work. */
describe("a work bucket whose default encryption is SSE-KMS", () => {
  it("gets SSE-S3 manifests, and the run succeeds", async () => {
    const sandbox = await startSandbox();
    try {
      const clients = rekeyClients(sandbox);
      const scenario = await seedMixedBucket(clients, new SandboxAdmin(sandbox.endpoint), {
        bucket: "kmswork-data",
        workBucket: "kmswork-work",
        objects: 20,
      });
      await clients.s3.send(
        new PutBucketEncryptionCommand({
          Bucket: scenario.workBucket,
          ServerSideEncryptionConfiguration: {
            Rules: [
              {
                ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: scenario.otherKeyArn },
                BucketKeyEnabled: true,
              },
            ],
          },
        }),
      );
      let plan: Plan | undefined;
      const result = await runOnScenario({
        sandbox,
        scenario,
        name: "kms-work-run",
        onEvent: (e) => {
          if (e.type === "StateExited" && e.state.name === StateNames.combinePlan)
            plan = (e.state.output as { plan: Plan }).plan;
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(plan?.manifests.length).toBeGreaterThan(0);
      for (const m of plan?.manifests ?? []) {
        const head = await clients.s3.send(new HeadObjectCommand({ Bucket: scenario.workBucket, Key: m.key }));
        expect(head.ServerSideEncryption).toBe("AES256");
      }
    } finally {
      await sandbox.close();
    }
  }, 60_000);
});
