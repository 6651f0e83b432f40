import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approveCommand } from "../../cli/commands/approve.ts";
import { type EvidenceOptions, evidenceCommand } from "../../cli/commands/evidence.ts";
import { evidencePrefix } from "../../cli/evidence-bundle.ts";
import type { BundleManifest } from "../../cli/evidence-manifest.ts";
import { sha256Hex } from "../../cli/evidence-manifest.ts";
import type { RunEvidence } from "../../cli/evidence-model.ts";
import type { Io } from "../../cli/io.ts";
import type { RunReport } from "../../contract/final-report.ts";
import { runKeys } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { type MixedBucket, seedMixedBucket } from "../../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { getBytes, getText, listSizes } from "../../steps/aws/s3-io.ts";
import { formatCount } from "../../steps/domain/format.ts";
import type { AwsClients } from "../../steps/runtime/clients.ts";
import { finalReport, runOnScenario, sandboxWithScenario } from "../support/run-scenario.ts";

/**
 * `rekey evidence` on real runs in the sandbox: one that succeeded and one that failed after planning (Batch
 * Operations refuses its copy jobs). The bundle is checked against its manifest and against the run's final report,
 * in the work bucket and locally, and its page is opened in headless Chromium.
 */

/** Debian's chromium (scripts/install-browser.sh); without it the browser tests are left out. */
const CHROMIUM = "/usr/bin/chromium";
/** Set to a path (docs/evidence.png) to take the README's screenshot of the page. */
const SCREENSHOT = process.env.EVIDENCE_SCREENSHOT;

let sandbox: Sandbox;
let clients: AwsClients;
let ok: MixedBucket;
let failed: MixedBucket;
let report: RunReport;
const OK_RUN = "evidence-ok";
const FAILED_RUN = "evidence-failed";

function io(now: Date): Io {
  return {
    out: { write: () => true },
    err: { write: () => true },
    env: {
      AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
    },
    sleep: async () => {},
    now: () => now,
  };
}

async function evidence(out: string, executions: string[], now = new Date("2030-01-02T03:04:05Z")) {
  const options: EvidenceOptions = {
    endpoint: sandbox.endpoint,
    region: sandbox.identity.region,
    executions,
    out,
    output: { format: "json", query: undefined },
  };
  let printed = "";
  const code = await evidenceCommand(options, { ...io(now), out: { write: (t: string) => (printed += t) } });
  return { code, printed: JSON.parse(printed) as { runs: { folder: string; page: string }[]; fleetPage?: string } };
}

/** A folder for this file's bundles, removed with the sandbox. */
const scratches: string[] = [];
function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratches.push(dir);
  return dir;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

