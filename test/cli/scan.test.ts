import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { ConfigServiceClient, PutConfigRuleCommand } from "@aws-sdk/client-config-service";
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketInventoryConfigurationCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxWorkBucket } from "../../local/deploy.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import { rekeyDeployment } from "../../local/sandbox-run.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { csvRecords } from "../../steps/domain/completion-report.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { rekey, rekeyAt } from "../support/cli.ts";

/** What the JSON output says of one bucket, as far as these tests read it. */
interface Row {
  bucket: string;
  verdict: string;
  why: string;
  inventoryConfiguration: string | null;
  objects?: number;
  unencryptedObjects?: number;
  nonCompliantObjects?: number;
  inventoryCounts: {
    delivery: { createdAt: string };
    countedBy: string;
    current: { objects: number };
    notCurrent: { objects: number };
    encryption: Record<string, { objects: number; bytes: number }>;
    run: {
      copy: Record<string, { objects: number }>;
      multipartCopy: Record<string, { objects: number }>;
      updateFromSseS3: { objects: number };
      updateFromSseKms: { objects: number };
      skipped: { objects: number };
    };
    keyChecks: { checked: number; gone: number };
  } | null;
  inventoryCountsUnknown?: string;
  estimate: { basis: string; oneTimeUsd: number; durationLowSeconds: number; durationHighSeconds: number } | null;
  estimateUnknown?: string;
  awsConfig: { compliance: string; results?: { rule: string; compliance: string }[] } | null;
  blockers: { code: string }[];
}

const HUGE = "fleet-huge";
/** The hand-made delivery of HUGE: rows in files of FILE_ROWS, row i's kind decided by i % 10 (hugeRow). */
const HUGE_ROWS = 600_000;
const FILE_ROWS = 200_000;
const HUGE_CREATED = new Date(Date.UTC(2026, 10, 30, 0, 0));

/**
 * Row i of HUGE's inventory: 4 in 10 unencrypted, 2 SSE-S3, 1 SSE-KMS without Bucket Key, 1 SSE-KMS with one (its key
 * unknown: far more of them than the key checks allow), 1 noncurrent version, 1 delete marker. Every field quoted,
 * as S3 writes them (fileSchema: Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, StorageClass,
 * EncryptionStatus, BucketKeyStatus).
 */
function hugeRow(i: number): string {
  const kind = i % 10;
  const [latest, marker, encryption, bucketKey] =
    kind < 4
      ? ["true", "false", "NOT-SSE", ""]
      : kind < 6
        ? ["true", "false", "SSE-S3", "DISABLED"]
        : kind === 6
          ? ["true", "false", "SSE-KMS", "DISABLED"]
          : kind === 7
            ? ["true", "false", "SSE-KMS", "ENABLED"]
            : kind === 8
              ? ["false", "false", "NOT-SSE", ""]
              : ["true", "true", "", ""];
  const size = kind === 9 ? "" : "1000";
  return `"${HUGE}","huge/${i}","v${i}","${latest}","${marker}","${size}","STANDARD","${encryption}","${bucketKey}"\n`;
}

