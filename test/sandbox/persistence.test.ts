import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateWorkGroupCommand, GetWorkGroupCommand } from "@aws-sdk/client-athena";
import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateJobCommand, DescribeJobCommand } from "@aws-sdk/client-s3-control";
import { afterEach, describe, expect, it } from "vitest";
import { sandboxClients } from "../../sandbox/sdk-clients.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { allRows, runQuery, values } from "../support/athena.ts";
import { until } from "../support/until.ts";
import { clientsAt, createState, expectState } from "./fixtures/persisted-state.ts";

const ACCOUNT = "123456789012";
const dirs: string[] = [];
const sandboxes: Sandbox[] = [];
const children: ChildProcess[] = [];

function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "sandbox-data-"));
  dirs.push(dir);
  return dir;
}

async function started(dir: string, options: { batchTasksPerSecond?: number } = {}): Promise<Sandbox> {
  const sandbox = await startSandbox({ port: 0, dataDir: dir, ...options });
  sandboxes.push(sandbox);
  return sandbox;
}

/** A sandbox in a child process on `dir`, and its endpoint once it listens. */
async function childSandbox(dir: string): Promise<{ child: ChildProcess; endpoint: string }> {
  const script = new URL("./fixtures/sandbox-process.ts", import.meta.url).pathname;
  const child = spawn(process.execPath, ["--import", "tsx", script, dir], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve(line.trim());
    });
    child.once("exit", (code) => reject(new Error(`the sandbox process exited (${code}) before it listened`)));
  });
  return { child, endpoint };
}

afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const sandbox of sandboxes.splice(0)) await sandbox.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("a sandbox with a data directory", () => {
  it("starts again, after a clean close, with every bucket, object, key, job, function and execution", async () => {
    const dir = dataDir();
    const first = await started(dir);
    const created = await createState(clientsAt(first.endpoint));
    await first.close();
    sandboxes.splice(sandboxes.indexOf(first), 1);

    const second = await started(dir);
    await expectState(clientsAt(second.endpoint), created);
  });

  it("loses nothing it answered when its process is killed (SIGKILL)", async () => {
    const dir = dataDir();
    const { child, endpoint } = await childSandbox(dir);
    const created = await createState(clientsAt(endpoint));
    // The last write before the kill: answered, so it must be there afterwards.
    const c = clientsAt(endpoint);
    await c.s3.send(new CreateBucketCommand({ Bucket: "written-last" }));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;

    const second = await started(dir);
    const after = clientsAt(second.endpoint);
    await expectState(after, created);
    const buckets = await after.s3.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name)).toContain("written-last");
  });

  it("keeps Athena's Glue catalog and workgroups, and the tables read again", async () => {
    const dir = dataDir();
    const first = await started(dir);
    const before = sandboxClients({ endpoint: first.endpoint, region: first.identity.region });
    await before.s3.send(new CreateBucketCommand({ Bucket: "athena-kept" }));
    await before.s3.send(new PutObjectCommand({ Bucket: "athena-kept", Key: "t/a.csv", Body: '"x"\n"y"\n' }));
    await before.athena.send(
      new CreateWorkGroupCommand({
        Name: "kept",
        Configuration: { ResultConfiguration: { OutputLocation: "s3://athena-kept/results/" } },
      }),
    );
    const ddl = { QueryExecutionContext: { Database: "kept_db" }, WorkGroup: "kept" };
    expect(
      (await runQuery(before.athena, { QueryString: "CREATE DATABASE kept_db", WorkGroup: "kept" })).Status?.State,
    ).toBe("SUCCEEDED");
    const table = await runQuery(before.athena, {
      ...ddl,
      QueryString:
        "CREATE EXTERNAL TABLE letters (letter string) ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' LOCATION 's3://athena-kept/t/'",
    });
    expect(table.Status?.State).toBe("SUCCEEDED");
    await first.close();
    sandboxes.splice(sandboxes.indexOf(first), 1);

    const second = await started(dir);
    const after = sandboxClients({ endpoint: second.endpoint, region: second.identity.region });
    const group = await after.athena.send(new GetWorkGroupCommand({ WorkGroup: "kept" }));
    expect(group.WorkGroup?.Configuration?.ResultConfiguration?.OutputLocation).toBe("s3://athena-kept/results/");
    const read = await runQuery(after.athena, { ...ddl, QueryString: "SELECT letter FROM letters ORDER BY letter" });
    expect(values(await allRows(after.athena, read.QueryExecutionId))).toEqual([["letter"], ["x"], ["y"]]);
  });

  it("resumes a Batch Operations job that was Active, running only the tasks without a result", async () => {
    const dir = dataDir();
    const first = await started(dir, { batchTasksPerSecond: 2 });
    const c = clientsAt(first.endpoint);
    await c.s3.send(new CreateBucketCommand({ Bucket: "resume-src" }));
    const keys = ["k1", "k2", "k3", "k4", "k5", "k6"];
    for (const Key of keys) await c.s3.send(new PutObjectCommand({ Bucket: "resume-src", Key, Body: Key }));
    const manifest = await c.s3.send(
      new PutObjectCommand({ Bucket: "resume-src", Key: "m.csv", Body: keys.map((k) => `resume-src,${k}\n`).join("") }),
    );
    const { JobId } = await c.s3control.send(
      new CreateJobCommand({
        AccountId: ACCOUNT,
        ClientRequestToken: "resume-me",
        Priority: 1,
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/batch`,
        ConfirmationRequired: false,
        Operation: {
          S3PutObjectCopy: {
            TargetResource: "arn:aws:s3:::resume-src",
            MetadataDirective: "COPY",
            StorageClass: "STANDARD_IA",
          },
        },
        Manifest: {
          Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
          Location: { ObjectArn: "arn:aws:s3:::resume-src/m.csv", ETag: manifest.ETag ?? "" },
        },
        Report: { Enabled: false },
      }),
    );
    const describe = () => c.s3control.send(new DescribeJobCommand({ AccountId: ACCOUNT, JobId }));
    const midway = await until("some tasks to run", async () => {
      const j = (await describe()).Job;
      const done = j?.ProgressSummary?.NumberOfTasksSucceeded ?? 0;
      return j?.Status === "Active" && done >= 1 ? j : undefined;
    });
    expect(midway.ProgressSummary?.NumberOfTasksSucceeded).toBeLessThan(keys.length);
    await first.close();
    sandboxes.splice(sandboxes.indexOf(first), 1);

    const second = await started(dir);
    const after = clientsAt(second.endpoint);
    const job = await until("the resumed job to end", async () => {
      const j = (await after.s3control.send(new DescribeJobCommand({ AccountId: ACCOUNT, JobId }))).Job;
      return j?.Status === "Complete" || j?.Status === "Failed" ? j : undefined;
    });
    expect(job).toMatchObject({
      Status: "Complete",
      ProgressSummary: { TotalNumberOfTasks: 6, NumberOfTasksSucceeded: 6, NumberOfTasksFailed: 0 },
    });
  });
});
