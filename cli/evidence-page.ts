import { formatBytes, formatCount } from "../steps/domain/format.ts";
import { type ChartSide, encryptionChart, STATUS_STYLE } from "./evidence-chart.ts";
import { countsByStatus } from "./evidence-counts.ts";
import { factTable, escapeHtml as h, page, table, when } from "./evidence-html.ts";
import { MANIFEST_NAME, SUMS_NAME } from "./evidence-manifest.ts";
import type { ChecksumSource, EncryptionRow, RunEvidence } from "./evidence-model.ts";

/**
 * The one-page HTML summary of a run's evidence, for a compliance reviewer who has neither rekey nor AWS access:
 * in words first (what was done, when, by whom, to which bucket, with which key, and what the bucket said
 * afterwards), then the tables and the chart the words stand on. A pure function of the evidence: the same run gives
 * the same bytes.
 */

export const OUTCOME_WORDS: Record<RunEvidence["outcome"], string> = {
  succeeded: "Succeeded",
  "finished-with-failures": "Finished with failures",
  failed: "Failed",
  stopped: "Stopped",
  "timed-out": "Timed out",
  running: "Still running",
};

const n = formatCount;
const code = (text: string) => `<code>${h(text)}</code>`;

function firstLine(text: string | undefined): string {
  return (text ?? "").split("\n")[0] ?? "";
}

/** The paragraph that says what happened, plainly, with no "after" the run does not have. */
function whatHappened(e: RunEvidence): { text: string; tone: "good" | "bad" | "running" } {
  const target = `the S3 bucket <b>${h(e.bucket)}</b>${e.accountId ? ` (account ${h(e.accountId)}${e.region ? `, ${h(e.region)}` : ""})` : ""}`;
  const key = `SSE-KMS under the KMS key ${code(e.kmsKeyArn)}, with S3 Bucket Keys`;
  const run = `The run <b>${h(e.run.name)}</b> started at ${when(e.run.startedAt)}`;
  const ended = `ended at ${when(e.run.stoppedAt)}`;
  const why = e.run.error ? ` The error was <b>${h(e.run.error)}</b>: ${h(firstLine(e.run.cause))}` : "";
  switch (e.outcome) {
    case "succeeded":
      return {
        tone: "good",
        text: `rekey re-encrypted the current objects of ${target} to ${key}. ${run} and ${ended}; it <b>succeeded</b>: every current object it saw is now compliant, or was already, or is listed below as left as it was, with the reason.`,
      };
    case "finished-with-failures":
      return {
        tone: "bad",
        text: `rekey re-encrypted ${target} to ${key}, but not completely. ${run} and ${ended} <b>with failures</b>: some objects it should have re-encrypted are not (see "What the bucket said afterwards" and "Failed").${why}`,
      };
    case "failed":
      return {
        tone: "bad",
        text: `rekey set out to re-encrypt ${target} to ${key}, but the run <b>failed</b>. ${run} and ${ended}${e.run.failedIn ? `, in the step "${h(e.run.failedIn)}"` : ""}, without finishing.${why}`,
      };
    case "stopped":
      return {
        tone: "bad",
        text: `rekey set out to re-encrypt ${target} to ${key}, but the run was <b>stopped</b> before it finished. ${run} and was stopped at ${when(e.run.stoppedAt)}${e.run.currentState ? `, in "${h(e.run.currentState)}"` : ""}.${e.run.cause ? ` Reason given: ${h(firstLine(e.run.cause))}` : ""}`,
      };
    case "timed-out":
      return {
        tone: "bad",
        text: `rekey set out to re-encrypt ${target} to ${key}, but the run <b>timed out</b> before it finished. ${run} and ${ended}${e.run.currentState ? `, in "${h(e.run.currentState)}"` : ""}.`,
      };
    case "running":
      return {
        tone: "running",
        text: `rekey is re-encrypting ${target} to ${key}. ${run} and is <b>still running</b>${e.run.currentState ? `, now in "${h(e.run.currentState)}"` : ""}. This page shows what it had done when the evidence was written; it has no "after" yet. Write the evidence again once the run has ended.`,
      };
  }
}

function whoDidIt(e: RunEvidence): string {
  const roles = [...new Set(e.jobs.map((j) => j.roleArn).filter((r): r is string => r !== undefined))];
  const parts = [
    e.run.executionRoleArn
      ? `The run ran as the IAM role ${code(e.run.executionRoleArn)} (the state machine's role, which ran every step).`
      : "Step Functions did not say which role the run ran as.",
    roles.length > 0
      ? `Batch Operations changed the objects as ${roles.map(code).join(", ")}.`
      : e.jobs.length === 0
        ? "No Batch Operations job was created."
        : "",
    h(e.approval.summary),
  ];
  return parts.filter((p) => p !== "").join(" ");
}

