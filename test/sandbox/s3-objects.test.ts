import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { describe, expect, it } from "vitest";
import { newTestBucket, s3Error, useSandbox } from "../support/sandbox.ts";

const env = useSandbox();

const newBucket = (versioned = false) => newTestBucket(env.s3, "objects", { versioned });

const WEIRD_KEYS = [
  "dir/a b+c ✓.txt",
  "100%,sure.csv",
  "plus+only",
  "space only",
  "emoji 😀/x",
  "q?a=b&c#d",
  "tilde~*'()!",
];

describe("buckets", () => {
  it("creates, heads and lists buckets; us-east-1 answers 200 to re-creation", async () => {
    const bucket = await newBucket();
    const head = await env.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    expect(head.BucketRegion).toBe("us-east-1");
    await env.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const list = await env.s3.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toContain(bucket);
    const loc = await env.s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
    expect(loc.LocationConstraint).toBeUndefined();
  });

  it("rejects invalid bucket names and location constraints", async () => {
    for (const name of ["ab", "UpperCase", "a..b", "192.168.1.1", "xn--abc", "-start", "end-", "foo-s3alias"]) {
      const e = await s3Error(env.s3.send(new CreateBucketCommand({ Bucket: name })));
      expect(e.name, name).toBe("InvalidBucketName");
    }
    const e = await s3Error(
      env.s3.send(
        new CreateBucketCommand({ Bucket: "loc-test", CreateBucketConfiguration: { LocationConstraint: "eu-west-1" } }),
      ),
    );
    expect(e.name).toBe("IllegalLocationConstraintException");
  });

  it("HeadBucket of a missing bucket is 404 NotFound; other calls say NoSuchBucket", async () => {
    const head = await s3Error(env.s3.send(new HeadBucketCommand({ Bucket: "no-such-bucket-here" })));
    expect(head.$metadata.httpStatusCode).toBe(404);
    const get = await s3Error(env.s3.send(new GetObjectCommand({ Bucket: "no-such-bucket-here", Key: "k" })));
    expect(get.name).toBe("NoSuchBucket");
  });
});

describe("objects", () => {
  it("PutObject with a stream body goes aws-chunked with a CRC32 trailer and round-trips", async () => {
    const bucket = await newBucket();
    const body = Readable.from([Buffer.from("a,b\n"), Buffer.from("c,d\n")]);
    const put = await env.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "chunked.csv",
        Body: body,
        ContentLength: 8,
        ContentType: "text/csv",
        Metadata: { owner: "team-a" },
      }),
    );
    expect(put.ETag).toBe(`"${md5("a,b\nc,d\n")}"`);
    expect(put.ServerSideEncryption).toBe("AES256");
    const got = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "chunked.csv" }));
    expect(await got.Body?.transformToString()).toBe("a,b\nc,d\n");
    expect(got.ContentType).toBe("text/csv");
    expect(got.ContentEncoding).toBeUndefined();
    expect(got.Metadata).toEqual({ owner: "team-a" });
    expect(got.ETag).toBe(`"${md5("a,b\nc,d\n")}"`);
    const versions = await env.admin.versions(bucket);
    expect(versions[0]?.size).toBe(8);
  });

  it("checks Content-MD5: BadDigest on mismatch, InvalidDigest on malformed", async () => {
    const bucket = await newBucket();
    const bad = await s3Error(
      env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "hello", ContentMD5: md5Base64("other") })),
    );
    expect(bad.name).toBe("BadDigest");
    const invalid = await s3Error(
      env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "hello", ContentMD5: "zz" })),
    );
    expect(invalid.name).toBe("InvalidDigest");
    await env.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "hello", ContentMD5: md5Base64("hello") }),
    );
  });

  it("HeadObject of a missing key is 404 NotFound; GetObject says NoSuchKey", async () => {
    const bucket = await newBucket();
    const head = await s3Error(env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "nope" })));
    expect(head.name).toBe("NotFound");
    expect(head.$metadata.httpStatusCode).toBe(404);
    const get = await s3Error(env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "nope" })));
    expect(get.name).toBe("NoSuchKey");
  });

  it("serves ranges, tags, storage class, and omits x-amz-storage-class for STANDARD", async () => {
    const bucket = await newBucket();
    await env.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: "r", Body: "0123456789", Tagging: "a=1&b=two%20words" }),
    );
    const range = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "r", Range: "bytes=2-4" }));
    expect(await range.Body?.transformToString()).toBe("234");
    expect(range.ContentRange).toBe("bytes 2-4/10");
    expect(range.TagCount).toBe(2);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "r" }));
    expect(head.StorageClass).toBeUndefined();
    expect(head.LastModified?.getMilliseconds()).toBe(0);
    const tags = await env.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "r" }));
    expect(tags.TagSet).toEqual([
      { Key: "a", Value: "1" },
      { Key: "b", Value: "two words" },
    ]);
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "ia", Body: "x", StorageClass: "STANDARD_IA" }));
    expect((await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "ia" }))).StorageClass).toBe("STANDARD_IA");
    const tooMany = await s3Error(
      env.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: "t",
          Body: "x",
          Tagging: Array.from({ length: 11 }, (_, i) => `k${i}=v`).join("&"),
        }),
      ),
    );
    expect(tooMany.message).toBe("Object tags cannot be greater than 10");
  });

  it("object tagging API works per version", async () => {
    const bucket = await newBucket(true);
    const v1 = await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "t", Body: "1" }));
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "t", Body: "2" }));
    await env.s3.send(
      new PutObjectTaggingCommand({
        Bucket: bucket,
        Key: "t",
        VersionId: v1.VersionId,
        Tagging: { TagSet: [{ Key: "old", Value: "yes" }] },
      }),
    );
    expect(
      (await env.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "t", VersionId: v1.VersionId }))).TagSet,
    ).toEqual([{ Key: "old", Value: "yes" }]);
    expect((await env.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "t" }))).TagSet).toEqual([]);
    await env.s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: "t", VersionId: v1.VersionId }));
    expect(
      (await env.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "t", VersionId: v1.VersionId }))).TagSet,
    ).toEqual([]);
  });

  it("declared-size objects report their size but GET answers 501 NotImplemented", async () => {
    const bucket = await newBucket();
    await env.admin.seed(bucket, [{ key: "big.bin", size: 6 * 1024 ** 3, encryption: { type: "NOT-SSE" } }]);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "big.bin" }));
    expect(head.ContentLength).toBe(6 * 1024 ** 3);
    expect(head.ServerSideEncryption).toBeUndefined();
    const get = await s3Error(env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big.bin" })));
    expect(get.name).toBe("NotImplemented");
    expect(get.$metadata.httpStatusCode).toBe(501);
  });

  it("GLACIER objects: HEAD works, GET is 403 InvalidObjectState", async () => {
    const bucket = await newBucket();
    await env.admin.seed(bucket, [{ key: "cold", body: "x", storageClass: "GLACIER" }]);
    expect((await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "cold" }))).StorageClass).toBe("GLACIER");
    const e = await s3Error(env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "cold" })));
    expect(e.name).toBe("InvalidObjectState");
    expect(e.$metadata.httpStatusCode).toBe(403);
  });

  it("refuses ACLs other than private on buckets with ACLs disabled (the default since 2023)", async () => {
    const bucket = await newBucket();
    const e = await s3Error(
      env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x", ACL: "public-read" })),
    );
    expect(e.name).toBe("AccessControlListNotSupported");
  });
});

