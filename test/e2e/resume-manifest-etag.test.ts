import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../contract/final-report.ts";
import { StateNames } from "../../contract/states.ts";
import type { MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText, getTextIfExists } from "../../steps/aws/s3-io.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { versionsPerKey as countVersions } from "../support/bucket-snapshot.ts";
import { finalReport, runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * A copy job fails on its manifest's ETag (the manifest was replaced after planning): the run still reads the other
 * jobs' reports and writes its report, and the next run makes the plan again instead of failing the same way.
 */
describe("after a manifest ETag mismatch", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let scenario: MixedBucket;

  beforeAll(async () => {
    ({ sandbox, clients, scenario } = await sandboxWithScenario({
      bucket: "etag-data",
      workBucket: "etag-work",
      objects: 30,
    }));
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const versionsPerKey = () => countVersions(clients.s3, scenario.bucket);

  /** Uploads the STANDARD copy manifest again, same bytes, as a one-part multipart upload: a different ETag. */
  async function replaceStandardManifest(): Promise<string> {
    const listed = await clients.s3.send(
      new ListObjectsV2Command({ Bucket: scenario.workBucket, Prefix: `plans/${scenario.bucket}/` }),
    );
    const key = (listed.Contents ?? []).map((o) => o.Key ?? "").find((k) => k.endsWith("manifests/copy-STANDARD.csv"));
    if (!key) throw new Error("no STANDARD copy manifest was planned");
    const body = await getText(clients.s3, scenario.workBucket, key);
    const { UploadId } = await clients.s3.send(
      new CreateMultipartUploadCommand({ Bucket: scenario.workBucket, Key: key, ServerSideEncryption: "AES256" }),
    );
    const { ETag } = await clients.s3.send(
      new UploadPartCommand({ Bucket: scenario.workBucket, Key: key, UploadId, PartNumber: 1, Body: body }),
    );
    await clients.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: scenario.workBucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
      }),
    );
    return key;
  }

  it("the failed run reports the jobs that completed; the next run plans again and finishes the bucket without a second copy", async () => {
    const before = await versionsPerKey();
    let replaced: string | undefined;
    const first = await runOnScenario({
      sandbox,
      scenario,
      name: "etag-first",
      beforeStep: {
        [StateNames.createCopyJobs]: async () => {
          replaced ??= await replaceStandardManifest();
        },
      },
    });
    expect(replaced).toBeDefined();
    expect(first.status).toBe("FAILED");
    const firstReport = JSON.parse(
      (await getTextIfExists(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/etag-first/report.json`)) ??
        "null",
    ) as RunReport | null;
    expect(firstReport).not.toBeNull();
    expect(firstReport?.totals.reencrypted).toBeGreaterThan(0);
    expect(firstReport?.warnings.join("\n")).toMatch(/ended Failed: ManifestETagMismatch/);
    const standardJob = firstReport?.jobs.find((j) => j.storageClass === "STANDARD");
    expect(standardJob?.reported).toBe(false);

    const second = finalReport(await runOnScenario({ sandbox, scenario, name: "etag-second" }));
    expect(second.outcome).toBe("succeeded");
    const report = JSON.parse(
      await getText(clients.s3, scenario.workBucket, `runs/${scenario.bucket}/etag-second/report.json`),
    ) as RunReport;
    // Only the STANDARD objects were left to copy; the rest is the first run's work, reported as such.
    expect(report.totals.reencrypted).toBe(standardJob?.manifestRows);
    expect(report.earlierRuns.map((r) => r.runId)).toEqual(["etag-first"]);
    // Objects over 5 GiB have no completion report: the multipart copy step finds them compliant by itself.
    const byJobs = (firstReport?.routes ?? []).filter((r) => r.route !== "multipart-copy");
    expect(report.totals.doneEarlier).toBe(byJobs.reduce((n, r) => n + r.reencrypted, 0));

    const after = await versionsPerKey();
    for (const k of scenario.keys.filter((k) => k.expectation === "reencrypt")) {
      expect({ key: k.key, versions: after.get(k.key) }).toEqual({
        key: k.key,
        versions: (before.get(k.key) ?? 0) + 1,
      });
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: scenario.bucket, Key: k.key }));
      expect(head.SSEKMSKeyId).toBe(scenario.targetKeyArn);
    }
  }, 240_000);
});