/** Every file under `dir`, relative, with "/" between folders. */
function filesUnder(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

beforeAll(async () => {
  ({
    sandbox,
    clients,
    scenario: ok,
  } = await sandboxWithScenario({
    bucket: "evidence-data",
    workBucket: "evidence-work",
    objects: 12,
  }));
  // The run waits for approval, and is approved as an operator would with rekey approve.
  let approving: Promise<number> | undefined;
  const approve = async (): Promise<number> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await approveCommand(
          {
            endpoint: sandbox.endpoint,
            region: sandbox.identity.region,
            execution: OK_RUN,
            output: { format: "json", query: undefined },
          },
          io(new Date()),
        );
      } catch (err) {
        // The jobs are still being prepared (Batch Operations reads their manifests first).
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  finalReport(
    await runOnScenario({
      sandbox,
      scenario: ok,
      name: OK_RUN,
      options: { requireApproval: true },
      onEvent: (event) => {
        if (event.type === "StateEntered" && event.state.name === StateNames.waitingForApproval)
          approving ??= approve();
      },
    }),
  );
  expect(await approving).toBe(0);
  report = JSON.parse(await getText(clients.s3, ok.workBucket, `runs/${ok.bucket}/${OK_RUN}/report.json`)) as RunReport;
  const admin = new SandboxAdmin(sandbox.endpoint);
  failed = await seedMixedBucket(clients, admin, {
    bucket: "evidence-broken",
    workBucket: "evidence-work",
    objects: 4,
  });
  // The plan is made, then Batch Operations refuses the copy jobs: the run fails with a "before" and no "after".
  await admin.addFaults({ service: "s3control", operation: "CreateJob", share: 1, error: "accessDenied" });
  const broken = await runOnScenario({ sandbox, scenario: failed, name: FAILED_RUN });
  await admin.clearFaults();
  expect(broken.status).toBe("FAILED");
}, 240_000);
afterAll(async () => {
  await sandbox?.close();
  for (const dir of scratches) rmSync(dir, { recursive: true, force: true });
});

describe("rekey evidence: the bundle of a run that succeeded", () => {
  let out: string;
  let folder: string;
  let ev: RunEvidence;

  beforeAll(async () => {
    out = scratch("evidence-");
    const { code, printed } = await evidence(out, [OK_RUN]);
    expect(code).toBe(0);
    folder = printed.runs[0]?.folder ?? "";
    ev = readJson<RunEvidence>(join(folder, "evidence.json"));
  });

  it("lists every file of the bundle in its manifest with the SHA-256 of its bytes, and nothing else", () => {
    const manifest = readJson<BundleManifest>(join(folder, "manifest.json"));
    const onDisk = filesUnder(folder).sort();
    expect(onDisk).toEqual([...manifest.files.map((f) => f.path), "SHA256SUMS", "manifest.json"].sort());
    for (const f of manifest.files) {
      const bytes = readFileSync(join(folder, f.path));
      expect({ path: f.path, sha256: sha256Hex(bytes), bytes: bytes.length }).toEqual(f);
    }
    expect(manifest.files.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        "index.html",
        "evidence.json",
        "report.json",
        "summary.txt",
        "plan.json",
        "skipped.csv",
        "failed.csv",
        "verification.json",
        "bucket-check.json",
      ]),
    );
    const sums = readFileSync(join(folder, "SHA256SUMS"), "utf8");
    expect(sums).toBe(manifest.files.map((f) => `${f.sha256}  ${f.path}\n`).join(""));
    expect(manifest.generatedAt).toBe("2030-01-02T03:04:05.000Z");
    // The run's files are copied byte for byte.
    expect(readFileSync(join(folder, "report.json"), "utf8")).toBe(JSON.stringify(report, null, 2).concat("\n"));
  });

  it("counts before from the plan's inventory and after from the independent check, as the final report has them", () => {
    expect(ev.outcome).toBe("succeeded");
    expect(ev.bucket).toBe(ok.bucket);
    expect(ev.kmsKeyArn).toBe(ok.targetKeyArn);
    const before = ev.before;
    const byStatus = (rows: RunEvidence["skipped"] | NonNullable<RunEvidence["before"]>["rows"], status: string) =>
      (rows as { status?: string; count: number }[])
        .filter((r) => r.status === status)
        .reduce((a, r) => a + r.count, 0);
    expect(before?.source).toBe("inventory");
    expect(byStatus(before?.rows ?? [], "compliant")).toBe(report.totals.alreadyCompliant);
    expect(byStatus(before?.rows ?? [], "not-compliant")).toBe(
      report.routes.reduce((a, r) => a + r.planned, 0) + report.totals.doneEarlier,
    );
    expect(byStatus(before?.rows ?? [], "left-as-is")).toBe(report.totals.skipped);
    expect(before?.currentObjects).toBe(report.totals.seen - report.totals.notCurrent);
    expect(before?.notCurrent.reduce((a, c) => a + c.count, 0)).toBe(report.totals.notCurrent);
    // What the scenario seeded: each class of object the inventory saw, as rekey counted it.
    const seeded = (e: string) => ok.keys.filter((k) => k.expectation === e).length;
    expect(byStatus(before?.rows ?? [], "compliant")).toBe(seeded("already-compliant"));
    expect(byStatus(before?.rows ?? [], "left-as-is")).toBe(
      ok.keys.filter((k) => k.expectation.startsWith("skip-")).length,
    );

    const check = report.independentCheck;
    const after = ev.after;
    expect(after?.method).toBe(check?.method);
    expect(after?.examined).toBe(check?.examined);
    expect(after?.counts).toEqual(check?.counts);
    const found = Object.values(check?.counts ?? {}).reduce((a, b) => a + b, 0);
    expect(byStatus(after?.rows ?? [], "compliant")).toBe((check?.examined ?? 0) - found);
    expect(after?.failing).toBe(0);

    expect(ev.skipped.map((s) => [s.reason, s.count])).toEqual(report.skipped.map((s) => [s.reason, s.count]));
    expect(ev.totals).toEqual(report.totals);
    expect(ev.verification?.reconciliation?.ok).toBe(true);
    expect(ev.input).toMatchObject({ bucket: ok.bucket, kmsKeyArn: ok.targetKeyArn });
    expect(ev.run.executionRoleArn).toMatch(/^arn:aws:iam::\d{12}:role\//);
    expect(ev.approval).toMatchObject({
      required: true,
      waitingFrom: { eventId: expect.any(Number) },
      resumedAt: { eventId: expect.any(Number) },
      summary: expect.stringMatching(
        /^Approved: the copy jobs waited, copying nothing, from .* UTC \(history event \d+\)/,
      ),
    });
    expect(ev.approval.resumedAt?.eventId).toBeGreaterThan(ev.approval.waitingFrom?.eventId ?? Number.NaN);
    expect(ev.absent).toEqual([]);
  });

  it("gives each manifest's ETag, same as the plan recorded, and each completion report's MD5", () => {
    const plan = readJson<{ manifests: { key: string; etag: string }[] }>(join(folder, "plan.json"));
    const manifests = ev.checksums.filter((c) => c.source === "s3-etag" && c.plannedEtag !== undefined);
    expect(manifests.map((m) => m.uri).sort()).toEqual(
      plan.manifests.map((m) => `s3://${ok.workBucket}/${m.key}`).sort(),
    );
    for (const m of manifests) expect(m.etag?.replaceAll('"', "")).toBe(m.plannedEtag?.replaceAll('"', ""));
    const results = ev.checksums.filter((c) => c.source === "batch-report-md5");
    expect(results.length).toBeGreaterThanOrEqual(report.jobs.length);
    for (const r of results) expect(r.md5).toMatch(/^[0-9a-f]{32}$/);
    const copied = ev.checksums.filter((c) => c.source === "sha256-while-reading");
    for (const c of copied) expect(sha256Hex(readFileSync(join(folder, c.bundlePath ?? "")))).toBe(c.sha256);
    expect(ev.jobs.length).toBe(report.jobs.length);
    for (const j of ev.jobs) {
      expect(j).toMatchObject({
        status: "Complete",
        roleArn: expect.stringMatching(/^arn:/),
        statusUpdateReason: "Approved with rekey approve",
      });
    }
  });

  it("puts the same bundle in the run's folder of the work bucket, where S3 keeps each file's SHA-256", async () => {
    const prefix = evidencePrefix(`runs/${ok.bucket}/${OK_RUN}/`);
    expect(ev.evidenceFolder).toBe(`s3://${ok.workBucket}/${prefix}`);
    const listed = await listSizes(clients.s3, ok.workBucket, prefix);
    expect([...listed.keys()].map((k) => k.slice(prefix.length)).sort()).toEqual(filesUnder(folder).sort());
    for (const path of filesUnder(folder)) {
      const bytes = await getBytes(clients.s3, ok.workBucket, `${prefix}${path}`);
      expect(sha256Hex(bytes), path).toBe(sha256Hex(readFileSync(join(folder, path))));
    }
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: ok.workBucket, Key: `${prefix}index.html` }));
    expect(head.ContentType).toBe("text/html; charset=utf-8");
    // Each file was sent with its SHA-256, which S3 checked against the bytes and keeps.
    const page = await clients.s3.send(new ListObjectsV2Command({ Bucket: ok.workBucket, Prefix: prefix }));
    expect(page.Contents?.map((o) => o.ChecksumAlgorithm)).toEqual(page.Contents?.map(() => ["SHA256"]));
  });

  it("writes the same bytes again, but for the manifest's generation time, and leaves no temporary folder", async () => {
    const again = await evidence(out, [OK_RUN], new Date("2031-05-06T07:08:09Z"));
    expect(again.printed.runs[0]?.folder).toBe(folder);
    const manifest = readJson<BundleManifest>(join(folder, "manifest.json"));
    expect(manifest.generatedAt).toBe("2031-05-06T07:08:09.000Z");
    const second = scratch("evidence-again-");
    const elsewhere =
      (await evidence(second, [OK_RUN], new Date("2030-01-02T03:04:05Z"))).printed.runs[0]?.folder ?? "";
    for (const path of filesUnder(folder)) {
      const a = readFileSync(join(folder, path), "utf8");
      const b = readFileSync(join(elsewhere, path), "utf8");
      if (path === "manifest.json")
        expect(a.replace(/"generatedAt": "[^"]+"/, "")).toBe(b.replace(/"generatedAt": "[^"]+"/, ""));
      else expect(a, path).toBe(b);
    }
    expect(readdirSync(out)).toEqual([OK_RUN]);
  });
});