describe("keys with reserved and unicode characters", () => {
  it("round-trip through put, head, list (plain and url-encoded) and list-versions", async () => {
    const bucket = await newBucket(true);
    for (const key of WEIRD_KEYS) await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    for (const key of WEIRD_KEYS) {
      const got = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body?.transformToString()).toBe(key);
    }
    const listed = await env.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual([...WEIRD_KEYS].sort(utf8Compare));
    const encoded = await env.s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: "url" }));
    expect(encoded.EncodingType).toBe("url");
    expect(encoded.Contents?.map((c) => c.Key)).toContain("dir/a+b%2Bc+%E2%9C%93.txt");
    expect(encoded.Contents?.map((c) => decodeURIComponent((c.Key ?? "").replace(/\+/g, " ")))).toEqual(
      [...WEIRD_KEYS].sort(utf8Compare),
    );
    const versions = await env.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    expect(versions.Versions?.map((v) => v.Key)).toEqual([...WEIRD_KEYS].sort(utf8Compare));
  });
});

describe("ListObjectsV2", () => {
  it("pages with max-keys and continuation tokens, rolls up common prefixes, honours start-after", async () => {
    const bucket = await newBucket();
    const keys = ["a/1", "a/2", "b", "c/x/1", "c/y", "d"];
    await env.admin.seed(
      bucket,
      keys.map((key) => ({ key, body: key })),
    );
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await env.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 2, Delimiter: "/", ContinuationToken: token }),
      );
      seen.push(
        ...(page.CommonPrefixes ?? []).map((p) => `P:${p.Prefix}`),
        ...(page.Contents ?? []).map((c) => c.Key ?? ""),
      );
      expect(page.KeyCount).toBeLessThanOrEqual(2);
      token = page.NextContinuationToken;
    } while (token);
    expect(seen.sort()).toEqual(["P:a/", "P:c/", "b", "d"]);
    const sub = await env.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "c/", Delimiter: "/" }));
    expect(sub.CommonPrefixes).toEqual([{ Prefix: "c/x/" }]);
    expect(sub.Contents?.map((c) => c.Key)).toEqual(["c/y"]);
    const after = await env.s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: "b" }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(["c/x/1", "c/y", "d"]);
  });

  it("lists 20,000 seeded objects in 20 full pages, in order, sorting the keys once", async () => {
    const bucket = await newBucket();
    const objects = Array.from({ length: 20_000 }, (_, i) => ({ key: `k/${String(i).padStart(6, "0")}`, body: "x" }));
    await env.admin.seed(bucket, objects);
    const index = env.sandbox.s3.store.bucket(bucket).sortedKeys();
    let token: string | undefined;
    const pages: string[][] = [];
    do {
      const page = await env.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      pages.push((page.Contents ?? []).map((c) => c.Key ?? ""));
      token = page.NextContinuationToken;
    } while (token);
    expect(pages.map((p) => p.length)).toEqual(Array(20).fill(1000));
    // Each page resumes right after the last key of the one before: no key skipped or repeated.
    expect(pages.flat()).toEqual(objects.map((o) => o.key));
    // Paging reads the bucket's sorted key index as it is: nothing was re-sorted for any page.
    expect(env.sandbox.s3.store.bucket(bucket).sortedKeys()).toBe(index);
  });
});

