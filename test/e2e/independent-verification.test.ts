import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunReport } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * After the jobs, rekey proves from a source other than its plan that no non-compliant current object remains
 * ("Look for non-compliant objects"). Each test makes one re-encrypted object non-compliant behind rekey's back just
 * before "Verify results" (a writer that asks for SSE-S3), with the spot check off, so only the independent check can
 * find it: the run must not end succeeded, and the report must name the object, the method and when it looked.
 */
describe("the independent check after the jobs", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let scenario: MixedBucket;

  beforeEach(async () => {
    ({ sandbox, clients, scenario } = await sandboxWithScenario({
      bucket: "check-data",
      workBucket: "check-work",
      objects: 12,
      objectLock: false,
    }));
  });
  afterEach(() => sandbox.close());

  async function runOverwritingOne(name: string, options: Record<string, unknown>) {
    const victim = scenario.keys.find((k) => k.expectation === "reencrypt");
    if (!victim) throw new Error("the scenario has no object to re-encrypt");
    let overwrittenAt: Date | undefined;
    const result = await runOnScenario({
      sandbox,
      scenario,
      name,
      options: { verifySampleSize: 0, ...options },
      beforeStep: {
        [StateNames.verifyResults]: async () => {
          if (overwrittenAt) return;
          overwrittenAt = new Date();
          await clients.s3.send(
            new PutObjectCommand({
              Bucket: scenario.bucket,
              Key: victim.key,
              Body: "rewritten by another writer",
              ServerSideEncryption: "AES256",
            }),
          );
        },
      },
    });
    const report: RunReport = JSON.parse(
      await getText(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/${name}/report.json`),
    );
    return { result, report, victim: victim.key, overwrittenAt };
  }

  it("HEADs every planned object of a small plan, finds the overwritten one, and fails the run", async () => {
    const { result, report, victim, overwrittenAt } = await runOverwritingOne("check-head", {});

    expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
    const check = report.independentCheck;
    expect(check).toMatchObject({
      method: "head-planned-objects",
      failing: 1,
      counts: { "written-after-planning": 1, "left-non-compliant": 0 },
    });
    expect(check?.examined).toBeGreaterThanOrEqual(report.routes.reduce((n, r) => n + r.planned, 0));
    expect(Date.parse(check?.startedAt ?? "")).toBeGreaterThanOrEqual(overwrittenAt?.getTime() ?? Number.NaN);
    expect(check?.findings).toEqual([
      {
        key: victim,
        verdict: "written-after-planning",
        found: expect.stringMatching(/^SSE-S3 class=STANDARD/),
        reason: expect.stringMatching(/after default encryption was enforced .* asked for SSE-S3/),
      },
    ]);
    expect(result.status === "FAILED" && result.cause).toMatch(/Independent check \(head-planned-objects/);
    expect(result.status === "FAILED" && result.cause).toContain(JSON.stringify(victim));
  }, 240_000);

  it("lists the bucket afresh with the manifest generator above headCheckMaxObjects, with the same finding", async () => {
    const { result, report, victim } = await runOverwritingOne("check-generator", { headCheckMaxObjects: 0 });

    expect(result).toMatchObject({ status: "FAILED", error: "ObjectsNotReencrypted" });
    const check = report.independentCheck;
    expect(check).toMatchObject({ method: "manifest-generator", failing: 1, unexamined: 0 });
    expect(check?.listJobs.map((j) => j.name).sort()).toEqual([
      "after-run-sse-s3-or-no-bucket-key",
      "after-run-unencrypted",
    ]);
    expect(check?.findings.filter((f) => f.verdict !== "not-fixable")).toEqual([
      expect.objectContaining({ key: victim, verdict: "written-after-planning" }),
    ]);
    // What the plan skipped and rekey cannot fix is listed too, without failing the run on its own.
    expect(check?.findings.every((f) => f.key === victim || f.verdict === "not-fixable")).toBe(true);
  }, 240_000);
});
