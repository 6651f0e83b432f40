import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { ListJobsCommand } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StateNames } from "../../contract/states.ts";
import { rekeyClients } from "../../local/sandbox-clients.ts";
import {
  becomesCompliant,
  type Expectation,
  type MixedBucket,
  seedMixedBucket,
} from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { type Behaviours, DEFAULT_BEHAVIOURS } from "../../sandbox/behaviours.ts";
import type { AdminObjectVersion } from "../../sandbox/s3/admin.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { CANDIDATE_LISTS } from "../../steps/domain/candidates.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { finalReport, runOnScenario } from "../support/run-scenario.ts";

/**
 * Either AWS behaviour, same result: for each value of each switch of sandbox/behaviours.ts that is not the
 * default (the other e2e tests run the defaults), one rekey run on a small seeded bucket, `source: generate` (the
 * path every switch touches: list jobs, copy jobs, encryption updates, generated lists), checked object by object
 * against what the bucket held before. One sandbox serves every run; each run has its own buckets.
 */

interface Variant {
  name: string;
  behaviours: Partial<Behaviours>;
  /** Called before every "Find inventory" invocation: what the variant needs the world to do mid-run. */
  beforeFindInventory?: (ctx: { clients: AwsClients; scenario: MixedBucket }) => Promise<void>;
  /** Fails when the run did not go where the variant needs it to (so that a pass means something). */
  exercised?: () => void;
}

/** How often "Find inventory" ran with its record forgotten (forgetListJobRecord). */
let forgotten = 0;

/** Forgets the run's record of its list jobs, as a crash between CreateJob and the record would. */
async function forgetListJobRecord({ clients, scenario }: { clients: AwsClients; scenario: MixedBucket }) {
  forgotten += 1;
  const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: scenario.workBucket, Prefix: "runs/" }));
  for (const o of listed.Contents ?? []) {
    if (o.Key?.endsWith("candidates/jobs.json")) {
      await clients.s3.send(new DeleteObjectCommand({ Bucket: scenario.workBucket, Key: o.Key }));
    }
  }
}

const VARIANTS: Variant[] = [
  { name: "an empty list job fails", behaviours: { emptyGeneratorJob: "Failed" } },
  {
    name: "an empty list job completes without a manifest",
    behaviours: { emptyGeneratorJob: "CompleteWithoutManifest" },
  },
  {
    name: "new jobs answer NotFoundException for a while",
    behaviours: { jobRegistrationLagMs: 1500, jobRegistrationError: "NotFoundException" },
  },
  {
    name: "new jobs answer NoSuchJobException for a while",
    behaviours: { jobRegistrationLagMs: 1500, jobRegistrationError: "NoSuchJobException" },
  },
  {
    // Tokens expire at once, and the record of the list jobs is lost before every poll: only finding the jobs
    // (ListJobs) keeps a second job from being made. A registration lag shorter than a poll makes sure the first
    // poll finds the lists not ready, so there is a second one.
    name: "request tokens expire at once",
    behaviours: { clientRequestTokenLifetimeSeconds: 0, jobRegistrationLagMs: 800 },
    beforeFindInventory: forgetListJobRecord,
    exercised: () => expect(forgotten, "Find inventory polled again after losing its record").toBeGreaterThan(1),
  },
  { name: "NewObjectMetadata replaces the metadata", behaviours: { newObjectMetadata: "Replaces" } },
  { name: "generated lists hold keys unencoded", behaviours: { generatedManifestKeys: "Raw" } },
  { name: "UpdateObjectEncryption writes a new version", behaviours: { updateObjectEncryptionCreatesVersion: true } },
];

let sandbox: Sandbox;
let clients: AwsClients;
let admin: SandboxAdmin;

beforeAll(async () => {
  sandbox = await startSandbox();
  clients = rekeyClients(sandbox);
  admin = new SandboxAdmin(sandbox.endpoint);
});

afterAll(async () => {
  await sandbox?.close();
});

/** What S3 answers for an object written without a content type (the admin seed leaves it unset). */
const S3_DEFAULT_CONTENT_TYPE = "binary/octet-stream";

/**
 * The attributes a run must keep, by key, of the current versions. Not the ETag: an SSE-KMS object's is not the
 * MD5 of its bytes, so a copy changes it; the bytes themselves are compared where they can be read (bodiesOf).
 */