describe("versioning", () => {
  it("creates delete markers, answers 404/405 for them, and lists versions with IsLatest", async () => {
    const bucket = await newBucket(true);
    expect((await env.s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status).toBe("Enabled");
    const v1 = await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "one" }));
    const v2 = await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "two" }));
    expect(v1.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(v2.VersionId).not.toBe(v1.VersionId);
    const del = await env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "k" }));
    expect(del.DeleteMarker).toBe(true);
    expect(del.VersionId).toBeDefined();

    const get = await s3Error(env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k" })));
    expect(get.name).toBe("NoSuchKey");
    expect(get.$response?.headers["x-amz-delete-marker"]).toBe("true");
    const onMarker = await s3Error(
      env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k", VersionId: del.VersionId })),
    );
    expect(onMarker.$metadata.httpStatusCode).toBe(405);
    expect(onMarker.name).toBe("MethodNotAllowed");
    const old = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k", VersionId: v1.VersionId }));
    expect(await old.Body?.transformToString()).toBe("one");

    const list = await env.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    expect(list.DeleteMarkers?.map((d) => [d.VersionId, d.IsLatest])).toEqual([[del.VersionId, true]]);
    expect(list.Versions?.map((v) => [v.VersionId, v.IsLatest])).toEqual([
      [v2.VersionId, false],
      [v1.VersionId, false],
    ]);
    expect((await env.s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount).toBe(0);

    const unknown = await s3Error(env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k", VersionId: "nope" })));
    expect(unknown.name).toBe("NoSuchVersion");

    const removeMarker = await env.s3.send(
      new DeleteObjectCommand({ Bucket: bucket, Key: "k", VersionId: del.VersionId }),
    );
    expect(removeMarker.DeleteMarker).toBe(true);
    const back = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k" }));
    expect(await back.Body?.transformToString()).toBe("two");
  });

  it("pages ListObjectVersions with key-marker and version-id-marker", async () => {
    const bucket = await newBucket(true);
    for (const body of ["1", "2", "3"])
      await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "a", Body: body }));
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "b", Body: "x" }));
    const all: string[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      const page = await env.s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          MaxKeys: 1,
          KeyMarker: keyMarker,
          VersionIdMarker: versionIdMarker,
        }),
      );
      all.push(...(page.Versions ?? []).map((v) => `${v.Key}:${v.IsLatest}`));
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
    expect(all).toEqual(["a:true", "a:false", "a:false", "b:true"]);
  });

  it("unversioned and suspended buckets use the null version", async () => {
    const bucket = await newBucket();
    const put = await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "1" }));
    expect(put.VersionId).toBeUndefined();
    await env.s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Suspended" } }),
    );
    await env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "2" }));
    const list = await env.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    expect(list.Versions?.map((v) => v.VersionId)).toEqual(["null"]);
    expect((await env.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" }))).VersionId).toBe("null");
  });
});

describe("multipart upload", () => {
  it("lib-storage Upload of a 12 MiB body produces an <md5-of-md5s>-N ETag", async () => {
    const bucket = await newBucket();
    const data = randomBytes(12 * 1024 * 1024);
    const upload = new Upload({ client: env.s3, params: { Bucket: bucket, Key: "big/manifest.csv", Body: data } });
    const done = await upload.done();
    const parts = [
      data.subarray(0, 5 * 1024 * 1024),
      data.subarray(5 * 1024 * 1024, 10 * 1024 * 1024),
      data.subarray(10 * 1024 * 1024),
    ];
    const expected = md5(Buffer.concat(parts.map((p) => Buffer.from(md5(p), "hex"))));
    expect(done.ETag).toBe(`"${expected}-3"`);
    const got = await env.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big/manifest.csv" }));
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(data)).toBe(true);
  });

  it("rejects parts under 5 MiB except the last with EntityTooSmall", async () => {
    const bucket = await newBucket();
    const { UploadId } = await env.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "m" }));
    const p1 = await env.s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: "m", UploadId, PartNumber: 1, Body: "small" }),
    );
    const p2 = await env.s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: "m", UploadId, PartNumber: 2, Body: "last" }),
    );
    const e = await s3Error(
      env.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: "m",
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: p1.ETag },
              { PartNumber: 2, ETag: p2.ETag },
            ],
          },
        }),
      ),
    );
    expect(e.name).toBe("EntityTooSmall");
  });
});

function md5(data: string | Buffer): string {
  return createHash("md5").update(data).digest("hex");
}

function md5Base64(data: string): string {
  return Buffer.from(md5(data), "hex").toString("base64");
}

/** UTF-8 byte order, which is S3's listing order. */
function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
