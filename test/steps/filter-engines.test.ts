import { Readable } from "node:stream";
import {
  CreateBucketCommand,
  GetBucketInventoryConfigurationCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketInventoryConfigurationCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FilterEngineChoice } from "../../contract/engines.ts";
import { EngineUnavailableError } from "../../contract/errors.ts";
import type { Plan } from "../../contract/plan.ts";
import { type RunContext, RunOptionsSchema } from "../../contract/run-context.ts";
import { MAX_COPY_OBJECT_BYTES } from "../../contract/storage-classes.ts";
import { planInProcess, planSlice, sliceItems } from "../../local/plan-in-process.ts";
import { type RekeyClients, rekeyClients } from "../../local/sandbox-clients.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { getBytes, getText } from "../../steps/aws/s3-io.ts";
import { needsKeyCheck } from "../../steps/domain/classify.ts";
import { type InventoryRow, inventoryRowBatches } from "../../steps/domain/inventory.ts";
import { parseInventoryManifest } from "../../steps/domain/inventory-manifest.ts";
import { planColumns } from "../../steps/domain/inventory-queries.ts";
import { combinePlan } from "../../steps/handlers/combine-the-plan.ts";
import { sliceInventory } from "../../steps/handlers/slice-the-inventory.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import type { AthenaConfig, StepDeps } from "../../steps/runtime/step.ts";
import { PLANNING_SLICE_BYTES } from "../../workflow/definition.ts";
import { athenaWorkGroupWithDatabase } from "../support/athena.ts";

/**
 * The three filter engines (contract/engines.ts) plan the same inventory of the mixed bucket (every version, delete
 * markers, locked, archived and encrypted objects, keys with `+ % , "` spaces and non-ASCII) into the same routes,
 * manifests, skipped list, large-object list and counts. Each engine plans into a work bucket of its own, so no plan
 * is reused from another.
 */

let sandbox: Sandbox;
let clients: RekeyClients;
let admin: SandboxAdmin;
let scenario: MixedBucket;
let manifestKey: string;
let parquetManifestKey: string;
let deliveredFiles: number;
const athena: AthenaConfig = { workGroup: "rekey-engines", database: "rekey_engines" };

beforeAll(async () => {
  sandbox = await startSandbox();
  clients = rekeyClients(sandbox);
  admin = new SandboxAdmin(sandbox.endpoint);
  // Athena's UNLOAD written as several files, as AWS's workers write it (each then a slice of its own below).
  await admin.request("POST", "/_sandbox/behaviours", { athenaUnloadRowsPerFile: 25 });
  scenario = await seedMixedBucket(clients, admin, {
    bucket: "engines-data",
    workBucket: "engines-work",
    objects: 160,
  });
  // Several data files, more than the select engine asks at once.
  const delivery = await admin.deliverInventory({
    bucket: scenario.bucket,
    configurationId: scenario.inventoryConfigurationId,
    maxRowsPerFile: 12,
  });
  manifestKey = delivery.manifestKey;
  deliveredFiles = delivery.dataFiles.length;
  expect(deliveredFiles).toBeGreaterThan(8);
  // The same bucket's inventory as Parquet: a second configuration, same fields.
  const csv = await clients.s3.send(
    new GetBucketInventoryConfigurationCommand({ Bucket: scenario.bucket, Id: scenario.inventoryConfigurationId }),
  );
  const config = csv.InventoryConfiguration;
  if (!config?.Destination?.S3BucketDestination) throw new Error("the scenario has no inventory configuration");
  await clients.s3.send(
    new PutBucketInventoryConfigurationCommand({
      Bucket: scenario.bucket,
      Id: "parquet",
      InventoryConfiguration: {
        ...config,
        Id: "parquet",
        Destination: { S3BucketDestination: { ...config.Destination.S3BucketDestination, Format: "Parquet" } },
      },
    }),
  );
  const parquet = await admin.deliverInventory({
    bucket: scenario.bucket,
    configurationId: "parquet",
    maxRowsPerFile: 50,
  });
  parquetManifestKey = parquet.manifestKey;
  await athenaWorkGroupWithDatabase(clients.athena, athena, `s3://${scenario.workBucket}/athena-results/`);
}, 120_000);

