import { describe, expect, it } from "vitest";
import { encryptionChart } from "../../cli/evidence-chart.ts";
import { afterCounts, countsByStatus } from "../../cli/evidence-counts.ts";
import { renderFleetPage } from "../../cli/evidence-fleet.ts";
import { renderManifest, renderSums } from "../../cli/evidence-manifest.ts";
import { EVIDENCE_VERSION, type RunEvidence } from "../../cli/evidence-model.ts";
import { renderRunPage } from "../../cli/evidence-page.ts";
import { independentCheckSection } from "../../steps/domain/verification-report.ts";

/**
 * The evidence pages as pure functions of the evidence (test/cli/evidence.test.ts opens them in a browser after real
 * runs): what a run still running says, that the chart's bars follow the counts on one scale, that an object key is
 * shown as text and never as markup, and that the manifest does not depend on the order files were written in.
 */

const KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
const HOSTILE = `<img src=x onerror="alert(1)">.txt`;

function running(): RunEvidence {
  return {
    evidenceVersion: EVIDENCE_VERSION,
    run: {
      executionArn: "arn:aws:states:us-east-1:123456789012:execution:rekey:data-20300101",
      name: "data-20300101",
      status: "RUNNING",
      startedAt: "2030-01-01T10:00:00.000Z",
      currentState: "Check copy jobs",
      executionRoleArn: "arn:aws:iam::123456789012:role/rekey-state-machine",
    },
    outcome: "running",
    bucket: "data",
    kmsKeyArn: KEY,
    accountId: "123456789012",
    region: "us-east-1",
    input: { bucket: "data", kmsKeyArn: KEY },
    approval: { required: false, summary: "No approval step." },
    preflightWarnings: [],
    before: {
      source: "inventory",
      manifestKey: "inventory/data/all/2030-01-01T00-00Z/manifest.json",
      asOf: "2030-01-01T00:00:00.000Z",
      rows: [
        { status: "compliant", label: "compliant", count: 300, bytes: 3 },
        { status: "not-compliant", label: "unencrypted", count: 600, bytes: 6 },
        { status: "left-as-is", label: "SSE-C", count: 100, bytes: 1 },
      ],
      currentObjects: 1000,
      currentBytes: 10,
      notCurrent: [],
    },
    skipped: [
      {
        reason: "sse-c",
        summary: "Encrypted with a customer-provided key (SSE-C)",
        count: 100,
        bytes: 1,
        whatToDo: "Re-upload.",
        sampleKeys: [HOSTILE],
      },
    ],
    failed: [],
    jobs: [],
    checksums: [],
    absent: [{ what: "after: the independent check of the bucket", why: "the run has not checked the bucket yet" }],
  };
}

/** The chart's segments as drawn: side, status, count, width. */
function segments(svg: string) {
  const out: { side: string; status: string; count: number; width: number }[] = [];
  for (const bar of svg.matchAll(/<g class="bar" data-side="(\w+)"[^>]*>([\s\S]*?)<\/g>/g)) {
    for (const rect of (bar[2] ?? "").matchAll(
      /data-status="([\w-]+)" data-count="(\d+)" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g,
    )) {
      out.push({ side: bar[1] ?? "", status: rect[1] ?? "", count: Number(rect[2]), width: Number(rect[3]) });
    }
  }
  return out;
}

describe("the evidence page of a run still running", () => {
  it("says it is still running, where it is, and draws its before but no after", () => {
    const html = renderRunPage(running());
    expect(html).toContain('is <b>still running</b>, now in "Check copy jobs"');
    expect(html).toContain('it has no "after" yet');
    expect(html).toContain("<b>After:</b> none: the run has not checked the bucket yet");
    const drawn = segments(html);
    expect(drawn.map((s) => s.side)).toEqual(["before", "before", "before"]);
    expect(html).toContain('class="no-bar"');
    expect(html).not.toMatch(/<b>succeeded<\/b>/);
  });

  it("shows an object key as text, never as markup, and loads nothing from anywhere", () => {
    const html = renderRunPage(running());
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.txt");
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
  });
});

