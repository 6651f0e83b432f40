import { formatCount } from "../steps/domain/format.ts";
import { countsByStatus, STATUS_ORDER } from "./evidence-counts.ts";
import { escapeHtml } from "./evidence-html.ts";
import type { EncryptionRow, EncryptionStatus } from "./evidence-model.ts";

/**
 * The chart of a run's encryption status before and after, as inline SVG: one stacked bar per side, every segment's
 * width proportional to its count on one scale for both bars, so that the bars compare. Written here rather than
 * taken from a charting library: two bars need no library, and the page must open from a file with no network.
 */

export const STATUS_STYLE: Record<EncryptionStatus, { fill: string; legend: string }> = {
  compliant: { fill: "#2e7d32", legend: "Compliant: SSE-KMS under the target key, with S3 Bucket Key" },
  "not-compliant": { fill: "#c62828", legend: "Not compliant" },
  "left-as-is": { fill: "#ef8f00", legend: "Not compliant, left as is (rekey cannot or must not change it)" },
  "not-examined": { fill: "#8d8d8d", legend: "Listed as not compliant, not examined" },
};

export type ChartSide = { caption: string; rows: readonly EncryptionRow[] } | { caption: string; missing: string };

const WIDTH = 760;
const LABEL = 90;
const BAR = 620;
const BAR_HEIGHT = 34;
const ROW = 78;
const TOP = 24;

/** Width of `count` on a scale where `max` objects fill the bar; two decimals, so that the SVG's bytes are stable. */
function widthOf(count: number, max: number): number {
  return Math.round((count / max) * BAR * 100) / 100;
}

export function encryptionChart(before: ChartSide, after: ChartSide): string {
  const sides: [string, ChartSide][] = [
    ["Before", before],
    ["After", after],
  ];
  const totals = sides.map(([, s]) => ("rows" in s ? s.rows.reduce((n, r) => n + r.count, 0) : 0));
  const max = Math.max(1, ...totals);
  const parts: string[] = [];
  const used = new Set<EncryptionStatus>();
  for (const [i, [name, side]] of sides.entries()) {
    const y = TOP + i * ROW;
    parts.push(
      `<text class="side" x="0" y="${y + 22}">${name}</text>`,
      `<text class="caption" x="${LABEL}" y="${y - 6}">${escapeHtml(side.caption)}</text>`,
    );
    if (!("rows" in side)) {
      parts.push(
        `<rect class="no-bar" x="${LABEL}" y="${y}" width="${BAR}" height="${BAR_HEIGHT}" fill="none" stroke="#8d8d8d" stroke-dasharray="6 4"/>`,
        `<text class="missing" x="${LABEL + 12}" y="${y + 22}">${escapeHtml(side.missing)}</text>`,
      );
      continue;
    }
    const byStatus = countsByStatus(side.rows);
    let x = LABEL;
    parts.push(`<g class="bar" data-side="${name.toLowerCase()}" data-total="${totals[i]}">`);
    for (const status of STATUS_ORDER) {
      const count = byStatus[status];
      if (count <= 0) continue;
      used.add(status);
      const w = widthOf(count, max);
      const label = `${name}: ${formatCount(count)} ${STATUS_STYLE[status].legend.toLowerCase()}`;
      parts.push(
        `<rect class="segment" data-status="${status}" data-count="${count}" x="${x}" y="${y}" width="${w}" height="${BAR_HEIGHT}" fill="${STATUS_STYLE[status].fill}"><title>${escapeHtml(label)}</title></rect>`,
      );
      // A count is written inside its segment when it fits; the legend and the tables give every count anyway.
      if (w >= 8 * formatCount(count).length + 10) {
        parts.push(
          `<text class="count" x="${Math.round((x + w / 2) * 100) / 100}" y="${y + 22}" text-anchor="middle">${formatCount(count)}</text>`,
        );
      }
      x = Math.round((x + w) * 100) / 100;
    }
    parts.push("</g>");
  }
  const legendY = TOP + sides.length * ROW - 8;
  const legend = STATUS_ORDER.filter((s) => used.has(s)).map((status, i) => {
    const y = legendY + i * 22;
    return `<rect x="${LABEL}" y="${y}" width="14" height="14" fill="${STATUS_STYLE[status].fill}"/><text class="legend" x="${LABEL + 22}" y="${y + 12}">${escapeHtml(STATUS_STYLE[status].legend)}</text>`;
  });
  const height = legendY + Math.max(1, legend.length) * 22 + 6;
  const desc = sides
    .map(([name, s], i) =>
      "rows" in s
        ? `${name}: ${STATUS_ORDER.filter((st) => countsByStatus(s.rows)[st] > 0)
            .map((st) => `${formatCount(countsByStatus(s.rows)[st])} ${STATUS_STYLE[st].legend.toLowerCase()}`)
            .join("; ")} (${formatCount(totals[i] ?? 0)} in all).`
        : `${name}: ${s.missing}.`,
    )
    .join(" ");
  return [
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="chart-title chart-desc">`,
    `<title id="chart-title">Encryption status of the bucket's current objects, before and after the run</title>`,
    `<desc id="chart-desc">${escapeHtml(desc)}</desc>`,
    ...parts,
    ...legend,
    "</svg>",
  ].join("\n");
}