afterAll(async () => {
  await sandbox?.close();
});

/** Plans as the state machine would (test/support/plan-in-process.ts), into `workBucket`. */
async function plan(
  engine: FilterEngineChoice,
  workBucket: string,
  config: { athena?: AthenaConfig } = { athena },
  delivery = manifestKey,
  options: Record<string, unknown> = {},
  planning: Parameters<typeof planInProcess>[2] = {},
) {
  return (await planInProcess(await planInput(engine, workBucket, delivery, options), deps(config), planning)).plan;
}

/** The planning steps' input for a run of `engine` planning into `workBucket`. */
async function planInput(
  engine: FilterEngineChoice,
  workBucket: string,
  delivery = manifestKey,
  options: Record<string, unknown> = {},
) {
  await clients.s3.send(new CreateBucketCommand({ Bucket: workBucket })).catch(() => {});
  const runId = `engines-${engine}-${workBucket}`;
  const run: RunContext = {
    runId,
    executionId: `arn:aws:states:${sandbox.identity.region}:${sandbox.identity.accountId}:execution:rekey:${runId}`,
    bucket: scenario.bucket,
    kmsKeyArn: scenario.targetKeyArn,
    region: sandbox.identity.region,
    accountId: sandbox.identity.accountId,
    workBucket,
    source: "inventory",
    engine,
    runPrefix: `runs/${scenario.bucket}/${runId}/`,
    startedAt: new Date().toISOString(),
    options: RunOptionsSchema.parse(options),
  };
  return {
    run,
    inventory: { found: true as const, bucket: scenario.workBucket, manifestKey: delivery, creationTimestamp: "0" },
  };
}

function deps(config: { athena?: AthenaConfig } = { athena }): StepDeps {
  return {
    clients,
    config: { batchRoleArn: "arn:aws:iam::111122223333:role/rekey-batch", ...config },
    log: silentLogger,
    now: () => new Date(),
  };
}

/** Every file the plan wrote, as sorted lines (engines may read rows in another order), and plan.json's tally. */
async function planFiles(workBucket: string, planned: Plan) {
  const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: workBucket, Prefix: planned.planPrefix }));
  const files: Record<string, string[]> = {};
  for (const { Key } of listed.Contents ?? []) {
    if (!Key) continue;
    const body = await (
      await clients.s3.send(new GetObjectCommand({ Bucket: workBucket, Key }))
    ).Body?.transformToString();
    const name = Key.slice(planned.planPrefix.length);
    // How the delivery was read differs by engine (its name, Athena's files); the plan says the engine too.
    if (name === "delivery.json") continue;
    if (name === "plan.json") {
      const json = JSON.parse(body ?? "{}");
      files["plan.json tally"] = [JSON.stringify(json.tally)];
      // Athena bills what planning's queries scanned: the one line, and the total, only the athena engine has.
      files["plan.json estimate"] = (json.estimate.text as string)
        .split("\n")
        .filter((l) => !l.startsWith("  Athena data scanned") && !l.startsWith("One-time cost"));
      files["plan.json athena line"] = (json.estimate.text as string)
        .split("\n")
        .filter((l) => l.startsWith("  Athena data scanned"))
        .map((l) => l.replace(/: .* = /, ": … = "));
    } else files[name] = (body ?? "").split("\n").sort();
  }
  return files;
}

