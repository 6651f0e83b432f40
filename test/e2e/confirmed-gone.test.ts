import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runReportSchema } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import { VerificationFileSchema } from "../../contract/verification.ts";
import { sandboxBatchRoleArn } from "../../local/deploy.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { verifyInProcess } from "../../local/verify-in-process.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { RunTally } from "../../steps/domain/tally.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * A copy task that answers 404 counts as "gone since planning" only once HeadObject of its key, decoded as the
 * manifest encoded it, answers 404 too. Here Batch Operations is made to answer 404 for an object that exists (as
 * it would for a manifest key that did not decode to the object's key), and another object is really deleted.
 */
describe("404s in a completion report", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let result: ExecutionResult;
  let present: string;
  let deleted: string;
  let verifyInput: Parameters<typeof verifyInProcess>[0];

  beforeAll(async () => {
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "gone-data",
      workBucket: "gone-work",
      objects: 40,
    }));
    const candidates = scenario.keys.filter((k) => k.expectation === "reencrypt").map((k) => k.key);
    [present = "", deleted = ""] = candidates;
    await admin.request("POST", "/_sandbox/batch/faults", {
      failKeys: [
        { key: present, httpStatus: 404, errorCode: "NoSuchKey", message: "The specified key does not exist." },
      ],
    });
    result = await runOnScenario({
      sandbox,
      scenario,
      name: "gone-run",
      onEvent: (e) => {
        if (e.type === "StateEntered" && e.state.name === StateNames.sliceReports) {
          const s = e.state.input as typeof verifyInput & Record<string, unknown>;
          verifyInput = { run: s.run, plan: s.plan, jobs: s.jobs, ...(s.largeCopy ? { largeCopy: s.largeCopy } : {}) };
        }
      },
      beforeStep: {
        [StateNames.createCopyJobs]: async () => {
          await clients.s3.send(new DeleteObjectCommand({ Bucket: scenario.bucket, Key: deleted }));
        },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  it("fails the run, naming the object that is there and the likely cause", async () => {
    expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
    expect(result.status === "FAILED" && result.cause).toMatch(/1 missing-but-present: .*key encoding/);
    const report = runReportSchema.parse(
      JSON.parse(await getText(clients.s3, scenario.workBucket, "runs/gone-data/gone-run/report.json")),
    );
    expect(report.failed).toMatchObject([
      { category: "missing-but-present", count: 1, samples: [{ key: present, httpStatus: 404 }] },
    ]);
    expect(report.totals).toMatchObject({ gone: 1, failed: 1 });
    expect(report.reconciliation.ok).toBe(true);
  });

  it("at step level, counts the same report row as gone once the object is really deleted", async () => {
    const deps = {
      clients,
      config: { batchRoleArn: sandboxBatchRoleArn(sandbox.identity) },
      log: silentLogger,
      now: () => new Date(),
    };
    // Each verification under a prefix of its own: a verification already written is handed on as it is.
    let verifications = 0;
    const tallyOf = async () => {
      verifications += 1;
      const run = { ...verifyInput.run, runPrefix: `${verifyInput.run.runPrefix}again-${verifications}/` };
      const { verification: out } = await verifyInProcess({ ...verifyInput, run }, deps);
      const file = VerificationFileSchema.parse(
        JSON.parse(await getText(clients.s3, scenario.workBucket, out.verificationKey)),
      );
      return RunTally.fromJSON(file.tally);
    };
    const before = await tallyOf();
    expect(before.totals()).toMatchObject({ gone: 1, failed: 1 });
    expect(before.failedByCategory()).toEqual({ "missing-but-present": 1 });

    await clients.s3.send(new DeleteObjectCommand({ Bucket: scenario.bucket, Key: present }));
    const after = await tallyOf();
    expect(after.totals()).toMatchObject({ gone: 2, failed: 0 });
    expect(after.failedByCategory()).toEqual({});
    expect(after.reconcile({ final: true }).ok).toBe(true);
  });
});