function attributes(versions: AdminObjectVersion[]) {
  return new Map(
    versions
      .filter((v) => v.isLatest && !v.isDeleteMarker)
      .map((v) => [
        v.key,
        {
          size: v.size,
          class: v.storageClass,
          meta: v.metadata,
          tags: v.tags,
          type: v.contentType ?? S3_DEFAULT_CONTENT_TYPE,
        },
      ]),
  );
}

/** The current bytes of the keys a run re-encrypts (objects with data; the large ones are declared sizes only). */
async function bodiesOf(scenario: MixedBucket): Promise<Map<string, string>> {
  const bodies = new Map<string, string>();
  for (const k of scenario.keys) {
    if (!becomesCompliant(k.expectation) || k.expectation === "large-copy") continue;
    const out = await clients.s3.send(new GetObjectCommand({ Bucket: scenario.bucket, Key: k.key }));
    bodies.set(k.key, (await out.Body?.transformToString()) ?? "");
  }
  return bodies;
}

describe.each(VARIANTS)("rekey under the variant: $name", (variant) => {
  let scenario: MixedBucket;
  let before: ReturnType<typeof attributes>;
  let bodiesBefore: Map<string, string>;
  let result: Awaited<ReturnType<typeof runOnScenario>>;

  beforeAll(async () => {
    sandbox.setBehaviours({ ...DEFAULT_BEHAVIOURS, ...variant.behaviours });
    const n = VARIANTS.indexOf(variant);
    // 16 objects give every route but one copy class (an empty list) and every awkward name style.
    scenario = await seedMixedBucket(clients, admin, {
      bucket: `variant-data-${n}`,
      workBucket: `variant-work-${n}`,
      objects: 16,
      objectLock: false,
    });
    before = attributes(await admin.versions(scenario.bucket));
    bodiesBefore = await bodiesOf(scenario);
    const hook = variant.beforeFindInventory;
    result = await runOnScenario({
      sandbox,
      scenario,
      name: `variant-${n}`,
      source: "generate",
      ...(hook ? { beforeStep: { [StateNames.findInventory]: () => hook({ clients, scenario }) } } : {}),
    });
  }, 180_000);

  afterAll(() => {
    sandbox.setBehaviours({ ...DEFAULT_BEHAVIOURS });
  });

  it("succeeds with the same counts", () => {
    expect(result.status === "FAILED" ? result.cause : result.status).toBe("SUCCEEDED");
    const keysWith = (p: (e: Expectation) => boolean) => scenario.keys.filter((k) => p(k.expectation)).length;
    expect(finalReport(result).totals).toEqual({
      seen: keysWith((e) => e !== "deleted"),
      reencrypted: keysWith(becomesCompliant),
      alreadyCompliant: keysWith((e) => e === "already-compliant"),
      skipped: keysWith((e) => e.startsWith("skip-")),
      failed: 0,
      gone: 0,
      changed: 0,
      notCurrent: 0,
      doneEarlier: 0,
      pending: 0,
    });
  });

  it("leaves every object compliant or skipped, with bytes, metadata, content type, tags and class unchanged", async () => {
    const versions = await admin.versions(scenario.bucket);
    const now = attributes(versions);
    const current = new Map(versions.filter((v) => v.isLatest).map((v) => [v.key, v]));
    for (const k of scenario.keys) {
      if (k.expectation === "deleted") continue;
      expect(now.get(k.key), k.key).toEqual(before.get(k.key));
      const encryption = current.get(k.key)?.encryption;
      if (becomesCompliant(k.expectation) || k.expectation === "already-compliant") {
        expect(encryption, k.key).toEqual({ type: "SSE-KMS", keyArn: scenario.targetKeyArn, bucketKeyEnabled: true });
      } else {
        expect(current.get(k.key)?.versionId, k.key).toBe(k.versionIds.at(-1));
      }
    }
    expect(await bodiesOf(scenario)).toEqual(bodiesBefore);
  });

  it("went where the variant matters", () => {
    variant.exercised?.();
  });

  it("made one list job per list and one job per unit of work", async () => {
    const jobs = (await clients.s3control.send(new ListJobsCommand({ AccountId: sandbox.identity.accountId }))).Jobs;
    const mine = (jobs ?? []).filter((j) => j.Description?.startsWith(`rekey ${scenario.bucket} `));
    const units = mine.map((j) => j.Description?.split(" (")[0]);
    expect(new Set(units).size).toBe(units.length);
    expect(mine.filter((j) => j.Description?.includes(" list "))).toHaveLength(CANDIDATE_LISTS.length);
  });
});
