/**
 * What the evidence pages share (cli/evidence-page.ts, cli/evidence-fleet.ts): escaping, and the page around the
 * content with its style sheet inline, so that a page opened from a file needs nothing else: no script, no font, no
 * request to any network.
 */

/** An ISO time as a reviewer reads it, in UTC. */
export function when(iso: string | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/**
 * A table of rows of already-escaped cells; `head` is escaped here. `numeric`: the columns (from 0) whose counts are
 * right-aligned.
 */
export function table(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  options: { numeric?: readonly number[]; className?: string } = {},
): string {
  const cls = (i: number) => (options.numeric?.includes(i) ? ' class="n"' : "");
  const th = head.map((h, i) => `<th${cls(i)}>${escapeHtml(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join("")}</tr>`).join("\n");
  const className = options.className ? ` class="${options.className}"` : "";
  return `<table${className}><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A two-column table of facts: a heading per row, its cell already escaped. */
export function factTable(rows: readonly (readonly [string, string])[]): string {
  const body = rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join("\n");
  return `<table class="facts"><tbody>\n${body}\n</tbody></table>`;
}

const STYLE = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1b1b1b; margin: 0; background: #fff; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p { margin: 6px 0; }
.status { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: 600; color: #fff; }
.status-succeeded { background: #2e7d32; }
.status-finished-with-failures, .status-failed, .status-timed-out { background: #c62828; }
.status-stopped { background: #6d4c41; }
.status-running { background: #1565c0; }
.plain { font-size: 16px; background: #f6f6f6; border-left: 4px solid #888; padding: 10px 14px; margin: 14px 0; }
.plain.bad { border-left-color: #c62828; background: #fdf0f0; }
.plain.good { border-left-color: #2e7d32; background: #f1f8f1; }
.plain.running { border-left-color: #1565c0; background: #eef4fc; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e3e3e3; }
th { background: #fafafa; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts th { width: 190px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; word-break: break-all; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 12.5px; }
.chart text { font: 13px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #1b1b1b; }
.chart text.side { font-weight: 600; font-size: 15px; }
.chart text.count { fill: #fff; font-weight: 600; }
.chart text.caption { fill: #555; }
.chart text.missing { fill: #555; font-style: italic; }
.dot { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
footer { margin-top: 32px; color: #555; font-size: 13px; }
@media print { main { max-width: none; } a { color: inherit; } }
`;

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
