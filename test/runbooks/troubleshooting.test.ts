import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ExitCodes } from "../../cli/errors.ts";
import { ErrorNames } from "../../contract/errors.ts";
import { ACKNOWLEDGEABLE_BLOCKERS, FINAL_BLOCKERS, WARNINGS } from "../../contract/findings.ts";
import { LARGE_COPY_OUTCOMES } from "../../contract/large-objects.ts";
import { NOT_CURRENT_REASONS, SKIP_REASONS, TASK_FAILURE_CATEGORIES } from "../../contract/reasons.ts";
import { MAP_RUN_FAILED } from "../../steps/aws/failed-slices.ts";
import { rekeyDefinition } from "../../workflow/definition.ts";

const ROOT = new URL("../../", import.meta.url);
const RUNBOOK = readFileSync(new URL("runbooks/troubleshooting.md", ROOT), "utf8");

/**
 * The error names rekey throws: ErrorNames is their list, and test/domain/errors.test.ts keeps it equal to the
 * exported error classes, so a class added there without its name here fails that test first.
 */
const REKEY_ERRORS: readonly string[] = Object.values(ErrorNames);
const FINDING_CODES: readonly string[] = [...ACKNOWLEDGEABLE_BLOCKERS, ...FINAL_BLOCKERS, ...WARNINGS];
const REASONS: readonly string[] = [
  ...Object.keys(SKIP_REASONS),
  ...Object.keys(NOT_CURRENT_REASONS),
  ...Object.keys(TASK_FAILURE_CATEGORIES),
];
/** failed.csv's categories for the direct copies' problems: `multipart-copy-<outcome>` (steps/handlers/verify-results.ts). */
const DIRECT_COPY_CATEGORIES = LARGE_COPY_OUTCOMES.map((o) => `multipart-copy-${o}`);

/**
 * Step Functions' own error names the page explains that neither the definition nor rekey's code spells out: a
 * Task state's timeout, its generic failure, and the payload limit
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 */
const STEP_FUNCTIONS_ERRORS = ["States.Timeout", "States.TaskFailed", "States.DataLimitExceeded"];

interface Section {
  title: string;
  body: string;
}

/** The page without its fenced blocks, whose `#` lines are shell comments, not headings. */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```[ \t]*$/gm, "");
}

/** The sections of `markdown` under headings of `level` (2 for `##`, 3 for `###`), without what precedes the first. */
function sectionsOf(markdown: string, level: 2 | 3): Section[] {
  const marker = `${"#".repeat(level)} `;
  return markdown
    .split(new RegExp(`^(?=${marker})`, "m"))
    .filter((part) => part.startsWith(marker))
    .map((part) => {
      const newline = part.indexOf("\n");
      const end = newline < 0 ? part.length : newline;
      return { title: part.slice(marker.length, end).trim(), body: part.slice(end + 1) };
    });
}

const SECTIONS = sectionsOf(prose(RUNBOOK), 2);

function section(title: string): Section {
  const found = SECTIONS.filter((s) => s.title === title);
  expect(
    found.map((s) => s.title),
    `one "## ${title}" section`,
  ).toEqual([title]);
  return found[0] as Section;
}

/** The names in backticks in a heading. */
function namesIn(heading: string): string[] {
  return [...heading.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
}

/** Each `###` heading's single name, failing for a heading that names none or several. */
function ownHeadings(title: string): string[] {
  return sectionsOf(section(title).body, 3).map((s) => {
    const names = namesIn(s.title);
    expect(names, `"### ${s.title}" under "## ${title}" names exactly one`).toHaveLength(1);
    return names[0] as string;
  });
}

/** The first cell of each table row, when it is a name in backticks (the header and the rule have none). */
function tableNames(body: string): string[] {
  return [...body.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1] as string);
}

const sorted = (names: readonly string[]) => [...names].sort();

/** Every error name the state machine retries on, catches specifically, or ends a run with (a Fail state's Error). */
function definitionErrorNames(): Set<string> {
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const o = node as Record<string, unknown>;
    if (Array.isArray(o.ErrorEquals)) for (const e of o.ErrorEquals) names.add(String(e));
    if (o.Type === "Fail" && typeof o.Error === "string") names.add(o.Error);
    for (const v of Object.values(o)) visit(v);
  };
  visit(rekeyDefinition());
  names.delete("States.ALL");
  return names;
}