describe("rekey evidence: a run that failed", () => {
  let ev: RunEvidence;
  let folder: string;

  beforeAll(async () => {
    const out = scratch("evidence-failed-");
    folder = (await evidence(out, [FAILED_RUN])).printed.runs[0]?.folder ?? "";
    ev = readJson<RunEvidence>(join(folder, "evidence.json"));
  });

  it("says it failed, with its error, counts the inventory it planned from, and claims no after", async () => {
    expect(ev.outcome).toBe("failed");
    expect(ev.run.status).toBe("FAILED");
    expect(ev.run.error).toBeDefined();
    expect(ev.before?.currentObjects).toBeGreaterThan(0);
    expect(ev.after).toBeUndefined();
    expect(ev.totals).toBeUndefined();
    expect(ev.absent.map((a) => a.what)).toEqual(
      expect.arrayContaining(["the final report", "after: the independent check of the bucket"]),
    );
    const files = filesUnder(folder);
    expect(files).toEqual(expect.arrayContaining(["failure.json", "plan.json", "index.html"]));
    expect(files).not.toContain("report.json");
    expect(files).not.toContain("bucket-check.json");
    const failure = JSON.parse(
      await getText(
        clients.s3,
        failed.workBucket,
        runKeys({ runPrefix: `runs/${failed.bucket}/${FAILED_RUN}/` }).failure,
      ),
    ) as { error: string };
    expect(ev.run.error).toBe(failure.error);
  });
});