/** `rekey scan` against a sandbox account holding buckets in each state, checked against what each one needs. */
describe("rekey scan", () => {
  let sandbox: Sandbox;
  let clients: AwsClients;
  let mixed: MixedBucket;
  let config: ConfigServiceClient;
  let work = "";

  const versioned = async (bucket: string, objectLock = false) => {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: objectLock }));
    await clients.s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
  };
  const defaultTo = (bucket: string, key: string, bucketKey: boolean) =>
    clients.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: key },
              BucketKeyEnabled: bucketKey,
            },
          ],
        },
      }),
    );
  const inventoryTo = (bucket: string, id: string, fields: string[]) =>
    clients.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: bucket,
        Id: id,
        InventoryConfiguration: {
          Id: id,
          IsEnabled: true,
          IncludedObjectVersions: "All",
          Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${work}`, Format: "CSV", Prefix: "inventory" } },
          Schedule: { Frequency: "Daily" },
          OptionalFields: fields as never[],
        },
      }),
    );
  const scanJson = async (...args: string[]) => {
    const scan = await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--output", "json", ...args);
    expect(scan.code, scan.err).toBe(0);
    return { rows: Object.fromEntries((JSON.parse(scan.out) as Row[]).map((r) => [r.bucket, r])), err: scan.err };
  };

  /** HUGE's delivery, written as S3 writes one: gzipped data files, manifest.json and its checksum, Hive symlink. */
  async function deliverHugeInventory(): Promise<void> {
    const base = `inventory/${HUGE}/huge-config`;
    const files: { key: string; size: number; MD5checksum: string }[] = [];
    for (let from = 0; from < HUGE_ROWS; from += FILE_ROWS) {
      const lines: string[] = [];
      for (let i = from; i < from + FILE_ROWS; i++) lines.push(hugeRow(i));
      const body = gzipSync(lines.join(""));
      const key = `${base}/data/part-${from / FILE_ROWS}.csv.gz`;
      await clients.s3.send(new PutObjectCommand({ Bucket: work, Key: key, Body: body }));
      files.push({ key, size: body.length, MD5checksum: createHash("md5").update(body).digest("hex") });
    }
    const iso = HUGE_CREATED.toISOString();
    const folder = `${iso.slice(0, 10)}T${iso.slice(11, 13)}-${iso.slice(14, 16)}Z`;
    const manifest = JSON.stringify({
      sourceBucket: HUGE,
      destinationBucket: `arn:aws:s3:::${work}`,
      version: "2016-11-30",
      creationTimestamp: String(HUGE_CREATED.getTime()),
      fileFormat: "CSV",
      fileSchema:
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, StorageClass, EncryptionStatus, BucketKeyStatus",
      files,
    });
    const put = (key: string, body: string) =>
      clients.s3.send(new PutObjectCommand({ Bucket: work, Key: key, Body: body }));
    await put(`${base}/${folder}/manifest.json`, manifest);
    await put(`${base}/${folder}/manifest.checksum`, createHash("md5").update(manifest).digest("hex"));
    await put(
      `${base}/hive/dt=${iso.slice(0, 10)}-${iso.slice(11, 13)}-${iso.slice(14, 16)}/symlink.txt`,
      files.map((f) => `s3://${work}/${f.key}\n`).join(""),
    );
  }

  beforeAll(async () => {
    sandbox = await startSandbox();
    await rekeyDeployment(sandbox);
    clients = rekeyClients(sandbox);
    work = sandboxWorkBucket(sandbox.identity);
    const admin = new SandboxAdmin(sandbox.endpoint);
    config = new ConfigServiceClient({
      endpoint: sandbox.endpoint,
      region: sandbox.identity.region,
      credentials: SANDBOX_CREDENTIALS,
    });
    // Non-compliant: every case a run routes or skips, with a delivered inventory (counted in the tests below).
    mixed = await seedMixedBucket(clients, admin, { bucket: "fleet-mixed", workBucket: work, objects: 20 });
    await admin.deliverInventory({ bucket: "fleet-mixed", configurationId: mixed.inventoryConfigurationId });
    // Compliant: every object and the default under the target key with Bucket Key, as its inventory and HeadObject tell.
    await versioned("fleet-compliant");
    await defaultTo("fleet-compliant", mixed.targetKeyArn, true);
    for (const key of ["a.txt", "b/c.txt", "d e.txt"]) {
      await clients.s3.send(new PutObjectCommand({ Bucket: "fleet-compliant", Key: key, Body: key }));
    }
    await inventoryTo("fleet-compliant", "all", ["Size", "StorageClass", "EncryptionStatus", "BucketKeyStatus"]);
    await admin.deliverInventory({ bucket: "fleet-compliant", configurationId: "all" });
    // Empty, already defaulting to the target key with Bucket Key: nothing to do.
    await versioned("fleet-done-empty");
    await defaultTo("fleet-done-empty", mixed.targetKeyArn, true);
    // Empty, but its default is the target key without Bucket Key.
    await versioned("fleet-empty-no-bucket-key");
    await defaultTo("fleet-empty-no-bucket-key", mixed.targetKeyArn, false);
    // Objects, the right default, no inventory: a run is needed, and nothing tells how many objects need it.
    await versioned("fleet-default-only");
    await defaultTo("fleet-default-only", mixed.targetKeyArn, true);
    await clients.s3.send(new PutObjectCommand({ Bucket: "fleet-default-only", Key: "old.txt", Body: "x" }));
    // Never versioned, with objects: preflight would refuse a run.
    await clients.s3.send(new CreateBucketCommand({ Bucket: "fleet-unversioned" }));
    await clients.s3.send(new PutObjectCommand({ Bucket: "fleet-unversioned", Key: "a.txt", Body: "x" }));
    await clients.s3.send(
      new PutBucketTaggingCommand({
        Bucket: "fleet-unversioned",
        Tagging: { TagSet: [{ Key: "team", Value: "data" }] },
      }),
    );
    // Locked: Object Lock with a default COMPLIANCE retention; its default is the target key, without Bucket Key.
    await versioned("fleet-locked", true);
    await clients.s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: "fleet-locked",
        ObjectLockConfiguration: {
          ObjectLockEnabled: "Enabled",
          Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 30 } },
        },
      }),
    );
    await defaultTo("fleet-locked", mixed.targetKeyArn, false);
    await clients.s3.send(new PutObjectCommand({ Bucket: "fleet-locked", Key: "record.pdf", Body: "kept" }));
    // Huge: one object here, and an inventory of 600,000 rows (the delivery of a far larger bucket, made by hand).
    await versioned(HUGE);
    await clients.s3.send(new PutObjectCommand({ Bucket: HUGE, Key: "huge/0", Body: "x" }));
    await inventoryTo(HUGE, "huge-config", ["Size", "StorageClass", "EncryptionStatus", "BucketKeyStatus"]);
    await deliverHugeInventory();
  }, 300_000);
  afterAll(async () => {
    config?.destroy();
    await sandbox?.close();
  });

  it("judges every bucket of the region from its configuration and its latest inventory, leaving out the work bucket", async () => {
    const { rows, err } = await scanJson();
    expect(err).toBe("");
    expect(Object.keys(rows).sort()).toEqual([
      "fleet-compliant",
      "fleet-default-only",
      "fleet-done-empty",
      "fleet-empty-no-bucket-key",
      HUGE,
      "fleet-locked",
      "fleet-mixed",
      "fleet-unversioned",
    ]);
    expect(rows["fleet-done-empty"]).toMatchObject({
      verdict: "compliant",
      objects: 0,
      unencryptedObjects: 0,
      nonCompliantObjects: 0,
      estimate: null,
      estimateUnknown: "no run needed",
    });
    // A run would only set the default encryption: nothing to copy, nothing to pay.
    expect(rows["fleet-empty-no-bucket-key"]).toMatchObject({
      verdict: "needs-default-encryption",
      objects: 0,
      estimate: { basis: "empty", oneTimeUsd: 0, durationHighSeconds: 0 },
    });
    expect(rows["fleet-default-only"]).toMatchObject({
      verdict: "needs-run",
      inventoryConfiguration: null,
      inventoryCounts: null,
      inventoryCountsUnknown: "no inventory configuration a run can use",
      // No inventory, and S3 has not reported the bucket's storage yet (it was made today).
      estimate: null,
      estimateUnknown: "neither an inventory nor S3's storage metrics tell what the bucket holds",
    });
    expect(rows["fleet-default-only"]?.objects).toBeUndefined();
    expect(rows["fleet-default-only"]?.unencryptedObjects).toBeUndefined();
    expect(rows["fleet-unversioned"]?.verdict).toBe("blocked");
    expect(rows["fleet-unversioned"]?.blockers.map((b) => b.code)).toContain("versioning-disabled");
    expect(rows["fleet-locked"]?.verdict).toBe("blocked");
    expect(rows["fleet-locked"]?.blockers.map((b) => b.code)).toContain("object-lock-compliance-default");

    // The compliant bucket: its inventory lists SSE-KMS with Bucket Key, and HeadObject finds the target key.
    const compliant = rows["fleet-compliant"];
    expect(compliant).toMatchObject({ verdict: "compliant", unencryptedObjects: 0, nonCompliantObjects: 0 });
    expect(compliant?.why).toMatch(
      /^every current object \(inventory of \d{4}-\d{2}-\d{2}\) and the default are under/,
    );
    expect(compliant?.inventoryCounts).toMatchObject({
      countedBy: "stream",
      current: { objects: 3 },
      encryption: { compliant: { objects: 3 }, sseKmsKeyUnknown: { objects: 0 } },
      keyChecks: { checked: 3, gone: 0 },
    });

    // The mixed bucket, object by object (local/scenarios/mixed-bucket.ts with 20 objects): 30 current objects.
    const m = rows["fleet-mixed"];
    expect(m).toMatchObject({
      verdict: "needs-run",
      inventoryConfiguration: mixed.inventoryConfigurationId,
      unencryptedObjects: 20,
      nonCompliantObjects: 29,
    });
    expect(m?.why).toMatch(/^29 current object\(s\) \(inventory of \d{4}-\d{2}-\d{2}\) not under the target key/);
    const enc = Object.fromEntries(
      Object.entries(m?.inventoryCounts?.encryption ?? {}).map(([k, v]) => [k, v.objects]),
    );
    expect(enc).toEqual({
      // 12 + 1 copied, 2 over 5 GiB, 3 archived, 3 locked (one SSE-S3 of them not: see below)... by encryption:
      notEncrypted: 20,
      sseS3: 4,
      sseKmsWithoutBucketKey: 1,
      sseKmsOtherKey: 2,
      compliant: 1,
      sseKmsKeyUnknown: 0,
      other: 2,
    });
    expect(m?.inventoryCounts).toMatchObject({
      countedBy: "stream",
      current: { objects: 30 },
      // The old version of one key, and the version and delete marker of the deleted one.
      notCurrent: { objects: 3 },
      keyChecks: { checked: 3, gone: 0 },
      run: {
        copy: { STANDARD: { objects: 12 }, STANDARD_IA: { objects: 1 } },
        multipartCopy: { STANDARD: { objects: 1 }, STANDARD_IA: { objects: 1 } },
        updateFromSseS3: { objects: 3 },
        updateFromSseKms: { objects: 3 },
        // archived 3, SSE-C, DSSE-KMS, locked 3
        skipped: { objects: 8 },
      },
    });
    expect(m?.estimate).toMatchObject({ basis: "inventory" });
    expect(m?.estimate?.oneTimeUsd).toBeGreaterThan(0);

    // Huge: 600,000 rows read here (under the size scan leaves to Athena); far more SSE-KMS objects with Bucket
    // Key than the key checks may ask, so the non-compliant count is a floor.
    const h = rows[HUGE];
    expect(h).toMatchObject({ verdict: "needs-run", unencryptedObjects: 240_000, nonCompliantObjects: 420_000 });
    expect(h?.why).toBe(
      "at least 420,000 current object(s) (inventory of 2026-11-30) not under the target key with Bucket Key, and 60,000 SSE-KMS with Bucket Key whose key the inventory does not list",
    );
    expect(h?.inventoryCounts).toMatchObject({
      delivery: { createdAt: HUGE_CREATED.toISOString() },
      countedBy: "stream",
      current: { objects: 480_000 },
      notCurrent: { objects: 120_000 },
      encryption: {
        notEncrypted: { objects: 240_000, bytes: 240_000_000 },
        sseS3: { objects: 120_000 },
        sseKmsWithoutBucketKey: { objects: 60_000 },
        sseKmsKeyUnknown: { objects: 60_000 },
        compliant: { objects: 0 },
      },
      keyChecks: { checked: 0, gone: 0 },
      run: {
        copy: { STANDARD: { objects: 240_000 } },
        updateFromSseS3: { objects: 120_000 },
        updateFromSseKms: { objects: 60_000 },
      },
    });
    expect(h?.estimate?.basis).toBe("inventory");

    // No AWS Config rule in the region yet: nothing to show, nothing failed.
    expect(Object.values(rows).map((r) => r.awsConfig)).toEqual(Object.values(rows).map(() => null));
  }, 180_000);

  it("counts a huge inventory with Athena where it is stored, to the same numbers", async () => {
    const { rows, err } = await scanJson("--bucket", HUGE, "--engine", "athena");
    expect(err).toMatch(
      /^rekey scan: fleet-huge: Athena is counting the inventory s3:\/\/rekey-work-.*\/manifest\.json$/m,
    );
    const h = rows[HUGE];
    expect(h?.inventoryCounts?.countedBy).toBe("athena");
    expect(h?.inventoryCounts?.encryption).toEqual({
      notEncrypted: { objects: 240_000, bytes: 240_000_000 },
      sseS3: { objects: 120_000, bytes: 120_000_000 },
      sseKmsWithoutBucketKey: { objects: 60_000, bytes: 60_000_000 },
      sseKmsOtherKey: { objects: 0, bytes: 0 },
      compliant: { objects: 0, bytes: 0 },
      sseKmsKeyUnknown: { objects: 60_000, bytes: 60_000_000 },
      other: { objects: 0, bytes: 0 },
    });
    expect(h).toMatchObject({ verdict: "needs-run", unencryptedObjects: 240_000, nonCompliantObjects: 420_000 });
    expect(h?.inventoryCounts).toMatchObject({ current: { objects: 480_000 }, notCurrent: { objects: 120_000 } });
    // And the mixed bucket's few keys to check are listed by Athena too, then asked with HeadObject.
    const mixedByAthena = (await scanJson("--bucket", "fleet-mixed", "--engine", "athena")).rows["fleet-mixed"];
    expect(mixedByAthena).toMatchObject({ nonCompliantObjects: 29, unencryptedObjects: 20 });
    expect(mixedByAthena?.inventoryCounts).toMatchObject({
      countedBy: "athena",
      keyChecks: { checked: 3 },
      encryption: { compliant: { objects: 1 }, sseKmsOtherKey: { objects: 2 } },
    });
    // Without key checks the three SSE-KMS objects with Bucket Key stay unknown.
    const unchecked = (await scanJson("--bucket", "fleet-mixed", "--key-checks", "0")).rows["fleet-mixed"];
    expect(unchecked?.nonCompliantObjects).toBe(27);
    expect(unchecked?.why).toMatch(
      /^at least 27 current object\(s\).*, and 3 SSE-KMS with Bucket Key whose key the inventory does not list$/,
    );
  }, 180_000);

  it("shows AWS Config's compliance beside rekey's verdict once the rule is deployed, as of its last evaluation", async () => {
    // The rule infra/constructs/encryption-enforcement.ts deploys (named by CloudFormation, found by its source).
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleName: "RekeyStack-EnforcementDetectRule-1A2B3C",
          Source: { Owner: "AWS", SourceIdentifier: "S3_DEFAULT_ENCRYPTION_KMS" },
          InputParameters: JSON.stringify({ kmsKeyArns: mixed.targetKeyArn }),
          Scope: { ComplianceResourceTypes: ["AWS::S3::Bucket"] },
        },
      }),
    );
    const { rows } = await scanJson();
    const configSays = Object.fromEntries(Object.entries(rows).map(([b, r]) => [b, r.awsConfig?.compliance]));
    expect(configSays).toEqual({
      "fleet-compliant": "COMPLIANT",
      "fleet-default-only": "COMPLIANT",
      "fleet-done-empty": "COMPLIANT",
      // The rule does not look at the Bucket Key: compliant to Config, not to rekey.
      "fleet-empty-no-bucket-key": "COMPLIANT",
      "fleet-locked": "COMPLIANT",
      [HUGE]: "NON_COMPLIANT",
      "fleet-mixed": "NON_COMPLIANT",
      "fleet-unversioned": "NON_COMPLIANT",
    });
    expect(rows["fleet-mixed"]?.awsConfig?.results).toEqual([
      expect.objectContaining({ rule: "RekeyStack-EnforcementDetectRule-1A2B3C", compliance: "NON_COMPLIANT" }),
    ]);

    // A bucket changed since the rule's last evaluation: Config still says what it said, rekey reads it now.
    await defaultTo("fleet-unversioned", mixed.targetKeyArn, true);
    await versioned("fleet-new");
    const later = await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--prefix", "fleet-");
    expect(later.out).toMatch(/^BUCKET +VERDICT +.* +AWS CONFIG +WHY$/m);
    expect(later.out).toMatch(/^fleet-unversioned +blocked +aws:kms .* NON_COMPLIANT +preflight would refuse a run/m);
    expect(later.out).toMatch(/^fleet-new +needs-default-encryption +AES256 .* +no result +no object to re-encrypt/m);
    expect(later.out).toMatch(
      /^AWS Config: RekeyStack-EnforcementDetectRule-1A2B3C \(S3_DEFAULT_ENCRYPTION_KMS\): default encryption only, as of each rule's last evaluation$/m,
    );
  }, 180_000);

  it("prints a table for people with counts and estimates, and filters by prefix, tag and name", async () => {
    const table = await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--prefix", "fleet-done");
    expect(table.out).toMatch(
      /^BUCKET +VERDICT +DEFAULT ENCRYPTION +VERSIONING +INVENTORY +VERSIONS +NOT ENCRYPTED +NON-COMPLIANT +RUN ESTIMATE +AWS CONFIG +WHY$/m,
    );
    expect(table.out).toMatch(
      /^fleet-done-empty +compliant +aws:kms .* 0 \(0 B\) +0 +0 +- +COMPLIANT +empty, and new writes default to the target key/m,
    );
    expect(table.out).toMatch(/1 bucket\(s\): 1 compliant/);

    const mixedTable = await rekey(
      sandbox,
      "scan",
      "--kms-key",
      mixed.targetKeyArn,
      "--bucket",
      "fleet-mixed",
      "--bucket",
      HUGE,
    );
    expect(mixedTable.out).toMatch(
      /^fleet-mixed +needs-run .* 20 +29 of 30 on \d{4}-\d{2}-\d{2} +\$\d+\.\d{2}, \d+ min–[^(]+ \(inventory\) +NON_COMPLIANT +29 current/m,
    );
    expect(mixedTable.out).toMatch(/^fleet-huge +needs-run .* 240,000 +≥420,000 of 480,000 on 2026-11-30 +\$/m);
    expect(mixedTable.out).toMatch(
      /^Runs estimated: \$\d+\.\d{2}, .* one after another \(2 from the inventory, 0 from storage metrics\)$/m,
    );

    const tagged = await rekey(
      sandbox,
      "scan",
      "--kms-key",
      mixed.targetKeyArn,
      "--tag",
      "team=data",
      "--query",
      "[].bucket",
      "--output",
      "text",
    );
    expect(tagged.out).toBe("fleet-unversioned\n");

    const named = await rekey(
      sandbox,
      "scan",
      "--kms-key",
      mixed.targetKeyArn,
      "--bucket",
      "fleet-mixed",
      "--bucket",
      "no-such-bucket",
    );
    expect(named.out).toMatch(/^fleet-mixed +needs-run/m);
    expect(named.out).toMatch(/Not found in us-east-1: no-such-bucket/);
  }, 180_000);

  it("says AWS Config is unknown, and why, when Config refuses to answer; the scan goes on", async () => {
    // Between the CLI and the sandbox, a proxy that answers every AWS Config call as Config answers a caller without
    // config:DescribeConfigRules (JSON 1.1 AccessDeniedException) and passes the rest through.
    const proxy = http.createServer((req, res) => {
      if (String(req.headers["x-amz-target"] ?? "").startsWith("StarlingDoveService.")) {
        req.resume();
        res.writeHead(400, { "content-type": "application/x-amz-json-1.1" });
        res.end(
          JSON.stringify({
            __type: "AccessDeniedException",
            message: "User is not authorized to perform: config:DescribeConfigRules",
          }),
        );
        return;
      }
      const target = new URL(req.url ?? "/", sandbox.endpoint);
      const upstream = http.request(target, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const at = {
        endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        region: sandbox.identity.region,
      };
      const json = await rekeyAt(
        at,
        "scan",
        "--kms-key",
        mixed.targetKeyArn,
        "--bucket",
        "fleet-compliant",
        "--output",
        "json",
      );
      expect(json.code, json.err).toBe(0);
      expect((JSON.parse(json.out) as Row[])[0]).toMatchObject({
        verdict: "compliant",
        awsConfig: {
          compliance: "unknown",
          reason: expect.stringMatching(
            /^AccessDeniedException: User is not authorized to perform: config:DescribeConfigRules/,
          ),
        },
      });
      const table = await rekeyAt(at, "scan", "--kms-key", mixed.targetKeyArn, "--bucket", "fleet-compliant");
      expect(table.out).toMatch(/^fleet-compliant +compliant .* +unknown +every current object/m);
      expect(table.out).toMatch(/^AWS Config: unknown \(AccessDeniedException: User is not authorized/m);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 120_000);

  it("writes one RFC 4180 row per bucket with --output csv, and the buckets a query selects", async () => {
    const csv = await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--output", "csv", "--prefix", "fleet-");
    expect(csv.code, csv.err).toBe(0);
    expect(csv.out.endsWith("\r\n")).toBe(true);
    expect(csv.out.replaceAll("\r\n", "")).not.toMatch(/\n/);
    const records: string[][] = [];
    const text = csv.out;
    for await (const r of csvRecords(
      (async function* () {
        yield text;
      })(),
      "scan",
    ))
      records.push(r.fields);
    const [header, ...rows] = records;
    expect(header?.slice(0, 3)).toEqual(["bucket", "verdict", "why"]);
    const col = (name: string) => header?.indexOf(name) ?? -1;
    const byBucket = Object.fromEntries(rows.map((r) => [r[0], r]));
    expect(Object.keys(byBucket)).toHaveLength(9);
    const mixedRow = byBucket["fleet-mixed"] ?? [];
    expect(mixedRow[col("not_encrypted")]).toBe("20");
    expect(mixedRow[col("non_compliant")]).toBe("29");
    expect(mixedRow[col("compliant")]).toBe("1");
    expect(mixedRow[col("aws_config")]).toBe("NON_COMPLIANT");
    expect(mixedRow[col("estimate_basis")]).toBe("inventory");
    expect(mixedRow[col("warnings")]).toContain("object-lock-enabled");
    // A field with a comma arrives whole: quoted on the wire.
    const compliantRow = byBucket["fleet-compliant"] ?? [];
    expect(compliantRow[col("default_encryption")]).toBe(`aws:kms ${mixed.targetKeyArn}, Bucket Key`);
    expect(csv.out).toContain(`"aws:kms ${mixed.targetKeyArn}, Bucket Key"`);
    expect(byBucket[HUGE]?.[col("non_compliant_is_at_least")]).toBe("true");
    expect(byBucket["fleet-default-only"]?.[col("not_encrypted")]).toBe("unknown");
    expect(byBucket["fleet-done-empty"]?.[col("estimate_basis")]).toBe("-");

    const selected = await rekey(
      sandbox,
      "scan",
      "--kms-key",
      mixed.targetKeyArn,
      "--output",
      "csv",
      "--query",
      "[?verdict=='blocked']",
    );
    expect(
      selected.out
        .split("\r\n")
        .slice(1, -1)
        .map((l) => l.split(",")[0]),
    ).toEqual(["fleet-locked", "fleet-unversioned"]);
    const projected = await rekey(
      sandbox,
      "scan",
      "--kms-key",
      mixed.targetKeyArn,
      "--output",
      "csv",
      "--query",
      "[].bucket",
    );
    expect(projected.code).toBe(2);
    expect(projected.err).toMatch(/With --output csv, --query must select buckets/);
  }, 180_000);

  it("shows how much each non-empty bucket holds from S3's daily storage metrics, and estimates a run from them", async () => {
    const versions = async () => (await scanJson("--bucket", "fleet-default-only")).rows["fleet-default-only"];
    // As on AWS, a bucket created today has no data point until tomorrow: nothing tells.
    expect(await versions()).toMatchObject({ verdict: "needs-run", estimate: null });
    expect((await versions())?.objects).toBeUndefined();
    sandbox.setBehaviours({ newBucketStorageMetrics: "SameDay" });
    try {
      const reported = await versions();
      expect(reported).toMatchObject({ verdict: "needs-run", objects: 1, estimate: { basis: "storage-metrics" } });
      expect(reported?.estimate?.oneTimeUsd).toBeGreaterThan(0);
      const table = await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--bucket", "fleet-default-only");
      expect(table.out).toMatch(
        /^fleet-default-only +needs-run .* 1 \(\d+ B\) on \d{4}-\d{2}-\d{2} +unknown +unknown +\$\d+\.\d{2}, .* \(storage metrics\) +COMPLIANT +the default is compliant/m,
      );
    } finally {
      sandbox.setBehaviours({ newBucketStorageMetrics: "NextDay" });
    }
  }, 120_000);

  it("refuses a key that is not a key ARN, a tag without a value, and a bad engine or key-check count", async () => {
    expect((await rekey(sandbox, "scan", "--kms-key", "alias/data")).err).toMatch(
      /is a key alias; rekey needs the full key ARN/,
    );
    expect((await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--tag", "team")).err).toMatch(
      /--tag must be key=value/,
    );
    expect((await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--engine", "select")).code).toBe(2);
    expect((await rekey(sandbox, "scan", "--kms-key", mixed.targetKeyArn, "--key-checks", "-1")).code).toBe(2);
  });
});