function beforeWords(e: RunEvidence): string {
  const b = e.before;
  if (!b) return `<b>Before:</b> ${h(e.absent.find((a) => a.what.startsWith("before"))?.why ?? "not known")}.`;
  const c = countsByStatus(b.rows);
  if (b.source === "generated-lists") {
    return `<b>Before:</b> Batch Operations' manifest generator listed, at ${when(b.asOf)}, the bucket's current objects that were not compliant: ${n(c["not-compliant"])} for rekey to change and ${n(c["left-as-is"])} it had to leave as they were. Objects already compliant are not listed that way, so they are not counted here.`;
  }
  return `<b>Before:</b> the S3 Inventory of the bucket taken at ${when(b.asOf)} listed ${n(b.currentObjects)} current objects (${formatBytes(b.currentBytes)}): ${n(c.compliant)} already compliant, ${n(c["not-compliant"])} not compliant, for rekey to change, and ${n(c["left-as-is"])} not compliant that rekey had to leave as they were.`;
}

function afterWords(e: RunEvidence): string {
  const a = e.after;
  if (!a) {
    return `<b>After:</b> none: ${h(e.absent.find((x) => x.what.startsWith("after"))?.why ?? "the bucket was not checked")}, so nothing here says what the bucket holds now.`;
  }
  const c = countsByStatus(a.rows);
  const notCompliant = a.counts["left-non-compliant"] + a.counts["written-after-planning"];
  return `<b>After:</b> rekey then asked the bucket itself, between ${when(a.startedAt)} and ${when(a.finishedAt)}, by ${h(a.description)}. Of ${n(a.examined)} objects examined, S3 answered that ${n(c.compliant)} were compliant (or deleted since), ${n(notCompliant)} were not compliant${a.counts["written-after-planning"] > 0 ? ` (${n(a.counts["written-after-planning"])} of them written after default encryption by a writer that asked for another encryption)` : ""}, and ${n(a.counts["not-fixable"])} were objects rekey leaves as they are${a.unexamined > 0 ? `; ${n(a.unexamined)} more were listed as not compliant but not examined` : ""}. ${h(coverage(e))}`;
}

/** Which objects the independent check looked at, and so which it did not: said, so that no one reads more into it. */
function coverage(e: RunEvidence): string {
  if (e.after?.method === "manifest-generator") {
    return "That listing covered every current object of the bucket: an object it did not list was neither unencrypted, nor SSE-S3, nor SSE-KMS without S3 Bucket Key (it cannot single out an object under another KMS key with a Bucket Key; the spot check reads a sample of those).";
  }
  const c = e.before ? countsByStatus(e.before.rows) : undefined;
  return c
    ? `It read the objects rekey had planned to change, not the ${n(c.compliant)} the inventory already showed compliant nor the ${n(c["left-as-is"])} rekey had to leave as they were.`
    : "It read the objects rekey had planned to change.";
}

function countRows(rows: readonly EncryptionRow[], withBytes: boolean): string[][] {
  return rows.map((r) => [
    `<span class="dot" style="background:${STATUS_STYLE[r.status].fill}"></span>${h(r.label)}`,
    n(r.count),
    ...(withBytes ? [r.bytes === undefined ? "—" : formatBytes(r.bytes)] : []),
  ]);
}

/** The headings of preflight's facts (contract/preflight.ts PreflightFactsSummary). */
const PREFLIGHT_FACT_WORDS: Record<string, string> = {
  versioning: "Versioning",
  objectLock: "Object Lock",
  replication: "Replication",
  notifications: "Event notifications",
  lifecycle: "Lifecycle rules",
  noncurrentExpirationDays: "Noncurrent versions expire after (days)",
  objectOwnership: "Object Ownership",
  defaultEncryption: "Default encryption before the run",
  bucketPolicy: "Bucket policy",
  key: "Target key",
  keyPolicy: "Target key's policy",
};

const SOURCE_WORDS: Record<ChecksumSource, string> = {
  "sha256-while-reading": "SHA-256, computed while reading",
  "s3-etag": "S3 ETag",
  "batch-report-md5": "MD5 from Batch Operations",
};

