/**
 * Writes bench/results/mutation-summary.md from Stryker's JSON reports (`npm run mutation` runs it after Stryker).
 * Several reports may be given (one per `--mutate` slice). A file in a later report replaces the same file in an
 * earlier one; a later run over line ranges of a file (`--mutate 'file.ts:10-20'`, to check new tests against the
 * survivors) replaces only the mutants it ran, matched by place, mutator and replacement. Each surviving mutant is matched against bench/results/mutation-explained.json: either a reason it
 * is not worth a test, or the test written for it, which the report must then show as killing it. A survivor with
 * neither is listed as unaccounted and the script exits non-zero, so the summary cannot quietly go stale.
 *
 * Usage: tsx bench/mutation-summary.ts [report.json ...]   (default: bench/results/mutation.json)
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

type Status = "Killed" | "Survived" | "NoCoverage" | "Timeout" | "CompileError" | "RuntimeError" | "Ignored";
interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  location: { start: { line: number; column: number } };
  status: Status;
  killedBy?: string[];
}
interface Report {
  config?: { mutate?: string[] };
  files: Record<string, { mutants: Mutant[] }>;
  testFiles?: Record<string, { tests: { id: string; name: string }[] }>;
}
/** `where` is `file:line` or `file:line:column`; `replacement` narrows it when a line has look-alike mutants. */
interface Explanation {
  where: string;
  mutator: string;
  replacement?: string;
  reason?: string;
  test?: string;
}

const RESULTS = "bench/results";
const reports = (process.argv.length > 2 ? process.argv.slice(2) : [`${RESULTS}/mutation.json`]).map(
  (p) => JSON.parse(readFileSync(p, "utf8")) as Report,
);
const commands = reports.map((r) => `\`npx stryker run --mutate '${(r.config?.mutate ?? []).join(",")}'\``);
const explained = JSON.parse(readFileSync(`${RESULTS}/mutation-explained.json`, "utf8")) as Explanation[];

/** A mutant with the names of the tests that killed it (test ids are only unique within one report). */
type Measured = Mutant & { killers: string };
const where = (file: string, m: Mutant) => `${file}:${m.location.start.line}:${m.location.start.column}`;
const identity = (file: string, m: Mutant) => `${where(file, m)} ${m.mutatorName} ${m.replacement ?? ""}`;

const files = new Map<string, Measured[]>();
for (const r of reports) {
  const testNames = new Map(Object.values(r.testFiles ?? {}).flatMap((f) => f.tests.map((t) => [t.id, t.name])));
  const ranged = new Set(
    (r.config?.mutate ?? []).filter((m) => /:\d+(?::\d+)?-\d+/.test(m)).map((m) => m.replace(/:[\d:-]+$/, "")),
  );
  for (const [file, f] of Object.entries(r.files)) {
    const measured = f.mutants.map((m) => ({
      ...m,
      killers: (m.killedBy ?? []).map((id) => testNames.get(id) ?? id).join("; "),
    }));
    const earlier = files.get(file);
    if (!ranged.has(file) || earlier === undefined) {
      files.set(file, measured);
      continue;
    }
    const rerun = new Map(measured.map((m) => [identity(file, m), m]));
    files.set(
      file,
      earlier.map((m) => rerun.get(identity(file, m)) ?? m),
    );
  }
}

const matches = (e: Explanation, file: string, m: Mutant) =>
  (where(file, m) === e.where || `${file}:${m.location.start.line}` === e.where) &&
  e.mutator === m.mutatorName &&
  (e.replacement === undefined || e.replacement === m.replacement);
const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

interface Count {
  detected: number;
  undetected: number;
}
const score = (c: Count) =>
  c.detected + c.undetected === 0 ? "n/a" : `${((100 * c.detected) / (c.detected + c.undetected)).toFixed(1)}%`;
const total: Count = { detected: 0, undetected: 0 };
const perFile: string[] = [];
const survivors: string[] = [];
const killedByNewTests: string[] = [];
let unaccounted = 0;

for (const [file, mutants] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
  const c: Count = { detected: 0, undetected: 0 };
  for (const m of mutants) {
    if (m.status === "Killed" || m.status === "Timeout") c.detected++;
    else if (m.status === "Survived" || m.status === "NoCoverage") c.undetected++;
    const e = explained.find((x) => matches(x, file, m));
    const by = m.killers;
    // Listed only when the named test is among the killers: the entry may match an older test's mutant too.
    if (e?.test !== undefined && m.status === "Killed" && by.includes(e.test)) {
      killedByNewTests.push(
        `| ${where(file, m)} | ${m.mutatorName} | \`${cell(m.replacement ?? "")}\` | ${cell(by)} |`,
      );
    }
    if (m.status !== "Survived" && m.status !== "NoCoverage") continue;
    const account = e?.reason ?? (e?.test ? `UNACCOUNTED: expected killed by "${e.test}"` : "UNACCOUNTED");
    if (e?.reason === undefined) unaccounted++;
    survivors.push(`| ${where(file, m)} | ${m.mutatorName} | \`${cell(m.replacement ?? "")}\` | ${cell(account)} |`);
  }
  total.detected += c.detected;
  total.undetected += c.undetected;
  perFile.push(`| ${file} | ${score(c)} | ${c.detected} | ${c.undetected} |`);
}

const DOMAIN = "steps/domain";
const unmeasured = readdirSync(DOMAIN)
  .filter((f) => f.endsWith(".ts") && !files.has(`${DOMAIN}/${f}`))
  .map((f) => `${DOMAIN}/${f}`);

const md = [
  "# Mutation testing: results",
  "",
  `Written by \`bench/mutation-summary.ts\` on ${new Date().toISOString().slice(0, 10)} from Stryker's JSON report`,
  "(`npm run mutation`; see README.md). Score = (killed + timed out) / (killed + timed out + survived + no coverage).",
  "",
  `Stryker runs merged here, a file in a later run replacing it from an earlier one (a run over line ranges replacing only its mutants): ${commands.join("; ")}; then \`npx tsx bench/mutation-summary.ts\` with their reports.`,
  "",
  `Over the files measured: **${score(total)}** (${total.detected} detected, ${total.undetected} undetected, ${unaccounted} unaccounted).`,
  "",
  "| File | Score | Detected | Undetected |",
  "|---|---|---|---|",
  ...perFile,
  "",
  `Not in the reports, so not measured: ${unmeasured.length === 0 ? "none" : unmeasured.map((f) => `\`${f}\``).join(", ")}.`,
  "",
  "## Surviving mutants",
  "",
  "| Where | Mutator | Replacement | Why it survives |",
  "|---|---|---|---|",
  ...survivors,
  "",
  "## Survivors now killed by a test written for them",
  "",
  "| Where | Mutator | Replacement | Killed by |",
  "|---|---|---|---|",
  ...killedByNewTests,
  "",
].join("\n");
writeFileSync(`${RESULTS}/mutation-summary.md`, md);
console.log(
  `mutation score ${score(total)}; ${unaccounted} unaccounted survivor(s); wrote ${RESULTS}/mutation-summary.md`,
);
if (unaccounted > 0) process.exitCode = 1;
