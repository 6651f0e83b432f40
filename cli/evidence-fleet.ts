import { formatCount } from "../steps/domain/format.ts";
import { countsByStatus } from "./evidence-counts.ts";
import { escapeHtml as h, page, table, when } from "./evidence-html.ts";
import type { EncryptionStatus, RunEvidence } from "./evidence-model.ts";
import { OUTCOME_WORDS } from "./evidence-page.ts";

/**
 * The fleet page (index.html): totals over several bucket runs and a row per run linking to its own page. A pure
 * function of a list of per-run evidence, whatever found the runs: `rekey evidence --execution …` repeated, or the
 * child executions of a fleet execution.
 */

export interface FleetEntry {
  evidence: RunEvidence;
  /** The run's page, relative to the fleet page. */
  href: string;
}

const n = formatCount;

type Counts = Record<EncryptionStatus, number>;
const zero = (): Counts => ({ compliant: 0, "not-compliant": 0, "left-as-is": 0, "not-examined": 0 });

function add(into: Counts, more: Counts): void {
  for (const k of Object.keys(into) as EncryptionStatus[]) into[k] += more[k];
}

export function renderFleetPage(entries: readonly FleetEntry[]): string {
  const runs = entries.map((x) => x.evidence);
  const buckets = new Set(runs.map((r) => r.bucket));
  const byOutcome = new Map<RunEvidence["outcome"], number>();
  for (const r of runs) byOutcome.set(r.outcome, (byOutcome.get(r.outcome) ?? 0) + 1);
  const before = zero();
  const after = zero();
  let examined = 0;
  for (const r of runs) {
    if (r.before) add(before, countsByStatus(r.before.rows));
    if (r.after) {
      add(after, countsByStatus(r.after.rows));
      examined += r.after.examined;
    }
  }
  const withoutBefore = runs.filter((r) => !r.before).length;
  const withoutAfter = runs.filter((r) => !r.after).length;
  const outcomes = [...byOutcome].map(([o, c]) => `${n(c)} ${OUTCOME_WORDS[o].toLowerCase()}`).join(", ");
  const allGood = runs.length > 0 && runs.every((r) => r.outcome === "succeeded");
  const plain = [
    `${n(runs.length)} run(s) of rekey on ${n(buckets.size)} bucket(s): ${outcomes}.`,
    `Before, the runs' inventories listed ${n(before.compliant + before["not-compliant"] + before["left-as-is"])} current objects: ${n(before.compliant)} compliant, ${n(before["not-compliant"])} not compliant for rekey to change, ${n(before["left-as-is"])} not compliant that rekey had to leave as they were${withoutBefore > 0 ? ` (${n(withoutBefore)} run(s) had not planned, and are not counted)` : ""}.`,
    withoutAfter === runs.length
      ? 'After: none of the runs has checked its bucket, so there is no "after" yet.'
      : `After, the independent checks asked S3 about ${n(examined)} objects: ${n(after.compliant)} compliant (or deleted), ${n(after["not-compliant"])} not compliant, ${n(after["left-as-is"])} left as they were${after["not-examined"] > 0 ? `, ${n(after["not-examined"])} listed but not examined` : ""}${withoutAfter > 0 ? `. ${n(withoutAfter)} run(s) have no "after": they had not checked their bucket` : ""}.`,
    "Each run's own page says what was done to its bucket, when, by whom, and what the bucket said afterwards.",
  ];
  const cell = (r: RunEvidence, side: "before" | "after", status: EncryptionStatus) => {
    const counted = r[side];
    return counted ? n(countsByStatus(counted.rows)[status]) : "—";
  };
  const rows = entries.map(({ evidence: r, href }) => [
    `<a href="${h(href)}">${h(r.bucket)}</a>`,
    `<span class="status status-${r.outcome}">${h(OUTCOME_WORDS[r.outcome])}</span>`,
    `${h(r.run.name)}<br><code>${h(r.kmsKeyArn)}</code>`,
    when(r.run.startedAt),
    r.run.stoppedAt ? when(r.run.stoppedAt) : "not yet",
    cell(r, "before", "compliant"),
    cell(r, "before", "not-compliant"),
    cell(r, "before", "left-as-is"),
    r.after ? n(r.after.examined) : "no after",
    cell(r, "after", "compliant"),
    cell(r, "after", "not-compliant"),
    cell(r, "after", "left-as-is"),
  ]);
  const totals = [
    "<b>All runs</b>",
    "",
    "",
    "",
    "",
    `<b>${n(before.compliant)}</b>`,
    `<b>${n(before["not-compliant"])}</b>`,
    `<b>${n(before["left-as-is"])}</b>`,
    `<b>${n(examined)}</b>`,
    `<b>${n(after.compliant)}</b>`,
    `<b>${n(after["not-compliant"])}</b>`,
    `<b>${n(after["left-as-is"])}</b>`,
  ];
  const body = [
    '<p class="mono">rekey evidence · fleet</p>',
    `<h1>Re-encryption evidence: ${n(runs.length)} bucket run(s)</h1>`,
    `<div class="plain ${allGood ? "good" : "bad"}">${plain.map((p) => `<p>${h(p)}</p>`).join("")}</div>`,
    "<h2>Runs</h2>",
    "<p>Before: the run's inventory, current objects. After: the independent check of the bucket, objects examined.</p>",
    table(
      [
        "Bucket",
        "Outcome",
        "Run, target key",
        "Started",
        "Ended",
        "Before: compliant",
        "Before: not compliant",
        "Before: left as is",
        "After: examined",
        "After: compliant",
        "After: not compliant",
        "After: left as is",
      ],
      [...rows, totals],
      { numeric: [5, 6, 7, 8, 9, 10, 11], className: "fleet" },
    ),
    "<footer><p>Each bucket's name links to its run's page, in the run's own folder with its bundle. manifest.json beside this page lists every file written with it, with its SHA-256; SHA256SUMS holds the same digests for <code>sha256sum -c SHA256SUMS</code>.</p></footer>",
  ].join("\n");
  return page(`rekey evidence: ${runs.length} bucket run(s)`, body);
}