function checksumCell(c: RunEvidence["checksums"][number]): string {
  const lines = [
    ...(c.sha256 ? [`SHA-256 ${code(c.sha256)}`] : []),
    ...(c.md5 ? [`MD5 ${code(c.md5)}`] : []),
    ...(c.etag ? [`ETag ${code(c.etag)}`] : []),
    ...(c.plannedEtag
      ? [
          `${c.etag && c.etag.replaceAll('"', "") === c.plannedEtag.replaceAll('"', "") ? "same as" : "<b>differs from</b>"} the ETag the plan recorded, ${code(c.plannedEtag)}`,
        ]
      : []),
    ...(c.s3Checksum
      ? [
          `S3's ${h(c.s3Checksum.algorithm)}${c.s3Checksum.type ? ` (${h(c.s3Checksum.type)})` : ""} ${code(c.s3Checksum.value)}`,
        ]
      : []),
  ];
  return lines.join("<br>");
}

function sections(e: RunEvidence): string[] {
  const out: string[] = [];
  const facts: [string, string][] = [
    ["Bucket", code(e.bucket)],
    ["Target key", code(e.kmsKeyArn)],
    ...(e.accountId ? ([["Account, region", h(`${e.accountId}, ${e.region ?? "?"}`)]] as [string, string][]) : []),
    ["Run", `${h(e.run.name)}<br>${code(e.run.executionArn)}`],
    ["Outcome", `${h(OUTCOME_WORDS[e.outcome])} (Step Functions status ${h(e.run.status)})`],
    ["Started", when(e.run.startedAt)],
    ["Ended", e.run.stoppedAt ? when(e.run.stoppedAt) : "not yet"],
    ...(e.run.error ? ([["Error", `<b>${h(e.run.error)}</b>: ${h(e.run.cause ?? "")}`]] as [string, string][]) : []),
    ["Run as", e.run.executionRoleArn ? code(e.run.executionRoleArn) : "—"],
    ["Approval", h(e.approval.summary)],
    ...(e.plannedFrom
      ? ([
          [
            "Planned from",
            `${code(e.plannedFrom.manifestKey)}, taken at ${when(e.plannedFrom.createdAt)}${e.plannedFrom.engine ? `, read by the ${h(e.plannedFrom.engine)} engine` : ""}`,
          ],
        ] as [string, string][])
      : []),
    ...(e.runFolder ? ([["Work-bucket folder", code(e.runFolder)]] as [string, string][]) : []),
    ...(e.evidenceFolder ? ([["This bundle in S3", code(e.evidenceFolder)]] as [string, string][]) : []),
  ];
  out.push("<h2>The run</h2>", factTable(facts));

  const beforeSide: ChartSide = e.before
    ? {
        caption:
          e.before.source === "inventory"
            ? `S3 Inventory of ${when(e.before.asOf)}: ${n(e.before.currentObjects)} current objects`
            : `Manifest generator's lists of ${when(e.before.asOf)}: ${n(e.before.currentObjects)} objects not compliant`,
        rows: e.before.rows,
      }
    : {
        caption: "No inventory counts",
        missing: `No "before": ${e.absent.find((a) => a.what.startsWith("before"))?.why ?? ""}`,
      };
  const afterSide: ChartSide = e.after
    ? {
        caption: `Independent check of ${when(e.after.finishedAt)}: ${n(e.after.examined)} objects examined`,
        rows: e.after.rows,
      }
    : {
        caption: "No check of the bucket",
        missing: `No "after": ${e.absent.find((a) => a.what.startsWith("after"))?.why ?? ""}`,
      };
  out.push(
    "<h2>Encryption status, before and after</h2>",
    `<figure>${encryptionChart(beforeSide, afterSide)}</figure>`,
  );

  out.push("<h2>Before: what the bucket held</h2>");
  if (e.before) {
    out.push(
      `<p>From ${code(e.before.manifestKey)}, taken at ${when(e.before.asOf)}, as rekey's plan counted it (plan.json in this bundle).</p>`,
      table(
        ["Current objects, by encryption", "Objects", "Bytes"],
        [
          ...countRows(e.before.rows, true),
          [
            "<b>All current objects counted</b>",
            `<b>${n(e.before.currentObjects)}</b>`,
            `<b>${formatBytes(e.before.currentBytes)}</b>`,
          ],
        ],
        { numeric: [1, 2] },
      ),
    );
    if (e.before.notCurrent.length > 0) {
      out.push(
        "<p>Also seen, and never changed (they are not current objects):</p>",
        table(
          ["Not current", "Versions", "Bytes"],
          e.before.notCurrent.map((c) => [h(c.label), n(c.count), formatBytes(c.bytes)]),
          { numeric: [1, 2] },
        ),
      );
    }
  } else {
    out.push(`<p>No "before": ${h(e.absent.find((a) => a.what.startsWith("before"))?.why ?? "")}.</p>`);
  }

  out.push("<h2>What the bucket said afterwards</h2>");
  if (e.after) {
    out.push(
      `<p>The independent check after the copy jobs, from ${when(e.after.startedAt)} to ${when(e.after.finishedAt)}: ${h(e.after.description)}. Its answers come from S3 (HeadObject of each object), not from rekey's plan (bucket-check.json in this bundle).</p>`,
      table(
        ["Objects examined, by what S3 answered", "Objects"],
        [...countRows(e.after.rows, false), ["<b>Examined</b>", `<b>${n(e.after.examined)}</b>`]],
        { numeric: [1] },
      ),
    );
    if (e.after.findings.length > 0) {
      out.push(
        `<p>The objects found not compliant${e.after.findingsOmitted > 0 ? ` (the first ${n(e.after.findings.length)}; ${n(e.after.findingsOmitted)} more are counted above)` : ""}:</p>`,
        table(
          ["Key", "Found", "Why it counts"],
          e.after.findings.map((f) => [code(f.key), h(f.found), h(f.reason)]),
        ),
      );
    }
  } else {
    out.push(
      `<p>No "after": ${h(e.absent.find((a) => a.what.startsWith("after"))?.why ?? "")}. Nothing on this page says what the bucket holds now.</p>`,
    );
  }

  out.push("<h2>Verification</h2>");
  const v = e.verification;
  const checks: [string, string][] = [
    [
      "Independent check",
      e.after
        ? e.after.failing === 0
          ? "Passed: no object rekey could have fixed is left not compliant."
          : `<b>Failed</b>: ${n(e.after.failing)} object(s) rekey could have fixed are not compliant, or were not examined.`
        : "Not run.",
    ],
    [
      "Spot check",
      v?.spotCheck
        ? `${n(v.spotCheck.checked)} re-encrypted objects sampled and read back with HeadObject; ${v.spotCheck.mismatches === 0 ? "every one compliant" : `<b>${n(v.spotCheck.mismatches)} not compliant</b>`}.`
        : "Not run.",
    ],
    [
      "Counts reconcile",
      v?.reconciliation
        ? v.reconciliation.ok
          ? "Yes: every object the inventory listed is in exactly one outcome, and every job's completion report accounts for every row of its manifest."
          : `<b>No</b>: ${v.reconciliation.problems.map(h).join("; ")}`
        : "No final report.",
    ],
  ];
  out.push(factTable(checks));
  if (e.totals) {
    const t = e.totals;
    const rows: [string, number][] = [
      ["Objects seen (current and not)", t.seen],
      ["Re-encrypted by this run", t.reencrypted],
      ["Already compliant", t.alreadyCompliant],
      ["Skipped (left as they were)", t.skipped],
      ["Failed", t.failed],
      ["Deleted since planning", t.gone],
      ["Written again since planning, compliant through default encryption", t.changed],
      ["Made compliant by earlier runs", t.doneEarlier],
      ["Not current (versions, delete markers)", t.notCurrent],
      ...(t.pending > 0 ? ([["Still pending", t.pending]] as [string, number][]) : []),
    ];
    out.push(
      "<p>Where every object ended, from the final report (report.json):</p>",
      table(
        ["Outcome", "Objects"],
        rows.map(([label, count]) => [h(label), n(count)]),
        { numeric: [1] },
      ),
    );
  }
  // Preflight's warnings are in the report too; they are listed once, with the inputs.
  const warnings = (v?.warnings ?? []).filter((w) => !w.startsWith("Preflight "));
  if (warnings.length > 0) {
    out.push("<p>Warnings in the final report:</p>", `<ul>${warnings.map((w) => `<li>${h(w)}</li>`).join("")}</ul>`);
  }

  out.push("<h2>Skipped objects, and why</h2>");
  if (e.skipped.length === 0) {
    out.push("<p>None: rekey left no current object as it was.</p>");
  } else {
    out.push(
      "<p>rekey did not change these objects; skipped.csv in this bundle lists every one with its reason.</p>",
      table(
        ["Reason", "Objects", "Bytes", "What to do", "For example"],
        e.skipped.map((s) => [
          `${h(s.summary)}<br>${code(s.reason)}`,
          n(s.count),
          s.bytes > 0 ? formatBytes(s.bytes) : "—",
          h(s.whatToDo),
          s.sampleKeys.map(code).join("<br>"),
        ]),
        { numeric: [1, 2] },
      ),
    );
  }
  if (e.failed.length > 0) {
    out.push(
      "<h2>Failed</h2>",
      "<p>failed.csv in this bundle lists every object with the reason.</p>",
      table(
        ["Category", "Objects", "What to do"],
        e.failed.map((f) => [`${h(f.summary)}<br>${code(f.category)}`, n(f.count), h(f.whatToDo)]),
        { numeric: [1] },
      ),
    );
  }

  if (e.jobs.length > 0) {
    out.push(
      "<h2>Batch Operations jobs</h2>",
      table(
        ["Job", "Work", "Status now", "Role", "Status reason", "Completion report"],
        e.jobs.map((j) => [
          `${code(j.jobId)}${j.redriveOf ? `<br>redrive of ${code(j.redriveOf)}` : ""}`,
          h(`${j.work}${j.attempt && j.attempt > 1 ? `, attempt ${j.attempt}` : ""}`),
          h(j.status ?? "no longer listed by S3 Control"),
          j.roleArn ? code(j.roleArn) : "—",
          h(j.statusUpdateReason ?? "—"),
          j.report ? ("missing" in j.report ? h(j.report.missing) : `${n(j.report.files)} result file(s)`) : "—",
        ]),
      ),
    );
  }

  out.push("<h2>The run's inputs</h2>", "<p>The execution's input, exactly as the run was started with it:</p>");
  out.push(`<pre>${h(JSON.stringify(e.input, null, 2))}</pre>`);
  if (e.preflightFacts) {
    out.push(
      "<p>What preflight read of the bucket and the key before anything was changed:</p>",
      factTable(
        Object.entries(e.preflightFacts).map(([k, val]) => [PREFLIGHT_FACT_WORDS[k] ?? k, h(String(val))] as const),
      ),
    );
  }
  if (e.preflightWarnings.length > 0) {
    out.push(
      "<p>Preflight warnings (acknowledged blockers among them):</p>",
      table(
        ["Code", "Found", "Fix"],
        e.preflightWarnings.map((w) => [code(w.code), h(w.message), h(w.fix)]),
      ),
    );
  }

  out.push("<h2>Checksums</h2>");
  // Each distinct reason is written once and numbered; each file's row refers to its number.
  const bases = [...new Set(e.checksums.map((c) => c.basis))];
  const noteOf = (c: RunEvidence["checksums"][number]) => bases.indexOf(c.basis) + 1;
  out.push(
    "<p>Which checksum each file has, and why that one:</p>",
    `<ol>${bases.map((basis) => `<li>${h(basis)}</li>`).join("")}</ol>`,
    table(
      ["File", "Where", "Bytes", "Checksum", "Why"],
      e.checksums.map((c) => [
        h(c.role),
        `${code(c.uri)}${c.bundlePath ? `<br>in this bundle: ${code(c.bundlePath)}` : ""}`,
        c.bytes === undefined ? "—" : n(c.bytes),
        `<b>${h(SOURCE_WORDS[c.source])}</b><br>${checksumCell(c)}`,
        `see ${noteOf(c)}`,
      ]),
      { numeric: [2] },
    ),
  );
  if (e.absent.length > 0) {
    out.push(
      "<h2>Not in this evidence</h2>",
      `<ul>${e.absent.map((a) => `<li>${h(a.what)}: ${h(a.why)}.</li>`).join("")}</ul>`,
    );
  }
  return out;
}

export function renderRunPage(e: RunEvidence): string {
  const { text, tone } = whatHappened(e);
  const body = [
    `<p class="mono">rekey evidence · ${h(e.run.name)}</p>`,
    `<h1>Re-encryption of s3://${h(e.bucket)}</h1>`,
    `<p><span class="status status-${e.outcome}">${h(OUTCOME_WORDS[e.outcome])}</span></p>`,
    `<div class="plain ${tone}"><p>${text}</p><p>${whoDidIt(e)}</p><p>${beforeWords(e)}</p><p>${afterWords(e)}</p></div>`,
    ...sections(e),
    `<footer><p>This page is one file of an evidence bundle: ${h(MANIFEST_NAME)} lists every file of the bundle with its SHA-256, and ${h(SUMS_NAME)} the same digests for <code>sha256sum -c ${h(SUMS_NAME)}</code> (on macOS <code>shasum -a 256 -c ${h(SUMS_NAME)}</code>), run in the bundle's folder. evidence.json holds everything on this page as data.</p></footer>`,
  ].join("\n");
  return page(`rekey evidence: s3://${e.bucket} (${e.run.name})`, body);
}
