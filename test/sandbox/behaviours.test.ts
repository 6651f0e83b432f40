import { gunzipSync } from "node:zlib";
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UpdateObjectEncryptionCommand,
} from "@aws-sdk/client-s3";
import {
  CreateJobCommand,
  type CreateJobCommandInput,
  DescribeJobCommand,
  type JobDescriptor,
  ListJobsCommand,
} from "@aws-sdk/client-s3-control";
import { CreateStateMachineCommand, DescribeExecutionCommand, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SandboxAdminError } from "../../sandbox/admin-client.ts";
import {
  BEHAVIOURS_ENV,
  BehavioursError,
  DEFAULT_BEHAVIOURS,
  initialBehaviours,
  parseBehaviours,
} from "../../sandbox/behaviours.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { useSandbox } from "../support/sandbox.ts";
import { shimZip } from "./fixtures/lambda-code.ts";

/** The switches of sandbox/behaviours.ts, each observed through the AWS APIs with the real SDK. */

const ACCOUNT = "123456789012";
const ROLE = `arn:aws:iam::${ACCOUNT}:role/rekey-batch`;
const SRC = "beh-src";
const WORK = "beh-work";

const env = useSandbox();
let counter = 0;

beforeAll(async () => {
  for (const Bucket of [SRC, WORK]) await env.s3.send(new CreateBucketCommand({ Bucket }));
  await env.s3.send(new PutBucketVersioningCommand({ Bucket: SRC, VersioningConfiguration: { Status: "Enabled" } }));
  await env.s3.send(
    new PutObjectCommand({
      Bucket: SRC,
      Key: "dir/a b+c%.txt",
      Body: "abc",
      ContentType: "text/plain",
      Metadata: { owner: "team-1" },
      Tagging: "project=atlas",
    }),
  );
});

afterEach(() => {
  env.sandbox.setBehaviours({ ...DEFAULT_BEHAVIOURS });
});