describe("filter engines", () => {
  const plans: Partial<Record<FilterEngineChoice, { plan: Plan; files: Record<string, string[]> }>> = {};

  it.each(["stream", "select", "athena"] as const)(
    "the %s engine plans the mixed bucket and says so",
    async (engine) => {
      const bucket = `engines-plan-${engine}`;
      const planned = await plan(engine, bucket);
      expect(planned.engine).toEqual({ name: engine, why: expect.stringContaining("asked for in the run request") });
      plans[engine] = { plan: planned, files: await planFiles(bucket, planned) };
      expect(Object.keys(plans[engine]?.files ?? {})).toEqual(
        expect.arrayContaining(["skipped.csv", "plan.json tally", "manifests/update-encryption.csv"]),
      );
    },
    120_000,
  );

  it("every engine gives the same routes, manifests, skipped list and counts", () => {
    const stream = plans.stream;
    expect(stream).toBeDefined();
    // The mixed bucket has versions and delete markers: the counted-in-place path is exercised.
    const tally = JSON.parse(stream?.files["plan.json tally"]?.[0] ?? "{}");
    expect(tally.notCurrent["noncurrent-version"].count).toBeGreaterThan(0);
    expect(tally.notCurrent["delete-marker"].count).toBeGreaterThan(0);
    expect(plans.athena?.files["plan.json athena line"]).toEqual([
      "  Athena data scanned by planning: … = <$0.01 [3p]",
    ]);
    expect(stream?.files["plan.json athena line"]).toEqual([]);
    expect(stream?.files["plan.json estimate"]?.join("\n")).toMatch(
      /Planning HeadObject requests \(keys of SSE-KMS objects\): \d+/,
    );
    for (const engine of ["select", "athena"] as const) {
      const other = plans[engine];
      const { "plan.json athena line": _, ...otherFiles } = other?.files ?? {};
      const { "plan.json athena line": __, ...streamFiles } = stream?.files ?? {};
      expect(otherFiles, engine).toEqual(streamFiles);
      expect(
        other?.plan.manifests.map(({ etag: _, ...m }) => m),
        engine,
      ).toEqual(stream?.plan.manifests.map(({ etag: _, ...m }) => m));
      expect(other?.plan.largeObjects?.objects, engine).toBe(stream?.plan.largeObjects?.objects);
    }
  });

  it("Athena wrote the manifests' and skipped.csv's lines itself; the step classified only the rows it must", async () => {
    const planned = plans.athena?.plan;
    const source = JSON.parse(await getText(clients.s3, "engines-plan-athena", `${planned?.planPrefix}delivery.json`));
    const routed = source.athena.routed;
    const parts = new Set(source.athena.files.map((f: { part?: string }) => f.part ?? "step"));
    const copied = Object.keys(JSON.parse(plans.stream?.files["plan.json tally"]?.[0] ?? "{}").copyPlanned);
    expect(parts).toEqual(new Set([...copied.map((c) => `copy.${c}`), "update-encryption", "skipped", "step"]));
    // Left to the step: SSE-KMS objects with a Bucket Key (their key needs a HeadObject) and the multipart copies.
    const manifest = parseInventoryManifest(await getText(clients.s3, scenario.workBucket, manifestKey), manifestKey);
    const stepRows: InventoryRow[] = [];
    for (const file of source.athena.files.filter((f: { part?: string }) => f.part === undefined)) {
      const body = Readable.from([await getBytes(clients.s3, file.bucket, file.key)]);
      for await (const rows of inventoryRowBatches(body, planColumns(manifest.columns), file.key))
        stepRows.push(...rows);
    }
    expect(stepRows.length).toBe(routed.stepRows);
    const why = (row: InventoryRow) =>
      needsKeyCheck(row) ? "key check" : (row.size ?? 0) > MAX_COPY_OBJECT_BYTES ? "over 5 GiB" : "neither";
    expect(new Set(stepRows.map(why))).toEqual(new Set(["key check", "over 5 GiB"]));
    const stream = JSON.parse(plans.stream?.files["plan.json tally"]?.[0] ?? "{}");
    const notCurrent = Object.values(stream.notCurrent as Record<string, { count: number }>);
    expect(routed.tally.seen.count + routed.stepRows).toBe(
      stream.seen.count - notCurrent.reduce((n, c) => n + c.count, 0),
    );
  });

  it.each(["stream", "athena"] as const)(
    "the %s engine plans a Parquet delivery of the same bucket as the stream engine plans the CSV one",
    async (engine) => {
      const bucket = `engines-plan-parquet-${engine}`;
      const planned = await plan(engine, bucket, { athena }, parquetManifestKey);
      expect(planned.engine?.name).toBe(engine);
      const { "plan.json athena line": _, ...parquetFiles } = await planFiles(bucket, planned);
      const { "plan.json athena line": __, ...streamFiles } = plans.stream?.files ?? {};
      expect(parquetFiles).toEqual(streamFiles);
    },
    120_000,
  );

  it("auto reads a small Parquet delivery in the step; select reads CSV only and names the engines that read Parquet", async () => {
    const planned = await plan("auto", "engines-plan-parquet-auto", {}, parquetManifestKey);
    expect(planned.engine).toEqual({
      name: "stream",
      why: expect.stringMatching(
        /^auto: \d+ data file\(s\), .* compressed, up to the 2\.0 GiB auto reads in the step$/,
      ),
    });
    await expect(plan("select", "engines-plan-parquet-select", { athena }, parquetManifestKey)).rejects.toThrow(
      /the select engine reads CSV inventories \(the stream and athena engines read Parquet\)/,
    );
  }, 120_000);

  it("refuses a Parquet data file whose bytes are not the ones manifest.json lists", async () => {
    const manifest = JSON.parse(await getText(clients.s3, scenario.workBucket, parquetManifestKey)) as {
      files: { key: string; MD5checksum: string }[];
    };
    const damaged = {
      ...manifest,
      files: manifest.files.map((f, i) => (i === 0 ? { ...f, MD5checksum: "0".repeat(32) } : f)),
    };
    const key = parquetManifestKey.replace(/manifest\.json$/, "damaged/manifest.json");
    await clients.s3.send(
      new PutObjectCommand({ Bucket: scenario.workBucket, Key: key, Body: JSON.stringify(damaged) }),
    );
    await expect(plan("stream", "engines-plan-parquet-md5", {}, key)).rejects.toThrow(
      /the file's MD5 is [0-9a-f]{32}, but manifest\.json says 0{32}/,
    );
  }, 120_000);

  it("auto streams a small inventory in the step, and says why", async () => {
    const planned = await plan("auto", "engines-plan-auto");
    expect(planned.engine?.name).toBe("stream");
    expect(planned.engine?.why).toMatch(
      /^auto: \d+ data file\(s\), .* compressed, up to the 2\.0 GiB auto reads in the step$/,
    );
  }, 120_000);

  it("refuses the athena engine where the deployment has no workgroup, naming the other engines", async () => {
    const refused = plan("athena", "engines-plan-no-athena", {});
    await expect(refused).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(refused).rejects.toThrow(/no Athena workgroup.*engine "stream" or "select"/s);
  }, 60_000);

  it("names the other engines when S3 refuses S3 Select to the account", async () => {
    await admin.request("POST", "/_sandbox/behaviours", { s3Select: "NotAvailable" });
    try {
      const refused = plan("select", "engines-plan-no-select");
      await expect(refused).rejects.toBeInstanceOf(EngineUnavailableError);
      await expect(refused).rejects.toThrow(/405 MethodNotAllowed.*engine "stream" or "athena"/s);
    } finally {
      await admin.request("POST", "/_sandbox/behaviours", { s3Select: "Available" });
    }
  }, 60_000);

  describe("a plan over several invocations and slices", () => {
    it.each(["stream", "select"] as const)(
      "the %s engine stops at its time budget between data files and continues to the same plan, byte for byte",
      async (engine) => {
        const bucket = `engines-resume-${engine}`;
        const progress: number[] = [];
        const { plan: planned, slicing } = await planInProcess(await planInput(engine, bucket), deps(), {
          timeBudgetMs: 0,
          onInvocation: (_, result) => {
            // Between invocations the slice's progress is in the work bucket, not in the state.
            expect(JSON.stringify(result).length).toBeLessThan(200);
            if ("planning" in result) progress.push(result.planning.filesRead);
          },
        });
        expect(slicing.stored ? 0 : slicing.slices).toBe(1);
        // Budget 0: one data file per invocation, the last one finishing the slice.
        expect(progress).toEqual(Array.from({ length: progress.length }, (_, i) => i + 1));
        expect(progress.length).toBe(deliveredFiles - 1);
        const files = await planFiles(bucket, planned);
        expect(Object.keys(files).some((f) => f.startsWith("slices"))).toBe(false);
        // The same files, lines in the same order (the ETags match), as the engine's plan in one invocation.
        const once = plans[engine];
        expect(files).toEqual(once?.files);
        expect(planned.manifests).toEqual(once?.plan.manifests);
      },
      120_000,
    );

    it.each(["stream", "select", "athena"] as const)(
      "the %s engine plans one slice per data file, and the joined plan is the same, byte for byte",
      async (engine) => {
        const bucket = `engines-slices-${engine}`;
        const sliced: number[] = [];
        const { plan: planned, slicing } = await planInProcess(await planInput(engine, bucket), deps(), {
          sliceTargetBytes: 1,
          onInvocation: (slice) => sliced.push(slice.to - slice.from),
        });
        const files = slicing.stored ? 0 : slicing.files;
        expect(files).toBeGreaterThan(2);
        expect(slicing.stored ? 0 : slicing.slices).toBe(files);
        expect(sliced).toEqual(Array.from({ length: files }, () => 1));
        const joined = await planFiles(bucket, planned);
        expect(Object.keys(joined).some((f) => f.startsWith("slices"))).toBe(false);
        expect(joined).toEqual(plans[engine]?.files);
        expect(planned.manifests).toEqual(plans[engine]?.plan.manifests);
      },
      120_000,
    );

    it("a failed invocation is retried from the last saved progress, counting nothing twice", async () => {
      const bucket = "engines-resume-retry";
      const input = await planInput("stream", bucket);
      const slicing = await sliceInventory.run({ ...input, sliceTargetBytes: PLANNING_SLICE_BYTES }, deps());
      if (slicing.stored || "querying" in slicing) throw new Error("a new work bucket has no stored plan");
      const [slice] = await sliceItems(slicing, input.run, deps());
      if (!slice) throw new Error("no slice");
      const first = await planSlice(input, slicing, slice, deps(), 0);
      expect(first).toEqual({ planning: { filesRead: 1, files: deliveredFiles } });
      const manifest = JSON.parse(await getText(clients.s3, scenario.workBucket, manifestKey)) as {
        files: { key: string }[];
      };
      // The next invocation reads data files 2 and 3, then S3 refuses file 4: the step fails with their rows unsaved.
      const [rule] = await admin.addFaults({
        service: "s3",
        operation: "GetObject",
        bucket: scenario.workBucket,
        key: manifest.files[3]?.key ?? "",
        count: 1,
        error: { code: "AccessDenied", status: 403, message: "Access Denied" },
      });
      await expect(planSlice(input, slicing, slice, deps(), 60_000)).rejects.toThrow();
      expect((await admin.faults()).find((f) => f.id === rule?.id)?.injected).toBe(1);
      expect(await planSlice(input, slicing, slice, deps(), 60_000)).toEqual({
        slice: 0,
        seen: expect.any(Number),
      });
      // The slice is planned: a Map Run retried runs it again, and it is not planned twice.
      expect(await planSlice(input, slicing, slice, deps(), 60_000)).toEqual({ slice: 0, seen: expect.any(Number) });
      const retried = await combinePlan.run({ ...input, slicing }, deps());
      expect(await planFiles(bucket, retried)).toEqual(plans.stream?.files);
      expect(retried.manifests).toEqual(plans.stream?.plan.manifests);
      // Combine the plan retried after plan.json was written hands on the same plan.
      expect(await combinePlan.run({ ...input, slicing }, deps())).toEqual(retried);
    }, 120_000);
  });

  it("the athena engine's slice stops between Athena's files and, failing mid-way, resumes appending nothing twice", async () => {
    const bucket = "engines-resume-athena";
    const input = await planInput("athena", bucket);
    const slicing = await sliceInventory.run({ ...input, sliceTargetBytes: PLANNING_SLICE_BYTES }, deps());
    if (slicing.stored || "querying" in slicing) throw new Error("a new work bucket has no stored plan");
    const [slice] = await sliceItems(slicing, input.run, deps());
    if (!slice) throw new Error("no slice");
    const source = JSON.parse(await getText(clients.s3, bucket, `${slicing.planPrefix}delivery.json`)) as {
      athena: { files: { bucket: string; key: string; part?: string }[] };
    };
    const files = source.athena.files;
    expect(files.filter((f) => f.part !== undefined).length).toBeGreaterThan(3);
    expect(await planSlice(input, slicing, slice, deps(), 0)).toEqual({
      planning: { filesRead: 1, files: files.length },
    });
    // The next invocation appends Athena's second file, then S3 refuses the third: the step fails, nothing saved.
    const refused = files[2];
    expect(refused?.part).toBeDefined();
    const [rule] = await admin.addFaults({
      service: "s3",
      operation: "GetObject",
      bucket: refused?.bucket ?? "",
      key: refused?.key ?? "",
      count: 1,
      error: { code: "AccessDenied", status: 403, message: "Access Denied" },
    });
    await expect(planSlice(input, slicing, slice, deps(), 60_000)).rejects.toThrow();
    expect((await admin.faults()).find((f) => f.id === rule?.id)?.injected).toBe(1);
    expect(await planSlice(input, slicing, slice, deps(), 60_000)).toEqual({ slice: 0, seen: expect.any(Number) });
    // Combine the plan checks the lines appended against Athena's count; the plan is the one made in one go.
    const combined = await combinePlan.run({ ...input, slicing }, deps());
    expect(await planFiles(bucket, combined)).toEqual(plans.athena?.files);
    expect(combined.manifests).toEqual(plans.athena?.plan.manifests);
  }, 120_000);

  it("Slice the inventory returns while Athena's queries run and, asked again, finds them and plans as if it had waited", async () => {
    // Options of their own, so the queries are new ones (not found by the tokens of the plans above).
    const options = { sseKmsWithBucketKey: "update" };
    const waits: string[] = [];
    await admin.request("POST", "/_sandbox/athena/queue", { holdRunning: true });
    let planned: Plan;
    try {
      const input = await planInput("athena", "engines-athena-waits", manifestKey, options);
      ({ plan: planned } = await planInProcess(input, deps(), {
        slicingBudgetMs: 0,
        onQuerying: async ({ queryId, state }) => {
          waits.push(state);
          expect(queryId).toMatch(/^[0-9a-f-]{36}$/);
          // The run's Wait state passes; meanwhile Athena goes on.
          if (waits.length === 2) await admin.request("POST", "/_sandbox/athena/queue", { holdRunning: false });
        },
      }));
    } finally {
      await admin.request("POST", "/_sandbox/athena/queue", { holdRunning: false });
    }
    expect(waits.slice(0, 2)).toEqual(["RUNNING", "RUNNING"]);
    const streamed = await plan("stream", "engines-athena-waits-stream", { athena }, manifestKey, options);
    const { "plan.json athena line": _, ...athenaFiles } = await planFiles("engines-athena-waits", planned);
    const { "plan.json athena line": __, ...streamFiles } = await planFiles("engines-athena-waits-stream", streamed);
    expect(athenaFiles).toEqual(streamFiles);
  }, 120_000);

  it("updates SSE-KMS objects with a Bucket Key without a HeadObject each when the run says so, and says what it skipped", async () => {
    const bucket = "engines-no-key-checks";
    const [rule] = await admin.addFaults({ service: "s3", operation: "HeadObject", bucket: scenario.bucket, share: 0 });
    try {
      const planned = await plan("stream", bucket, { athena }, manifestKey, { sseKmsWithBucketKey: "update" });
      expect((await admin.faults()).find((f) => f.id === rule?.id)?.matched).toBe(0);
      const tally = JSON.parse((await planFiles(bucket, planned))["plan.json tally"]?.[0] ?? "{}");
      const streamTally = JSON.parse(plans.stream?.files["plan.json tally"]?.[0] ?? "{}");
      // The one object already under the target key with a Bucket Key is updated too; nothing else changes.
      expect(streamTally.alreadyCompliant.count).toBe(1);
      expect(tally.alreadyCompliant.count).toBe(0);
      expect(tally.updatePlanned.count).toBe(streamTally.updatePlanned.count + 1);
      expect(tally.seen).toEqual(streamTally.seen);
      expect(planned.estimate?.text).toMatch(
        /\d+ SSE-KMS objects with a Bucket Key are updated without checking their key \(sseKmsWithBucketKey: update\)/,
      );
      expect(planned.estimate?.text).not.toMatch(/Planning HeadObject requests/);
      // The same plan with key checks does send them, so the rule would have seen any.
      await plan("stream", "engines-key-checks", { athena }, manifestKey);
      expect((await admin.faults()).find((f) => f.id === rule?.id)?.matched).toBeGreaterThan(0);
    } finally {
      await admin.clearFaults();
    }
    // By default each one's key is checked, and the estimate says what updating them all instead would cost.
    expect(plans.stream?.plan.estimate?.text).toMatch(/with sseKmsWithBucketKey "update" it would check none/);
  }, 120_000);
});
