import { DeleteObjectCommand, GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { ListJobsCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FinalReportOutput } from "../../contract/final-report.ts";
import { runReportSchema } from "../../contract/final-report.ts";
import { planKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import type { ExecutionResult } from "../../local/executions.ts";
import { becomesCompliant, bodyOf, encryptionUpdated, type MixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import type { SandboxAdmin } from "../../sandbox/admin-client.ts";
import type { AdminObjectVersion } from "../../sandbox/s3/admin.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getText } from "../../steps/aws/s3-io.ts";
import { decodeManifestKey } from "../../steps/domain/batch-manifest.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { finalReport, runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * One bucket holding every case the foundation knows, re-encrypted end to end through the state machine with
 * the real step code and real SDK clients against the sandbox. Afterwards nothing may be lost or changed except
 * the encryption of the current unencrypted objects.
 */
describe("rekey re-encrypts one bucket end to end in the sandbox", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let admin: SandboxAdmin;
  let scenario: MixedBucket;
  let before: Map<string, AdminObjectVersion>;
  let result: ExecutionResult;
  const enteredStates: string[] = [];
  let deletedDuringRun: string;
  let plan: unknown;

  beforeAll(async () => {
    ({ sandbox, clients, admin, scenario } = await sandboxWithScenario({
      bucket: "e2e-data",
      workBucket: "e2e-work",
      objects: 400,
    }));
    before = new Map((await admin.versions(scenario.bucket)).map((v) => [v.versionId, v]));
    const candidates = scenario.keys.filter((k) => k.expectation === "reencrypt");
    deletedDuringRun = candidates[7]?.key ?? "";

    result = await runOnScenario({
      sandbox,
      scenario,
      name: "e2e-run-1",
      maxRowsPerFile: 150,
      onEvent: (event) => {
        if (event.type === "StateEntered") enteredStates.push(event.state.name);
        if (
          event.type === "StateExited" &&
          (event.state.name === StateNames.combinePlan || event.state.name === StateNames.useStoredPlan)
        ) {
          plan = (event.state.output as { plan: unknown }).plan;
        }
      },
      // An object deleted after the manifests were written: its copy task finds no object and it counts as gone.
      beforeStep: {
        [StateNames.createCopyJobs]: async () => {
          await clients.s3.send(new DeleteObjectCommand({ Bucket: scenario.bucket, Key: deletedDuringRun }));
        },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  const keysWith = (e: string) => scenario.keys.filter((k) => k.expectation === e);
  const output = () => finalReport(result);

  it("succeeds after waiting for an inventory delivered after default encryption", () => {
    expect(result.status).toBe("SUCCEEDED");
    expect(output().outcome).toBe("succeeded");
    const waitAt = enteredStates.indexOf(StateNames.waitForInventory);
    expect(enteredStates.indexOf(StateNames.enforceDefaultEncryption)).toBeLessThan(waitAt);
    expect(enteredStates.indexOf(StateNames.sliceInventory)).toBeGreaterThan(waitAt);
  });

  it("re-encrypts every formerly unencrypted current object under the target key with Bucket Key, keeping everything else", async () => {
    const candidates = keysWith("reencrypt").filter((k) => k.key !== deletedDuringRun);
    expect(candidates.length).toBeGreaterThan(200);
    const after = await admin.versions(scenario.bucket);
    const current = new Map(after.filter((v) => v.isLatest).map((v) => [v.key, v]));
    for (const k of candidates) {
      const now = current.get(k.key);
      const was = before.get(k.versionIds.at(-1) ?? "");
      expect(now, k.key).toBeDefined();
      expect(was, k.key).toBeDefined();
      if (!now || !was) continue;
      expect(now.versionId, `${k.key} got a new version`).not.toBe(was.versionId);
      expect(now.encryption).toEqual({ type: "SSE-KMS", keyArn: scenario.targetKeyArn, bucketKeyEnabled: true });
      expect(now.storageClass, k.key).toBe(was.storageClass);
      expect(now.metadata, k.key).toEqual(was.metadata);
      expect(now.contentType, k.key).toBe(was.contentType);
      expect(now.tags, k.key).toEqual(was.tags);
      expect(now.size, k.key).toBe(was.size);
    }
  });

  it("keeps the body bytes, and serves them through the real S3 API with the encryption headers AWS returns", async () => {
    for (const k of keysWith("reencrypt")
      .filter((k) => k.key !== deletedDuringRun)
      .slice(0, 60)) {
      const got = await clients.s3.send(new GetObjectCommand({ Bucket: scenario.bucket, Key: k.key }));
      expect(await got.Body?.transformToString("utf8"), k.key).toBe(bodyOf(k.key, 2));
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: scenario.bucket, Key: k.key }));
      expect(head.ServerSideEncryption).toBe("aws:kms");
      expect(head.SSEKMSKeyId).toBe(scenario.targetKeyArn);
      expect(head.BucketKeyEnabled).toBe(true);
      expect(head.StorageClass ?? "STANDARD").toBe(k.storageClass);
      const tags = await clients.s3.send(new GetObjectTaggingCommand({ Bucket: scenario.bucket, Key: k.key }));
      const wasTags = before.get(k.versionIds.at(-1) ?? "")?.tags ?? {};
      expect(Object.fromEntries((tags.TagSet ?? []).map((t) => [t.Key, t.Value]))).toEqual(wasTags);
    }
  });

  it("changes encrypted objects with UpdateObjectEncryption, keeping class, LastModified, ETag, metadata and tags", async () => {
    const updated = scenario.keys.filter((k) => encryptionUpdated(k.expectation));
    expect(updated.length).toBeGreaterThan(50);
    const current = new Map((await admin.versions(scenario.bucket)).filter((v) => v.isLatest).map((v) => [v.key, v]));
    for (const k of updated) {
      const was = before.get(k.versionIds.at(-1) ?? "");
      const now = current.get(k.key);
      expect(now?.encryption, k.key).toEqual({
        type: "SSE-KMS",
        keyArn: scenario.targetKeyArn,
        bucketKeyEnabled: true,
      });
      expect(now?.storageClass).toBe(was?.storageClass);
      expect(now?.lastModified).toBe(was?.lastModified);
      expect(now?.etag).toBe(was?.etag);
      expect(now?.metadata).toEqual(was?.metadata);
      expect(now?.tags).toEqual(was?.tags);
      // Whether AWS makes a new version is not documented: the sandbox's choice decides, in one place.
      if (sandbox.behaviours.updateObjectEncryptionCreatesVersion) expect(now?.versionId).not.toBe(was?.versionId);
      else expect(now?.versionId).toBe(was?.versionId);
    }
  });

  it("deletes nothing and leaves every earlier version as it was", async () => {
    const after = new Map((await admin.versions(scenario.bucket)).map((v) => [v.versionId, v]));
    const updatedInPlace = new Set(
      sandbox.behaviours.updateObjectEncryptionCreatesVersion
        ? []
        : scenario.keys.filter((k) => encryptionUpdated(k.expectation)).map((k) => k.versionIds.at(-1)),
    );
    for (const [versionId, was] of before) {
      const now = after.get(versionId);
      expect(now, `${was.key} ${versionId} still exists`).toBeDefined();
      expect(now?.etag).toBe(was.etag);
      if (!updatedInPlace.has(versionId)) expect(now?.encryption).toEqual(was.encryption);
      expect(now?.storageClass).toBe(was.storageClass);
    }
    // New versions: one copy per re-encrypted object (Batch or multipart), the delete marker this test wrote, and
    // any the updates made.
    const updates = scenario.keys.filter((k) => encryptionUpdated(k.expectation)).length;
    expect(after.size - before.size).toBe(
      keysWith("reencrypt").length -
        1 +
        keysWith("large-copy").length +
        1 +
        (sandbox.behaviours.updateObjectEncryptionCreatesVersion ? updates : 0),
    );
  });

  it("copies objects over 5 GiB part by part under the target key, keeping metadata, content type, tags and class", async () => {
    const large = keysWith("large-copy");
    expect(large.length).toBe(2);
    const current = new Map((await admin.versions(scenario.bucket)).filter((v) => v.isLatest).map((v) => [v.key, v]));
    for (const k of large) {
      const was = before.get(k.versionIds.at(-1) ?? "");
      const now = current.get(k.key);
      expect(was?.size, k.key).toBeGreaterThan(5 * 1024 ** 3);
      expect(now?.versionId, `${k.key} got a new version`).not.toBe(was?.versionId);
      expect(now?.encryption).toEqual({ type: "SSE-KMS", keyArn: scenario.targetKeyArn, bucketKeyEnabled: true });
      expect(now?.size).toBe(was?.size);
      expect(now?.storageClass).toBe(was?.storageClass);
      // An object stored without a Content-Type is served as binary/octet-stream; the copy names that type.
      expect(now?.contentType ?? "binary/octet-stream").toBe(was?.contentType ?? "binary/octet-stream");
      expect(now?.metadata).toEqual(was?.metadata);
      expect(now?.tags).toEqual(was?.tags);
      // A multipart copy makes a multipart ETag: the object's bytes are the same, its ETag is not.
      expect(now?.etag).toMatch(/-\d+"?$/);
    }
    const video = current.get("large/video-6GiB.mov");
    expect(video).toMatchObject({
      storageClass: "STANDARD_IA",
      contentType: "video/quicktime",
      tags: { retention: "7y" },
    });
  });

  it("does not touch objects it skips, or the object that was already compliant", async () => {
    const after = await admin.versions(scenario.bucket);
    const current = new Map(after.filter((v) => v.isLatest).map((v) => [v.key, v]));
    const untouched = scenario.keys.filter(
      (k) => k.expectation.startsWith("skip-") || k.expectation === "already-compliant",
    );
    expect(new Set(untouched.map((k) => k.expectation))).toEqual(
      new Set(["skip-archived", "skip-sse-c", "skip-dsse-kms", "skip-object-lock", "already-compliant"]),
    );
    for (const k of untouched) {
      const now = current.get(k.key);
      const was = before.get(k.versionIds.at(-1) ?? "");
      expect(now?.versionId, `${k.expectation} ${k.key}`).toBe(k.versionIds.at(-1));
      expect(now?.encryption, `${k.expectation} ${k.key}`).toEqual(was?.encryption);
    }
  });

  it("reports counts that reconcile with what was seeded", async () => {
    const t = output().totals;
    const noncurrentVersions = scenario.keys.reduce((n, k) => n + k.versionIds.length - 1, 0);
    const deleted = keysWith("deleted");
    expect(t).toEqual({
      seen: scenario.inventoryRows,
      reencrypted: scenario.keys.filter((k) => becomesCompliant(k.expectation)).length - 1,
      alreadyCompliant: keysWith("already-compliant").length,
      skipped: scenario.keys.filter((k) => k.expectation.startsWith("skip-")).length,
      failed: 0,
      gone: 1,
      // Deleted keys: their last version became noncurrent, plus one delete marker each.
      notCurrent: noncurrentVersions + deleted.length * 2,
      pending: 0,
      changed: 0,
      doneEarlier: 0,
    });
    const report = runReportSchema.parse(
      JSON.parse(
        await getText(
          clients.s3,
          scenario.workBucket,
          output().reportLocation.replace(`s3://${scenario.workBucket}/`, ""),
        ),
      ),
    );
    expect(report.reconciliation).toEqual({ ok: true, problems: [] });
    const skipReasons: Record<string, number> = {};
    for (const k of scenario.keys) if (k.skipReason) skipReasons[k.skipReason] = (skipReasons[k.skipReason] ?? 0) + 1;
    expect(Object.keys(skipReasons).sort()).toEqual([
      "archived",
      "dsse-kms",
      "object-lock-compliance",
      "object-lock-governance",
      "sse-c",
    ]);
    expect(Object.fromEntries(report.skipped.map((s) => [s.reason, s.count]))).toEqual(skipReasons);
    const updates = scenario.keys.filter((k) => encryptionUpdated(k.expectation)).length;
    expect(report.routes.map((r) => [r.route, r.planned, r.reencrypted, r.failed, r.gone])).toEqual([
      ["copy", keysWith("reencrypt").length, keysWith("reencrypt").length - 1, 0, 1],
      ["update-encryption", updates, updates, 0, 0],
      ["multipart-copy", 2, 2, 0, 0],
    ]);
    expect(output().summary).toMatch(
      /Copied in place part by part \(UploadPartCopy\).*: 2 planned \(17\.0 GiB\); 2 re-encrypted/,
    );
  });

  it("wrote one header-less manifest per storage class, percent-encoded, without version ids", async () => {
    const planPrefix = (plan as { planPrefix: string }).planPrefix;
    const expectedByClass = new Map<string, Set<string>>();
    for (const k of keysWith("reencrypt")) {
      const set = expectedByClass.get(k.storageClass) ?? new Set<string>();
      set.add(k.key);
      expectedByClass.set(k.storageClass, set);
    }
    expect(expectedByClass.size).toBeGreaterThan(3);
    for (const [storageClass, expected] of expectedByClass) {
      const text = await getText(clients.s3, scenario.workBucket, planKeys(planPrefix).manifest(storageClass));
      const lines = text.trimEnd().split("\n");
      const keys = new Set<string>();
      for (const line of lines) {
        const fields = line.split(",");
        expect(fields, line).toHaveLength(2);
        expect(fields[0]).toBe(scenario.bucket);
        expect(fields[1], line).toMatch(/^[A-Za-z0-9\-_.~/%]+$/);
        keys.add(decodeManifestKey(fields[1] ?? ""));
      }
      expect(keys).toEqual(expected);
    }
  });

  it("created one copy job per storage class and one encryption-update job", async () => {
    const jobs = await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }));
    const classes = new Set(keysWith("reencrypt").map((k) => k.storageClass));
    expect(jobs.Jobs?.filter((j) => j.Operation === "S3PutObjectCopy").length).toBe(classes.size);
    expect(jobs.Jobs?.filter((j) => j.Operation === "S3UpdateObjectEncryption").length).toBe(1);
    expect(new Set(jobs.Jobs?.map((j) => j.Status))).toEqual(new Set(["Complete"]));
  });

  it("a second execution from the same inventory reuses the jobs: nothing is copied twice", async () => {
    const versionsBefore = (await admin.versions(scenario.bucket)).length;
    const jobsBefore =
      (await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }))).Jobs ?? [];
    let reused: boolean[] = [];
    const second = await runOnScenario({
      sandbox,
      scenario,
      name: "e2e-run-2",
      onEvent: (event) => {
        if (event.type === "StateExited" && event.state.name === StateNames.createCopyJobs) {
          reused = (event.state.output as { jobs: { jobs: { reused?: boolean }[] } }).jobs.jobs.map(
            (j) => j.reused === true,
          );
        }
      },
    });
    expect(second.status).toBe("SUCCEEDED");
    expect(reused.length).toBe(jobsBefore.length);
    expect(reused.every(Boolean)).toBe(true);
    const jobsAfter =
      (await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }))).Jobs ?? [];
    expect(jobsAfter.map((j) => j.JobId).sort()).toEqual(jobsBefore.map((j) => j.JobId).sort());
    expect((await admin.versions(scenario.bucket)).length).toBe(versionsBefore);
    // The jobs' work is the first execution's, counted apart from the second's own (here only the large objects'
    // results, which the multipart copy step keeps per plan).
    const first = output().totals;
    const large = keysWith("large-copy").length;
    expect(second.status === "SUCCEEDED" && (second.output as FinalReportOutput).totals).toEqual({
      ...first,
      reencrypted: large,
      doneEarlier: first.reencrypted - large,
    });
  });

  it("a run from a newer inventory finds everything compliant and creates no job", async () => {
    const jobsBefore =
      (await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }))).Jobs ?? [];
    // A later delivery (S3 would make it the next day): the sandbox dates it in the next free minute.
    await admin.deliverInventory({ bucket: scenario.bucket, configurationId: scenario.inventoryConfigurationId });
    const third = await runOnScenario({ sandbox, scenario, name: "e2e-run-3" });
    expect(third.status).toBe("SUCCEEDED");
    const totals = third.status === "SUCCEEDED" ? (third.output as FinalReportOutput).totals : undefined;
    expect(totals).toMatchObject({
      reencrypted: 0,
      alreadyCompliant:
        scenario.keys.filter((k) => becomesCompliant(k.expectation)).length - 1 + keysWith("already-compliant").length,
      failed: 0,
      pending: 0,
    });
    const jobsAfter =
      (await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }))).Jobs ?? [];
    expect(jobsAfter.length).toBe(jobsBefore.length);
  }, 120_000);
});