describe.runIf(existsSync(CHROMIUM))("rekey evidence: the pages in a headless browser", () => {
  let browser: Browser;
  let out: string;
  let fleetPage: string;
  let pages: string[];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM });
    out = scratch("evidence-pages-");
    const { printed } = await evidence(out, [OK_RUN, FAILED_RUN]);
    fleetPage = printed.fleetPage ?? "";
    pages = printed.runs.map((r) => r.page);
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Opens a page from its file, failing on any request that is not for a file or on a script error. */
  async function open(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const outside: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith("file://")) outside.push(r.url());
    });
    page.on("pageerror", (e) => outside.push(e.message));
    await page.goto(pathToFileURL(path).href);
    expect(outside).toEqual([]);
    return page;
  }

  /** The chart's segments: side, status, count and drawn width. */
  const segments = (page: Page) =>
    page.locator("svg.chart g.bar rect.segment").evaluateAll((rects) =>
      rects.map((r) => ({
        side: r.parentElement?.getAttribute("data-side") ?? "",
        status: r.getAttribute("data-status") ?? "",
        count: Number(r.getAttribute("data-count")),
        width: (r as unknown as { getBBox(): { width: number } }).getBBox().width,
      })),
    );

  it("shows the bucket, the key, before and after counts matching the report, and bars that follow them", async () => {
    const page = await open(pages[0] ?? "");
    const text = (await page.locator("main").innerText()).replace(/\s+/g, " ");
    expect(text).toContain(`Re-encryption of s3://${ok.bucket}`);
    expect(text).toContain(ok.targetKeyArn);
    expect(text).toContain("Succeeded");
    const check = report.independentCheck;
    const found = Object.values(check?.counts ?? {}).reduce((a, b) => a + b, 0);
    const beforeCurrent = report.totals.seen - report.totals.notCurrent;
    expect(text).toContain(`listed ${formatCount(beforeCurrent)} current objects`);
    expect(text).toContain(`${formatCount(report.totals.alreadyCompliant)} already compliant`);
    expect(text).toContain(`Of ${formatCount(check?.examined ?? -1)} objects examined`);
    expect(text).toContain(`${formatCount((check?.examined ?? 0) - found)} were compliant`);

    const drawn = await segments(page);
    const total = (side: string, status?: string) =>
      drawn.filter((s) => s.side === side && (!status || s.status === status)).reduce((a, s) => a + s.count, 0);
    expect(total("before", "compliant")).toBe(report.totals.alreadyCompliant);
    expect(total("before", "left-as-is")).toBe(report.totals.skipped);
    expect(total("before")).toBe(beforeCurrent);
    expect(total("after", "compliant")).toBe((check?.examined ?? 0) - found);
    expect(total("after")).toBe(check?.examined);
    // One scale for every segment of both bars: width per object is the same throughout, and the longer bar is full.
    const perObject = drawn.map((s) => s.width / s.count);
    for (const p of perObject) expect(p).toBeCloseTo(perObject[0] ?? 0, 1);
    const longest = Math.max(total("before"), total("after"));
    expect(drawn.filter((s) => s.side === "before").reduce((a, s) => a + s.width, 0)).toBeCloseTo(
      (perObject[0] ?? 0) * total("before"),
      0,
    );
    expect((perObject[0] ?? 0) * longest).toBeCloseTo(620, 0);

    if (SCREENSHOT) {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.setViewportSize({ width: 1200, height: 1480 });
      await page.screenshot({ path: SCREENSHOT, type: "png" });
    }
    await page.close();
  });

  it("says plainly that the failed run failed, and draws no after bar", async () => {
    const page = await open(pages[1] ?? "");
    const text = (await page.locator("main").innerText()).replace(/\s+/g, " ");
    expect(text).toContain(`Re-encryption of s3://${failed.bucket}`);
    expect(text).toMatch(/the run failed\./);
    expect(text).toContain('No "after"');
    expect(text).toContain(
      'After: none: the run ended FAILED before it checked the bucket (it failed in "Create copy jobs")',
    );
    const drawn = await segments(page);
    expect(drawn.filter((s) => s.side === "after")).toEqual([]);
    expect(drawn.filter((s) => s.side === "before").length).toBeGreaterThan(0);
    expect(await page.locator("svg.chart rect.no-bar").count()).toBe(1);
    await page.close();
  });

  it("links every run from the fleet page, with its outcome and totals", async () => {
    expect(fleetPage).toBe(join(out, "index.html"));
    const page = await open(fleetPage);
    const links = page.locator("table.fleet a");
    expect(await links.allInnerTexts()).toEqual([ok.bucket, failed.bucket]);
    const text = (await page.locator("main").innerText()).replace(/\s+/g, " ");
    expect(text).toContain("2 run(s) of rekey on 2 bucket(s): 1 succeeded, 1 failed.");
    expect(text).toContain('1 run(s) have no "after"');
    await links.nth(1).click();
    await page.waitForLoadState();
    expect(page.url()).toBe(pathToFileURL(pages[1] ?? "").href);
    expect(await page.locator("h1").innerText()).toBe(`Re-encryption of s3://${failed.bucket}`);
    await page.close();
    const manifest = readJson<BundleManifest>(join(out, "manifest.json"));
    for (const f of manifest.files) expect(sha256Hex(readFileSync(join(out, f.path))), f.path).toBe(f.sha256);
    expect(manifest.files.map((f) => f.path)).toContain(`${FAILED_RUN}/index.html`);
  });
});