/** Whether a string literal `"name"` is in the code that runs, stops or reads runs (the CLI, the steps, the workflow). */
function inCode(name: string): boolean {
  const literal = `"${name}"`;
  return ["cli", "steps", "workflow"].some((dir) =>
    readdirSync(new URL(`${dir}/`, ROOT), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .some((file) => readFileSync(new URL(`${dir}/${file}`, ROOT), "utf8").includes(literal)),
  );
}

describe("runbooks/troubleshooting.md", () => {
  it("has one section per error name in contract/errors.ts, and none for a name that no longer exists", () => {
    expect(sorted(ownHeadings("Errors rekey raises"))).toEqual(sorted(REKEY_ERRORS));
  });

  it("explains every error the workflow retries on or ends with, and no name nothing raises", () => {
    const headings = sectionsOf(section("Step Functions and Lambda errors").body, 3).flatMap((s) => namesIn(s.title));
    const workflow = definitionErrorNames();
    workflow.add(MAP_RUN_FAILED);
    for (const name of workflow) {
      if (REKEY_ERRORS.includes(name)) continue; // in "Errors rekey raises"
      expect(headings, `a heading names ${name}`).toContain(name);
    }
    for (const name of headings) {
      expect(REKEY_ERRORS, `${name} belongs under "Errors rekey raises"`).not.toContain(name);
      const known = workflow.has(name) || STEP_FUNCTIONS_ERRORS.includes(name) || inCode(name);
      expect(known, `${name} is still raised, retried or matched somewhere`).toBe(true);
    }
    expect(new Set(headings).size, "each name has one heading").toBe(headings.length);
  });

  it("has one section per preflight code, under its kind, and none for a code that no longer exists", () => {
    expect(sorted(ownHeadings("Preflight blockers you can acknowledge"))).toEqual(sorted(ACKNOWLEDGEABLE_BLOCKERS));
    expect(sorted(ownHeadings("Preflight blockers nothing lifts"))).toEqual(sorted(FINAL_BLOCKERS));
    expect(sorted(ownHeadings("Preflight warnings"))).toEqual(sorted(WARNINGS));
  });

  it("tells how to acknowledge each acknowledgeable blocker, and offers no acknowledgement of anything else", () => {
    for (const s of sectionsOf(section("Preflight blockers you can acknowledge").body, 3)) {
      const [code] = namesIn(s.title);
      expect(s.body, `### ${s.title}`).toContain(`--acknowledge ${code}`);
    }
    for (const title of ["Preflight blockers nothing lifts", "Preflight warnings"]) {
      expect(section(title).body).not.toContain("--acknowledge");
    }
    const acknowledged = [...RUNBOOK.matchAll(/--acknowledge ([a-z][a-z0-9-]*)/g)].map((m) => m[1] as string);
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const code of acknowledged) expect(ACKNOWLEDGEABLE_BLOCKERS as readonly string[]).toContain(code);
  });

  it("has one table row per skip, not-current and failure reason in contract/reasons.ts, and no other", () => {
    const tables = sectionsOf(section("Skip and failure reasons").body, 3);
    const rows = (title: string) => {
      const found = tables.filter((t) => t.title === title);
      expect(found, `one "### ${title}"`).toHaveLength(1);
      return sorted(tableNames((found[0] as Section).body));
    };
    expect(rows("Skipped objects")).toEqual(sorted(Object.keys(SKIP_REASONS)));
    expect(rows("Not current")).toEqual(sorted(Object.keys(NOT_CURRENT_REASONS)));
    expect(rows("Failed objects")).toEqual(sorted(Object.keys(TASK_FAILURE_CATEGORIES)));
  });

  it("has one row per CLI exit code in cli/errors.ts", () => {
    expect(sorted(tableNames(section("CLI exit codes").body))).toEqual(sorted(Object.values(ExitCodes).map(String)));
  });

  it("mentions, anywhere, only error names, codes and reasons that exist", () => {
    const text = prose(RUNBOOK);
    const errorNames = [...text.matchAll(/`([A-Z][A-Za-z]*Error)`/g)].map((m) => m[1] as string);
    expect(errorNames.length).toBeGreaterThan(0);
    for (const name of errorNames) expect(REKEY_ERRORS, `\`${name}\``).toContain(name);
    // Codes and reasons are kebab-case: every such name in backticks must still be one.
    const kebab = [...text.matchAll(/`([a-z0-9]+(?:-[a-z0-9]+)+)`/g)].map((m) => m[1] as string);
    expect(kebab.length).toBeGreaterThan(0);
    const known = new Set([...FINDING_CODES, ...REASONS, ...DIRECT_COPY_CATEGORIES]);
    for (const name of kebab) expect(known.has(name), `\`${name}\` is a code or reason`).toBe(true);
  });
});