describe("the after counts", () => {
  it("count what HeadObject showed: the examined objects without a finding are compliant, findings by verdict", () => {
    const after = afterCounts(
      independentCheckSection({
        method: "manifest-generator",
        startedAt: "2030-01-01T00:00:00.000Z",
        finishedAt: "2030-01-01T00:10:00.000Z",
        examined: 50,
        unexamined: 4,
        counts: { "left-non-compliant": 2, "written-after-planning": 3, "not-fixable": 5 },
        findings: [{ key: "a", verdict: "left-non-compliant", found: "SSE-S3", reason: "r" }],
        listJobs: [],
      }),
    );
    expect(countsByStatus(after.rows)).toEqual({
      compliant: 40,
      "not-compliant": 5,
      "left-as-is": 5,
      "not-examined": 4,
    });
    expect(after).toMatchObject({ examined: 50, failing: 9, unexamined: 4, findingsOmitted: 0 });
    expect(after.findings).toEqual([{ key: "a", verdict: "left-non-compliant", found: "SSE-S3", reason: "r" }]);
  });
});

describe("the encryption chart", () => {
  it("draws every non-empty status on one scale for both bars, the longer bar full width", () => {
    const svg = encryptionChart(
      { caption: "before", rows: running().before?.rows ?? [] },
      {
        caption: "after",
        rows: [
          { status: "compliant", label: "compliant", count: 590 },
          { status: "not-compliant", label: "left", count: 10 },
          { status: "left-as-is", label: "locked", count: 0 },
        ],
      },
    );
    const drawn = segments(svg);
    expect(drawn.map((s) => `${s.side}:${s.status}:${s.count}`)).toEqual([
      "before:compliant:300",
      "before:not-compliant:600",
      "before:left-as-is:100",
      "after:compliant:590",
      "after:not-compliant:10",
    ]);
    for (const s of drawn) expect(s.width / s.count).toBeCloseTo(0.62, 4);
    expect(drawn.filter((s) => s.side === "before").reduce((a, s) => a + s.width, 0)).toBeCloseTo(620, 1);
  });
});

describe("the fleet page and the manifest", () => {
  it("links each run and totals them; a run without an after is counted as such", () => {
    const a = running();
    const b = { ...running(), bucket: "other", run: { ...running().run, name: "other-20300101" } };
    const html = renderFleetPage([
      { evidence: a, href: "data-20300101/index.html" },
      { evidence: b, href: "other-20300101/index.html" },
    ]);
    expect([...html.matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1], m[2]])).toEqual([
      ["data-20300101/index.html", "data"],
      ["other-20300101/index.html", "other"],
    ]);
    expect(html).toContain("2 run(s) of rekey on 2 bucket(s): 2 still running.");
    expect(html).toContain("2,000 current objects: 600 compliant, 1,200 not compliant");
    expect(html).toContain("After: none of the runs has checked its bucket, so there is no &quot;after&quot; yet.");
  });

  it("lists files in path order whatever the order given, and SHA256SUMS the same digests", () => {
    const files = [
      { path: "z.csv", bytes: 1, sha256: "b".repeat(64) },
      { path: "a.json", bytes: 2, sha256: "a".repeat(64) },
    ];
    const render = (list: typeof files) =>
      renderManifest({ generatedAt: "2030-01-01T00:00:00.000Z", generator: "rekey test", subject: [], files: list });
    expect(render(files)).toBe(render([...files].reverse()));
    expect(JSON.parse(render(files)).files.map((f: { path: string }) => f.path)).toEqual(["a.json", "z.csv"]);
    expect(renderSums(files)).toBe(`${"a".repeat(64)}  a.json\n${"b".repeat(64)}  z.csv\n`);
  });
});
