import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import {
  CreateBucketCommand,
  DeleteBucketInventoryConfigurationCommand,
  DeleteObjectCommand,
  GetBucketInventoryConfigurationCommand,
  GetObjectCommand,
  type InventoryConfiguration,
  ListBucketInventoryConfigurationsCommand,
  PutBucketInventoryConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { SandboxAdminError } from "../../sandbox/admin-client.ts";
import { useSandbox } from "../support/sandbox.ts";

let n = 0;

const env = useSandbox();

async function buckets(): Promise<{ src: string; dest: string }> {
  const id = `${++n}-${Date.now()}`;
  const src = `inv-src-${id}`;
  const dest = `inv-dest-${id}`;
  await env.s3.send(new CreateBucketCommand({ Bucket: src }));
  await env.s3.send(new CreateBucketCommand({ Bucket: dest }));
  return { src, dest };
}

function config(dest: string, overrides: Partial<InventoryConfiguration> = {}): InventoryConfiguration {
  return {
    Id: "weekly-all",
    IsEnabled: true,
    Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${dest}`, Format: "CSV", Prefix: "inv" } },
    IncludedObjectVersions: "Current",
    OptionalFields: ["BucketKeyStatus", "Size", "EncryptionStatus", "StorageClass", "ETag", "LastModifiedDate"],
    Schedule: { Frequency: "Weekly" },
    ...overrides,
  };
}

async function readText(bucket: string, key: string): Promise<string> {
  const got = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await got.Body?.transformToString()) ?? "";
}

async function readGz(bucket: string, key: string): Promise<string> {
  const got = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return gunzipSync(Buffer.from((await got.Body?.transformToByteArray()) ?? [])).toString("utf8");
}

describe("inventory configuration API", () => {
  it("puts, gets, lists and deletes configurations", async () => {
    const { src, dest } = await buckets();
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "weekly-all",
        InventoryConfiguration: config(dest),
      }),
    );
    const got = await env.s3.send(new GetBucketInventoryConfigurationCommand({ Bucket: src, Id: "weekly-all" }));
    expect(got.InventoryConfiguration).toEqual(config(dest));
    const list = await env.s3.send(new ListBucketInventoryConfigurationsCommand({ Bucket: src }));
    expect(list.InventoryConfigurationList?.map((c) => c.Id)).toEqual(["weekly-all"]);
    await env.s3.send(new DeleteBucketInventoryConfigurationCommand({ Bucket: src, Id: "weekly-all" }));
    const missing = await env.s3
      .send(new GetBucketInventoryConfigurationCommand({ Bucket: src, Id: "weekly-all" }))
      .catch((e: S3ServiceException) => e);
    expect(missing).toBeInstanceOf(S3ServiceException);
    expect((missing as S3ServiceException).name).toBe("NoSuchConfiguration");
  });

  it("validates the id, destination ARN and enumerations", async () => {
    const { src, dest } = await buckets();
    const attempts: [string, InventoryConfiguration][] = [
      ["other-id", config(dest)],
      ["weekly-all", config(dest, { Destination: { S3BucketDestination: { Bucket: dest, Format: "CSV" } } })],
      ["weekly-all", config(dest, { IncludedObjectVersions: "Some" as "All" })],
      ["weekly-all", config(dest, { OptionalFields: ["KmsKeyArn" as "Size"] })],
    ];
    const codes: string[] = [];
    for (const [id, c] of attempts) {
      const e = await env.s3
        .send(new PutBucketInventoryConfigurationCommand({ Bucket: src, Id: id, InventoryConfiguration: c }))
        .catch((x: S3ServiceException) => x);
      codes.push(e instanceof S3ServiceException ? e.name : "ok");
    }
    expect(codes).toEqual(["InvalidArgument", "InvalidArgument", "MalformedXML", "MalformedXML"]);
  });
});

describe("inventory delivery", () => {
  it("writes CSV data, manifest.json, manifest.checksum and symlink.txt in AWS's layout", async () => {
    const { src, dest } = await buckets();
    const kmsArn = env.sandbox.kms.create("k").arn;
    await env.admin.seed(src, [
      { key: "dir/a b+c ✓.txt", body: "hello", encryption: { type: "NOT-SSE" }, lastModified: "2020-01-02T03:04:05Z" },
      {
        key: "100%,x",
        body: "",
        encryption: { type: "SSE-KMS", keyArn: kmsArn, bucketKeyEnabled: true },
        lastModified: "2021-01-01T00:00:00Z",
      },
      {
        key: "cold",
        size: 7,
        storageClass: "GLACIER",
        encryption: { type: "SSE-S3" },
        lastModified: "2022-06-30T23:59:59Z",
      },
    ]);
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "weekly-all",
        InventoryConfiguration: config(dest),
      }),
    );
    const before = Date.now();
    const result = await env.admin.deliverInventory({ bucket: src, configurationId: "weekly-all" });
    expect(Number(result.creationTimestamp)).toBeGreaterThan(before);
    expect(result.rows).toBe(3);
    expect(result.dataFiles).toHaveLength(1);

    const stamp = new Date(Number(result.creationTimestamp)).toISOString();
    const folder = `${stamp.slice(0, 10)}T${stamp.slice(11, 13)}-${stamp.slice(14, 16)}Z`;
    expect(result.manifestKey).toBe(`inv/${src}/weekly-all/${folder}/manifest.json`);
    const manifestText = await readText(dest, result.manifestKey);
    const manifest = JSON.parse(manifestText);
    expect(Object.keys(manifest)).toEqual([
      "sourceBucket",
      "destinationBucket",
      "version",
      "creationTimestamp",
      "fileFormat",
      "fileSchema",
      "files",
    ]);
    expect(manifest).toMatchObject({
      sourceBucket: src,
      destinationBucket: `arn:aws:s3:::${dest}`,
      version: "2016-11-30",
      creationTimestamp: result.creationTimestamp,
      fileFormat: "CSV",
      fileSchema: "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, EncryptionStatus, BucketKeyStatus",
    });
    const checksum = await readText(dest, `inv/${src}/weekly-all/${folder}/manifest.checksum`);
    expect(checksum).toBe(createHash("md5").update(manifestText).digest("hex"));

    const file = manifest.files[0];
    expect(file.key).toMatch(new RegExp(`^inv/${src}/weekly-all/data/[0-9a-f-]{36}\\.csv\\.gz$`));
    const gz = Buffer.from(
      (await (await env.s3.send(new GetObjectCommand({ Bucket: dest, Key: file.key }))).Body?.transformToByteArray()) ??
        [],
    );
    expect([file.size, file.MD5checksum]).toEqual([gz.length, createHash("md5").update(gz).digest("hex")]);

    const csv = await readGz(dest, file.key);
    const helloMd5 = createHash("md5").update("hello").digest("hex");
    const kmsEtag = (await env.admin.versions(src, "100%")).at(0)?.etag.replace(/"/g, "");
    const coldEtag = (await env.admin.versions(src, "cold")).at(0)?.etag.replace(/"/g, "");
    expect(csv).toBe(
      [
        `"${src}","100%25%2Cx","0","2021-01-01T00:00:00.000Z","${kmsEtag}","STANDARD","SSE-KMS","ENABLED"`,
        `"${src}","cold","7","2022-06-30T23:59:59.000Z","${coldEtag}","GLACIER","SSE-S3","DISABLED"`,
        `"${src}","dir%2Fa+b%2Bc+%E2%9C%93.txt","5","2020-01-02T03:04:05.000Z","${helloMd5}","STANDARD","NOT-SSE","DISABLED"`,
        "",
      ].join("\n"),
    );
    const hive = `${stamp.slice(0, 10)}-${stamp.slice(11, 13)}-${stamp.slice(14, 16)}`;
    expect(await readText(dest, `inv/${src}/weekly-all/hive/dt=${hive}/symlink.txt`)).toBe(
      `s3://${dest}/${file.key}\n`,
    );
  });

  it("All versions adds VersionId, IsLatest and IsDeleteMarker; rows split over files", async () => {
    const { src, dest } = await buckets();
    await env.s3.send(new PutBucketVersioningCommand({ Bucket: src, VersioningConfiguration: { Status: "Enabled" } }));
    const v1 = await env.s3.send(new PutObjectCommand({ Bucket: src, Key: "k", Body: "1" }));
    const v2 = await env.s3.send(new PutObjectCommand({ Bucket: src, Key: "k", Body: "2" }));
    const dm = await env.s3.send(new DeleteObjectCommand({ Bucket: src, Key: "k" }));
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "all",
        InventoryConfiguration: config(dest, {
          Id: "all",
          IncludedObjectVersions: "All",
          OptionalFields: ["EncryptionStatus"],
        }),
      }),
    );
    const result = await env.admin.deliverInventory({ bucket: src, configurationId: "all", maxRowsPerFile: 2 });
    expect(result.dataFiles.map((f) => f.rows)).toEqual([2, 1]);
    const manifest = JSON.parse(await readText(dest, result.manifestKey));
    expect(manifest.fileSchema).toBe("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, EncryptionStatus");
    const rows: string[] = [];
    for (const f of manifest.files) rows.push(...(await readGz(dest, f.key)).split("\n").filter(Boolean));
    expect(rows).toEqual([
      `"${src}","k","${dm.VersionId}","true","true",""`,
      `"${src}","k","${v2.VersionId}","false","false","SSE-S3"`,
      `"${src}","k","${v1.VersionId}","false","false","SSE-S3"`,
    ]);
  });

  it("dates a second delivery asked for within the same minute in the next free minute, keeping the first", async () => {
    const { src, dest } = await buckets();
    await env.s3.send(new PutObjectCommand({ Bucket: src, Key: "k", Body: "1" }));
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "twice",
        InventoryConfiguration: config(dest, { Id: "twice" }),
      }),
    );
    const first = await env.admin.deliverInventory({ bucket: src, configurationId: "twice" });
    const second = await env.admin.deliverInventory({ bucket: src, configurationId: "twice" });
    expect(second.manifestKey).not.toBe(first.manifestKey);
    expect(Number(second.creationTimestamp) - Number(first.creationTimestamp)).toBeGreaterThanOrEqual(60_000);
    // Both manifests are still there, each naming its own data files.
    const [a, b] = [
      JSON.parse(await readText(dest, first.manifestKey)),
      JSON.parse(await readText(dest, second.manifestKey)),
    ];
    expect(a.files[0].key).toBe(first.dataFiles[0]?.key);
    expect(b.files[0].key).toBe(second.dataFiles[0]?.key);
  });

  it("lists Object Lock retention and legal hold in the documented spellings, empty where none is set", async () => {
    const id = `${++n}-${Date.now()}`;
    const src = `inv-lock-${id}`;
    const dest = `inv-lock-dest-${id}`;
    await env.s3.send(new CreateBucketCommand({ Bucket: src, ObjectLockEnabledForBucket: true }));
    await env.s3.send(new CreateBucketCommand({ Bucket: dest }));
    const until = "2036-01-02T03:04:05.000Z";
    await env.admin.seed(src, [
      { key: "c", body: "c", objectLock: { mode: "COMPLIANCE", retainUntil: until } },
      { key: "g", body: "g", objectLock: { mode: "GOVERNANCE", retainUntil: until, legalHold: true } },
      { key: "n", body: "n" },
    ]);
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "lock",
        InventoryConfiguration: config(dest, {
          Id: "lock",
          OptionalFields: ["ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus"],
        }),
      }),
    );
    const result = await env.admin.deliverInventory({ bucket: src, configurationId: "lock" });
    const manifest = JSON.parse(await readText(dest, result.manifestKey));
    expect(manifest.fileSchema).toBe(
      "Bucket, Key, ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus",
    );
    const rows: string[] = [];
    for (const f of manifest.files) rows.push(...(await readGz(dest, f.key)).split("\n").filter(Boolean));
    expect(rows).toEqual([
      `"${src}","c","${until}","Compliance",""`,
      `"${src}","g","${until}","Governance","On"`,
      `"${src}","n","","",""`,
    ]);
  });

  it("refuses ORC configurations with a clear admin error", async () => {
    const { src, dest } = await buckets();
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "orc",
        InventoryConfiguration: config(dest, {
          Id: "orc",
          Destination: { S3BucketDestination: { Bucket: `arn:aws:s3:::${dest}`, Format: "ORC" } },
        }),
      }),
    );
    const e = await env.admin.deliverInventory({ bucket: src, configurationId: "orc" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SandboxAdminError);
    expect((e as SandboxAdminError).code).toBe("UnsupportedInventoryFormat");
  });

  it("seeds 10,000 objects in one request and inventories them into one data file, sorting the keys once", async () => {
    const { src, dest } = await buckets();
    const seeded = await env.admin.seed(
      src,
      Array.from({ length: 10_000 }, (_, i) => ({
        key: `obj/${i}`,
        body: `b${i}`,
        encryption: { type: "NOT-SSE" as const },
      })),
    );
    expect(seeded.versions).toHaveLength(10_000);
    expect(new Set(seeded.versions.map((v) => v.key)).size).toBe(10_000);
    await env.s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: src,
        Id: "weekly-all",
        InventoryConfiguration: config(dest),
      }),
    );
    const source = env.sandbox.s3.store.bucket(src);
    const index = source.sortedKeys();
    const result = await env.admin.deliverInventory({ bucket: src, configurationId: "weekly-all" });
    expect(result.rows).toBe(10_000);
    // The default is 100,000 rows a file, so one file holds every object, each once.
    expect(result.dataFiles.map((f) => f.rows)).toEqual([10_000]);
    const rows = (await readGz(dest, result.dataFiles[0]?.key ?? "")).split("\n").filter(Boolean);
    expect(new Set(rows).size).toBe(10_000);
    // Delivery reads the bucket's sorted key index as it is: nothing was re-sorted for it.
    expect(source.sortedKeys()).toBe(index);
  });
});