function copyJob(extra: Partial<CreateJobCommandInput> = {}): CreateJobCommandInput {
  counter += 1;
  return {
    AccountId: ACCOUNT,
    ClientRequestToken: `beh-${counter}`,
    Priority: 10,
    RoleArn: ROLE,
    ConfirmationRequired: true,
    Operation: { S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${SRC}`, MetadataDirective: "COPY" } },
    ManifestGenerator: {
      S3JobManifestGenerator: {
        SourceBucket: `arn:aws:s3:::${SRC}`,
        EnableManifestOutput: true,
        ManifestOutputLocation: {
          Bucket: `arn:aws:s3:::${WORK}`,
          ManifestFormat: "S3InventoryReport_CSV_20211130",
          ManifestPrefix: `generated/${counter}`,
        },
        Filter: { KeyNameConstraint: { MatchAnyPrefix: ["dir/"] } },
      },
    },
    Report: { Enabled: false },
    ...extra,
  };
}

async function create(input: CreateJobCommandInput): Promise<string> {
  const out = await env.s3control.send(new CreateJobCommand(input));
  if (!out.JobId) throw new Error("no JobId");
  return out.JobId;
}

const describeJob = async (JobId: string) =>
  (await env.s3control.send(new DescribeJobCommand({ AccountId: ACCOUNT, JobId }))).Job as JobDescriptor;

/** Polls DescribeJob until `done` says the job got there (each step of the engine is 25 ms apart). */
async function until(jobId: string, done: (j: JobDescriptor) => boolean): Promise<JobDescriptor> {
  for (;;) {
    const job = await describeJob(jobId);
    if (done(job)) return job;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const settled = (j: JobDescriptor) => ["Suspended", "Complete", "Failed", "Cancelled"].includes(j.Status ?? "");

describe("the switch set", () => {
  it("defaults to what ASSUMPTIONS.md records", () => {
    expect(initialBehaviours(undefined, {})).toEqual({
      emptyGeneratorJob: "EmptyList",
      jobRegistrationLagMs: 0,
      jobRegistrationError: "NotFoundException",
      clientRequestTokenLifetimeSeconds: null,
      newObjectMetadata: "IgnoredWithoutDirective",
      generatedManifestKeys: "UrlEncoded",
      updateObjectEncryptionCreatesVersion: false,
      runtimeFailureError: "Lambda.Unknown",
      s3Select: "Available",
      athenaUnloadRowsPerFile: null,
      newBucketStorageMetrics: "NextDay",
      nestedExecutionOnAbort: "Stopped",
    });
  });

  it("takes the environment's switches, then the caller's", () => {
    const fromEnv = { [BEHAVIOURS_ENV]: JSON.stringify({ generatedManifestKeys: "Raw", jobRegistrationLagMs: 5 }) };
    expect(initialBehaviours({ jobRegistrationLagMs: 7 }, fromEnv)).toMatchObject({
      generatedManifestKeys: "Raw",
      jobRegistrationLagMs: 7,
    });
  });

  it("names the environment variable when its switches are wrong", () => {
    expect(() => initialBehaviours(undefined, { [BEHAVIOURS_ENV]: "{not json" })).toThrow(/^SANDBOX_BEHAVIOURS: /);
    expect(() => initialBehaviours(undefined, { [BEHAVIOURS_ENV]: '{"newObjectMetadata":"x"}' })).toThrow(
      /SANDBOX_BEHAVIOURS: newObjectMetadata must be one of/,
    );
  });

  it("refuses unknown switches and values", () => {
    expect(() => parseBehaviours({ tokenLife: 1 })).toThrow(BehavioursError);
    expect(() => parseBehaviours({ athenaUnloadRowsPerFile: 0 })).toThrow(
      /athenaUnloadRowsPerFile must be a whole number/,
    );
    expect(() => parseBehaviours({ athenaUnloadRowsPerFile: 2.5 })).toThrow(BehavioursError);
    expect(parseBehaviours({ athenaUnloadRowsPerFile: null })).toEqual({ athenaUnloadRowsPerFile: null });
    expect(() => parseBehaviours({ emptyGeneratorJob: "Suspended" })).toThrow(/EmptyList, Failed/);
    expect(() => parseBehaviours({ jobRegistrationLagMs: -1 })).toThrow(BehavioursError);
    expect(() => parseBehaviours({ runtimeFailureError: "Runtime.ExitError" })).toThrow(/Lambda.Unknown, ErrorType/);
  });

  it("is read and switched through /_sandbox/behaviours", async () => {
    expect(await env.admin.request("GET", "/_sandbox/behaviours")).toEqual(DEFAULT_BEHAVIOURS);
    const after = await env.admin.request("POST", "/_sandbox/behaviours", { newObjectMetadata: "Replaces" });
    expect(after).toEqual({ ...DEFAULT_BEHAVIOURS, newObjectMetadata: "Replaces" });
    expect(env.sandbox.behaviours.newObjectMetadata).toBe("Replaces");
    const refused = await env.admin
      .request("POST", "/_sandbox/behaviours", { newObjectMetadata: "Merge" })
      .catch((e) => e);
    expect(refused).toBeInstanceOf(SandboxAdminError);
    expect((refused as SandboxAdminError).status).toBe(400);
  });
});

describe("a generator job that matches nothing", () => {
  const nothing = () =>
    copyJob({
      ManifestGenerator: {
        S3JobManifestGenerator: {
          SourceBucket: `arn:aws:s3:::${SRC}`,
          EnableManifestOutput: true,
          ManifestOutputLocation: {
            Bucket: `arn:aws:s3:::${WORK}`,
            ManifestFormat: "S3InventoryReport_CSV_20211130",
            ManifestPrefix: `generated/nothing-${counter}`,
          },
          Filter: { KeyNameConstraint: { MatchAnyPrefix: ["no-such-prefix/"] } },
        },
      },
    });

  it("EmptyList: writes an empty list and waits for confirmation", async () => {
    const job = await until(await create(nothing()), settled);
    expect(job.Status).toBe("Suspended");
    expect(job.ProgressSummary?.TotalNumberOfTasks).toBe(0);
    expect(job.GeneratedManifestDescriptor?.Location?.ObjectArn).toMatch(/manifest\.json$/);
  });

  it("Failed: fails saying there is nothing to process, with no list", async () => {
    env.sandbox.setBehaviours({ emptyGeneratorJob: "Failed" });
    const job = await until(await create(nothing()), settled);
    expect(job.Status).toBe("Failed");
    expect(job.FailureReasons?.[0]?.FailureReason).toMatch(/no objects/);
    expect(job.GeneratedManifestDescriptor).toBeUndefined();
  });

  it("CompleteWithoutManifest: completes with no list", async () => {
    env.sandbox.setBehaviours({ emptyGeneratorJob: "CompleteWithoutManifest" });
    const job = await until(await create(nothing()), settled);
    expect(job.Status).toBe("Complete");
    expect(job.FailureReasons ?? []).toEqual([]);
    expect(job.GeneratedManifestDescriptor).toBeUndefined();
  });

  it("any reading leaves a job that matches something alone", async () => {
    env.sandbox.setBehaviours({ emptyGeneratorJob: "Failed" });
    const job = await until(await create(copyJob()), settled);
    expect(job.Status).toBe("Suspended");
    expect(job.ProgressSummary?.TotalNumberOfTasks).toBe(1);
  });
});

describe("job registration lag", () => {
  for (const error of ["NotFoundException", "NoSuchJobException"] as const) {
    it(`answers ${error} and lists nothing until the job is registered`, async () => {
      env.sandbox.setBehaviours({ jobRegistrationLagMs: 3_600_000, jobRegistrationError: error });
      const jobId = await create(copyJob());
      const err = await describeJob(jobId).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe(error);
      expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(404);
      const listed = await env.s3control.send(new ListJobsCommand({ AccountId: ACCOUNT }));
      expect((listed.Jobs ?? []).map((j) => j.JobId)).not.toContain(jobId);
      // The lag over (switched off here rather than waited for): the job is there.
      env.sandbox.setBehaviours({ jobRegistrationLagMs: 0 });
      expect((await describeJob(jobId)).JobId).toBe(jobId);
    });
  }
});

describe("ClientRequestToken lifetime", () => {
  it("never expires by default: the same token gets the same job", async () => {
    const input = copyJob();
    expect(await create(input)).toBe(await create(input));
  });

  it("once expired, the same token creates a new job", async () => {
    const input = copyJob();
    const first = await create(input);
    env.sandbox.setBehaviours({ clientRequestTokenLifetimeSeconds: 0 });
    const second = await create(input);
    expect(second).not.toBe(first);
  });
});

describe("NewObjectMetadata without a directive", () => {
  async function copyWith(newObjectMetadata: boolean): Promise<{ type?: string; meta?: Record<string, string> }> {
    const copy = copyJob({
      ConfirmationRequired: false,
      Operation: {
        S3PutObjectCopy: {
          TargetResource: `arn:aws:s3:::${SRC}`,
          MetadataDirective: "COPY",
          ...(newObjectMetadata ? { NewObjectMetadata: { SSEAlgorithm: "AES256" } } : {}),
        },
      },
    });
    await until(await create(copy), settled);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: SRC, Key: "dir/a b+c%.txt" }));
    return { type: head.ContentType, meta: head.Metadata };
  }

  it("IgnoredWithoutDirective: a COPY keeps content type and metadata", async () => {
    expect(await copyWith(true)).toEqual({ type: "text/plain", meta: { owner: "team-1" } });
  });

  it("Replaces: the metadata is replaced by NewObjectMetadata, and only when it is given", async () => {
    env.sandbox.setBehaviours({ newObjectMetadata: "Replaces" });
    expect(await copyWith(false)).toEqual({ type: "text/plain", meta: { owner: "team-1" } });
    const lost = await copyWith(true);
    expect(lost.meta ?? {}).toEqual({});
    expect(lost.type).not.toBe("text/plain");
    // Put the attributes back for the tests that follow.
    await env.s3.send(
      new CopyObjectCommand({
        Bucket: SRC,
        Key: "dir/a b+c%.txt",
        CopySource: `${SRC}/${encodeURIComponent("dir/a b+c%.txt").replace(/%2F/g, "/")}`,
        MetadataDirective: "REPLACE",
        ContentType: "text/plain",
        Metadata: { owner: "team-1" },
      }),
    );
  });
});

describe("generated manifest key encoding", () => {
  async function listedKey(): Promise<string> {
    const job = await until(await create(copyJob()), settled);
    const arn = job.GeneratedManifestDescriptor?.Location?.ObjectArn ?? "";
    const manifestKey = arn.replace(`arn:aws:s3:::${WORK}/`, "");
    const get = async (Key: string) => {
      const body = (await env.s3.send(new GetObjectCommand({ Bucket: WORK, Key }))).Body;
      return Buffer.from((await body?.transformToByteArray()) ?? []);
    };
    const manifest = JSON.parse((await get(manifestKey)).toString("utf8")) as { files: { key: string }[] };
    const data = gunzipSync(await get(manifest.files[0]?.key ?? "")).toString("utf8");
    return data.trim().split(",")[1] ?? "";
  }

  it("UrlEncoded: keys percent-encoded, `/` kept", async () => {
    expect(await listedKey()).toBe('"dir/a%20b%2Bc%25.txt"');
  });

  it("Raw: keys as they are", async () => {
    env.sandbox.setBehaviours({ generatedManifestKeys: "Raw" });
    expect(await listedKey()).toBe('"dir/a b+c%.txt"');
  });
});

describe("UpdateObjectEncryption and versions", () => {
  async function versionsAfterUpdate(key: string): Promise<{ before: string[]; after: string[] }> {
    const keyArn = env.sandbox.kms.create("behaviours").arn;
    await env.admin.seed(SRC, [{ key, body: "s3", encryption: { type: "SSE-S3" } }]);
    const ids = async () => (await env.admin.versions(SRC, key)).map((v) => v.versionId);
    const before = await ids();
    await env.s3.send(
      new UpdateObjectEncryptionCommand({ Bucket: SRC, Key: key, ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn } } }),
    );
    return { before, after: await ids() };
  }

  it("false: the current version changes in place", async () => {
    const { before, after } = await versionsAfterUpdate("uoe/in-place.txt");
    expect(after).toEqual(before);
  });

  it("true: a new current version on top of the unchanged one", async () => {
    env.sandbox.setBehaviours({ updateObjectEncryptionCreatesVersion: true });
    const { before, after } = await versionsAfterUpdate("uoe/new-version.txt");
    expect(after.length).toBe(before.length + 1);
    expect(after.slice(1)).toEqual(before);
  });
});

describe("the state error of a crashed function", () => {
  const role = `arn:aws:iam::${ACCOUNT}:role/beh-crash`;
  let lambda: LambdaClient;
  let stateMachineArn: string;

  beforeAll(async () => {
    lambda = new LambdaClient({
      region: env.sandbox.identity.region,
      endpoint: env.sandbox.endpoint,
      credentials: SANDBOX_CREDENTIALS,
    });
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: "beh-echo",
        Runtime: "nodejs22.x",
        Role: role,
        Handler: "index.echo",
        Code: { ZipFile: shimZip() },
      }),
    );
    const fn = `arn:aws:lambda:${env.sandbox.identity.region}:${ACCOUNT}:function:beh-echo`;
    ({ stateMachineArn = "" } = await env.sfn.send(
      new CreateStateMachineCommand({
        name: "beh-crash",
        roleArn: role,
        definition: JSON.stringify({ StartAt: "Echo", States: { Echo: { Type: "Task", Resource: fn, End: true } } }),
      }),
    ));
  });
  afterAll(() => lambda?.destroy());

  async function crashedRunError(): Promise<string | undefined> {
    env.sandbox.lambda.crash({ functionName: "beh-echo", when: "before" });
    const { executionArn } = await env.sfn.send(new StartExecutionCommand({ stateMachineArn, input: "{}" }));
    let out = await env.sfn.send(new DescribeExecutionCommand({ executionArn }));
    while (out.status === "RUNNING") {
      await new Promise((r) => setTimeout(r, 50));
      out = await env.sfn.send(new DescribeExecutionCommand({ executionArn }));
    }
    return out.error;
  }

  it("Lambda.Unknown: the Task fails with Lambda.Unknown", async () => {
    expect(await crashedRunError()).toBe("Lambda.Unknown");
  });

  it("ErrorType, switched on a running sandbox: the Task fails with the payload's Runtime.ExitError", async () => {
    await env.admin.request("POST", "/_sandbox/behaviours", { runtimeFailureError: "ErrorType" });
    expect(await crashedRunError()).toBe("Runtime.ExitError");
  });
});
